#include "blocking.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "crash.h"
#include "log.h"

typedef struct job {
    struct job *next;
    void (*fn)(void *);
    void *arg;
} job_t;

struct blocking {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job_t *head, *tail;
    unsigned queued, queue_max;
    unsigned *depth; /* a copy of queued for readers without the lock */
    int stopping;
    int started;       /* the threads were started (first submit) */
    unsigned want;     /* threads to start */
    unsigned nthreads; /* threads running */
    pthread_t *threads;
};

static void *run(void *p)
{
    blocking_t *b = p;
    crash_thread_init(); /* a blocking handle() runs here */
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (b->head == NULL && !b->stopping)
            pthread_cond_wait(&b->cond, &b->lock);
        if (b->head == NULL)
            break;
        job_t *j = b->head;
        b->head = j->next;
        if (b->head == NULL)
            b->tail = NULL;
        b->queued--;
        if (b->depth)
            __atomic_sub_fetch(b->depth, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&b->lock);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

blocking_t *blocking_new(unsigned nthreads, unsigned queue_max, unsigned *depth)
{
    blocking_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->threads = calloc(nthreads, sizeof *b->threads);
    if (b->threads == NULL) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    b->queue_max = queue_max;
    b->depth = depth;
    b->want = nthreads;
    return b;
}

/* The first submit starts the threads, under b->lock; a later one retries
 * when none could start. Returns how many run. */
static unsigned start_threads(blocking_t *b)
{
    if (b->started)
        return b->nthreads;
    /* Helper threads take no signals: the main thread handles them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (unsigned i = b->nthreads; i < b->want; i++) {
        if (pthread_create(&b->threads[i], NULL, run, b) != 0)
            break;
        b->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    b->started = b->nthreads > 0;
    if (!b->started)
        log_error("cannot start the blocking helper threads: blocking jobs are refused until one starts");
    return b->nthreads;
}

void blocking_free(blocking_t *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->lock);
    b->stopping = 1;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    for (unsigned i = 0; i < b->nthreads; i++)
        pthread_join(b->threads[i], NULL);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->cond);
    free(b->threads);
    free(b);
}

int blocking_submit(blocking_t *b, void (*fn)(void *), void *arg)
{
    job_t *j = malloc(sizeof *j);
    if (j == NULL)
        return -1;
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&b->lock);
    if (b->stopping || b->queued >= b->queue_max || start_threads(b) == 0) {
        pthread_mutex_unlock(&b->lock);
        free(j);
        return -1;
    }
    if (b->tail)
        b->tail->next = j;
    else
        b->head = j;
    b->tail = j;
    b->queued++;
    if (b->depth)
        __atomic_add_fetch(b->depth, 1, __ATOMIC_RELAXED);
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    return 0;
}
