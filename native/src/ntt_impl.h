/* ntt_impl.h - number-theoretic transforms over Fr (contract: zkattest.h, NTT).
 *
 * Root of unity.  omega_n = g^((r-1)/n) with g = FR_GENERATOR = 5, the smallest
 * quadratic non-residue mod r.  This is ffjavascript's / wasmcurves' definition
 * (w[s] = nqr^t with r-1 = 2^s*t, w[i] = w[i+1]^2, so w[k] = 5^((r-1)/2^k)),
 * which snarkjs uses for the .zkey H polynomial.  It is computed at domain
 * creation with fr_pow_limbs, nothing pasted.
 *
 * Algorithm.  Radix-2 Cooley-Tukey with one twiddle per block ("decimation by
 * blocks"): natural-order input, bit-reversed output, then an in-place
 * bit-reversal permutation.  Stage t (t = 0..L-1, L = log_n) splits the array
 * into 2^t blocks of 2h = n/2^t elements; block k uses the twiddle
 *     tw[k] = omega^bitrev_{L-1}(k)              (k < n/2)
 * on the pairs (p, p+h):  x_p, x_{p+h} <- x_p + tw[k] x_{p+h}, x_p - tw[k] x_{p+h}.
 * Stage t reads tw[0 .. 2^t) in order, so one table of n/2 entries in
 * bit-reversed order serves every stage with sequential access, and block 0
 * (tw = 1, the whole of stage 0) needs no multiplication.
 *
 * Cache blocking (four-step style, without transposes).  Stages are grouped
 * into passes.  A pass over stages t0 .. t0+K-1 only pairs elements whose index
 * differs in bits [L-t0-K, L-t0); writing an index as (hi: t0 bits, mid: K bits,
 * lo: the rest), the 2^K elements with equal (hi, lo) form an independent
 * sub-transform whose twiddles depend on hi only (tw[hi*2^s + j] in its stage
 * s).  A pass gathers G adjacent lo-columns (2^K rows of G contiguous elements)
 * into a per-thread scratch buffer, runs its K stages there, and scatters
 * back.  The last pass ("leaf") has lo = 0: it loads contiguous blocks of up to
 * 2^ZKA_NTT_BUF_LOG (scalar) or 2^ZKA_NTT_IFMA_LOG (IFMA) elements.  So 2^20
 * takes one or two column passes + the leaf pass + the permutation.  Items of
 * a pass (hi, column group) are split between threads.
 *
 * Representation.  Data stays in canonical (plain) form: the transform is
 * linear and the twiddles are stored in Montgomery form, so
 * fr_mul(x, tw*2^256) = x*tw (plain).  No conversion pass in or out.  Elements
 * are moved between the zka_fr bytes and fe limbs with memcpy (little-endian
 * hosts) or zka_load_limbs/zka_store_limbs; zka_fr pointers are never cast.
 *
 * Two kernels, chosen when the domain is made (the table differs):
 *  - scalar (fr_mul_adx or fr_mul_portable, per the capability word): the twiddles
 *    are omega^e * 2^256 (Montgomery).  Inverse: DFT_{omega^-1}(X)[i] =
 *    DFT_omega(X)[-i mod n], so it is the forward transform followed by one pass
 *    doing the index reversal i <-> n-i, the 1/n and (coset) shift^-i scaling;
 *    coset_forward multiplies by shift^i in a pass before.
 *  - AVX-512 IFMA (when the CPU/OS have it and ZKATTEST_NO_ASM is unset): eight
 *    butterflies per instruction sequence in radix 2^52 (see below); twiddles
 *    are omega^e * 2^260.  The inverse runs on omega^-1 directly:
 *    omega^-bitrev(k) = -tw[k ^ (2^t - 1)] for k in [2^t, 2^(t+1)), i.e. the same
 *    table read backwards within each level with the butterfly outputs swapped,
 *    and the scalings (shift^i before, 1/n * shift^-i after) are fused into the
 *    first / last pass, so no extra pass over memory.
 *
 * Bad input loses nothing: lengths, the shift and every data element are
 * checked, and scratch is allocated, before data is written.
 */
#ifndef ZKA_NTT_IMPL_H
#define ZKA_NTT_IMPL_H
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- tunables */
#ifndef ZKA_NTT_BUF_LOG
#define ZKA_NTT_BUF_LOG 12        /* scratch per thread: 2^12 fe = 128 KiB (in L2) */
#endif
#define ZKA_NTT_MIN_COLS_LOG 2    /* a column pass gathers >= 4 adjacent columns */
#define ZKA_NTT_PAR_MIN_LOG 12    /* smaller transforms run on the caller's thread */
#define ZKA_NTT_PAR_MIN_LOG_IFMA 14 /* (the IFMA kernel: a fork-join costs ~50 us) */
#define ZKA_NTT_PAR_MIN_ITEMS 4096 /* element-wise passes: elements per thread, at least */
#define ZKA_NTT_TILE_LOG 4        /* bit-reversal tiles: 2^4 runs of 2^4 elements */
#define ZKA_NTT_TW_PAR_MIN 65536  /* twiddle levels at least this long use all cores */

#if !defined(__BYTE_ORDER__) || !defined(__ORDER_LITTLE_ENDIAN__) || \
    __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#define ZKA_NTT_LE 0
#else
#define ZKA_NTT_LE 1
#endif

/* fe must be exactly the 32 bytes of a zka_fr for the memcpy fast path */
typedef char zka_ntt_fe_size_check[(sizeof(fe) == 32 && sizeof(zka_fr) == 32) ? 1 : -1];

struct zka_ntt_domain {
    uint32_t log_n;
    size_t n;
    fe omega;        /* Montgomery */
    fe omega_inv;    /* Montgomery */
    fe n_inv;        /* Montgomery */
    /* max(n/2, 1) entries, tw[k] = omega^bitrev_{log_n-1}(k) * 2^256 mod r (scalar
       kernel) or * 2^260 mod r (IFMA kernel, ifma = 1), as 4 plain limbs */
    fe *tw;
    int ifma;        /* transforms use the AVX-512 IFMA kernel (fixed at creation) */
    fe tw_neg1;      /* IFMA: -1 in the table's form (r - tw[0]) */
    uint64_t r52[5], rm52[4][5], k0; /* IFMA: r, 2r, 4r, 8r, 16r in radix 2^52;
                                        -r^-1 mod 2^52 */
};

/* --------------------------------------------------------------- helpers */

static inline void ntt_load(fe *r, const zka_fr *a) {
#if ZKA_NTT_LE
    memcpy(r->v, a->b, 32);
#else
    zka_load_limbs(r->v, a->b);
#endif
}

static inline void ntt_store(zka_fr *r, const fe *a) {
#if ZKA_NTT_LE
    memcpy(r->b, a->v, 32);
#else
    zka_store_limbs(r->b, a->v);
#endif
}

static inline void ntt_load_n(fe *r, const zka_fr *a, size_t cnt) {
#if ZKA_NTT_LE
    memcpy(r, a, cnt * 32);
#else
    for (size_t i = 0; i < cnt; i++) zka_load_limbs(r[i].v, a[i].b);
#endif
}

static inline void ntt_store_n(zka_fr *r, const fe *a, size_t cnt) {
#if ZKA_NTT_LE
    memcpy(r, a, cnt * 32);
#else
    for (size_t i = 0; i < cnt; i++) zka_store_limbs(r[i].b, a[i].v);
#endif
}

/* plain little-endian limbs < r ? */
static inline int ntt_limbs_canonical(const uint64_t v[4]) {
    for (int i = 3; i >= 0; i--) {
        if (v[i] < FR_MODULUS[i]) return 1;
        if (v[i] > FR_MODULUS[i]) return 0;
    }
    return 0; /* equal to r */
}

static inline uint32_t ntt_rev32(uint32_t x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
}

/* bit-reversal of the low `bits` bits of i (bits <= 32) */
static inline size_t ntt_rev(size_t i, uint32_t bits) {
    return bits == 0 ? 0 : (size_t)(ntt_rev32((uint32_t)i) >> (32 - bits));
}

static inline void ntt_swap(zka_fr *a, zka_fr *b) {
    zka_fr t;
    memcpy(&t, a, sizeof t);
    memcpy(a, b, sizeof t);
    memcpy(b, &t, sizeof t);
}

/* x^e for a small exponent, Montgomery in and out */
static void ntt_pow_u64(fe *r, const fe *x, uint64_t e) {
    fr_pow_limbs(r, x, &e, 1);
}

/* [lo, hi) = share `index` of `count` of [0, total) */
static inline void ntt_share(size_t *lo, size_t *hi, size_t total, uint32_t index, uint32_t count) {
    /* total <= 2^28 and count <= 256: the products fit in 64 bits */
    uint64_t t = (uint64_t)total;
    *lo = (size_t)(t * index / count);
    *hi = (size_t)(t * (index + 1) / count);
}

static inline uint32_t ntt_threads_for(size_t work, size_t min_per_thread, uint32_t nt) {
    size_t most = work / min_per_thread;
    if (most < 1) most = 1;
    return (size_t)nt < most ? nt : (uint32_t)most;
}

/* ------------------------------------------------------------- butterflies */

/* The scalar kernel is stamped twice, once per multiplication path (MULX/ADX or
   portable), so the path is chosen once per pass rather than per product; the
   ADX one also uses the assembly add/sub below. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__OPTIMIZE__)
/* (an unoptimised build cannot allocate registers for the asm: C kernel only) */
#define ZKA_NTT_ADX_TARGET __attribute__((target("adx,bmi2")))
#define ZKA_NTT_HAVE_ADX 1
#else
#define ZKA_NTT_ADX_TARGET
#define ZKA_NTT_HAVE_ADX 0
#endif

/* a, b <- a + t, a - t (mod r; a, t < r); t must not alias b.  Portable C, and
   plain x86-64 assembly (no CPU extension) used by the ADX kernel: the compiler's
   carry handling around the add/sub chains costs ~10% of a butterfly. */
static inline void ntt_addsub_c(fe *a, fe *b, const fe *t) {
    fe u, v;
    fr_add(&u, a, t);
    fr_sub(&v, a, t);
    *a = u;
    *b = v;
}

#if ZKA_NTT_HAVE_ADX
static inline void ntt_addsub_asm(fe *a, fe *b, const fe *t) {
    uint64_t d0, d1, d2, d3, m, x0, x1, x2, x3;
    uint64_t s0, s1, s2, s3, u0, u1, u2, u3;
    /* d = a - t; if it borrowed, d += r (the masks are formed before the adc chain:
       AND clobbers the carry flag) */
    __asm__("movq %[a0], %[d0]\n\t"
            "movq %[a1], %[d1]\n\t"
            "movq %[a2], %[d2]\n\t"
            "movq %[a3], %[d3]\n\t"
            "subq %[t0], %[d0]\n\t"
            "sbbq %[t1], %[d1]\n\t"
            "sbbq %[t2], %[d2]\n\t"
            "sbbq %[t3], %[d3]\n\t"
            "sbbq %[m], %[m]\n\t"
            "movq %[r0], %[x0]\n\t"
            "movq %[r1], %[x1]\n\t"
            "movq %[r2], %[x2]\n\t"
            "movq %[r3], %[x3]\n\t"
            "andq %[m], %[x0]\n\t"
            "andq %[m], %[x1]\n\t"
            "andq %[m], %[x2]\n\t"
            "andq %[m], %[x3]\n\t"
            "addq %[x0], %[d0]\n\t"
            "adcq %[x1], %[d1]\n\t"
            "adcq %[x2], %[d2]\n\t"
            "adcq %[x3], %[d3]\n\t"
            : [d0] "=&r"(d0), [d1] "=&r"(d1), [d2] "=&r"(d2), [d3] "=&r"(d3), [m] "=&r"(m),
              [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3)
            : [a0] "m"(a->v[0]), [a1] "m"(a->v[1]), [a2] "m"(a->v[2]), [a3] "m"(a->v[3]),
              [t0] "m"(t->v[0]), [t1] "m"(t->v[1]), [t2] "m"(t->v[2]), [t3] "m"(t->v[3]),
              [r0] "m"(FR_MODULUS[0]), [r1] "m"(FR_MODULUS[1]), [r2] "m"(FR_MODULUS[2]),
              [r3] "m"(FR_MODULUS[3])
            : "cc");
    /* s = a + t (< 2r < 2^256); if s >= r, s -= r */
    __asm__("movq %[a0], %[s0]\n\t"
            "movq %[a1], %[s1]\n\t"
            "movq %[a2], %[s2]\n\t"
            "movq %[a3], %[s3]\n\t"
            "addq %[t0], %[s0]\n\t"
            "adcq %[t1], %[s1]\n\t"
            "adcq %[t2], %[s2]\n\t"
            "adcq %[t3], %[s3]\n\t"
            "movq %[s0], %[u0]\n\t"
            "subq %[r0], %[u0]\n\t"
            "movq %[s1], %[u1]\n\t"
            "sbbq %[r1], %[u1]\n\t"
            "movq %[s2], %[u2]\n\t"
            "sbbq %[r2], %[u2]\n\t"
            "movq %[s3], %[u3]\n\t"
            "sbbq %[r3], %[u3]\n\t"
            "cmovncq %[u0], %[s0]\n\t"
            "cmovncq %[u1], %[s1]\n\t"
            "cmovncq %[u2], %[s2]\n\t"
            "cmovncq %[u3], %[s3]\n\t"
            : [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [u0] "=&r"(u0),
              [u1] "=&r"(u1), [u2] "=&r"(u2), [u3] "=&r"(u3)
            : [a0] "m"(a->v[0]), [a1] "m"(a->v[1]), [a2] "m"(a->v[2]), [a3] "m"(a->v[3]),
              [t0] "m"(t->v[0]), [t1] "m"(t->v[1]), [t2] "m"(t->v[2]), [t3] "m"(t->v[3]),
              [r0] "m"(FR_MODULUS[0]), [r1] "m"(FR_MODULUS[1]), [r2] "m"(FR_MODULUS[2]),
              [r3] "m"(FR_MODULUS[3])
            : "cc");
    a->v[0] = s0;
    a->v[1] = s1;
    a->v[2] = s2;
    a->v[3] = s3;
    b->v[0] = d0;
    b->v[1] = d1;
    b->v[2] = d2;
    b->v[3] = d3;
}
#endif

/* K stages of a sub-transform held in buf as 2^K rows of 2^g_log elements;
   the stage-s twiddle of block j is tw[(hi << s) + j].  Butterfly (w Montgomery,
   a and b in any representation): a, b <- a + w*b, a - w*b. */
#define ZKA_NTT_KERNEL(NAME, ATTR, MUL, ADDSUB)                                          \
static ATTR void NAME(fe *buf, uint32_t K, uint32_t g_log, const fe *tw, size_t hi) {    \
    for (uint32_t s = 0; s < K; s++) {                                                   \
        const size_t span = (size_t)1 << (K - 1 - s + g_log); /* half block */           \
        const size_t nblk = (size_t)1 << s;                                              \
        const size_t kbase = hi << s;                                                    \
        for (size_t j = 0; j < nblk; j++) {                                              \
            fe *a = buf + 2 * j * span;                                                  \
            fe *b = a + span;                                                            \
            const size_t k = kbase + j;                                                  \
            if (k == 0) {                                                                \
                for (size_t e = 0; e < span; e++) {                                      \
                    const fe t = b[e];                                                   \
                    ADDSUB(a + e, b + e, &t);                                            \
                }                                                                        \
            } else {                                                                     \
                const fe w = tw[k];                                                      \
                for (size_t e = 0; e < span; e++) {                                      \
                    fe t;                                                                \
                    MUL(&t, b + e, &w);                                                  \
                    ADDSUB(a + e, b + e, &t);                                            \
                }                                                                        \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
}

ZKA_NTT_KERNEL(ntt_kernel_portable, , fr_mul_portable, ntt_addsub_c)
#if ZKA_NTT_HAVE_ADX
ZKA_NTT_KERNEL(ntt_kernel_adx, ZKA_NTT_ADX_TARGET, fr_mul_adx, ntt_addsub_asm)
#endif

static void ntt_kernel(fe *buf, uint32_t K, uint32_t g_log, const fe *tw, size_t hi) {
#if ZKA_NTT_HAVE_ADX
    if (ZKA_HAS_ADX()) {
        ntt_kernel_adx(buf, K, g_log, tw, hi);
        return;
    }
#endif
    ntt_kernel_portable(buf, K, g_log, tw, hi);
}

/* ------------------------------------------------------ AVX-512 IFMA kernel */
/* Eight butterflies at once in radix 2^52: a vector holds 8 elements (lanes) as
 * five 52-bit limbs each (structure of arrays).  Montgomery multiplication with
 * R' = 2^260, so a domain built for this kernel stores its twiddles as
 * w * 2^260 mod r and mont(x, tw) = x*w for plain x.  Inside a pass values are
 * kept unreduced: a product is < 2r, a butterfly gives a + t and a - t + 2r, so
 * a pass that starts below 4r ends below 4r + 2Kr <= 22r < 2^260 (K <= 9;
 * 2^260 > 80r).  Limbs are normalised lazily: a butterfly leaves its sums
 * unnormalised (a product's limbs are < 2^57, so after K stages every limb is
 * below 2^54 + K*2^58 < 2^62) and only the operand of a product is normalised
 * to 52-bit limbs first, as IFMA reads the low 52 bits of each limb.
 * Between passes values are brought below 4r (< 2^256: they fit the 32-byte
 * elements); the last pass reduces them to [0, r).  A work item is 8 sub-transforms
 * side by side: 8 adjacent columns (one twiddle per block, broadcast) or 8
 * adjacent leaves (a twiddle per lane). */
#if ZKA_NTT_HAVE_ADX && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8))
#define ZKA_NTT_HAVE_IFMA 1
#include <immintrin.h>
#include <cpuid.h>
#define ZKA_NTT_IFMA_TARGET __attribute__((target("avx2,avx512f,avx512ifma")))
#ifndef ZKA_NTT_IFMA_LOG
#define ZKA_NTT_IFMA_LOG 9 /* rows per item: 2^9 vectors of 320 bytes = 160 KiB */
#endif
#define ZKA_NTT_M52 UINT64_C(0xfffffffffffff)
/* the bounds above (values below 4r + 2Kr < 32r within a pass) need K <= 13 */
typedef char zka_ntt_ifma_log_check[(ZKA_NTT_IFMA_LOG >= 1 && ZKA_NTT_IFMA_LOG <= 13) ? 1 : -1];

typedef struct {
    __m512i l[5];
} ntt_v5;

typedef struct {
    __m512i r[5], r2[5], r4[5], r8[5], r16[5], k0, mask;
} ntt_vconst;

/* The CPU and the OS support AVX-512F + IFMA and the capability word allows
   it (ZKATTEST_NO_ASM clears it). */
static int ntt_ifma_usable(void) {
    unsigned a, b, c, dx;
    if (!(zka_cap & ZKA_CPU_AVX512IFMA)) return 0;
    if (!__get_cpuid(1, &a, &b, &c, &dx) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & 0xe6u) != 0xe6u) return 0; /* XMM, YMM, opmask, ZMM state enabled */
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, dx);
    return (b & (1u << 16)) && (b & (1u << 21)); /* AVX512F, AVX512IFMA */
}

static void ntt_to_52(uint64_t o[5], const uint64_t w[4]) {
    o[0] = w[0] & ZKA_NTT_M52;
    o[1] = ((w[0] >> 52) | (w[1] << 12)) & ZKA_NTT_M52;
    o[2] = ((w[1] >> 40) | (w[2] << 24)) & ZKA_NTT_M52;
    o[3] = ((w[2] >> 28) | (w[3] << 36)) & ZKA_NTT_M52;
    o[4] = w[3] >> 16;
}

ZKA_NTT_IFMA_TARGET static void ntt_vconst_init(ntt_vconst *k, const zka_ntt_domain *d) {
    for (int j = 0; j < 5; j++) {
        k->r[j] = _mm512_set1_epi64((long long)d->r52[j]);
        k->r2[j] = _mm512_set1_epi64((long long)d->rm52[0][j]);
        k->r4[j] = _mm512_set1_epi64((long long)d->rm52[1][j]);
        k->r8[j] = _mm512_set1_epi64((long long)d->rm52[2][j]);
        k->r16[j] = _mm512_set1_epi64((long long)d->rm52[3][j]);
    }
    k->k0 = _mm512_set1_epi64((long long)d->k0);
    k->mask = _mm512_set1_epi64((long long)ZKA_NTT_M52);
}

/* o = a*b/2^260 mod r, in [0, 2r), limbs NOT normalised (each < 2^58).  a: limbs
   < 2^52 (any value < 2^260); b < r.  o may alias a or b. */
ZKA_NTT_IFMA_TARGET static inline void ntt_v5_mont_lazy(ntt_v5 *o, const ntt_v5 *a, const ntt_v5 *b,
                                                   const ntt_vconst *k) {
    const __m512i z = _mm512_setzero_si512();
    const __m512i a0 = a->l[0], a1 = a->l[1], a2 = a->l[2], a3 = a->l[3], a4 = a->l[4];
    __m512i t0 = z, t1 = z, t2 = z, t3 = z, t4 = z, t5, q;
    for (int i = 0; i < 5; i++) {
        const __m512i bi = b->l[i];
        t5 = z;
        t0 = _mm512_madd52lo_epu64(t0, a0, bi);
        t1 = _mm512_madd52hi_epu64(t1, a0, bi);
        t1 = _mm512_madd52lo_epu64(t1, a1, bi);
        t2 = _mm512_madd52hi_epu64(t2, a1, bi);
        t2 = _mm512_madd52lo_epu64(t2, a2, bi);
        t3 = _mm512_madd52hi_epu64(t3, a2, bi);
        t3 = _mm512_madd52lo_epu64(t3, a3, bi);
        t4 = _mm512_madd52hi_epu64(t4, a3, bi);
        t4 = _mm512_madd52lo_epu64(t4, a4, bi);
        t5 = _mm512_madd52hi_epu64(t5, a4, bi);
        q = _mm512_madd52lo_epu64(z, t0, k->k0); /* (t0 mod 2^52) * (-1/r) mod 2^52 */
        t0 = _mm512_madd52lo_epu64(t0, q, k->r[0]);
        t1 = _mm512_madd52hi_epu64(t1, q, k->r[0]);
        t1 = _mm512_madd52lo_epu64(t1, q, k->r[1]);
        t2 = _mm512_madd52hi_epu64(t2, q, k->r[1]);
        t2 = _mm512_madd52lo_epu64(t2, q, k->r[2]);
        t3 = _mm512_madd52hi_epu64(t3, q, k->r[2]);
        t3 = _mm512_madd52lo_epu64(t3, q, k->r[3]);
        t4 = _mm512_madd52hi_epu64(t4, q, k->r[3]);
        t4 = _mm512_madd52lo_epu64(t4, q, k->r[4]);
        t5 = _mm512_madd52hi_epu64(t5, q, k->r[4]);
        /* t0 is now a multiple of 2^52: shift the accumulator down one limb */
        t0 = _mm512_add_epi64(t1, _mm512_srli_epi64(t0, 52));
        t1 = t2;
        t2 = t3;
        t3 = t4;
        t4 = t5;
    }
    o->l[0] = t0; /* limbs not normalised (each < 2^58) */
    o->l[1] = t1;
    o->l[2] = t2;
    o->l[3] = t3;
    o->l[4] = t4;
}

/* As ntt_v5_mont_lazy, then limbs 0..3 carried down to [0, 2^52). */
ZKA_NTT_IFMA_TARGET static inline void ntt_v5_mont(ntt_v5 *o, const ntt_v5 *a, const ntt_v5 *b,
                                                   const ntt_vconst *k) {
    ntt_v5_mont_lazy(o, a, b, k);
    o->l[1] = _mm512_add_epi64(o->l[1], _mm512_srli_epi64(o->l[0], 52));
    o->l[0] = _mm512_and_si512(o->l[0], k->mask);
    o->l[2] = _mm512_add_epi64(o->l[2], _mm512_srli_epi64(o->l[1], 52));
    o->l[1] = _mm512_and_si512(o->l[1], k->mask);
    o->l[3] = _mm512_add_epi64(o->l[3], _mm512_srli_epi64(o->l[2], 52));
    o->l[2] = _mm512_and_si512(o->l[2], k->mask);
    o->l[4] = _mm512_add_epi64(o->l[4], _mm512_srli_epi64(o->l[3], 52));
    o->l[3] = _mm512_and_si512(o->l[3], k->mask);
}

/* carry-normalise limbs 0..3 to [0, 2^52) (signed carries); limb 4 keeps the rest */
#define ZKA_NTT_V5_NORM(x, m)                                                            \
    do {                                                                                 \
        (x)[1] = _mm512_add_epi64((x)[1], _mm512_srai_epi64((x)[0], 52));                \
        (x)[0] = _mm512_and_si512((x)[0], (m));                                          \
        (x)[2] = _mm512_add_epi64((x)[2], _mm512_srai_epi64((x)[1], 52));                \
        (x)[1] = _mm512_and_si512((x)[1], (m));                                          \
        (x)[3] = _mm512_add_epi64((x)[3], _mm512_srai_epi64((x)[2], 52));                \
        (x)[2] = _mm512_and_si512((x)[2], (m));                                          \
        (x)[4] = _mm512_add_epi64((x)[4], _mm512_srai_epi64((x)[3], 52));                \
        (x)[3] = _mm512_and_si512((x)[3], (m));                                          \
    } while (0)

/* a, b <- a + t, a - t + c  (c = 2r after a product t < 2r; c = r for t = b < r);
   ntt_v5_subadd: a, b <- a - t + c, a + t.  Limbs are left unnormalised. */
#define ZKA_NTT_V5_ADDSUB(NAME, S_TO, D_TO)                                              \
ZKA_NTT_IFMA_TARGET static inline void NAME(ntt_v5 *a, ntt_v5 *b, const ntt_v5 *t,        \
                                            const __m512i *c) {                          \
    __m512i s[5], d[5];                                                                  \
    for (int j = 0; j < 5; j++) {                                                        \
        s[j] = _mm512_add_epi64(a->l[j], t->l[j]);                                       \
        d[j] = _mm512_add_epi64(_mm512_sub_epi64(a->l[j], t->l[j]), c[j]);               \
    }                                                                                    \
    for (int j = 0; j < 5; j++) {                                                        \
        S_TO->l[j] = s[j];                                                               \
        D_TO->l[j] = d[j];                                                               \
    }                                                                                    \
}
ZKA_NTT_V5_ADDSUB(ntt_v5_addsub, a, b)
ZKA_NTT_V5_ADDSUB(ntt_v5_subadd, b, a)

/* y <- y - m if y >= m (m given as normalised limbs) */
ZKA_NTT_IFMA_TARGET static inline void ntt_v5_csub(ntt_v5 *y, const __m512i *m, __m512i mask) {
    __m512i z[5];
    for (int j = 0; j < 5; j++) z[j] = _mm512_sub_epi64(y->l[j], m[j]);
    ZKA_NTT_V5_NORM(z, mask);
    const __mmask8 neg = _mm512_cmplt_epi64_mask(z[4], _mm512_setzero_si512());
    for (int j = 0; j < 5; j++) y->l[j] = _mm512_mask_blend_epi64(neg, z[j], y->l[j]);
}

/* y (< 2r) -> y mod r */
ZKA_NTT_IFMA_TARGET static inline void ntt_v5_condsub(ntt_v5 *y, const ntt_vconst *k) {
    ntt_v5_csub(y, k->r, k->mask);
}

/* Load 8 elements (32-byte little-endian, canonical or table entries) from
   p[0..7] into one vector: 8x4 words transposed, then split into 52-bit limbs. */
ZKA_NTT_IFMA_TARGET static inline void ntt_v5_load(ntt_v5 *v, const uint8_t *const p[8],
                                                   __m512i m) {
    const __m512i i_lo = _mm512_set_epi64(13, 9, 5, 1, 12, 8, 4, 0);
    const __m512i i_hi = _mm512_set_epi64(15, 11, 7, 3, 14, 10, 6, 2);
    const __m512i j_lo = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0);
    const __m512i j_hi = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
    __m512i z0 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p[0])),
                                    _mm256_loadu_si256((const __m256i *)p[1]), 1);
    __m512i z1 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p[2])),
                                    _mm256_loadu_si256((const __m256i *)p[3]), 1);
    __m512i z2 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p[4])),
                                    _mm256_loadu_si256((const __m256i *)p[5]), 1);
    __m512i z3 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p[6])),
                                    _mm256_loadu_si256((const __m256i *)p[7]), 1);
    /* a = [e0..e3 word 0, e0..e3 word 1], b = [.. word 2, .. word 3]; c, d for e4..e7 */
    __m512i a = _mm512_permutex2var_epi64(z0, i_lo, z1);
    __m512i b = _mm512_permutex2var_epi64(z0, i_hi, z1);
    __m512i c = _mm512_permutex2var_epi64(z2, i_lo, z3);
    __m512i d = _mm512_permutex2var_epi64(z2, i_hi, z3);
    __m512i w0 = _mm512_permutex2var_epi64(a, j_lo, c);
    __m512i w1 = _mm512_permutex2var_epi64(a, j_hi, c);
    __m512i w2 = _mm512_permutex2var_epi64(b, j_lo, d);
    __m512i w3 = _mm512_permutex2var_epi64(b, j_hi, d);
    v->l[0] = _mm512_and_si512(w0, m);
    v->l[1] = _mm512_and_si512(_mm512_or_si512(_mm512_srli_epi64(w0, 52), _mm512_slli_epi64(w1, 12)), m);
    v->l[2] = _mm512_and_si512(_mm512_or_si512(_mm512_srli_epi64(w1, 40), _mm512_slli_epi64(w2, 24)), m);
    v->l[3] = _mm512_and_si512(_mm512_or_si512(_mm512_srli_epi64(w2, 28), _mm512_slli_epi64(w3, 36)), m);
    v->l[4] = _mm512_srli_epi64(w3, 16);
}

/* Store lanes 0..valid-1 of a reduced vector (value < 2^256) to p[0..]. */
ZKA_NTT_IFMA_TARGET static inline void ntt_v5_store(uint8_t *const p[8], unsigned valid,
                                                    const ntt_v5 *v) {
    const __m512i i_lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i i_hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    const __m512i j_lo = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i j_hi = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    __m512i w0 = _mm512_or_si512(v->l[0], _mm512_slli_epi64(v->l[1], 52));
    __m512i w1 = _mm512_or_si512(_mm512_srli_epi64(v->l[1], 12), _mm512_slli_epi64(v->l[2], 40));
    __m512i w2 = _mm512_or_si512(_mm512_srli_epi64(v->l[2], 24), _mm512_slli_epi64(v->l[3], 28));
    __m512i w3 = _mm512_or_si512(_mm512_srli_epi64(v->l[3], 36), _mm512_slli_epi64(v->l[4], 16));
    /* a = [e0 w0 w1, e1 w0 w1, e2 .., e3 ..], b = same for e4..e7; c, d: words 2, 3 */
    __m512i a = _mm512_permutex2var_epi64(w0, i_lo, w1);
    __m512i b = _mm512_permutex2var_epi64(w0, i_hi, w1);
    __m512i c = _mm512_permutex2var_epi64(w2, i_lo, w3);
    __m512i d = _mm512_permutex2var_epi64(w2, i_hi, w3);
    __m512i z[4];
    z[0] = _mm512_permutex2var_epi64(a, j_lo, c); /* e0, e1 */
    z[1] = _mm512_permutex2var_epi64(a, j_hi, c); /* e2, e3 */
    z[2] = _mm512_permutex2var_epi64(b, j_lo, d); /* e4, e5 */
    z[3] = _mm512_permutex2var_epi64(b, j_hi, d); /* e6, e7 */
    for (unsigned l = 0; l < valid; l++) {
        __m256i e = (l & 1) ? _mm512_extracti64x4_epi64(z[l >> 1], 1)
                            : _mm512_castsi512_si256(z[l >> 1]);
        _mm256_storeu_si256((__m256i *)p[l], e);
    }
}

/* k -> the index of omega^-bitrev(k) up to sign: for k in [2^t, 2^(t+1)),
   omega^-bitrev(k) = -tw[k ^ (2^t - 1)]  (k >= 1) */
static inline size_t ntt_mirror(size_t k) {
    size_t hb = (size_t)1 << (63 - __builtin_clzll((unsigned long long)k));
    return k ^ (hb - 1);
}

/* One work item: 8 lanes (sub-transforms of 2^K rows) side by side.  Lane l, row
   m is data[base + l*lane_stride + m*row_stride] (lanes >= valid repeat the last
   valid lane and are not written back).  The stage-s block j of lane l has the
   twiddle index k = (hi_l << s) + j, hi_l = hi0 (per_lane = 0) or hi0 + l.
   The inverse uses omega^-1, i.e. tw[mirror(k)] with the butterfly outputs
   swapped (k = 0: the twiddle -1, swapped, which equals the plain 1).
   On load the values may be multiplied by pre_row[m] * pre_lane[pre_lane0 + l];
   on store they are multiplied by post_row[m] * post_lane[post_lane0 + l]
   (if post_row) or by post_const, which also reduces them to [0, r). */
typedef struct {
    zka_fr *data;
    size_t base, lane_stride, row_stride, hi0;
    unsigned valid;
    uint32_t K;
    int per_lane, free0, inverse;
    const fe *tw, *neg1;
    const fe *pre_row, *pre_lane, *post_row, *post_lane, *post_const;
    size_t pre_lane0, post_lane0;
} ntt_ifma_job;

ZKA_NTT_IFMA_TARGET static inline void ntt_v5_bcast(ntt_v5 *v, const fe *f) {
    uint64_t l52[5];
    ntt_to_52(l52, f->v);
    for (int i = 0; i < 5; i++) v->l[i] = _mm512_set1_epi64((long long)l52[i]);
}

/* v = lanes of tab[l0 + min(l, valid-1)] */
ZKA_NTT_IFMA_TARGET static inline void ntt_v5_lanes(ntt_v5 *v, const fe *tab, size_t l0,
                                                    unsigned valid, __m512i m) {
    const uint8_t *p[8];
    for (unsigned l = 0; l < 8; l++) p[l] = (const uint8_t *)tab[l0 + (l < valid ? l : valid - 1)].v;
    ntt_v5_load(v, p, m);
}

/* f = mont(lane, row) reduced (< r) */
ZKA_NTT_IFMA_TARGET static inline void ntt_v5_factor(ntt_v5 *f, const ntt_v5 *lane, const fe *row,
                                                     const ntt_vconst *kc) {
    ntt_v5 rb;
    ntt_v5_bcast(&rb, row);
    ntt_v5_mont(f, lane, &rb, kc);
    ntt_v5_condsub(f, kc);
}

ZKA_NTT_IFMA_TARGET static void ntt_ifma_item(ntt_v5 *buf, const ntt_ifma_job *jb,
                                              const ntt_vconst *kc) {
    const size_t rows = (size_t)1 << jb->K;
    const unsigned valid = jb->valid;
    const uint8_t *p[8];
    size_t off[8];
    ntt_v5 lane, f;
    memset(&lane, 0, sizeof lane);
    for (unsigned l = 0; l < 8; l++) off[l] = jb->base + (l < valid ? l : valid - 1) * jb->lane_stride;
    if (jb->pre_row) ntt_v5_lanes(&lane, jb->pre_lane, jb->pre_lane0, valid, kc->mask);
    for (size_t m = 0; m < rows; m++) {
        for (unsigned l = 0; l < 8; l++) p[l] = jb->data[off[l] + m * jb->row_stride].b;
        ntt_v5_load(&buf[m], p, kc->mask);
        if (jb->pre_row) {
            ntt_v5_factor(&f, &lane, &jb->pre_row[m], kc);
            ntt_v5_mont(&buf[m], &buf[m], &f, kc);
            ntt_v5_condsub(&buf[m], kc);
        }
    }
    for (uint32_t s = 0; s < jb->K; s++) {
        const size_t span = rows >> (s + 1);
        const size_t nblk = (size_t)1 << s;
        for (size_t j = 0; j < nblk; j++) {
            ntt_v5 *a = buf + 2 * j * span;
            ntt_v5 *b = a + span;
            if (s == 0 && jb->free0) {
                for (size_t e = 0; e < span; e++) {
                    const ntt_v5 t = b[e];
                    ntt_v5_addsub(a + e, b + e, &t, kc->r);
                }
                continue;
            }
            ntt_v5 w;
            int swap = 0;
            if (jb->per_lane) {
                for (unsigned l = 0; l < 8; l++) {
                    const size_t k = ((jb->hi0 + (l < valid ? l : valid - 1)) << s) + j;
                    const fe *t = !jb->inverse ? &jb->tw[k] : k ? &jb->tw[ntt_mirror(k)] : jb->neg1;
                    p[l] = (const uint8_t *)t->v;
                }
                ntt_v5_load(&w, p, kc->mask);
                swap = jb->inverse;
            } else {
                const size_t k = (jb->hi0 << s) + j;
                swap = jb->inverse && k != 0;
                ntt_v5_bcast(&w, &jb->tw[swap ? ntt_mirror(k) : k]);
            }
            if (swap) {
                for (size_t e = 0; e < span; e++) {
                    ntt_v5 t = b[e];
                    ZKA_NTT_V5_NORM(t.l, kc->mask);
                    ntt_v5_mont_lazy(&t, &t, &w, kc);
                    ntt_v5_subadd(a + e, b + e, &t, kc->r2);
                }
            } else {
                for (size_t e = 0; e < span; e++) {
                    ntt_v5 t = b[e];
                    ZKA_NTT_V5_NORM(t.l, kc->mask);
                    ntt_v5_mont_lazy(&t, &t, &w, kc);
                    ntt_v5_addsub(a + e, b + e, &t, kc->r2);
                }
            }
        }
    }
    ntt_v5 c;
    if (jb->post_row) ntt_v5_lanes(&lane, jb->post_lane, jb->post_lane0, valid, kc->mask);
    else if (jb->post_const) ntt_v5_bcast(&c, jb->post_const);
    for (size_t m = 0; m < rows; m++) {
        uint8_t *q[8];
        ZKA_NTT_V5_NORM(buf[m].l, kc->mask);
        if (jb->post_row) {
            ntt_v5_factor(&f, &lane, &jb->post_row[m], kc);
            ntt_v5_mont(&buf[m], &buf[m], &f, kc);
            ntt_v5_condsub(&buf[m], kc);
        } else if (jb->post_const) {
            ntt_v5_mont(&buf[m], &buf[m], &c, kc);
            ntt_v5_condsub(&buf[m], kc);
        } else {
            /* between passes: below 4r (< 2^256) is enough; the value is below
               2Kr + 4r <= 22r < 32r here */
            ntt_v5_csub(&buf[m], kc->r16, kc->mask);
            ntt_v5_csub(&buf[m], kc->r8, kc->mask);
            ntt_v5_csub(&buf[m], kc->r4, kc->mask);
        }
        for (unsigned l = 0; l < 8; l++) q[l] = jb->data[off[l] + m * jb->row_stride].b;
        ntt_v5_store(q, valid, &buf[m]);
    }
}
#else
#define ZKA_NTT_HAVE_IFMA 0
#endif

#if ZKA_NTT_HAVE_IFMA
#define ZKA_NTT_SCRATCH_BYTES (((size_t)1 << ZKA_NTT_IFMA_LOG) * sizeof(ntt_v5) > \
                               ((size_t)32 << ZKA_NTT_BUF_LOG)                    \
                                   ? ((size_t)1 << ZKA_NTT_IFMA_LOG) * sizeof(ntt_v5) \
                                   : ((size_t)32 << ZKA_NTT_BUF_LOG))
#else
#define ZKA_NTT_SCRATCH_BYTES ((size_t)32 << ZKA_NTT_BUF_LOG)
#endif

/* ------------------------------------------------------------- the passes */

typedef struct {
    zka_fr *data;
    const zka_ntt_domain *d;
    unsigned char *scratch; /* nthreads * ZKA_NTT_SCRATCH_BYTES, 64-byte aligned */
    /* current pass */
    uint32_t t0, K, lo_log, g_log;
    size_t items;
    /* element-wise passes */
    fe c0, c1, step0, step1; /* Montgomery */
    int coset;
    /* IFMA transforms: direction and the scalings fused into the first / last pass
       (tables in IFMA operand form, see ntt_ifma_job) */
    int inverse;
    const fe *pre_row, *pre_lane, *post_row, *post_lane;
    fe post_const;
    unsigned char bad[ZKA_MAX_THREADS];
} ntt_ctx;

static void ntt_pass_task(void *p, uint32_t index, uint32_t count) {
    ntt_ctx *c = (ntt_ctx *)p;
    const uint32_t L = c->d->log_n;
    const size_t rows = (size_t)1 << c->K;
    const size_t G = (size_t)1 << c->g_log;
    const size_t stride = (size_t)1 << c->lo_log;          /* between rows */
    const uint32_t grp_log = c->lo_log - c->g_log;         /* column groups per hi */
    const size_t grp_mask = ((size_t)1 << grp_log) - 1;
    fe *buf = (fe *)(void *)(c->scratch + (size_t)index * ZKA_NTT_SCRATCH_BYTES);
    size_t lo, hi;
    ntt_share(&lo, &hi, c->items, index, count);
    for (size_t it = lo; it < hi; it++) {
        const size_t h = it >> grp_log;
        const size_t base = (h << (L - c->t0)) | ((it & grp_mask) << c->g_log);
        zka_fr *x = c->data + base;
        if (stride == G) {
            ntt_load_n(buf, x, rows * G);
        } else {
            for (size_t m = 0; m < rows; m++) ntt_load_n(buf + m * G, x + m * stride, G);
        }
        ntt_kernel(buf, c->K, c->g_log, c->d->tw, h);
        if (stride == G) {
            ntt_store_n(x, buf, rows * G);
        } else {
            for (size_t m = 0; m < rows; m++) ntt_store_n(x + m * stride, buf + m * G, G);
        }
    }
}

/* Run stages t0 .. t0+K-1 as one pass. */
static void ntt_run_pass(ntt_ctx *c, uint32_t t0, uint32_t K, uint32_t nt) {
    const uint32_t L = c->d->log_n;
    const uint32_t lo_log = L - t0 - K;
    uint32_t g_log = ZKA_NTT_BUF_LOG - K;
    if (g_log > lo_log) g_log = lo_log;
    /* keep every thread busy: shrink the column groups if items are scarce */
    while (g_log > ZKA_NTT_MIN_COLS_LOG &&
           ((size_t)1 << (t0 + lo_log - g_log)) < (size_t)nt)
        g_log--;
    c->t0 = t0;
    c->K = K;
    c->lo_log = lo_log;
    c->g_log = g_log;
    c->items = (size_t)1 << (t0 + lo_log - g_log);
    uint32_t use = (size_t)nt < c->items ? nt : (uint32_t)c->items;
    (void)zka_parallel_for(use, ntt_pass_task, c);
}

static void ntt_bitrev(ntt_ctx *c, uint32_t nt);

#if ZKA_NTT_HAVE_IFMA
/* IFMA pass over stages t0 .. t0+K-1.  Leaf pass (lo_log = 0): an item is 8
   adjacent leaves; otherwise 8 adjacent columns of one hi. */
ZKA_NTT_IFMA_TARGET static void ntt_ifma_pass_task(void *p, uint32_t index, uint32_t count) {
    ntt_ctx *c = (ntt_ctx *)p;
    const zka_ntt_domain *d = c->d;
    const uint32_t L = d->log_n;
    ntt_vconst kc;
    ntt_vconst_init(&kc, d);
    ntt_v5 *buf = (ntt_v5 *)(void *)(c->scratch + (size_t)index * ZKA_NTT_SCRATCH_BYTES);
    size_t lo, hi;
    ntt_share(&lo, &hi, c->items, index, count);
    ntt_ifma_job jb;
    memset(&jb, 0, sizeof jb);
    jb.data = c->data;
    jb.K = c->K;
    jb.free0 = c->t0 == 0;
    jb.inverse = c->inverse;
    jb.tw = d->tw;
    jb.neg1 = &d->tw_neg1;
    if (c->t0 == 0) {
        jb.pre_row = c->pre_row;
        jb.pre_lane = c->pre_lane;
    }
    if (c->lo_log == 0) {
        const size_t leaves = (size_t)1 << c->t0;
        jb.lane_stride = (size_t)1 << c->K;
        jb.row_stride = 1;
        jb.per_lane = 1;
        jb.post_row = c->post_row;
        jb.post_lane = c->post_lane;
        jb.post_const = c->post_row ? NULL : &c->post_const;
        for (size_t it = lo; it < hi; it++) {
            const size_t h0 = it * 8;
            jb.valid = (unsigned)(leaves - h0 < 8 ? leaves - h0 : 8);
            jb.base = h0 << c->K;
            jb.hi0 = h0;
            jb.pre_lane0 = 0; /* (a pre-scaled leaf pass is a single leaf) */
            jb.post_lane0 = h0;
            ntt_ifma_item(buf, &jb, &kc);
        }
    } else {
        const size_t cols = (size_t)1 << c->lo_log;
        const size_t groups = (cols + 7) / 8;
        jb.valid = (unsigned)(cols < 8 ? cols : 8);
        jb.lane_stride = 1;
        jb.row_stride = cols;
        jb.post_const = NULL; /* partial reduction, to < 4r */
        for (size_t it = lo; it < hi; it++) {
            const size_t h = it / groups, g = it % groups;
            jb.base = (h << (L - c->t0)) + 8 * g;
            jb.hi0 = h;
            jb.pre_lane0 = 8 * g;
            ntt_ifma_item(buf, &jb, &kc);
        }
    }
}

static void ntt_ifma_run_pass(ntt_ctx *c, uint32_t t0, uint32_t K, uint32_t nt) {
    const uint32_t L = c->d->log_n;
    c->t0 = t0;
    c->K = K;
    c->lo_log = L - t0 - K;
    if (c->lo_log == 0) {
        c->items = (((size_t)1 << t0) + 7) / 8;
    } else {
        c->items = ((size_t)1 << t0) * ((((size_t)1 << c->lo_log) + 7) / 8);
    }
    uint32_t use = (size_t)nt < c->items ? nt : (uint32_t)c->items;
    (void)zka_parallel_for(use, ntt_ifma_pass_task, c);
}

/* Pass plan: leaves of 2^LB (at least nt items of 8 leaves when possible), the
   D = L - LB stages before them in np balanced column passes. */
static void ntt_ifma_plan(uint32_t L, uint32_t nt, uint32_t *LB, uint32_t *np) {
    uint32_t lb = L < ZKA_NTT_IFMA_LOG ? L : ZKA_NTT_IFMA_LOG;
    while (lb > 1 && (((size_t)1 << (L - lb)) + 7) / 8 < (size_t)nt) lb--;
    *LB = lb;
    *np = (L - lb + ZKA_NTT_IFMA_LOG - 1) / ZKA_NTT_IFMA_LOG;
}

/* K of pass i of np over D stages */
static uint32_t ntt_pass_k(uint32_t D, uint32_t np, uint32_t i, uint32_t t0) {
    return (D - t0) / (np - i);
}

static void ntt_ifma_core(ntt_ctx *c, uint32_t nt) {
    const uint32_t L = c->d->log_n;
    uint32_t LB, np, t0 = 0;
    ntt_ifma_plan(L, nt, &LB, &np);
    const uint32_t D = L - LB;
    for (uint32_t i = 0; i < np; i++) {
        uint32_t K = ntt_pass_k(D, np, i, t0);
        ntt_ifma_run_pass(c, t0, K, nt);
        t0 += K;
    }
    ntt_ifma_run_pass(c, D, LB, nt);
    ntt_bitrev(c, nt);
}
#endif

/* Bit-reversal permutation, tiled: index = (a: b bits, m: L-2b bits, c: b bits)
   maps to (rev c, rev m, rev a); tile m (2^b runs of 2^b elements) swaps with
   tile rev(m), both small enough for L1. */
static void ntt_bitrev_task(void *p, uint32_t index, uint32_t count) {
    ntt_ctx *c = (ntt_ctx *)p;
    const uint32_t L = c->d->log_n;
    const uint32_t b = ZKA_NTT_TILE_LOG;
    const uint32_t M = L - 2 * b;
    const size_t B = (size_t)1 << b;
    size_t rb[1 << ZKA_NTT_TILE_LOG];
    for (size_t i = 0; i < B; i++) rb[i] = ntt_rev(i, b);
    size_t lo, hi;
    ntt_share(&lo, &hi, (size_t)1 << M, index, count);
    for (size_t m = lo; m < hi; m++) {
        const size_t mr = ntt_rev(m, M);
        if (mr < m) continue;
        for (size_t a = 0; a < B; a++) {
            const size_t i0 = (a << (L - b)) | (m << b);
            const size_t j0 = (mr << b) | rb[a];
            for (size_t cc = 0; cc < B; cc++) {
                const size_t i = i0 | cc;
                const size_t j = j0 | (rb[cc] << (L - b));
                if (mr != m || i < j) ntt_swap(c->data + i, c->data + j);
            }
        }
    }
}

static void ntt_bitrev(ntt_ctx *c, uint32_t nt) {
    const uint32_t L = c->d->log_n;
    if (L < 2 * ZKA_NTT_TILE_LOG) {
        const size_t n = c->d->n;
        for (size_t i = 0; i < n; i++) {
            size_t j = ntt_rev(i, L);
            if (i < j) ntt_swap(c->data + i, c->data + j);
        }
        return;
    }
    const size_t tiles = (size_t)1 << (L - 2 * ZKA_NTT_TILE_LOG);
    uint32_t use = ntt_threads_for(c->d->n, ZKA_NTT_PAR_MIN_ITEMS, nt);
    if ((size_t)use > tiles) use = (uint32_t)tiles;
    (void)zka_parallel_for(use, ntt_bitrev_task, c);
}

/* The forward transform of the (checked) data, natural order in and out. */
static void ntt_core(ntt_ctx *c, uint32_t nt) {
    const uint32_t L = c->d->log_n;
    if (L == 0) return;
    /* leaf size: fits the scratch; with several threads, at least nt leaves */
    uint32_t LB = L < ZKA_NTT_BUF_LOG ? L : ZKA_NTT_BUF_LOG;
    while (LB > 1 && ((size_t)1 << (L - LB)) < (size_t)nt) LB--;
    const uint32_t D = L - LB; /* stages before the leaf */
    const uint32_t kmax = ZKA_NTT_BUF_LOG - ZKA_NTT_MIN_COLS_LOG;
    uint32_t np = (D + kmax - 1) / kmax;
    uint32_t t0 = 0;
    for (uint32_t i = 0; i < np; i++) {
        uint32_t K = (D - t0) / (np - i); /* balanced split */
        ntt_run_pass(c, t0, K, nt);
        t0 += K;
    }
    ntt_run_pass(c, D, LB, nt);
    ntt_bitrev(c, nt);
}

/* Canonical check of every element (no writes). */
static void ntt_check_task(void *p, uint32_t index, uint32_t count) {
    ntt_ctx *c = (ntt_ctx *)p;
    size_t lo, hi;
    ntt_share(&lo, &hi, c->d->n, index, count);
    unsigned bad = 0;
    for (size_t i = lo; i < hi; i++) {
        fe x;
        ntt_load(&x, c->data + i);
        bad |= (unsigned)!ntt_limbs_canonical(x.v);
    }
    c->bad[index] = (unsigned char)bad;
}

static int ntt_check(ntt_ctx *c, uint32_t nt) {
    uint32_t use = ntt_threads_for(c->d->n, (size_t)1 << 16, nt); /* ~50 us per 2^16 */
    memset(c->bad, 0, sizeof c->bad);
    (void)zka_parallel_for(use, ntt_check_task, c);
    for (uint32_t i = 0; i < use; i++)
        if (c->bad[i]) return 0;
    return 1;
}

/* coset_forward pre-pass: x_i <- x_i * c0 * step0^i  (c0 = 1, step0 = shift) */
static void ntt_powscale_task(void *p, uint32_t index, uint32_t count) {
    ntt_ctx *c = (ntt_ctx *)p;
    size_t lo, hi;
    ntt_share(&lo, &hi, c->d->n, index, count);
    if (lo >= hi) return;
    fe pw, x;
    ntt_pow_u64(&pw, &c->step0, (uint64_t)lo);
    fr_mul(&pw, &pw, &c->c0);
    for (size_t i = lo; i < hi; i++) {
        ntt_load(&x, c->data + i);
        fr_mul(&x, &x, &pw);
        ntt_store(c->data + i, &x);
        fr_mul(&pw, &pw, &c->step0);
    }
}

/* Inverse post-pass on the forward transform y (natural order):
   x_j <- y_{-j mod n} * f_j with f_j = n^-1 * s^-j (s = 1 without coset).
   Pairs (j, n-j), j = 1 .. n/2-1, plus the fixed points 0 and n/2.
   c0 = n^-1, step0 = s^-1; c1 = n^-1 * s^-n, step1 = s  (f_{n-j} = c1 * s^j). */
static void ntt_revscale_task(void *p, uint32_t index, uint32_t count) {
    ntt_ctx *c = (ntt_ctx *)p;
    const size_t n = c->d->n;
    zka_fr *x = c->data;
    fe a, b, u, v;
    if (index == 0) {
        ntt_load(&a, x);
        fr_mul(&a, &a, &c->c0);
        ntt_store(x, &a);
        if (n >= 2) {
            fe f;
            if (c->coset) {
                ntt_pow_u64(&f, &c->step0, (uint64_t)(n / 2));
                fr_mul(&f, &f, &c->c0);
            } else {
                f = c->c0;
            }
            ntt_load(&a, x + n / 2);
            fr_mul(&a, &a, &f);
            ntt_store(x + n / 2, &a);
        }
    }
    if (n < 4) return;
    size_t lo, hi;
    ntt_share(&lo, &hi, n / 2 - 1, index, count);
    lo += 1;
    hi += 1;
    if (lo >= hi) return;
    if (!c->coset) {
        for (size_t j = lo; j < hi; j++) {
            ntt_load(&a, x + j);
            ntt_load(&b, x + (n - j));
            fr_mul(&u, &b, &c->c0);
            fr_mul(&v, &a, &c->c0);
            ntt_store(x + j, &u);
            ntt_store(x + (n - j), &v);
        }
        return;
    }
    fe fj, fnj;
    ntt_pow_u64(&fj, &c->step0, (uint64_t)lo);
    fr_mul(&fj, &fj, &c->c0);
    ntt_pow_u64(&fnj, &c->step1, (uint64_t)lo);
    fr_mul(&fnj, &fnj, &c->c1);
    for (size_t j = lo; j < hi; j++) {
        ntt_load(&a, x + j);
        ntt_load(&b, x + (n - j));
        fr_mul(&u, &b, &fj);
        fr_mul(&v, &a, &fnj);
        ntt_store(x + j, &u);
        ntt_store(x + (n - j), &v);
        fr_mul(&fj, &fj, &c->step0);
        fr_mul(&fnj, &fnj, &c->step1);
    }
}

#if ZKA_NTT_HAVE_IFMA
/* x -> the IFMA operand form of a Montgomery (2^256) value: times 16 */
static void ntt_to_ifma_form(fe *x, size_t cnt) {
    for (size_t i = 0; i < cnt; i++)
        for (int k = 0; k < 4; k++) fr_dbl(&x[i], &x[i]);
}

/* out[q] = first * base^bitrev_bits(q), q < 2^bits (Montgomery) */
static void ntt_bitrev_powers(fe *out, uint32_t bits, const fe *base, const fe *first) {
    fe p[ZKA_NTT_MAX_LOG + 1];
    out[0] = *first;
    if (bits == 0) return;
    p[0] = *base; /* p[j] = base^(2^j) */
    for (uint32_t j = 1; j < bits; j++) fr_sqr(&p[j], &p[j - 1]);
    for (uint32_t t = 0; t < bits; t++) {
        const size_t h = (size_t)1 << t;
        for (size_t i = 0; i < h; i++) fr_mul(&out[h + i], &out[i], &p[bits - 1 - t]);
    }
}

/* The whole transform on the IFMA kernel: the coset premultiplication is fused
   into the first pass, the inverse's 1/n (and coset factors) into the last, and
   the inverse runs on omega^-1 directly (no index reversal). */
static zka_status ntt_ifma_transform(ntt_ctx *c, const fe *s, int coset, int inverse,
                                     uint32_t nt) {
    const zka_ntt_domain *d = c->d;
    const uint32_t L = d->log_n;
    uint32_t LB, np;
    ntt_ifma_plan(L, nt, &LB, &np);
    const uint32_t D = L - LB;
    fe one, *tab = NULL;
    fr_set_one(&one);
    c->inverse = inverse;
    c->post_const = inverse ? d->n_inv : one;
    ntt_to_ifma_form(&c->post_const, 1);
    if (coset) {
        /* rows x lanes factors: forward, first pass: s^(m*lanes + col);
           inverse, leaf pass: 1/n * s^-bitrev(q*2^(L-LB) + H) */
        const uint32_t rbits = inverse ? LB : (D ? ntt_pass_k(D, np, 0, 0) : L);
        const size_t rows = (size_t)1 << rbits, lanes = (size_t)1 << (L - rbits);
        size_t bytes;
        if (!zka_mul_size(&bytes, rows + lanes, sizeof(fe)) || !(tab = (fe *)malloc(bytes)))
            return ZKA_ERR_NOMEM;
        fe *row = tab, *lane = tab + rows, g, u;
        if (!inverse) {
            ntt_pow_u64(&g, s, (uint64_t)lanes);
            row[0] = one;
            for (size_t m = 1; m < rows; m++) fr_mul(&row[m], &row[m - 1], &g);
            lane[0] = one;
            for (size_t i = 1; i < lanes; i++) fr_mul(&lane[i], &lane[i - 1], s);
            c->pre_row = row;
            c->pre_lane = lane;
        } else {
            (void)fr_inv(&u, s);
            ntt_pow_u64(&g, &u, (uint64_t)lanes);
            ntt_bitrev_powers(row, rbits, &g, &one);
            ntt_bitrev_powers(lane, L - rbits, &u, &d->n_inv);
            c->post_row = row;
            c->post_lane = lane;
        }
        ntt_to_ifma_form(tab, rows + lanes);
    }
    ntt_ifma_core(c, nt);
    free(tab);
    return ZKA_OK;
}
#endif

/* mode: 0 forward, 1 inverse, 2 coset forward, 3 coset inverse */
static zka_status ntt_transform(zka_fr *data, size_t n, const zka_ntt_domain *d,
                                const zka_fr *shift, uint32_t nthreads, int mode) {
    if (!data || !d) return ZKA_ERR_NULL;
    const int coset = mode >= 2;
    const int inverse = mode & 1;
    if (coset && !shift) return ZKA_ERR_NULL;
    if (n != d->n) return ZKA_ERR_LENGTH;
    fe s;
    fr_set_zero(&s);
    if (coset) {
        if (!fr_from_bytes(&s, shift->b)) return ZKA_ERR_NONCANONICAL;
        if (inverse && fr_is_zero(&s)) return ZKA_ERR_NOT_INVERTIBLE;
    }
    uint32_t nt = zka_threads_resolve(nthreads);
    if (d->log_n < (d->ifma ? ZKA_NTT_PAR_MIN_LOG_IFMA : ZKA_NTT_PAR_MIN_LOG)) nt = 1;

    ntt_ctx *c = (ntt_ctx *)malloc(sizeof *c);
    if (!c) return ZKA_ERR_NOMEM;
    memset(c, 0, sizeof *c);
    c->data = data;
    c->d = d;
    c->coset = coset;
    if (!ntt_check(c, nt)) {
        free(c);
        return ZKA_ERR_NONCANONICAL;
    }
    size_t bytes;
    void *mem = NULL;
    if (!zka_mul_size(&bytes, (size_t)nt, ZKA_NTT_SCRATCH_BYTES) ||
        posix_memalign(&mem, 64, bytes) != 0) {
        free(c);
        return ZKA_ERR_NOMEM;
    }
    c->scratch = (unsigned char *)mem;
#if ZKA_NTT_HAVE_IFMA
    if (d->ifma && d->log_n > 0) {
        zka_status st = ntt_ifma_transform(c, &s, coset, inverse, nt);
        zka_wipe(c->scratch, bytes); /* holds data-derived values (often witness) */
        free(c->scratch);
        zka_wipe(c, sizeof *c);
        free(c);
        return st;
    }
#endif

    if (coset && !inverse) {
        fr_set_one(&c->c0);
        c->step0 = s;
        (void)zka_parallel_for(ntt_threads_for(n, ZKA_NTT_PAR_MIN_ITEMS, nt), ntt_powscale_task, c);
    }
    ntt_core(c, nt);
    if (inverse) {
        c->c0 = d->n_inv;
        if (coset) {
            fe sinv, t;
            (void)fr_inv(&sinv, &s);
            c->step0 = sinv;
            c->step1 = s;
            ntt_pow_u64(&t, &sinv, (uint64_t)n);
            fr_mul(&c->c1, &t, &d->n_inv);
        }
        (void)zka_parallel_for(ntt_threads_for(n / 2, ZKA_NTT_PAR_MIN_ITEMS, nt),
                               ntt_revscale_task, c);
    }
    zka_wipe(c->scratch, bytes); /* holds data-derived values (often witness) */
    free(c->scratch);
    zka_wipe(c, sizeof *c);
    free(c);
    return ZKA_OK;
}

/* ---------------------------------------------------------- domain setup */

typedef struct {
    fe *tw;
    size_t base; /* level: tw[base + i] = tw[i] * step, i < base */
    fe step;
} ntt_twctx;

static void ntt_tw_task(void *p, uint32_t index, uint32_t count) {
    ntt_twctx *c = (ntt_twctx *)p;
    size_t lo, hi;
    ntt_share(&lo, &hi, c->base, index, count);
    for (size_t i = lo; i < hi; i++) fr_mul(&c->tw[c->base + i], &c->tw[i], &c->step);
}

/* ------------------------------------------------------------- exports */

zka_status zka_ntt_domain_new(zka_ntt_domain **out, uint32_t log_n) {
    if (!out) return ZKA_ERR_NULL;
    *out = NULL;
    if (log_n > ZKA_NTT_MAX_LOG || log_n > FR_TWO_ADICITY) return ZKA_ERR_PARAM;
    zka_ntt_domain *d = (zka_ntt_domain *)malloc(sizeof *d);
    if (!d) return ZKA_ERR_NOMEM;
    memset(d, 0, sizeof *d);
    d->log_n = log_n;
    d->n = (size_t)1 << log_n;
    const size_t half = d->n >= 2 ? d->n / 2 : 1;
    size_t bytes;
    void *mem = NULL;
    if (!zka_mul_size(&bytes, half, sizeof(fe)) || posix_memalign(&mem, 64, bytes) != 0) {
        free(d);
        return ZKA_ERR_NOMEM;
    }
    d->tw = (fe *)mem;

    /* omega = g^((r-1) >> log_n) */
    uint64_t e[4];
    memcpy(e, FR_MODULUS, sizeof e);
    e[0] -= 1; /* r is odd */
    if (log_n > 0) {
        for (int i = 0; i < 4; i++) {
            uint64_t hi_part = (i < 3) ? (e[i + 1] << (64 - log_n)) : 0;
            e[i] = (e[i] >> log_n) | hi_part;
        }
    }
    fe g, one, t;
    fr_from_u64(&g, FR_GENERATOR);
    fr_pow_limbs(&d->omega, &g, e, 4);
    fr_set_one(&one);
    /* omega has order exactly n: omega^(n/2) = -1 (or omega = 1 for n = 1) */
    t = d->omega;
    for (uint32_t i = 1; i < log_n; i++) fr_sqr(&t, &t);
    fe minus_one;
    fr_neg(&minus_one, &one);
    if (!fr_eq(&t, log_n ? &minus_one : &one)) {
        free(d->tw);
        free(d);
        return ZKA_ERR_PARAM; /* unreachable with a correct field */
    }
    (void)fr_inv(&d->omega_inv, &d->omega);
    fr_from_u64(&t, (uint64_t)d->n);
    (void)fr_inv(&d->n_inv, &t);

    /* twiddles in bit-reversed order: tw[2^t + i] = tw[i] * omega^(2^(L-2-t)).
       tw[0] = 2^256 mod r (Montgomery one) for the scalar kernel; for the IFMA
       kernel 2^260 mod r, which scales every entry by 16 (fr_mul divides by
       2^256 only). */
    d->tw[0] = one;
#if ZKA_NTT_HAVE_IFMA
    d->ifma = ntt_ifma_usable();
    if (d->ifma) {
        for (int i = 0; i < 4; i++) fr_dbl(&d->tw[0], &d->tw[0]);
        fr_neg(&d->tw_neg1, &d->tw[0]);
        ntt_to_52(d->r52, FR_MODULUS);
        for (int e = 1; e <= 4; e++) { /* 2^e r: limbs of r shifted (16r < 2^258) */
            uint64_t w[5];
            for (int i = 0; i < 5; i++) w[i] = d->r52[i] << e;
            for (int i = 0; i < 4; i++) { /* carry-normalise to 52-bit limbs */
                w[i + 1] += w[i] >> 52;
                w[i] &= ZKA_NTT_M52;
            }
            memcpy(d->rm52[e - 1], w, sizeof w);
        }
        uint64_t inv = FR_MODULUS[0]; /* Newton: r^-1 mod 2^64 */
        for (int i = 0; i < 6; i++) inv *= 2 - FR_MODULUS[0] * inv;
        d->k0 = (0 - inv) & ZKA_NTT_M52;
    }
#endif
    if (log_n >= 2) {
        fe sq[ZKA_NTT_MAX_LOG]; /* sq[j] = omega^(2^j) */
        sq[0] = d->omega;
        for (uint32_t j = 1; j + 1 < log_n; j++) fr_sqr(&sq[j], &sq[j - 1]);
        uint32_t nt = zka_threads_resolve(0);
        for (uint32_t lvl = 0; lvl + 1 < log_n; lvl++) {
            ntt_twctx tc;
            tc.tw = d->tw;
            tc.base = (size_t)1 << lvl;
            tc.step = sq[log_n - 2 - lvl];
            uint32_t use = tc.base >= ZKA_NTT_TW_PAR_MIN ? nt : 1;
            (void)zka_parallel_for(use, ntt_tw_task, &tc);
        }
    }
    *out = d;
    return ZKA_OK;
}

void zka_ntt_domain_free(zka_ntt_domain *d) {
    if (!d) return;
    free(d->tw);
    free(d);
}

zka_status zka_ntt_domain_omega(zka_fr *out, const zka_ntt_domain *d) {
    if (!out || !d) return ZKA_ERR_NULL;
    fr_to_bytes(out->b, &d->omega);
    return ZKA_OK;
}

zka_status zka_ntt_forward(zka_fr *data, size_t n, const zka_ntt_domain *d, uint32_t nthreads) {
    return ntt_transform(data, n, d, NULL, nthreads, 0);
}

zka_status zka_ntt_inverse(zka_fr *data, size_t n, const zka_ntt_domain *d, uint32_t nthreads) {
    return ntt_transform(data, n, d, NULL, nthreads, 1);
}

zka_status zka_ntt_coset_forward(zka_fr *data, size_t n, const zka_ntt_domain *d,
                                 const zka_fr *shift, uint32_t nthreads) {
    return ntt_transform(data, n, d, shift, nthreads, 2);
}

zka_status zka_ntt_coset_inverse(zka_fr *data, size_t n, const zka_ntt_domain *d,
                                 const zka_fr *shift, uint32_t nthreads) {
    return ntt_transform(data, n, d, shift, nthreads, 3);
}

#endif /* ZKA_NTT_IMPL_H */
