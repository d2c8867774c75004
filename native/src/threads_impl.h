/* threads_impl.h - fork-join over pthreads; no pool, no global state. */
#ifndef ZKA_THREADS_IMPL_H
#define ZKA_THREADS_IMPL_H
#include <pthread.h>
#include <unistd.h>
#include <stdlib.h>

#define ZKA_MAX_THREADS 256

static uint32_t zka_threads_resolve(uint32_t nthreads) {
    if (nthreads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = (n < 1) ? 1u : (uint32_t)n;
    }
    if (nthreads > ZKA_MAX_THREADS) nthreads = ZKA_MAX_THREADS;
    return nthreads;
}

uint32_t zka_default_threads(void) { return zka_threads_resolve(0); }

typedef struct {
    zka_task_fn fn;
    void *ctx;
    uint32_t index, count;
} zka_thread_arg;

static void *zka_thread_main(void *p) {
    zka_thread_arg *a = (zka_thread_arg *)p;
    a->fn(a->ctx, a->index, a->count);
    return NULL;
}

static int zka_parallel_for(uint32_t count, zka_task_fn fn, void *ctx) {
    if (count <= 1) {
        fn(ctx, 0, 1);
        return ZKA_OK;
    }
    if (count > ZKA_MAX_THREADS) count = ZKA_MAX_THREADS;
    pthread_t tids[ZKA_MAX_THREADS];
    zka_thread_arg args[ZKA_MAX_THREADS];
    int started[ZKA_MAX_THREADS];
    for (uint32_t i = 1; i < count; i++) {
        args[i].fn = fn; args[i].ctx = ctx; args[i].index = i; args[i].count = count;
        started[i] = pthread_create(&tids[i], NULL, zka_thread_main, &args[i]) == 0;
    }
    fn(ctx, 0, count);
    for (uint32_t i = 1; i < count; i++) {
        if (started[i]) {
            pthread_join(tids[i], NULL);
        } else {
            /* could not start: do its share here, so the result stays correct */
            fn(ctx, i, count);
        }
    }
    return ZKA_OK;
}
#endif
