/*
 * Full-text search where the database has no tsquery: PostgREST's fts,
 * plfts, phfts and wfts filters turned into queries of SQLite's FTS5 or of
 * MySQL/MariaDB's FULLTEXT boolean mode. Pure: no database.
 *
 * Which index serves a column is the schema's (data_column_t.fts): on
 * SQLite an FTS5 table named <table>_fts whose rowids are the table's and
 * which has a column of the same name (data_sqlite_fts.h); on MySQL a
 * FULLTEXT index over that column alone. PostgreSQL runs the filters with
 * its own tsquery functions (data_sql.c).
 *
 * The search text is read as words: runs of ASCII letters and digits and
 * of non-ASCII bytes; everything else separates words and never reaches
 * the query as an operator. Every term is written as a quoted phrase of
 * its words, so FTS5's AND/OR/NOT/NEAR, '*', '^', column filters and
 * boolean mode's + - < > ( ) ~ * @ in the text are only separators.
 *   fts, plfts  every word, all required
 *   phfts       the words as one phrase, in order
 *   wfts        websearch syntax: words (all required); "quoted phrases";
 *               a leading '-' excludes the word or phrase after it; "or"
 *               (any case) between terms makes alternatives, each its own
 *               group of required and excluded terms
 * The language argument is not used: the index's tokenizer decides how
 * words are split and folded.
 */
#ifndef DATA_FTS_H
#define DATA_FTS_H

#include <stddef.h>

#include "data_dialect.h"
#include "data_filter.h"

/* One alternative: the rows matching the query `all` (every required
 * term) and not matching the query `none` (any excluded term). Either is
 * NULL when the group has no such term, never both. */
typedef struct data_fts_group {
    char *all;
    char *none;
} data_fts_group_t;

/* The alternatives of one search, ORed; none: no row matches. Owns the
 * groups. */
typedef struct data_fts {
    data_fts_group_t *groups;
    size_t ngroups;
} data_fts_t;

/* Builds *out for the filter op (DATA_OP_FTS .. DATA_OP_WFTS) on the
 * search text (len bytes) in the query language of dialect d: FTS5
 * ("a" AND "b c", "x" OR "y") or MySQL boolean mode (+"a" +"b c",
 * "x" "y"). PH_OK, or PH_ERROR when out of memory (*out empty). */
int data_fts_build(data_fts_t *out, data_op_t op, const char *text, size_t len, data_dialect_t d);

void data_fts_free(data_fts_t *q);

#endif
