/*
 * zkattest.h - the one public header of the zkattest C core (BN254).
 *
 * Conventions (see docs in README "Native core"):
 *  - Every exported function starts with zka_, returns zka_status (or a plain
 *    value for pure queries), takes outputs first and inputs after, and each
 *    length right after its buffer.
 *  - Field elements cross the boundary as 32-byte canonical little-endian
 *    integers (value < modulus).  Decoders reject non-canonical values with
 *    ZKA_ERR_NONCANONICAL.
 *  - G1 affine = x || y (64 bytes), G2 affine = x.c0 || x.c1 || y.c0 || y.c1
 *    (128 bytes), every coordinate canonical LE.  The point at infinity is
 *    encoded as all-zero bytes (0,0 is on neither curve, so it is unambiguous;
 *    this is also the convention of snarkjs/iden3 files).
 *  - Compressed G1 = x (32 bytes LE); G2 = x.c0 || x.c1 (64 bytes).  The two
 *    most significant bits of the last byte are flags (BN254 moduli are below
 *    2^254): bit 7 = point at infinity (all other bits zero), bit 6 = y is the
 *    lexicographically largest root (y > (p-1)/2 for Fq; for Fq2 compare c1
 *    first, then c0 when c1 = 0).
 *  - Misuse (NULL pointer, bad length, bad parameter) gets its own status and
 *    is distinct from invalid data.  Nothing calls abort() or exit().
 *  - No global mutable state.  The CPU feature set is read once at load time
 *    (a read-only capability word, like blst); setting ZKATTEST_NO_ASM=1 in the
 *    environment before the library loads forces the portable C paths, and
 *    ZKATTEST_NO_ASM=ifma keeps MULX/ADX but turns off the AVX-512 IFMA paths.
 *  - Functions ending in _var run in time that depends on their inputs.
 *  - nthreads = 0 means "all online cores".
 */
#ifndef ZKATTEST_H
#define ZKATTEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CDEF-BEGIN (this region is parsed by cffi: no preprocessor conditionals) */

#define ZKA_VERSION 0x000100
#define ZKA_FR_BYTES 32
#define ZKA_FQ_BYTES 32
#define ZKA_G1_BYTES 64
#define ZKA_G2_BYTES 128
#define ZKA_G1_COMPRESSED_BYTES 32
#define ZKA_G2_COMPRESSED_BYTES 64
#define ZKA_FQ12_BYTES 384
#define ZKA_NTT_MAX_LOG 28
#define ZKA_POSEIDON_MIN_T 2
#define ZKA_POSEIDON_MAX_T 17

#define ZKA_CPU_ADX 1
#define ZKA_CPU_BMI2 2
#define ZKA_CPU_AVX512IFMA 4

typedef enum {
    ZKA_OK = 0,
    /* misuse */
    ZKA_ERR_NULL = 1,            /* a required pointer was NULL */
    ZKA_ERR_LENGTH = 2,          /* a length or count is not allowed */
    ZKA_ERR_PARAM = 3,           /* a parameter is out of its documented range */
    /* invalid data */
    ZKA_ERR_NONCANONICAL = 10,   /* a field element encoding is >= the modulus */
    ZKA_ERR_NOT_ON_CURVE = 11,   /* coordinates do not satisfy the curve equation */
    ZKA_ERR_NOT_IN_SUBGROUP = 12,/* on the curve but outside the prime-order subgroup */
    ZKA_ERR_ENCODING = 13,       /* malformed flags or bytes in a point encoding */
    ZKA_ERR_NOT_INVERTIBLE = 14, /* inverse of zero */
    ZKA_ERR_NO_SQRT = 15,        /* not a quadratic residue */
    /* resources */
    ZKA_ERR_NOMEM = 20,
    ZKA_ERR_THREAD = 21
} zka_status;

typedef struct { uint8_t b[32]; } zka_fr;
typedef struct { uint8_t b[32]; } zka_fq;
typedef struct { uint8_t b[64]; } zka_fq2;    /* c0 || c1,  c0 + c1*u, u^2 = -1 */
typedef struct { uint8_t b[192]; } zka_fq6;   /* c0 || c1 || c2 over Fq2, v^3 = 9 + u */
typedef struct { uint8_t b[384]; } zka_fq12;  /* c0 || c1 over Fq6,  w^2 = v */
typedef struct { uint8_t b[64]; } zka_g1;
typedef struct { uint8_t b[128]; } zka_g2;

/* ---- library ---- */
uint32_t zka_version(void);
/* CPU features the core uses (ZKA_CPU_* bits); 0 = portable C only. */
uint32_t zka_cpu_features(void);
/* Number of threads used for nthreads = 0. */
uint32_t zka_default_threads(void);

/* ---- Fr (scalar field, r = 0x30644e72...f0000001) ---- */
zka_status zka_fr_check(const zka_fr *a);
/* Reduce an arbitrary little-endian integer (len <= 64 bytes) modulo r. */
zka_status zka_fr_reduce(zka_fr *out, const uint8_t *in, size_t in_len);
zka_status zka_fr_add(zka_fr *out, const zka_fr *a, const zka_fr *b);
zka_status zka_fr_sub(zka_fr *out, const zka_fr *a, const zka_fr *b);
zka_status zka_fr_neg(zka_fr *out, const zka_fr *a);
zka_status zka_fr_mul(zka_fr *out, const zka_fr *a, const zka_fr *b);
zka_status zka_fr_sqr(zka_fr *out, const zka_fr *a);
zka_status zka_fr_inv(zka_fr *out, const zka_fr *a);
/* a^e, e an unsigned little-endian integer of e_len bytes (any length). */
zka_status zka_fr_pow(zka_fr *out, const zka_fr *a, const uint8_t *e, size_t e_len);
/* out[i] = 1/in[i]; any zero input -> ZKA_ERR_NOT_INVERTIBLE and out untouched.
   out may equal in. */
zka_status zka_fr_batch_inv(zka_fr *out, const zka_fr *in, size_t n);

/* ---- Fq (base field, p = 0x30644e72...3c208c16d87cfd47) ---- */
zka_status zka_fq_check(const zka_fq *a);
zka_status zka_fq_reduce(zka_fq *out, const uint8_t *in, size_t in_len);
zka_status zka_fq_add(zka_fq *out, const zka_fq *a, const zka_fq *b);
zka_status zka_fq_sub(zka_fq *out, const zka_fq *a, const zka_fq *b);
zka_status zka_fq_neg(zka_fq *out, const zka_fq *a);
zka_status zka_fq_mul(zka_fq *out, const zka_fq *a, const zka_fq *b);
zka_status zka_fq_sqr(zka_fq *out, const zka_fq *a);
zka_status zka_fq_inv(zka_fq *out, const zka_fq *a);
zka_status zka_fq_pow(zka_fq *out, const zka_fq *a, const uint8_t *e, size_t e_len);
zka_status zka_fq_batch_inv(zka_fq *out, const zka_fq *in, size_t n);
/* A square root (either one); ZKA_ERR_NO_SQRT for non-residues. */
zka_status zka_fq_sqrt(zka_fq *out, const zka_fq *a);
/* Benchmark helper: x <- x*y repeated iters times in Montgomery form
   (measures the multiplication the core actually uses). */
zka_status zka_fq_mul_loop(zka_fq *x, const zka_fq *y, uint64_t iters);

/* ---- towers: Fq2 = Fq[u]/(u^2+1), Fq6 = Fq2[v]/(v^3-(9+u)), Fq12 = Fq6[w]/(w^2-v) ---- */
zka_status zka_fq2_add(zka_fq2 *out, const zka_fq2 *a, const zka_fq2 *b);
zka_status zka_fq2_sub(zka_fq2 *out, const zka_fq2 *a, const zka_fq2 *b);
zka_status zka_fq2_mul(zka_fq2 *out, const zka_fq2 *a, const zka_fq2 *b);
zka_status zka_fq2_sqr(zka_fq2 *out, const zka_fq2 *a);
zka_status zka_fq2_inv(zka_fq2 *out, const zka_fq2 *a);
zka_status zka_fq2_sqrt(zka_fq2 *out, const zka_fq2 *a);
zka_status zka_fq6_mul(zka_fq6 *out, const zka_fq6 *a, const zka_fq6 *b);
zka_status zka_fq6_inv(zka_fq6 *out, const zka_fq6 *a);
zka_status zka_fq12_mul(zka_fq12 *out, const zka_fq12 *a, const zka_fq12 *b);
zka_status zka_fq12_sqr(zka_fq12 *out, const zka_fq12 *a);
zka_status zka_fq12_inv(zka_fq12 *out, const zka_fq12 *a);
zka_status zka_fq12_conj(zka_fq12 *out, const zka_fq12 *a);
/* a^(p^power), power in 0..11 */
zka_status zka_fq12_frobenius(zka_fq12 *out, const zka_fq12 *a, uint32_t power);

/* ---- G1: y^2 = x^3 + 3 over Fq (cofactor 1) ---- */
zka_status zka_g1_generator(zka_g1 *out);
/* Full validation of an uncompressed encoding: canonical coordinates, on curve
   (infinity = all zero is valid). */
zka_status zka_g1_check(const zka_g1 *p);
zka_status zka_g1_add(zka_g1 *out, const zka_g1 *a, const zka_g1 *b);
zka_status zka_g1_double(zka_g1 *out, const zka_g1 *a);
zka_status zka_g1_neg(zka_g1 *out, const zka_g1 *a);
zka_status zka_g1_mul_var(zka_g1 *out, const zka_g1 *p, const zka_fr *k);
zka_status zka_g1_compress(uint8_t *out, size_t out_len, const zka_g1 *p);
zka_status zka_g1_decompress(zka_g1 *out, const uint8_t *in, size_t in_len);

/* ---- G2: y^2 = x^3 + 3/(9+u) over Fq2 (the D-type sextic twist) ---- */
zka_status zka_g2_generator(zka_g2 *out);
/* Canonical coordinates and on the twist (no subgroup check). */
zka_status zka_g2_check_on_curve(const zka_g2 *p);
/* Prime-order subgroup membership via the psi endomorphism
   (psi(Q) = [6x^2] Q); assumes p already on curve. */
zka_status zka_g2_in_subgroup(const zka_g2 *p);
/* Full validation: canonical, on curve, in subgroup. */
zka_status zka_g2_check(const zka_g2 *p);
zka_status zka_g2_add(zka_g2 *out, const zka_g2 *a, const zka_g2 *b);
zka_status zka_g2_double(zka_g2 *out, const zka_g2 *a);
zka_status zka_g2_neg(zka_g2 *out, const zka_g2 *a);
zka_status zka_g2_mul_var(zka_g2 *out, const zka_g2 *p, const zka_fr *k);
zka_status zka_g2_compress(uint8_t *out, size_t out_len, const zka_g2 *p);
zka_status zka_g2_decompress(zka_g2 *out, const uint8_t *in, size_t in_len);

/* ---- multi-scalar multiplication: out = sum scalars[i] * points[i] ----
   Points must be valid (zka_g1_check / zka_g2_check); scalars canonical (< r).
   Pippenger with signed windows and batch-affine buckets. */
zka_status zka_g1s_msm(zka_g1 *out, const zka_g1 *points, const zka_fr *scalars, size_t n, uint32_t nthreads);
zka_status zka_g2s_msm(zka_g2 *out, const zka_g2 *points, const zka_fr *scalars, size_t n, uint32_t nthreads);
/* Plain double-and-add reference, for tests. */
zka_status zka_g1s_msm_naive(zka_g1 *out, const zka_g1 *points, const zka_fr *scalars, size_t n);
zka_status zka_g2s_msm_naive(zka_g2 *out, const zka_g2 *points, const zka_fr *scalars, size_t n);
/* Window size the G1 MSM picks for n points (GLV doubles the point count it
   sees; G2 picks its own).  Exposed for tests and benchmarks. */
uint32_t zka_msm_window(size_t n);

/* ---- NTT over Fr on domains of size 2^log_n, 0 <= log_n <= 28 ----
   A domain owns its precomputed twiddles; it is immutable once made and may be
   shared between threads.  zka_ntt_domain_new allocates; free with
   zka_ntt_domain_free. */
typedef struct zka_ntt_domain zka_ntt_domain;
zka_status zka_ntt_domain_new(zka_ntt_domain **out, uint32_t log_n);
void zka_ntt_domain_free(zka_ntt_domain *d);
/* omega = the domain's generator (primitive 2^log_n-th root of unity:
   5^((r-1)/2^log_n)... see README); written as canonical Fr. */
zka_status zka_ntt_domain_omega(zka_fr *out, const zka_ntt_domain *d);
/* In place, natural order in and out.  forward: a_j -> sum_i a_i omega^(ij);
   inverse: the exact inverse (includes 1/n).  Coset variants evaluate on (or
   interpolate from) the coset shift*<omega>:
   coset_forward: a_j -> sum_i a_i (shift*omega^j)^i; coset_inverse undoes it
   (shift = 0 gives ZKA_ERR_NOT_INVERTIBLE there).  Every element is checked
   before any is written: on error the data is unchanged. */
zka_status zka_ntt_forward(zka_fr *data, size_t n, const zka_ntt_domain *d, uint32_t nthreads);
zka_status zka_ntt_inverse(zka_fr *data, size_t n, const zka_ntt_domain *d, uint32_t nthreads);
zka_status zka_ntt_coset_forward(zka_fr *data, size_t n, const zka_ntt_domain *d, const zka_fr *shift, uint32_t nthreads);
zka_status zka_ntt_coset_inverse(zka_fr *data, size_t n, const zka_ntt_domain *d, const zka_fr *shift, uint32_t nthreads);

/* ---- Poseidon over Fr, circomlib parameters (x^5, 8 full rounds,
   circomlib's partial-round counts, t = 2..17) ---- */
/* circomlib's Poseidon(inputs): state = [0, inputs...], t = n + 1, output state[0].
   n = 1..16. */
zka_status zka_poseidon_hash(zka_fr *out, const zka_fr *inputs, size_t n);
/* Many hashes of the same arity: out[k] = Poseidon(inputs[k*arity .. k*arity+arity-1]). */
zka_status zka_poseidon_hashes(zka_fr *out, size_t count, const zka_fr *inputs, size_t inputs_len, size_t arity);
/* The permutation, in place, on a state of width t. */
zka_status zka_poseidon_permute(zka_fr *state, size_t t);
/* The plain textbook permutation (every round with the dense MDS), kept as the
   reference the optimized schedule is tested against. */
zka_status zka_poseidon_permute_ref(zka_fr *state, size_t t);
/* Round numbers of width t. */
zka_status zka_poseidon_rounds(uint32_t *full_rounds, uint32_t *partial_rounds, size_t t);
/* The generated constants of width t: rc has (full+partial)*t elements in round
   order, mds has t*t elements row-major (state'[i] = sum_j mds[i][j]*state[j]). */
zka_status zka_poseidon_constants(zka_fr *rc, size_t rc_len, zka_fr *mds, size_t mds_len, size_t t);

/* ---- optimal ate pairing on BN254 ----
   e: G1 x G2 -> GT (a subgroup of Fq12*), Miller loop over 6x+2 with the two
   Frobenius line steps, then the final exponentiation (p^12-1)/r.
   Every input point is fully validated (canonical, on curve, G2 in subgroup)
   before any Miller loop; invalid input returns its status and *ok is not set. */
zka_status zka_pairing(zka_fq12 *out, const zka_g1 *p, const zka_g2 *q);
/* *ok = 1 iff prod_i e(ps[i], qs[i]) == 1 (one shared final exponentiation);
   n = 0 gives *ok = 1.  Points at infinity contribute 1. */
zka_status zka_pairing_check(int *ok, const zka_g1 *ps, const zka_g2 *qs, size_t n);
/* Prepared G2 point: the precomputed line coefficients of the Miller loop for a
   fixed Q (a verifying key's beta, gamma, delta).  Allocates; free with
   zka_g2_prepared_free.  Immutable once made; may be shared between threads. */
typedef struct zka_g2_prepared zka_g2_prepared;
zka_status zka_g2_prepare(zka_g2_prepared **out, const zka_g2 *q);
void zka_g2_prepared_free(zka_g2_prepared *prep);
/* Like zka_pairing_check, where pair i uses preps[i] when preps[i] != NULL and
   qs[i] otherwise (qs may be NULL when every preps[i] is set). */
zka_status zka_pairing_check_prepared(int *ok, const zka_g1 *ps, const zka_g2 *qs,
                                      const zka_g2_prepared *const *preps, size_t n);
/* The two halves, for tests: Miller loop value f (before the final
   exponentiation) and the final exponentiation f^((p^12-1)/r). */
zka_status zka_miller_loop(zka_fq12 *out, const zka_g1 *p, const zka_g2 *q);
zka_status zka_final_exponentiation(zka_fq12 *out, const zka_fq12 *f);

/* ---- batch scalar multiplication of one base (setup, key generation) ----
   out[i] = scalars[i] * base for i < n (fixed-base windows, parallel). */
zka_status zka_g1_muls(zka_g1 *out, const zka_g1 *base, const zka_fr *scalars, size_t n, uint32_t nthreads);
zka_status zka_g2_muls(zka_g2 *out, const zka_g2 *base, const zka_fr *scalars, size_t n, uint32_t nthreads);

/* ---- Groth16 proving (snarkjs .zkey semantics) ----
   A proving key handle is made once from the bytes of a groth16 .zkey file (the
   iden3 binary format snarkjs writes: header, groth16 header, IC, coefficients,
   A, B1, B2, C, H sections; field elements in Montgomery form as snarkjs stores
   them).  The parser checks the container, the section sizes, both primes, and
   that every point is canonical and on its curve (G2 subgroup membership of key
   points is not checked: a proving key is the prover's own trusted input).
   Malformed files give ZKA_ERR_ENCODING / ZKA_ERR_LENGTH / ZKA_ERR_NONCANONICAL /
   ZKA_ERR_NOT_ON_CURVE.  Allocates; free with zka_groth16_pk_free.  Immutable
   once made; may be shared between threads. */
typedef struct zka_groth16_pk zka_groth16_pk;
zka_status zka_groth16_pk_from_zkey(zka_groth16_pk **out, const uint8_t *zkey, size_t zkey_len);
void zka_groth16_pk_free(zka_groth16_pk *pk);
/* n_vars: wires including the constant 1; n_public: public outputs + public
   inputs; log_domain: log2 of the evaluation domain. */
zka_status zka_groth16_pk_info(uint32_t *n_vars, uint32_t *n_public, uint32_t *log_domain,
                               const zka_groth16_pk *pk);
/* Prove: witness has n_vars canonical elements (witness[0] = 1); r and s are the
   fresh blinding scalars (the caller draws them from a CSPRNG per proof).  The
   proof is (pi_a, pi_b, pi_c) as snarkjs defines it.  The witness is not checked
   against the constraints (an unsatisfying witness yields an invalid proof),
   but witness[0] != 1 is refused with ZKA_ERR_PARAM.  Statuses are checked in
   this order: NULL, LENGTH (n_witness != n_vars), NONCANONICAL (r, s, then the
   witness), PARAM.  Scratch buffers holding witness-derived data are wiped
   before return. */
zka_status zka_groth16_prove(zka_g1 *pi_a, zka_g2 *pi_b, zka_g1 *pi_c,
                             const zka_groth16_pk *pk,
                             const zka_fr *witness, size_t n_witness,
                             const zka_fr *r, const zka_fr *s, uint32_t nthreads);

/* CDEF-END */

#ifdef __cplusplus
}
#endif
#endif /* ZKATTEST_H */
