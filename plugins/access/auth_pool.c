#include "auth_pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct job {
    auth_pool_fn fn;
    void *arg;
    struct job *next;
} job_t;

struct auth_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *head, *tail;
    size_t queued, max_queued;
    int stop;
    unsigned n;
    pthread_t *threads;
};

static void *run(void *arg)
{
    auth_pool_t *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        job_t *j = p->head;
        if (!j)
            break; /* stopping, and nothing left */
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

auth_pool_t *auth_pool_new(unsigned threads, size_t max_queued)
{
    auth_pool_t *p = calloc(1, sizeof *p);
    if (!p || threads == 0 || !(p->threads = calloc(threads, sizeof *p->threads))) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max_queued = max_queued;
    for (; p->n < threads; p->n++) {
        if (pthread_create(&p->threads[p->n], NULL, run, p) != 0) {
            auth_pool_free(p);
            return NULL;
        }
    }
    return p;
}

int auth_pool_submit(auth_pool_t *p, auth_pool_fn fn, void *arg)
{
    job_t *j = malloc(sizeof *j);
    if (!j)
        return -1;
    *j = (job_t){fn, arg, NULL};
    pthread_mutex_lock(&p->mu);
    if (p->queued >= p->max_queued) {
        pthread_mutex_unlock(&p->mu);
        free(j);
        return -1;
    }
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void auth_pool_free(auth_pool_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}
