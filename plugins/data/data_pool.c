/* Connection pool: see data_pool.h. */
#include "data_pool.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct data_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed; /* a connection was given back or closed */
    unsigned max, open;   /* open counts idle and taken connections */
    void **idle;          /* max slots */
    unsigned nidle;
    data_pool_open_fn open_fn;
    data_pool_close_fn close_fn;
    data_pool_forget_fn forget_fn; /* NULL: leave inherited ones alone */
    void *ctx;
    pid_t pid;            /* the process the connections belong to */
};

data_pool_t *data_pool_new(unsigned max, data_pool_open_fn open, data_pool_close_fn close,
                           data_pool_forget_fn forget, void *ctx)
{
    data_pool_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->idle = calloc(max, sizeof *p->idle);
    if (p->idle == NULL) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    p->max = max;
    p->open_fn = open;
    p->close_fn = close;
    p->forget_fn = forget;
    p->ctx = ctx;
    p->pid = getpid();
    return p;
}

/* After fork() (the server's worker processes are forked from the master
 * that created this instance), the idle connections are the parent's: a
 * PostgreSQL socket or an SQLite handle shared by two processes corrupts
 * both. The child forgets them without closing (closing would end the
 * parent's session or checkpoint its database) and opens its own. Called
 * with the lock held, or with no other thread left (data_pool_free). */
static void forget_inherited(data_pool_t *p)
{
    pid_t me = getpid();
    if (p->pid == me)
        return;
    p->pid = me;
    if (p->forget_fn != NULL)
        for (unsigned i = 0; i < p->nidle; i++)
            p->forget_fn(p->idle[i]);
    p->nidle = 0;
    p->open = 0;
}

void *data_pool_take(data_pool_t *p, bool *fresh, char *err, size_t errlen)
{
    pthread_mutex_lock(&p->lock);
    forget_inherited(p);
    while (p->nidle == 0 && p->open >= p->max)
        pthread_cond_wait(&p->freed, &p->lock);
    if (p->nidle > 0) {
        /* Most recently used first: it is the least likely to be stale. */
        void *c = p->idle[--p->nidle];
        pthread_mutex_unlock(&p->lock);
        *fresh = false;
        return c;
    }
    p->open++;
    pthread_mutex_unlock(&p->lock);

    /* Opening may block (network, locks): never under the mutex. */
    void *c = p->open_fn(p->ctx, err, errlen);
    if (c == NULL) {
        pthread_mutex_lock(&p->lock);
        p->open--;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
    }
    *fresh = true;
    return c;
}

void data_pool_give(data_pool_t *p, void *conn, bool broken)
{
    if (broken)
        p->close_fn(conn);
    pthread_mutex_lock(&p->lock);
    if (broken)
        p->open--;
    else
        p->idle[p->nidle++] = conn;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

int data_pool_adopt(data_pool_t *p, void *conn)
{
    pthread_mutex_lock(&p->lock);
    int ok = p->open < p->max;
    if (ok) {
        p->open++;
        p->idle[p->nidle++] = conn;
        pthread_cond_signal(&p->freed);
    }
    pthread_mutex_unlock(&p->lock);
    return ok ? 0 : -1;
}

void data_pool_free(data_pool_t *p)
{
    if (p == NULL)
        return;
    /* A worker process that never took a connection still holds the
     * master's idle ones: not its to close. */
    forget_inherited(p);
    for (unsigned i = 0; i < p->nidle; i++)
        p->close_fn(p->idle[i]);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    free(p->idle);
    free(p);
}

int data_pool_mute_fd(int fd)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

    if (fd < 0 || null < 0 || dup2(null, fd) < 0) {
        if (null >= 0)
            close(null);
        return -1;
    }
    close(null);
    return 0;
}
