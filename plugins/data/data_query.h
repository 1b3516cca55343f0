/*
 * Query strings of the data API, in PostgREST's syntax: parses the raw
 * query string of a request on /<table> into a validated description.
 * Pure: no database, no I/O.
 *
 * Grammar (parameters separated by '&', names and values percent-decoded,
 * '+' read as a space as in HTML forms):
 *   select=item,...     result columns; an item is '*' (every column, in
 *                       schema order), [alias:]column[::cast], with a
 *                       cast from data_cast.h's list for the dialect, a
 *                       JSON path column->key->>key (data_jpath.h), or
 *                       an embedded resource [alias:]table[!hint...](items)
 *                       (below)
 *   limit=N             rows to return, 0..; values above max_rows (even
 *                       ones too large for 64 bits) are capped to max_rows
 *   offset=N            rows to skip, 0..INT64_MAX
 *   order=c[.asc|.desc][.nullsfirst|.nullslast][,c2...]  sort keys
 *   <column>=[not.]op.value   a filter (data_filter.h); the column may
 *                       carry a JSON path ending in ->> (compared as text);
 *                       so may an order= key
 *   or=(...), and=(...), not.or=(...), not.and=(...)  logic trees
 *   on_conflict=column  the conflict target of an upsert
 *   columns=...         accepted and ignored: the body's keys name the
 *                       columns of an insert
 *   <path>.<param>=...  a filter, or=/and=, order, limit or offset of the
 *                       embedded resource path names (its alias or table,
 *                       then its embeds': "books.comments.limit=2")
 * Embedding follows a relationship of the schema (data_schema_link): the
 * named table must be linked to this one by exactly one foreign key, or
 * one hint (!fk_column or !constraint) must pick one; !inner keeps only
 * rows with a match, !left is the default. A to-one relationship (this
 * table holds the key) embeds an object or null, the other direction an
 * array of at most max_rows rows. No relationship: 400 PGRST200; more than
 * one: PGRST201 (answered with 300, as PostgREST does). Embeds nest at most
 * DATA_EMBED_MAX_DEPTH deep and DATA_EMBED_MAX per request.
 * select, limit, offset and order may appear once each; filters and trees
 * may repeat and are ANDed. Empty parameters ("a=1&&b=2") are ignored.
 * Anything else is an error meant for a 400 answer: code PGRST100 for
 * syntax, 42703 for an unknown column, 22P02 for a value its column cannot
 * hold (PostgREST's codes for the same mistakes).
 */
#ifndef DATA_QUERY_H
#define DATA_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data_cast.h"
#include "data_dialect.h"
#include "data_filter.h"
#include "data_schema.h"
#include "data_value.h"

#define DATA_EMBED_MAX_DEPTH 4
#define DATA_EMBED_MAX 16

struct data_embed;

/* One result column: col, cast when cast is set, named alias (owned) or,
 * when alias is NULL, the column's name. Or, when embed is set (owned),
 * an embedded resource named by its embed->name, and col is NULL. */
typedef struct data_select {
    const data_column_t *col;
    const data_cast_t *cast;
    char *alias;
    struct data_embed *embed;
    struct data_jpath *path; /* owned: a JSON path into col (data_jpath.h) */
} data_select_t;

typedef struct data_order {
    const data_column_t *col;
    bool desc;
    bool nulls_given; /* nullsfirst/nullslast written: nulls_first holds it */
    bool nulls_first;
    struct data_jpath *path; /* owned: a JSON path into col (data_jpath.h) */
} data_order_t;

typedef struct data_query {
    int64_t limit;
    int64_t offset;
    data_select_t *select; /* nselect == 0: every column */
    size_t nselect;
    data_filter_t *filters;
    size_t nfilters;
    data_group_t *groups;
    size_t ngroups;
    data_order_t *order;
    size_t norder;
    const data_column_t *on_conflict; /* NULL: the primary key */
    bool paged; /* limit= or offset= was given */
    bool seen_limit, seen_offset, seen_order, seen_select; /* parser state */
} data_query_t;

/* An embedded resource: the rows of rel->other related to each row, with
 * sub's select list (never empty), conditions, order and paging. name
 * (owned) is its key in the row. inner: rows without a match are left
 * out of the result. */
typedef struct data_embed {
    const data_rel_t *rel;
    char *name;
    bool inner;
    data_query_t sub;
} data_embed_t;

/* A result column's name (its alias, a JSON path's last key, or the
 * column's name) and type class (its cast's, JSON for "->", text for
 * "->>", or the column's). */
const char *data_select_name(const data_select_t *c);
data_type_t data_select_type(const data_select_t *c);

/* Parses qs (len bytes, may be NULL when len is 0) against table, for
 * dialect d (casts). On PH_OK *q holds the result (free with
 * data_query_free); on PH_ERROR *e says why and *q is empty. max_rows >= 1
 * is the default and the cap of limit. */
int data_query_parse(const data_table_t *table, data_dialect_t d, const char *qs, size_t len,
                     int64_t max_rows, data_query_t *q, data_qerr_t *e);

/* Whether q filters rows at all (a filter, a logic tree or an inner
 * embed). */
bool data_query_filters(const data_query_t *q);

/* Whether q's select list embeds resources. */
bool data_query_embeds(const data_query_t *q);

void data_query_free(data_query_t *q);

/* The result's shape: a table named like t holding q's result columns in
 * order (the alias as name, the cast's type class when cast, JSON for an
 * embed), so rows are typed as selected. Builds into an empty *out (free with
 * data_schema_free). PH_OK or PH_ERROR (memory). */
int data_query_shape(const data_query_t *q, const data_table_t *t, data_schema_t *out);

/* Percent-decodes len bytes of in into out (room for len bytes), '+' as a
 * space when plus_space. Returns the decoded length, or -1 on a malformed
 * escape ("%", "%4", "%zz"). */
long data_pct_decode(const char *in, size_t len, char *out, bool plus_space);

#endif
