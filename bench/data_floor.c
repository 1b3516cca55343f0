/*
 * bench/data_floor: the database's own cost of bench/data's three
 * operations, without HTTP, JSON or the plugin in between.
 *
 *   data_floor sqlite PATH     OP SECS ROWS
 *   data_floor pg     CONNINFO OP SECS ROWS
 *
 * OP is get (one row by key, keys 1..ROWS in turn), list (the first 100
 * rows in key order) or insert (one row, committed on its own). One
 * connection, statements prepared once, every column of every row read as
 * text; the operation runs in a loop until SECS seconds have passed (the
 * clock is read every 64 iterations). It prints one line:
 *
 *   FLOOR op=OP n=N client_us=C backend_us=B
 *
 * C is this process's CPU time (user + system, getrusage) per operation
 * from after the statements were prepared; B is that of the PostgreSQL
 * backend serving the connection (/proc/PID/stat, clock ticks), 0 for
 * SQLite, which runs inside the client.
 *
 * The SQLite connection is opened as the data plugin opens its own: WAL
 * journal (the database was created so), synchronous = NORMAL.
 * Built by bench/data with: cc -O2 data_floor.c -lsqlite3 -lpq
 */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum op { OP_GET, OP_LIST, OP_INSERT };

static const char *const SQL_GET = "SELECT id, title, body, created_at FROM notes WHERE id = $1";
static const char *const SQL_LIST = "SELECT id, title, body, created_at FROM notes ORDER BY id LIMIT 100";
static const char *const SQL_INSERT = "INSERT INTO notes (title, body) VALUES ($1, $2)";

/* Bytes of every value read, printed so that no read can be left out. */
static unsigned long long g_bytes;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* utime + stime of process pid in µs; -1 when it cannot be read. */
static double proc_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                            &ut, &st) != 2)
        return -1;
    return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static enum op parse_op(const char *s)
{
    if (strcmp(s, "get") == 0)
        return OP_GET;
    if (strcmp(s, "list") == 0)
        return OP_LIST;
    if (strcmp(s, "insert") == 0)
        return OP_INSERT;
    fprintf(stderr, "data_floor: unknown operation %s\n", s);
    exit(2);
}

/* ---- SQLite -------------------------------------------------------------- */

static sqlite3_stmt *lite_prepare(sqlite3 *db, const char *sql)
{
    char text[256];
    /* SQLite numbers parameters ?1 ?2 where PostgreSQL says $1 $2 */
    size_t j = 0;
    for (size_t i = 0; sql[i] != '\0' && j + 1 < sizeof text; i++)
        text[j++] = sql[i] == '$' ? '?' : sql[i];
    text[j] = '\0';
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, text, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "data_floor: %s: %s\n", text, sqlite3_errmsg(db));
        exit(1);
    }
    return st;
}

static void lite_read_rows(sqlite3 *db, sqlite3_stmt *st)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int cols = sqlite3_column_count(st);
        for (int c = 0; c < cols; c++) {
            sqlite3_column_text(st, c);
            g_bytes += (unsigned long long)sqlite3_column_bytes(st, c);
        }
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "data_floor: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_reset(st);
}

static void lite_once(sqlite3 *db, sqlite3_stmt *st, enum op op, long i, long rows)
{
    char title[32];
    switch (op) {
    case OP_GET:
        sqlite3_bind_int64(st, 1, 1 + i % rows);
        break;
    case OP_LIST:
        break;
    case OP_INSERT:
        snprintf(title, sizeof title, "floor %ld", i);
        sqlite3_bind_text(st, 1, title, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, "inserted by the floor benchmark", -1, SQLITE_STATIC);
        break;
    }
    lite_read_rows(db, st);
}

static void run_sqlite(const char *path, enum op op, double secs, long rows)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "data_floor: %s: %s\n", path, db ? sqlite3_errmsg(db) : "out of memory");
        exit(1);
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = lite_prepare(db, op == OP_GET ? SQL_GET : op == OP_LIST ? SQL_LIST : SQL_INSERT);
    double cpu0 = self_cpu_us(), end = now_s() + secs;
    long n = 0;
    do {
        for (int k = 0; k < 64; k++, n++)
            lite_once(db, st, op, n, rows);
    } while (now_s() < end);
    double cpu = self_cpu_us() - cpu0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    printf("FLOOR op=%s n=%ld client_us=%.3f backend_us=0 bytes=%llu\n",
           op == OP_GET ? "get" : op == OP_LIST ? "list" : "insert", n, cpu / (double)n, g_bytes);
}

/* ---- PostgreSQL ------------------------------------------------------------ */

static void pg_once(PGconn *c, enum op op, long i, long rows)
{
    char key[24], title[32];
    const char *vals[2] = {key, NULL};
    int nparams = 0;
    switch (op) {
    case OP_GET:
        snprintf(key, sizeof key, "%ld", 1 + i % rows);
        nparams = 1;
        break;
    case OP_LIST:
        break;
    case OP_INSERT:
        snprintf(title, sizeof title, "floor %ld", i);
        vals[0] = title;
        vals[1] = "inserted by the floor benchmark";
        nparams = 2;
        break;
    }
    PGresult *r = PQexecPrepared(c, op == OP_GET ? "get" : op == OP_LIST ? "list" : "insert", nparams,
                                 vals, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        fprintf(stderr, "data_floor: %s", PQerrorMessage(c));
        exit(1);
    }
    int nrows = PQntuples(r), cols = PQnfields(r);
    for (int row = 0; row < nrows; row++)
        for (int col = 0; col < cols; col++)
            g_bytes += (unsigned long long)PQgetlength(r, row, col) + (PQgetvalue(r, row, col)[0] != '\0');
    PQclear(r);
}

static void run_pg(const char *conninfo, enum op op, double secs, long rows)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "data_floor: %s", PQerrorMessage(c));
        exit(1);
    }
    const char *name = op == OP_GET ? "get" : op == OP_LIST ? "list" : "insert";
    PGresult *r = PQprepare(c, name, op == OP_GET ? SQL_GET : op == OP_LIST ? SQL_LIST : SQL_INSERT, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "data_floor: prepare: %s", PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
    int backend = PQbackendPID(c);
    double cpu0 = self_cpu_us(), bcpu0 = proc_cpu_us(backend), end = now_s() + secs;
    long n = 0;
    do {
        for (int k = 0; k < 64; k++, n++)
            pg_once(c, op, n, rows);
    } while (now_s() < end);
    double cpu = self_cpu_us() - cpu0, bcpu = proc_cpu_us(backend) - bcpu0;
    PQfinish(c);
    printf("FLOOR op=%s n=%ld client_us=%.3f backend_us=%.3f bytes=%llu\n", name, n, cpu / (double)n,
           bcpu0 < 0 ? -1.0 : bcpu / (double)n, g_bytes);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: data_floor sqlite|pg PATH|CONNINFO get|list|insert SECS ROWS\n");
        return 2;
    }
    enum op op = parse_op(argv[3]);
    double secs = atof(argv[4]);
    long rows = atol(argv[5]);
    if (secs <= 0 || rows < 1) {
        fprintf(stderr, "data_floor: SECS and ROWS must be positive\n");
        return 2;
    }
    if (strcmp(argv[1], "sqlite") == 0)
        run_sqlite(argv[2], op, secs, rows);
    else if (strcmp(argv[1], "pg") == 0)
        run_pg(argv[2], op, secs, rows);
    else {
        fprintf(stderr, "data_floor: unknown backend %s\n", argv[1]);
        return 2;
    }
    return 0;
}
