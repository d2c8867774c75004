/* field_impl.h - Fq and Fr arithmetic (contract: field.h).
 *
 * Both fields share generic always-inline helpers that take the modulus as a
 * const array; the per-field functions (fq_*, fr_*) are stamped out by
 * ZKA_FIELD_DEFINE and pass the generated constants (constants.h), so every
 * constant is folded into the code.
 *
 * Montgomery multiplication: R = 2^256, elements kept fully reduced (< m).
 * Both BN254 moduli have a top limb < 2^62, so the "no final carry" CIOS
 * variant applies (every intermediate t < 2m fits in 4 limbs plus one word):
 *  - portable: __int128 CIOS, fused multiply and reduce per outer word;
 *  - adx: GNU inline asm with MULX and two independent carry chains
 *    (ADCX on CF, ADOX on OF), selected at run time by ZKA_HAS_ADX().
 */
#ifndef ZKA_FIELD_IMPL_H
#define ZKA_FIELD_IMPL_H
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <stdlib.h>

#ifndef ZKA_UNUSED
#define ZKA_UNUSED __attribute__((unused))
#endif
#ifndef ZKA_ALWAYS_INLINE
#define ZKA_ALWAYS_INLINE static inline __attribute__((always_inline))
#endif

typedef unsigned __int128 zka_u128;

/* ------------------------------------------------------------------ limbs */

/* Add/subtract with carry.  On x86-64 the compiler intrinsics give plain
   ADC/SBB chains (they need no CPU extension); elsewhere __int128. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <x86intrin.h>
ZKA_ALWAYS_INLINE uint64_t zka_adc(uint64_t a, uint64_t b, unsigned char *c) {
    unsigned long long o;
    *c = _addcarry_u64(*c, a, b, &o);
    return (uint64_t)o;
}
ZKA_ALWAYS_INLINE uint64_t zka_sbb(uint64_t a, uint64_t b, unsigned char *c) {
    unsigned long long o;
    *c = _subborrow_u64(*c, a, b, &o);
    return (uint64_t)o;
}
#else
ZKA_ALWAYS_INLINE uint64_t zka_adc(uint64_t a, uint64_t b, unsigned char *c) {
    zka_u128 s = (zka_u128)a + b + *c;
    *c = (unsigned char)(s >> 64);
    return (uint64_t)s;
}
ZKA_ALWAYS_INLINE uint64_t zka_sbb(uint64_t a, uint64_t b, unsigned char *c) {
    zka_u128 d = (zka_u128)a - b - *c;
    *c = (unsigned char)((d >> 64) & 1);
    return (uint64_t)d;
}
#endif

/* 1 if a < b (plain limbs), constant time. */
ZKA_ALWAYS_INLINE uint64_t zka_limbs_lt(const uint64_t a[4], const uint64_t b[4]) {
    unsigned char c = 0;
    (void)zka_sbb(a[0], b[0], &c);
    (void)zka_sbb(a[1], b[1], &c);
    (void)zka_sbb(a[2], b[2], &c);
    (void)zka_sbb(a[3], b[3], &c);
    return c;
}

/* r = t - m if t >= m else t (t < 2m), constant time. */
ZKA_ALWAYS_INLINE void zka_cond_sub4(uint64_t r[4], uint64_t t0, uint64_t t1, uint64_t t2,
                                     uint64_t t3, const uint64_t m[4]) {
    unsigned char c = 0;
    uint64_t d0 = zka_sbb(t0, m[0], &c);
    uint64_t d1 = zka_sbb(t1, m[1], &c);
    uint64_t d2 = zka_sbb(t2, m[2], &c);
    uint64_t d3 = zka_sbb(t3, m[3], &c);
    uint64_t keep = 0 - (uint64_t)c; /* all ones if t < m */
    r[0] = d0 ^ ((t0 ^ d0) & keep);
    r[1] = d1 ^ ((t1 ^ d1) & keep);
    r[2] = d2 ^ ((t2 ^ d2) & keep);
    r[3] = d3 ^ ((t3 ^ d3) & keep);
}

ZKA_ALWAYS_INLINE void zka_cond_sub(uint64_t r[4], const uint64_t t[4], const uint64_t m[4]) {
    zka_cond_sub4(r, t[0], t[1], t[2], t[3], m);
}

ZKA_ALWAYS_INLINE void zka_mod_add(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
                                   const uint64_t m[4]) {
    /* a + b < 2m < 2^256: no carry out of the top limb */
    unsigned char c = 0;
    uint64_t t0 = zka_adc(a[0], b[0], &c);
    uint64_t t1 = zka_adc(a[1], b[1], &c);
    uint64_t t2 = zka_adc(a[2], b[2], &c);
    uint64_t t3 = zka_adc(a[3], b[3], &c);
    zka_cond_sub4(r, t0, t1, t2, t3, m);
}

ZKA_ALWAYS_INLINE void zka_mod_sub(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
                                   const uint64_t m[4]) {
    unsigned char c = 0;
    uint64_t t0 = zka_sbb(a[0], b[0], &c);
    uint64_t t1 = zka_sbb(a[1], b[1], &c);
    uint64_t t2 = zka_sbb(a[2], b[2], &c);
    uint64_t t3 = zka_sbb(a[3], b[3], &c);
    uint64_t mask = 0 - (uint64_t)c;
    c = 0;
    r[0] = zka_adc(t0, m[0] & mask, &c);
    r[1] = zka_adc(t1, m[1] & mask, &c);
    r[2] = zka_adc(t2, m[2] & mask, &c);
    r[3] = zka_adc(t3, m[3] & mask, &c);
}

ZKA_ALWAYS_INLINE void zka_mod_neg(uint64_t r[4], const uint64_t a[4], const uint64_t m[4]) {
    uint64_t nz = a[0] | a[1] | a[2] | a[3];
    uint64_t mask = 0 - ((nz | (0 - nz)) >> 63); /* all ones if a != 0 */
    unsigned char c = 0;
    uint64_t d0 = zka_sbb(m[0], a[0], &c);
    uint64_t d1 = zka_sbb(m[1], a[1], &c);
    uint64_t d2 = zka_sbb(m[2], a[2], &c);
    uint64_t d3 = zka_sbb(m[3], a[3], &c);
    r[0] = d0 & mask;
    r[1] = d1 & mask;
    r[2] = d2 & mask;
    r[3] = d3 & mask;
}

/* ------------------------------------------------- Montgomery, portable */

/* r = a*b/R mod m; a, b < m; m[3] < 2^62.  r may alias a or b. */
ZKA_ALWAYS_INLINE void zka_mont_mul_c(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
                                      const uint64_t m[4], uint64_t inv) {
    uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    const uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    for (int i = 0; i < 4; i++) {
        const uint64_t bi = b[i];
        zka_u128 p, s;
        uint64_t A, C, q;
        p = (zka_u128)a0 * bi + t0;
        A = (uint64_t)(p >> 64);
        t0 = (uint64_t)p;
        q = t0 * inv;
        s = (zka_u128)q * m[0] + t0;
        C = (uint64_t)(s >> 64);

        p = (zka_u128)a1 * bi + t1 + A;
        A = (uint64_t)(p >> 64);
        s = (zka_u128)q * m[1] + (uint64_t)p + C;
        C = (uint64_t)(s >> 64);
        t0 = (uint64_t)s;

        p = (zka_u128)a2 * bi + t2 + A;
        A = (uint64_t)(p >> 64);
        s = (zka_u128)q * m[2] + (uint64_t)p + C;
        C = (uint64_t)(s >> 64);
        t1 = (uint64_t)s;

        p = (zka_u128)a3 * bi + t3 + A;
        A = (uint64_t)(p >> 64);
        s = (zka_u128)q * m[3] + (uint64_t)p + C;
        C = (uint64_t)(s >> 64);
        t2 = (uint64_t)s;

        t3 = C + A;
    }
    zka_cond_sub4(r, t0, t1, t2, t3, m);
}

/* ----------------------------------------------------- Montgomery, ADX */
/* Needs optimisation (constant-folded modulus addresses, 14 free registers);
   an unoptimised build uses the portable code for the adx entry points too. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__OPTIMIZE__)
#define ZKA_HAVE_ADX_ASM 1

/* t[T0..T4] += a * b[I]; T4 is zero on entry.  Flags cleared by the xor;
   CF chain (ADCX) adds the low halves, OF chain (ADOX) the high halves. */
#define ZKA_ADX_MULADD(BI, T0, T1, T2, T3, T4)                                   \
    "movq %[" BI "], %%rdx\n\t"                                                  \
    "xorl %%eax, %%eax\n\t"                                                      \
    "mulxq %[a0], %%rax, %%rbx\n\t"                                              \
    "adcxq %%rax, %[" T0 "]\n\t"                                                 \
    "adoxq %%rbx, %[" T1 "]\n\t"                                                 \
    "mulxq %[a1], %%rax, %%rbx\n\t"                                              \
    "adcxq %%rax, %[" T1 "]\n\t"                                                 \
    "adoxq %%rbx, %[" T2 "]\n\t"                                                 \
    "mulxq %[a2], %%rax, %%rbx\n\t"                                              \
    "adcxq %%rax, %[" T2 "]\n\t"                                                 \
    "adoxq %%rbx, %[" T3 "]\n\t"                                                 \
    "mulxq %[a3], %%rax, %%rbx\n\t"                                              \
    "adcxq %%rax, %[" T3 "]\n\t"                                                 \
    "adcxq %[" T4 "], %%rbx\n\t" /* T4 = 0: rbx = hi + CF (no overflow) */       \
    "adoxq %%rbx, %[" T4 "]\n\t"

/* t += q*m with q = t0 * inv mod 2^64: T0 becomes zero (the next T4). */
#define ZKA_ADX_REDUCE(T0, T1, T2, T3, T4)                                       \
    "movq %[" T0 "], %%rdx\n\t"                                                  \
    "imulq %[inv], %%rdx\n\t"                                                    \
    "xorl %%eax, %%eax\n\t"                                                      \
    "mulxq %[m0], %%rax, %%rbx\n\t"                                              \
    "adcxq %%rax, %[" T0 "]\n\t"                                                 \
    "adoxq %%rbx, %[" T1 "]\n\t"                                                 \
    "mulxq %[m1], %%rax, %%rbx\n\t"                                              \
    "adcxq %%rax, %[" T1 "]\n\t"                                                 \
    "adoxq %%rbx, %[" T2 "]\n\t"                                                 \
    "mulxq %[m2], %%rax, %%rbx\n\t"                                              \
    "adcxq %%rax, %[" T2 "]\n\t"                                                 \
    "adoxq %%rbx, %[" T3 "]\n\t"                                                 \
    "mulxq %[m3], %%rax, %%rbx\n\t"                                              \
    "adcxq %%rax, %[" T3 "]\n\t"                                                 \
    "adcxq %[" T0 "], %%rbx\n\t" /* T0 = 0 now */                                \
    "adoxq %%rbx, %[" T4 "]\n\t"

/* r = a*b/R mod m.  a is held in registers, b and m are memory operands
   (m and inv resolve to RIP-relative constants after inlining). */
ZKA_ALWAYS_INLINE void zka_mont_mul_adx(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
                                        const uint64_t m[4], const uint64_t *inv) {
    uint64_t t0, t1, t2, t3, t4;
    __asm__(
        /* t = a * b[0] */
        "movq %[b0], %%rdx\n\t"
        "mulxq %[a0], %[t0], %[t1]\n\t"
        "mulxq %[a1], %%rax, %[t2]\n\t"
        "addq %%rax, %[t1]\n\t"
        "mulxq %[a2], %%rax, %[t3]\n\t"
        "adcq %%rax, %[t2]\n\t"
        "mulxq %[a3], %%rax, %[t4]\n\t"
        "adcq %%rax, %[t3]\n\t"
        "adcq $0, %[t4]\n\t"
        ZKA_ADX_REDUCE("t0", "t1", "t2", "t3", "t4")
        ZKA_ADX_MULADD("b1", "t1", "t2", "t3", "t4", "t0")
        ZKA_ADX_REDUCE("t1", "t2", "t3", "t4", "t0")
        ZKA_ADX_MULADD("b2", "t2", "t3", "t4", "t0", "t1")
        ZKA_ADX_REDUCE("t2", "t3", "t4", "t0", "t1")
        ZKA_ADX_MULADD("b3", "t3", "t4", "t0", "t1", "t2")
        ZKA_ADX_REDUCE("t3", "t4", "t0", "t1", "t2")
        /* t = (t4, t0, t1, t2) < 2m, t3 = 0: subtract m if t >= m */
        "movq %[t4], %%rax\n\t"
        "subq %[m0], %%rax\n\t"
        "movq %[t0], %%rbx\n\t"
        "sbbq %[m1], %%rbx\n\t"
        "movq %[t1], %%rdx\n\t"
        "sbbq %[m2], %%rdx\n\t"
        "movq %[t2], %[t3]\n\t"
        "sbbq %[m3], %[t3]\n\t"
        "cmovncq %%rax, %[t4]\n\t"
        "cmovncq %%rbx, %[t0]\n\t"
        "cmovncq %%rdx, %[t1]\n\t"
        "cmovncq %[t3], %[t2]\n\t"
        : [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4)
        : [a0] "r"(a[0]), [a1] "r"(a[1]), [a2] "r"(a[2]), [a3] "r"(a[3]),
          [b0] "m"(b[0]), [b1] "m"(b[1]), [b2] "m"(b[2]), [b3] "m"(b[3]),
          [m0] "m"(m[0]), [m1] "m"(m[1]), [m2] "m"(m[2]), [m3] "m"(m[3]), [inv] "m"(*inv)
        : "rax", "rbx", "rdx", "cc");
    r[0] = t4;
    r[1] = t0;
    r[2] = t1;
    r[3] = t2;
}
#define ZKA_ADX_TARGET __attribute__((target("adx,bmi2")))
#else
#define ZKA_HAVE_ADX_ASM 0
#define ZKA_ADX_TARGET
#endif

/* ------------------------------------------------------------ exponents */

/* r = a^e for e given as nlimbs little-endian limbs; 4-bit fixed window,
   variable time in e only.  mul is a field multiplication, one its 1. */
typedef void (*zka_fe_mul_fn)(fe *r, const fe *a, const fe *b);

ZKA_ALWAYS_INLINE void zka_pow_nibbles(fe *r, const fe *a, const uint8_t *e, size_t e_len,
                                       const uint64_t *e_limbs, size_t nlimbs,
                                       zka_fe_mul_fn mul, const uint64_t one[4]) {
    fe tab[16], acc;
    memcpy(tab[0].v, one, sizeof tab[0].v);
    tab[1] = *a;
    for (int i = 2; i < 16; i++) mul(&tab[i], &tab[i - 1], a);
    memcpy(acc.v, one, sizeof acc.v);
    size_t nnib = e ? 2 * e_len : 16 * nlimbs;
    int started = 0;
    for (size_t k = nnib; k-- > 0;) {
        unsigned nib;
        if (e) nib = (e[k >> 1] >> (4 * (k & 1))) & 15;
        else nib = (unsigned)(e_limbs[k >> 4] >> (4 * (k & 15))) & 15;
        if (started) {
            mul(&acc, &acc, &acc);
            mul(&acc, &acc, &acc);
            mul(&acc, &acc, &acc);
            mul(&acc, &acc, &acc);
            if (nib) mul(&acc, &acc, &tab[nib]);
        } else if (nib) {
            acc = tab[nib];
            started = 1;
        }
    }
    *r = acc;
    zka_wipe(tab, sizeof tab);
}

/* ------------------------------------------------------- per-field code */

#define ZKA_FIELD_DEFINE(F, P)                                                           \
static ZKA_UNUSED void F##_set_zero(fe *r) { memset(r->v, 0, sizeof r->v); }             \
static ZKA_UNUSED void F##_set_one(fe *r) { memcpy(r->v, P##ONE, sizeof r->v); }        \
static ZKA_UNUSED int F##_is_zero(const fe *a) {                                         \
    uint64_t z = a->v[0] | a->v[1] | a->v[2] | a->v[3];                                  \
    return (int)((1 & ((z | (0 - z)) >> 63)) ^ 1);                                          \
}                                                                                        \
static ZKA_UNUSED int F##_eq(const fe *a, const fe *b) {                                 \
    uint64_t z = (a->v[0] ^ b->v[0]) | (a->v[1] ^ b->v[1]) | (a->v[2] ^ b->v[2]) |       \
                 (a->v[3] ^ b->v[3]);                                                    \
    return (int)((1 & ((z | (0 - z)) >> 63)) ^ 1);                                          \
}                                                                                        \
static ZKA_UNUSED void F##_add(fe *r, const fe *a, const fe *b) {                        \
    zka_mod_add(r->v, a->v, b->v, P##MODULUS);                                           \
}                                                                                        \
static ZKA_UNUSED void F##_sub(fe *r, const fe *a, const fe *b) {                        \
    zka_mod_sub(r->v, a->v, b->v, P##MODULUS);                                           \
}                                                                                        \
static ZKA_UNUSED void F##_neg(fe *r, const fe *a) { zka_mod_neg(r->v, a->v, P##MODULUS); } \
static ZKA_UNUSED void F##_dbl(fe *r, const fe *a) {                                     \
    zka_mod_add(r->v, a->v, a->v, P##MODULUS);                                           \
}                                                                                        \
/* noinline: keeps the dispatcher below free of the portable code's register  \
   pressure, so the ADX path is a plain tail call with no spills */             \
static ZKA_UNUSED __attribute__((noinline)) void F##_mul_portable(fe *r, const fe *a,    \
                                                                   const fe *b) {        \
    zka_mont_mul_c(r->v, a->v, b->v, P##MODULUS, P##INV);                                \
}                                                                                        \
ZKA_FIELD_DEFINE_ADX(F, P)                                                               \
static ZKA_UNUSED void F##_mul(fe *r, const fe *a, const fe *b) {                        \
    if (ZKA_HAVE_ADX_ASM && ZKA_HAS_ADX()) F##_mul_adx(r, a, b);                         \
    else F##_mul_portable(r, a, b);                                                      \
}                                                                                        \
static ZKA_UNUSED void F##_sqr(fe *r, const fe *a) { F##_mul(r, a, a); }                 \
static ZKA_UNUSED void F##_pow_limbs(fe *r, const fe *a, const uint64_t *e, size_t nlimbs) { \
    zka_pow_nibbles(r, a, NULL, 0, e, nlimbs, F##_mul, P##ONE);                          \
}                                                                                        \
static ZKA_UNUSED void F##_pow_bytes(fe *r, const fe *a, const uint8_t *e, size_t e_len) { \
    if (e_len == 0) { F##_set_one(r); return; }                                          \
    zka_pow_nibbles(r, a, e, e_len, NULL, 0, F##_mul, P##ONE);                           \
}                                                                                        \
static ZKA_UNUSED int F##_inv(fe *r, const fe *a) {                                      \
    int nz = !F##_is_zero(a);                                                            \
    F##_pow_limbs(r, a, P##MODULUS_MINUS_2, 4);                                          \
    return nz;                                                                           \
}                                                                                        \
static ZKA_UNUSED int F##_batch_inv(fe *r, const fe *a, size_t n, fe *scratch) {         \
    fe acc, inv, t;                                                                      \
    int all = 1;                                                                         \
    F##_set_one(&acc);                                                                   \
    for (size_t i = 0; i < n; i++) {                                                     \
        scratch[i] = acc;                                                                \
        if (F##_is_zero(&a[i])) all = 0;                                                 \
        else F##_mul(&acc, &acc, &a[i]);                                                 \
    }                                                                                    \
    F##_inv(&inv, &acc);                                                                 \
    for (size_t i = n; i-- > 0;) {                                                       \
        if (F##_is_zero(&a[i])) continue; /* r[i] = a[i] = 0 if r == a */               \
        F##_mul(&t, &inv, &scratch[i]);                                                  \
        F##_mul(&inv, &inv, &a[i]);                                                      \
        r[i] = t;                                                                        \
    }                                                                                    \
    if (r != a)                                                                          \
        for (size_t i = 0; i < n; i++)                                                   \
            if (F##_is_zero(&a[i])) F##_set_zero(&r[i]);                                 \
    return all;                                                                          \
}                                                                                        \
static ZKA_UNUSED int F##_from_limbs(fe *r, const uint64_t in[4]) {                      \
    if (!zka_limbs_lt(in, P##MODULUS)) { F##_set_zero(r); return 0; }                    \
    fe t;                                                                                \
    memcpy(t.v, in, sizeof t.v);                                                         \
    fe r2;                                                                               \
    memcpy(r2.v, P##R2, sizeof r2.v);                                                    \
    F##_mul(r, &t, &r2);                                                                 \
    return 1;                                                                            \
}                                                                                        \
static ZKA_UNUSED void F##_to_limbs(uint64_t out[4], const fe *a) {                      \
    static const fe one_plain = {{1, 0, 0, 0}};                                          \
    fe t;                                                                                \
    F##_mul(&t, a, &one_plain);                                                          \
    memcpy(out, t.v, sizeof t.v);                                                        \
}                                                                                        \
static ZKA_UNUSED int F##_from_bytes(fe *r, const uint8_t in[32]) {                      \
    uint64_t l[4];                                                                       \
    zka_load_limbs(l, in);                                                               \
    return F##_from_limbs(r, l);                                                         \
}                                                                                        \
static ZKA_UNUSED void F##_to_bytes(uint8_t out[32], const fe *a) {                      \
    uint64_t l[4];                                                                       \
    F##_to_limbs(l, a);                                                                  \
    zka_store_limbs(out, l);                                                             \
}                                                                                        \
static ZKA_UNUSED void F##_from_u64(fe *r, uint64_t x) {                                 \
    uint64_t l[4] = {x, 0, 0, 0};                                                        \
    if (!F##_from_limbs(r, l)) F##_set_zero(r); /* unreachable: x < m */                 \
}                                                                                        \
/* x mod m for x < 2^512 given as 64 LE bytes, in Montgomery form */                    \
static ZKA_UNUSED void F##_from_wide_bytes(fe *r, const uint8_t in[64]) {                \
    uint64_t lo[4], hi[4];                                                               \
    fe a, b;                                                                             \
    zka_load_limbs(lo, in);                                                              \
    zka_load_limbs(hi, in + 32);                                                         \
    for (int k = 0; k < 6; k++) { /* 2^256 / m < 6 */                                   \
        zka_cond_sub(lo, lo, P##MODULUS);                                                \
        zka_cond_sub(hi, hi, P##MODULUS);                                                \
    }                                                                                    \
    memcpy(a.v, lo, sizeof a.v);                                                         \
    memcpy(b.v, hi, sizeof b.v);                                                         \
    fe r2, r3;                                                                           \
    memcpy(r2.v, P##R2, sizeof r2.v);                                                    \
    memcpy(r3.v, P##R3, sizeof r3.v);                                                    \
    F##_mul(&a, &a, &r2);                                                                \
    F##_mul(&b, &b, &r3);                                                                \
    F##_add(r, &a, &b);                                                                  \
    zka_wipe(lo, sizeof lo);                                                             \
    zka_wipe(hi, sizeof hi);                                                             \
    zka_wipe(&a, sizeof a);                                                              \
    zka_wipe(&b, sizeof b);                                                              \
}                                                                                        \
static ZKA_UNUSED int F##_is_lex_largest(const fe *a) {                                  \
    uint64_t l[4];                                                                       \
    F##_to_limbs(l, a);                                                                  \
    return (int)zka_limbs_lt(P##HALF_MODULUS, l);                                        \
}

#if ZKA_HAVE_ADX_ASM
#define ZKA_FIELD_DEFINE_ADX(F, P)                                                       \
static const uint64_t F##_inv_word = P##INV;                                            \
static ZKA_UNUSED ZKA_ADX_TARGET void F##_mul_adx(fe *r, const fe *a, const fe *b) {     \
    zka_mont_mul_adx(r->v, a->v, b->v, P##MODULUS, &F##_inv_word);                       \
}
#else
#define ZKA_FIELD_DEFINE_ADX(F, P)                                                       \
static ZKA_UNUSED void F##_mul_adx(fe *r, const fe *a, const fe *b) {                    \
    zka_mont_mul_c(r->v, a->v, b->v, P##MODULUS, P##INV);                                \
}
#endif

ZKA_FIELD_DEFINE(fq, FQ_)
ZKA_FIELD_DEFINE(fr, FR_)

static ZKA_UNUSED int fq_sqrt(fe *r, const fe *a) {
    fe s, c;
    fq_pow_limbs(&s, a, FQ_SQRT_EXP, 4);
    fq_sqr(&c, &s);
    int ok = fq_eq(&c, a);
    *r = s;
    return ok;
}

/* ------------------------------------------------------- exported API */

#define ZKA_FIELD_EXPORTS(F, T)                                                          \
zka_status zka_##F##_check(const T *a) {                                                 \
    fe x;                                                                                \
    if (!a) return ZKA_ERR_NULL;                                                         \
    return F##_from_bytes(&x, a->b) ? ZKA_OK : ZKA_ERR_NONCANONICAL;                     \
}                                                                                        \
zka_status zka_##F##_reduce(T *out, const uint8_t *in, size_t in_len) {                  \
    uint8_t buf[64];                                                                     \
    fe x;                                                                                \
    if (!out || (!in && in_len)) return ZKA_ERR_NULL;                                    \
    if (in_len > 64) return ZKA_ERR_LENGTH;                                              \
    memset(buf, 0, sizeof buf);                                                          \
    if (in_len) memcpy(buf, in, in_len);                                                 \
    F##_from_wide_bytes(&x, buf);                                                        \
    F##_to_bytes(out->b, &x);                                                            \
    zka_wipe(buf, sizeof buf);                                                           \
    zka_wipe(&x, sizeof x);                                                              \
    return ZKA_OK;                                                                       \
}                                                                                        \
zka_status zka_##F##_add(T *out, const T *a, const T *b) {                               \
    fe x, y;                                                                             \
    if (!out || !a || !b) return ZKA_ERR_NULL;                                           \
    if (!F##_from_bytes(&x, a->b) || !F##_from_bytes(&y, b->b)) return ZKA_ERR_NONCANONICAL; \
    F##_add(&x, &x, &y);                                                                 \
    F##_to_bytes(out->b, &x);                                                            \
    return ZKA_OK;                                                                       \
}                                                                                        \
zka_status zka_##F##_sub(T *out, const T *a, const T *b) {                               \
    fe x, y;                                                                             \
    if (!out || !a || !b) return ZKA_ERR_NULL;                                           \
    if (!F##_from_bytes(&x, a->b) || !F##_from_bytes(&y, b->b)) return ZKA_ERR_NONCANONICAL; \
    F##_sub(&x, &x, &y);                                                                 \
    F##_to_bytes(out->b, &x);                                                            \
    return ZKA_OK;                                                                       \
}                                                                                        \
zka_status zka_##F##_neg(T *out, const T *a) {                                           \
    fe x;                                                                                \
    if (!out || !a) return ZKA_ERR_NULL;                                                 \
    if (!F##_from_bytes(&x, a->b)) return ZKA_ERR_NONCANONICAL;                          \
    F##_neg(&x, &x);                                                                     \
    F##_to_bytes(out->b, &x);                                                            \
    return ZKA_OK;                                                                       \
}                                                                                        \
zka_status zka_##F##_mul(T *out, const T *a, const T *b) {                               \
    fe x, y;                                                                             \
    if (!out || !a || !b) return ZKA_ERR_NULL;                                           \
    if (!F##_from_bytes(&x, a->b) || !F##_from_bytes(&y, b->b)) return ZKA_ERR_NONCANONICAL; \
    F##_mul(&x, &x, &y);                                                                 \
    F##_to_bytes(out->b, &x);                                                            \
    return ZKA_OK;                                                                       \
}                                                                                        \
zka_status zka_##F##_sqr(T *out, const T *a) {                                           \
    fe x;                                                                                \
    if (!out || !a) return ZKA_ERR_NULL;                                                 \
    if (!F##_from_bytes(&x, a->b)) return ZKA_ERR_NONCANONICAL;                          \
    F##_sqr(&x, &x);                                                                     \
    F##_to_bytes(out->b, &x);                                                            \
    return ZKA_OK;                                                                       \
}                                                                                        \
zka_status zka_##F##_inv(T *out, const T *a) {                                           \
    fe x;                                                                                \
    if (!out || !a) return ZKA_ERR_NULL;                                                 \
    if (!F##_from_bytes(&x, a->b)) return ZKA_ERR_NONCANONICAL;                          \
    if (!F##_inv(&x, &x)) return ZKA_ERR_NOT_INVERTIBLE;                                 \
    F##_to_bytes(out->b, &x);                                                            \
    zka_wipe(&x, sizeof x);                                                              \
    return ZKA_OK;                                                                       \
}                                                                                        \
zka_status zka_##F##_pow(T *out, const T *a, const uint8_t *e, size_t e_len) {           \
    fe x;                                                                                \
    if (!out || !a || (!e && e_len)) return ZKA_ERR_NULL;                                \
    if (!F##_from_bytes(&x, a->b)) return ZKA_ERR_NONCANONICAL;                          \
    while (e_len && e[e_len - 1] == 0) e_len--;                                          \
    F##_pow_bytes(&x, &x, e, e_len);                                                     \
    F##_to_bytes(out->b, &x);                                                            \
    zka_wipe(&x, sizeof x);                                                              \
    return ZKA_OK;                                                                       \
}                                                                                        \
zka_status zka_##F##_batch_inv(T *out, const T *in, size_t n) {                          \
    fe *buf;                                                                             \
    size_t bytes;                                                                        \
    if (!out || !in) return ZKA_ERR_NULL;                                                \
    if (n == 0) return ZKA_OK;                                                           \
    if (!zka_mul_size(&bytes, n, 2 * sizeof(fe))) return ZKA_ERR_NOMEM;                  \
    buf = (fe *)malloc(bytes);                                                           \
    if (!buf) return ZKA_ERR_NOMEM;                                                      \
    zka_status st = ZKA_OK;                                                              \
    for (size_t i = 0; i < n; i++) {                                                     \
        if (!F##_from_bytes(&buf[i], in[i].b)) { st = ZKA_ERR_NONCANONICAL; break; }     \
        if (F##_is_zero(&buf[i]) && st == ZKA_OK) st = ZKA_ERR_NOT_INVERTIBLE;           \
    }                                                                                    \
    if (st == ZKA_ERR_NOT_INVERTIBLE) { /* a later element may still be non-canonical */ \
        fe tmp;                                                                          \
        for (size_t i = 0; i < n; i++)                                                   \
            if (!F##_from_bytes(&tmp, in[i].b)) { st = ZKA_ERR_NONCANONICAL; break; }    \
    }                                                                                    \
    if (st == ZKA_OK) {                                                                  \
        F##_batch_inv(buf, buf, n, buf + n);                                             \
        for (size_t i = 0; i < n; i++) F##_to_bytes(out[i].b, &buf[i]);                  \
    }                                                                                    \
    zka_wipe(buf, bytes);                                                                \
    free(buf);                                                                           \
    return st;                                                                           \
}

ZKA_FIELD_EXPORTS(fr, zka_fr)
ZKA_FIELD_EXPORTS(fq, zka_fq)

zka_status zka_fq_sqrt(zka_fq *out, const zka_fq *a) {
    fe x, s;
    if (!out || !a) return ZKA_ERR_NULL;
    if (!fq_from_bytes(&x, a->b)) return ZKA_ERR_NONCANONICAL;
    if (!fq_sqrt(&s, &x)) return ZKA_ERR_NO_SQRT;
    fq_to_bytes(out->b, &s);
    return ZKA_OK;
}

zka_status zka_fq_mul_loop(zka_fq *x, const zka_fq *y, uint64_t iters) {
    fe a, b;
    if (!x || !y) return ZKA_ERR_NULL;
    if (!fq_from_bytes(&a, x->b) || !fq_from_bytes(&b, y->b)) return ZKA_ERR_NONCANONICAL;
    for (uint64_t i = 0; i < iters; i++) fq_mul(&a, &a, &b);
    fq_to_bytes(x->b, &a);
    return ZKA_OK;
}

#endif /* ZKA_FIELD_IMPL_H */
