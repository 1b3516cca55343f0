/* JSON paths: see data_jpath.h. */
#include "data_jpath.h"
#include "data_value.h"

#include <plughttpd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t data_jpath_col_len(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '-' && s[i + 1] == '>')
            return i;
    return len;
}

static bool holds_json(const data_column_t *col, data_dialect_t d)
{
    if (d == DATA_DIALECT_PG)
        return col->decl && (strcmp(col->decl, "json") == 0 || strcmp(col->decl, "jsonb") == 0);
    return col->type == DATA_TYPE_TEXT || col->type == DATA_TYPE_ANY;
}

void data_jpath_free(data_jpath_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nsteps; i++)
        free(p->steps[i].key);
    free(p->steps);
    free(p);
}

static bool all_digits(const char *s, size_t len)
{
    if (len == 0 || len > 9)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int add_step(data_jpath_t *p, const char *key, size_t len)
{
    data_jpath_step_t *s = realloc(p->steps, (p->nsteps + 1) * sizeof *s);
    if (s == NULL)
        return PH_ERROR;
    p->steps = s;
    s = &p->steps[p->nsteps];
    s->key = strndup(key, len);
    if (s->key == NULL)
        return PH_ERROR;
    s->len = len;
    s->index = all_digits(key, len);
    p->nsteps++;
    return PH_OK;
}

int data_jpath_parse(const data_column_t *col, data_dialect_t d, const char *s, size_t len,
                     data_jpath_t **out, data_qerr_t *e)
{
    char name[80];
    data_jpath_t *p = calloc(1, sizeof *p);

    *out = NULL;
    if (p == NULL)
        return data_qerr_set(e, "PGRST100", "out of memory");
    if (!holds_json(col, d)) {
        data_jpath_free(p);
        return data_qerr_set(e, "PGRST100", "a JSON path needs a JSON column: %s is not one",
                             data_qerr_name(name, sizeof name, col->name, strlen(col->name)));
    }
    size_t i = 0;
    while (i < len) {
        /* s[i..] starts with "->" here: the loop only stops on one. */
        bool text = i + 2 < len && s[i + 2] == '>';
        size_t start = i + (text ? 3 : 2), end = start;
        while (end < len && !(end + 1 < len && s[end] == '-' && s[end + 1] == '>'))
            end++;
        if (p->text) {
            data_jpath_free(p);
            return data_qerr_set(e, "PGRST100", "a JSON path takes ->> at its last step only");
        }
        if (end == start) {
            data_jpath_free(p);
            return data_qerr_set(e, "PGRST100", "a JSON path step needs a key");
        }
        if (memchr(s + start, '\0', end - start) || !data_utf8_valid(s + start, end - start)) {
            data_jpath_free(p);
            return data_qerr_set(e, "PGRST100", "a JSON key must be UTF-8 text without NUL");
        }
        if (d != DATA_DIALECT_PG && (memchr(s + start, '"', end - start) || memchr(s + start, '\\', end - start))) {
            data_jpath_free(p);
            return data_qerr_set(e, "PGRST100", "a JSON key holding '\"' or '\\' cannot be addressed on this "
                                 "database");
        }
        if (add_step(p, s + start, end - start) != PH_OK) {
            data_jpath_free(p);
            return data_qerr_set(e, "PGRST100", "out of memory");
        }
        p->text = text;
        i = end;
    }
    if (p->nsteps == 0) {
        data_jpath_free(p);
        return data_qerr_set(e, "PGRST100", "a JSON path step needs a key");
    }
    *out = p;
    return PH_OK;
}

const char *data_jpath_name(const data_jpath_t *p)
{
    return p->steps[p->nsteps - 1].key;
}

data_type_t data_jpath_type(const data_jpath_t *p)
{
    return p->text ? DATA_TYPE_TEXT : DATA_TYPE_JSON;
}

char *data_jpath_text(const data_jpath_t *p, size_t i, bool all)
{
    size_t first = all ? 0 : i, last = all ? p->nsteps : i + 1, cap = 2;
    for (size_t k = first; k < last; k++)
        cap += p->steps[k].len + 4;
    char *t = malloc(cap), *o = t;
    if (t == NULL)
        return NULL;
    *o++ = '$';
    for (size_t k = first; k < last; k++) {
        const data_jpath_step_t *st = &p->steps[k];
        /* keys hold no '"' or '\' here (data_jpath_parse) */
        o += st->index ? sprintf(o, "[%s]", st->key) : sprintf(o, ".\"%s\"", st->key);
    }
    *o = '\0';
    return t;
}
