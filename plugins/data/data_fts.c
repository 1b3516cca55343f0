/* Full-text queries for FTS5 and MySQL boolean mode: see data_fts.h. */
#include "data_fts.h"

#include <plughttpd/plugin.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A growable string; oom once an append failed. */
typedef struct buf {
    char *s;
    size_t len, cap;
    bool oom;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* One term: a phrase of words (their text joined by single spaces), in
 * its group, required or excluded. */
typedef struct term {
    char *words;
    size_t group;
    bool neg;
} term_t;

typedef struct terms {
    term_t *v;
    size_t n;
    size_t group;  /* the group terms go to now */
    bool or_next;  /* an "or" was read: the next term opens a group */
    bool oom;
} terms_t;

static bool word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The words of s (len bytes) joined by spaces, or NULL (and no error)
 * when it has none. */
static char *words_of(const char *s, size_t len, bool *oom)
{
    buf_t b = {0};
    for (size_t i = 0; i < len;) {
        if (!word_byte((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && word_byte((unsigned char)s[i]))
            i++;
        if (b.len > 0)
            put(&b, " ", 1);
        put(&b, s + start, i - start);
    }
    if (b.oom) {
        free(b.s);
        *oom = true;
        return NULL;
    }
    return b.s;
}

/* Adds the phrase of the words in s (len bytes), if it has any. */
static void add_term(terms_t *t, const char *s, size_t len, bool neg)
{
    char *w = words_of(s, len, &t->oom);
    if (w == NULL)
        return;
    term_t *v = realloc(t->v, (t->n + 1) * sizeof *v);
    if (v == NULL) {
        free(w);
        t->oom = true;
        return;
    }
    t->v = v;
    if (t->or_next && t->n > 0 && t->v[t->n - 1].group == t->group)
        t->group++;
    t->or_next = false;
    v[t->n++] = (term_t){.words = w, .group = t->group, .neg = neg};
}

/* Every word its own required term. */
static void plain_terms(terms_t *t, const char *s, size_t len)
{
    for (size_t i = 0; i < len && !t->oom;) {
        size_t start = i;
        while (i < len && word_byte((unsigned char)s[i]))
            i++;
        if (i > start)
            add_term(t, s + start, i - start, false);
        else
            i++;
    }
}

static bool is_or(const char *s, size_t len)
{
    return len == 2 && (s[0] == 'o' || s[0] == 'O') && (s[1] == 'r' || s[1] == 'R');
}

/* websearch_to_tsquery's syntax: chunks between spaces, "quoted phrases"
 * (to the next quote or the end), '-' before a chunk or quote, "or". */
static void web_terms(terms_t *t, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && !t->oom) {
        if (space(s[i])) {
            i++;
            continue;
        }
        bool neg = false;
        if (s[i] == '-' && i + 1 < len && !space(s[i + 1])) {
            neg = true;
            i++;
        }
        size_t start;
        if (s[i] == '"') {
            start = ++i;
            while (i < len && s[i] != '"')
                i++;
            add_term(t, s + start, i - start, neg);
            if (i < len)
                i++; /* the closing quote */
            continue;
        }
        start = i;
        while (i < len && !space(s[i]) && s[i] != '"')
            i++;
        if (!neg && is_or(s + start, i - start))
            t->or_next = true;
        else
            add_term(t, s + start, i - start, neg);
    }
}

/* A term as the dialect quotes a phrase. Words hold no quote character,
 * so nothing needs escaping. */
static void quoted(buf_t *b, const term_t *term, data_dialect_t d, bool required)
{
    if (d == DATA_DIALECT_MYSQL && required)
        put(b, "+", 1);
    put(b, "\"", 1);
    put(b, term->words, strlen(term->words));
    put(b, "\"", 1);
}

/* Group g's required (neg false) or excluded terms as one query; NULL
 * when there are none. Required terms are ANDed, excluded ones ORed (the
 * group keeps rows matching none of them). */
static char *group_query(const terms_t *t, size_t g, bool neg, data_dialect_t d, bool *oom)
{
    buf_t b = {0};
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].group != g || t->v[i].neg != neg)
            continue;
        if (n++ > 0) {
            const char *sep = d == DATA_DIALECT_MYSQL ? " " : neg ? " OR " : " AND ";
            put(&b, sep, strlen(sep));
        }
        quoted(&b, &t->v[i], d, !neg);
    }
    if (b.oom)
        *oom = true;
    if (b.oom || n == 0) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static void terms_free(terms_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].words);
    free(t->v);
}

int data_fts_build(data_fts_t *out, data_op_t op, const char *text, size_t len, data_dialect_t d)
{
    terms_t t = {0};
    bool oom = false;

    memset(out, 0, sizeof *out);
    if (op == DATA_OP_PHFTS)
        add_term(&t, text, len, false);
    else if (op == DATA_OP_WFTS)
        web_terms(&t, text, len);
    else
        plain_terms(&t, text, len);
    size_t ngroups = t.n > 0 ? t.v[t.n - 1].group + 1 : 0;
    if (!t.oom && ngroups > 0) {
        out->groups = calloc(ngroups, sizeof *out->groups);
        oom = out->groups == NULL;
    }
    for (size_t g = 0; !t.oom && !oom && g < ngroups; g++) {
        data_fts_group_t *q = &out->groups[out->ngroups];
        q->all = group_query(&t, g, false, d, &oom);
        q->none = group_query(&t, g, true, d, &oom);
        if (oom) {
            free(q->all);
            free(q->none);
        } else if (q->all != NULL || q->none != NULL)
            out->ngroups++;
    }
    oom |= t.oom;
    terms_free(&t);
    if (oom) {
        data_fts_free(out);
        return PH_ERROR;
    }
    return PH_OK;
}

void data_fts_free(data_fts_t *q)
{
    for (size_t i = 0; q->groups != NULL && i < q->ngroups; i++) {
        free(q->groups[i].all);
        free(q->groups[i].none);
    }
    free(q->groups);
    memset(q, 0, sizeof *q);
}
