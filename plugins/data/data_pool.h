/*
 * A bounded pool of database connections shared by request threads.
 *
 * take() hands out an idle connection, or opens a new one while fewer than
 * max are open, or waits until one is given back. A connection is used by
 * one thread at a time. give() returns it; a broken one is closed instead,
 * so the next take() opens a fresh connection (this is how the backends
 * reconnect after an outage).
 */
#ifndef DATA_POOL_H
#define DATA_POOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct data_pool data_pool_t;

/* Opens one connection; NULL with a message in err on failure. */
typedef void *(*data_pool_open_fn)(void *ctx, char *err, size_t errlen);
typedef void (*data_pool_close_fn)(void *conn);
/* Releases a connection inherited across fork() without touching the
 * session, which is the parent's. */
typedef void (*data_pool_forget_fn)(void *conn);

/* For a forget function: puts /dev/null in place of fd, the inherited
 * connection's socket, so that the client library's close frees the
 * connection and its descriptor while its goodbye to the server goes
 * nowhere. 0 when done; -1 when it could not be (the connection must then
 * be left alone: a small leak, never the parent's session ended). */
int data_pool_mute_fd(int fd);

/* forget may be NULL: inherited connections are then left as they are (a
 * little memory and perhaps a descriptor per connection, for the life of
 * the process). NULL when out of memory. */
data_pool_t *data_pool_new(unsigned max, data_pool_open_fn open, data_pool_close_fn close,
                           data_pool_forget_fn forget, void *ctx);

/* A connection, or NULL with a message in err when opening failed. *fresh
 * says whether it was just opened (else it sat idle and may have gone
 * stale). */
void *data_pool_take(data_pool_t *pool, bool *fresh, char *err, size_t errlen);

/* Back from data_pool_take(): idle again, or closed when broken. */
void data_pool_give(data_pool_t *pool, void *conn, bool broken);

/* A connection opened outside the pool (the one that read the schema)
 * joins it, idle, and counts against its maximum. 0, or -1 when the pool
 * is full (conn is then the caller's). */
int data_pool_adopt(data_pool_t *pool, void *conn);

/* Closes the idle connections and frees the pool. Every connection must
 * have been given back. In a child process that never took one, the idle
 * connections are the parent's: they are forgotten, not closed. */
void data_pool_free(data_pool_t *pool);

#endif
