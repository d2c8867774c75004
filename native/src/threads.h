/* threads.h - tiny fork-join helper over pthreads (implementation: threads_impl.h).
 * zka_parallel_for runs fn(ctx, i, nthreads_used) for i in [0, nthreads_used) on
 * nthreads_used threads (the caller's thread runs index 0) and joins them.
 * nthreads = 0 means all online cores.  Returns ZKA_OK or ZKA_ERR_THREAD
 * (if a thread cannot be created its share runs on the caller). */
#ifndef ZKA_THREADS_H
#define ZKA_THREADS_H
#include <stdint.h>
typedef void (*zka_task_fn)(void *ctx, uint32_t index, uint32_t count);
static uint32_t zka_threads_resolve(uint32_t nthreads);
static int zka_parallel_for(uint32_t count, zka_task_fn fn, void *ctx);
#endif
