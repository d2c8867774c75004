/* cpu_impl.h - fills the read-only capability word once, at load time. */
#ifndef ZKA_CPU_IMPL_H
#define ZKA_CPU_IMPL_H
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

static uint32_t zka_detect_cpu(void) {
    uint32_t caps = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (b & (1u << 19)) caps |= ZKA_CPU_ADX;
        if (b & (1u << 8)) caps |= ZKA_CPU_BMI2;
        if (b & (1u << 21)) caps |= ZKA_CPU_AVX512IFMA;
    }
    (void)a; (void)c; (void)d;
#endif
    return caps;
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((constructor))
#endif
static void zka_cpu_init(void) {
    const char *no_asm = getenv("ZKATTEST_NO_ASM");
    uint32_t caps = zka_detect_cpu();
    if (no_asm && no_asm[0] && strcmp(no_asm, "0") != 0) {
        if (strcmp(no_asm, "ifma") == 0)
            caps &= ~(uint32_t)ZKA_CPU_AVX512IFMA; /* keep MULX/ADX, drop the IFMA lanes */
        else
            caps = 0;                              /* portable C only */
    }
    zka_cap = caps;
}

uint32_t zka_version(void) { return ZKA_VERSION; }

uint32_t zka_cpu_features(void) {
    /* The features some path is built for (MSM and NTT check AVX-512 OS
       support themselves before using IFMA). */
    return zka_cap & (ZKA_CPU_ADX | ZKA_CPU_BMI2 | ZKA_CPU_AVX512IFMA);
}
#endif
