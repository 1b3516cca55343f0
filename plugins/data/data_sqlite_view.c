/* SQLite views with INSTEAD OF triggers: see data_sqlite_view.h. */
#include "data_sqlite_view.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "data_conf.h"

/* Past whitespace and comments ("-- ..." to the end of the line,
 * slash-star ... star-slash). */
static const char *skip_space(const char *p)
{
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

/* Whether the bare word w (case-insensitive) starts at p and ends there. */
static bool word_at(const char *p, const char *w)
{
    size_t n = strlen(w);
    return strncasecmp(p, w, n) == 0 && !isalnum((unsigned char)p[n]) && p[n] != '_';
}

/* Past one token: a quoted identifier or string, or a run of word
 * characters, or one other character. */
static const char *skip_token(const char *p)
{
    if (*p == '"' || *p == '\'' || *p == '`' || *p == '[') {
        char close = *p == '[' ? ']' : *p;
        const char *end = strchr(p + 1, close);
        return end ? end + 1 : p + strlen(p);
    }
    if (isalnum((unsigned char)*p) || *p == '_') {
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        return p;
    }
    return *p ? p + 1 : p;
}

unsigned data_sqlite_view_trigger(const char *sql)
{
    /* The header comes before the body (BEGIN): the first INSTEAD OF
     * outside quotes is the trigger's own. */
    for (const char *p = skip_space(sql ? sql : ""); *p; p = skip_space(skip_token(p))) {
        if (word_at(p, "BEGIN"))
            return 0;
        if (!word_at(p, "INSTEAD"))
            continue;
        p = skip_space(p + strlen("INSTEAD"));
        if (!word_at(p, "OF"))
            return 0;
        p = skip_space(p + 2);
        return word_at(p, "INSERT") ? DATA_M_POST : word_at(p, "UPDATE") ? DATA_M_PATCH
               : word_at(p, "DELETE") ? DATA_M_DELETE : 0;
    }
    return 0;
}

unsigned data_sqlite_view_writes(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    unsigned writes = 0;
    if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1", -1,
                           &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        writes |= data_sqlite_view_trigger((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return writes;
}
