/* util_impl.h - small helpers shared by every module. */
#ifndef ZKA_UTIL_IMPL_H
#define ZKA_UTIL_IMPL_H
#include <string.h>
#include <stdint.h>

/* Wipe a buffer in a way the optimiser cannot drop. */
static void zka_wipe(void *p, size_t n) {
    if (!p || !n) return;
#if defined(__GNUC__) || defined(__clang__)
    memset(p, 0, n);
    /* the barrier makes the stores observable, so the memset is not elided */
    __asm__ __volatile__("" : : "r"(p) : "memory");
#else
    volatile uint8_t *q = (volatile uint8_t *)p;
    while (n--) *q++ = 0;
#endif
}

static void zka_load_limbs(uint64_t out[4], const uint8_t in[32]) {
    for (int i = 0; i < 4; i++) {
        uint64_t w = 0;
        for (int j = 7; j >= 0; j--) w = (w << 8) | in[8 * i + j];
        out[i] = w;
    }
}

static void zka_store_limbs(uint8_t out[32], const uint64_t in[4]) {
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) out[8 * i + j] = (uint8_t)(in[i] >> (8 * j));
}

/* Overflow-checked a*b for sizes. Returns 0 on overflow. */
static int zka_mul_size(size_t *r, size_t a, size_t b) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *r = a * b;
    return 1;
}
#endif
