/*
 * PostgREST's request and response headers, as pure functions over header
 * values: token lists (Prefer, Accept), the Range request header, and
 * Content-Range with the status it implies. No I/O.
 */
#ifndef DATA_PREFER_H
#define DATA_PREFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether the comma-separated list v (len bytes, may be NULL when len is
 * 0) holds token, compared case-insensitively, whitespace around items
 * ignored: "count=exact, return=representation" holds "return=representation". */
bool data_prefer_has(const char *v, size_t len, const char *token);

/* Parses a Range value "FIRST-" or "FIRST-LAST" (decimal, at most 18
 * digits each, LAST >= FIRST). Returns true and fills *first and *last
 * (-1 for an open end), or false for anything else, which PostgREST
 * ignores. */
bool data_range_parse(const char *v, size_t len, int64_t *first, int64_t *last);

/* Writes the Content-Range of rows rows starting at offset into cr
 * ("FIRST-LAST/TOTAL"; "*" for the range when rows is 0, and for the
 * total when not counted) and returns the status PostgREST gives it: 200
 * without a total; with one, 416 for an offset beyond it, 206 for fewer
 * rows than it, else 200. */
int data_content_range(int64_t offset, size_t rows, bool counted, int64_t total, char *cr, size_t crlen);

#endif
