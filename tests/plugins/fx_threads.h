/*
 * Fixture helper: threads an instance starts, all joined by its destroy().
 *
 * A plugin's thread may run on after its last resume() (unlocking,
 * logging, returning), and the server unloads the plugin's code after
 * destroy(): a detached thread still inside the plugin then crashes in
 * unmapped code. So every thread is joinable and recorded; destroy() joins
 * them all, and each start first joins those already finished, so a long
 * test does not pile up exited threads (each keeps its stack until joined).
 */
#ifndef FX_THREADS_H
#define FX_THREADS_H

#include <pthread.h>
#include <stdlib.h>

typedef struct fx_thread {
    struct fx_thread *next;
    pthread_t id;
    int done; /* atomic: fn returned */
    void *(*fn)(void *);
    void *arg;
} fx_thread_t;

typedef struct fx_threads {
    pthread_mutex_t lock;
    fx_thread_t *list;
} fx_threads_t;

static inline void fx_threads_init(fx_threads_t *t)
{
    pthread_mutex_init(&t->lock, NULL);
    t->list = NULL;
}

static void *fx_run(void *arg)
{
    fx_thread_t *th = arg;
    th->fn(th->arg);
    __atomic_store_n(&th->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Joins the finished threads. Called with t->lock held. */
static inline void fx_reap(fx_threads_t *t)
{
    fx_thread_t **pp = &t->list;
    while (*pp) {
        fx_thread_t *th = *pp;
        if (__atomic_load_n(&th->done, __ATOMIC_ACQUIRE)) {
            *pp = th->next;
            pthread_join(th->id, NULL);
            free(th);
        } else {
            pp = &th->next;
        }
    }
}

/* Starts fn(arg) on a thread of its own. Returns 0, or -1 (fn not run). */
static inline int fx_spawn(fx_threads_t *t, void *(*fn)(void *), void *arg)
{
    fx_thread_t *th = calloc(1, sizeof *th);
    if (th == NULL)
        return -1;
    th->fn = fn;
    th->arg = arg;
    pthread_mutex_lock(&t->lock);
    fx_reap(t);
    if (pthread_create(&th->id, NULL, fx_run, th) != 0) {
        pthread_mutex_unlock(&t->lock);
        free(th);
        return -1;
    }
    th->next = t->list;
    t->list = th;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

/* Joins every thread (destroy()). No fx_spawn() may run meanwhile. */
static inline void fx_join_all(fx_threads_t *t)
{
    pthread_mutex_lock(&t->lock);
    fx_thread_t *th = t->list;
    t->list = NULL;
    pthread_mutex_unlock(&t->lock);
    while (th) {
        fx_thread_t *next = th->next;
        pthread_join(th->id, NULL);
        free(th);
        th = next;
    }
    pthread_mutex_destroy(&t->lock);
}

#endif
