/*
 * The status page for people: an HTML page and its script, both
 * self-contained (no outside resources), which poll the JSON snapshot and
 * draw requests per second.
 */
#ifndef STATUS_PAGE_H
#define STATUS_PAGE_H

#include <stddef.h>

extern const char page_html[];
extern const size_t page_html_len;
extern const char page_js[];
extern const size_t page_js_len;

#endif
