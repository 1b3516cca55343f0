/* Schema model: see data_schema.h. */
#include "data_schema.h"

#include <errno.h>
#include <plughttpd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *data_type_name(data_type_t type)
{
    switch (type) {
    case DATA_TYPE_INTEGER: return "integer";
    case DATA_TYPE_REAL: return "real";
    case DATA_TYPE_TEXT: return "text";
    case DATA_TYPE_BLOB: return "blob";
    case DATA_TYPE_BOOL: return "boolean";
    case DATA_TYPE_JSON: return "json";
    case DATA_TYPE_ANY: break;
    }
    return "any";
}

/* Case-insensitive substring test (ASCII; declared types are ASCII). */
static bool has_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s; s++)
        if (strncasecmp(s, needle, n) == 0)
            return true;
    return false;
}

data_type_t data_type_from_sqlite(const char *decl)
{
    if (decl == NULL || decl[0] == '\0')
        return DATA_TYPE_ANY;
    /* SQLite's affinity rules, in their order (INT first, so "POINT" is an
     * integer as SQLite itself would store it). */
    if (has_ci(decl, "INT"))
        return DATA_TYPE_INTEGER;
    if (has_ci(decl, "CHAR") || has_ci(decl, "CLOB") || has_ci(decl, "TEXT"))
        return DATA_TYPE_TEXT;
    if (has_ci(decl, "BLOB"))
        return DATA_TYPE_BLOB;
    if (has_ci(decl, "REAL") || has_ci(decl, "FLOA") || has_ci(decl, "DOUB"))
        return DATA_TYPE_REAL;
    /* NUMERIC affinity: refine what applications mean by the name. */
    if (has_ci(decl, "BOOL"))
        return DATA_TYPE_BOOL;
    if (has_ci(decl, "DATE") || has_ci(decl, "TIME"))
        return DATA_TYPE_TEXT;
    if (has_ci(decl, "NUMERIC") || has_ci(decl, "DECIMAL"))
        return DATA_TYPE_REAL;
    return DATA_TYPE_ANY;
}

data_type_t data_type_from_pg(const char *typname)
{
    static const struct { const char *name; data_type_t type; } map[] = {
        {"int2", DATA_TYPE_INTEGER}, {"int4", DATA_TYPE_INTEGER},
        {"int8", DATA_TYPE_INTEGER}, {"float4", DATA_TYPE_REAL},
        {"float8", DATA_TYPE_REAL},  {"numeric", DATA_TYPE_REAL},
        {"bool", DATA_TYPE_BOOL},    {"bytea", DATA_TYPE_BLOB},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(typname, map[i].name) == 0)
            return map[i].type;
    /* Every other PostgreSQL type has a text form that it also accepts. */
    return DATA_TYPE_TEXT;
}

data_table_t *data_schema_add_table(data_schema_t *schema, const char *name)
{
    data_table_t *t = realloc(schema->tables, (schema->ntables + 1) * sizeof *t);
    if (t == NULL)
        return NULL;
    schema->tables = t;
    t = &schema->tables[schema->ntables];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (t->name == NULL)
        return NULL;
    schema->ntables++;
    return t;
}

int data_table_add_column(data_table_t *table, const char *name, const char *decl,
                          data_type_t type, bool notnull, bool has_default, bool pk)
{
    data_column_t *c = realloc(table->cols, (table->ncols + 1) * sizeof *c);
    if (c == NULL)
        return PH_ERROR;
    table->cols = c;
    c = &table->cols[table->ncols];
    c->name = strdup(name);
    c->decl = strdup(decl ? decl : "");
    if (c->name == NULL || c->decl == NULL) {
        free(c->name);
        free(c->decl);
        return PH_ERROR;
    }
    c->dflt_sql = NULL;
    c->fts = NULL;
    c->type = type;
    c->notnull = notnull;
    c->has_default = has_default;
    c->pk = pk;
    table->ncols++;
    return PH_OK;
}

int data_table_finish(data_table_t *table, char *err, size_t errlen)
{
    size_t npk = 0;
    if (table->ncols == 0) {
        snprintf(err, errlen, "table \"%s\" does not exist", table->name);
        return PH_ERROR;
    }
    for (size_t i = 0; i < table->ncols; i++) {
        if (table->cols[i].pk) {
            table->pk = i;
            npk++;
        }
    }
    if (npk != 1) {
        snprintf(err, errlen, "table \"%s\" needs a primary key of exactly one column (has %zu)",
                 table->name, npk);
        return PH_ERROR;
    }
    return PH_OK;
}

int data_table_finish_view(data_table_t *table, char *err, size_t errlen)
{
    if (table->ncols == 0) {
        snprintf(err, errlen, "view \"%s\" does not exist", table->name);
        return PH_ERROR;
    }
    table->view = true;
    table->pk = DATA_NO_PK;
    return PH_OK;
}

int data_table_set_default(data_table_t *table, const char *sql)
{
    data_column_t *c = &table->cols[table->ncols - 1];
    free(c->dflt_sql);
    c->dflt_sql = strdup(sql);
    return c->dflt_sql ? PH_OK : PH_ERROR;
}

int data_table_set_fts(data_table_t *table, const char *col, const char *index)
{
    for (size_t i = 0; i < table->ncols; i++) {
        data_column_t *c = &table->cols[i];
        if (strcmp(c->name, col) != 0)
            continue;
        free(c->fts);
        c->fts = strdup(index);
        return c->fts ? PH_OK : PH_ERROR;
    }
    return PH_OK;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int data_table_add_fk(data_table_t *table, const char *name, const char *col, const char *ref_table,
                      const char *ref_col)
{
    data_fk_t *f = realloc(table->fks, (table->nfks + 1) * sizeof *f);
    if (f == NULL)
        return PH_ERROR;
    table->fks = f;
    f = &table->fks[table->nfks];
    f->name = strdup(name ? name : col);
    f->col = strdup(col);
    f->ref_table = strdup(ref_table);
    f->ref_col = dup_or_null(ref_col);
    if (f->name == NULL || f->col == NULL || f->ref_table == NULL || (ref_col && f->ref_col == NULL)) {
        free(f->name);
        free(f->col);
        free(f->ref_table);
        free(f->ref_col);
        return PH_ERROR;
    }
    table->nfks++;
    return PH_OK;
}

static int add_rel(data_table_t *t, data_rel_t rel)
{
    data_rel_t *r = realloc(t->rels, (t->nrels + 1) * sizeof *r);
    if (r == NULL)
        return PH_ERROR;
    t->rels = r;
    r[t->nrels++] = rel;
    return PH_OK;
}

int data_schema_link(data_schema_t *schema)
{
    for (size_t i = 0; i < schema->ntables; i++) {
        data_table_t *t = &schema->tables[i];
        for (size_t j = 0; j < t->nfks; j++) {
            const data_fk_t *f = &t->fks[j];
            data_table_t *o = (data_table_t *)data_schema_find(schema, f->ref_table, strlen(f->ref_table));
            const data_column_t *c = data_table_column(t, f->col, strlen(f->col));
            if (o == NULL || c == NULL)
                continue;
            const data_column_t *oc = f->ref_col ? data_table_column(o, f->ref_col, strlen(f->ref_col))
                                                 : o->pk != DATA_NO_PK ? &o->cols[o->pk] : NULL;
            if (oc == NULL)
                continue;
            if (add_rel(t, (data_rel_t){.other = o, .col = c, .other_col = oc, .to_one = true,
                                        .fk = f->name}) != PH_OK ||
                add_rel(o, (data_rel_t){.other = t, .col = oc, .other_col = c, .to_one = false,
                                        .fk = f->name}) != PH_OK)
                return PH_ERROR;
        }
    }
    return PH_OK;
}

static bool name_is(const char *have, const char *name, size_t len)
{
    return strlen(have) == len && memcmp(have, name, len) == 0;
}

const data_table_t *data_schema_find(const data_schema_t *schema, const char *name, size_t len)
{
    for (size_t i = 0; i < schema->ntables; i++)
        if (name_is(schema->tables[i].name, name, len))
            return &schema->tables[i];
    return NULL;
}

const data_column_t *data_table_column(const data_table_t *table, const char *name, size_t len)
{
    for (size_t i = 0; i < table->ncols; i++)
        if (name_is(table->cols[i].name, name, len))
            return &table->cols[i];
    return NULL;
}

void data_schema_free(data_schema_t *schema)
{
    for (size_t i = 0; i < schema->ntables; i++) {
        data_table_t *t = &schema->tables[i];
        for (size_t j = 0; j < t->ncols; j++) {
            free(t->cols[j].name);
            free(t->cols[j].decl);
            free(t->cols[j].dflt_sql);
            free(t->cols[j].fts);
        }
        for (size_t j = 0; j < t->nfks; j++) {
            free(t->fks[j].name);
            free(t->fks[j].col);
            free(t->fks[j].ref_table);
            free(t->fks[j].ref_col);
        }
        free(t->fks);
        free(t->rels);
        free(t->cols);
        free(t->name);
    }
    free(schema->tables);
    schema->tables = NULL;
    schema->ntables = 0;
}

char *data_schema_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (f == NULL) {
        snprintf(err, errlen, "schema %s: %s", path, strerror(errno));
        return NULL;
    }
    do {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *p = realloc(buf, cap);
            if (p == NULL) {
                free(buf);
                fclose(f);
                snprintf(err, errlen, "out of memory");
                return NULL;
            }
            buf = p;
        }
        n = fread(buf + len, 1, 4096, f);
        len += n;
    } while (n > 0);
    if (ferror(f)) {
        snprintf(err, errlen, "schema %s: %s", path, strerror(errno));
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}
