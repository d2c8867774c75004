/* field.h - contract of the prime fields Fq and Fr (implementation: field_impl.h).
 *
 * fe is a 4x64-bit little-endian limb vector in Montgomery form (a*2^256 mod m),
 * always fully reduced (< m).  Every function below exists twice, with prefix
 * fq_ (base field p) and fr_ (scalar field r).  All are static: the core is one
 * translation unit (zkattest.c) that includes every *_impl.h.
 *
 * Multiplication dispatches at run time between the portable __int128 CIOS loop
 * and a MULX/ADX path, using the read-only capability word zka_cap (set once at
 * load; see cpu.h).
 */
#ifndef ZKA_FIELD_H
#define ZKA_FIELD_H
#include <stdint.h>
#include <stddef.h>

typedef struct { uint64_t v[4]; } fe;

#define ZKA_FIELD_DECLS(F) \
static void F##_set_zero(fe *r); \
static void F##_set_one(fe *r);                         /* Montgomery one */ \
static int  F##_is_zero(const fe *a); \
static int  F##_eq(const fe *a, const fe *b); \
static void F##_add(fe *r, const fe *a, const fe *b); \
static void F##_sub(fe *r, const fe *a, const fe *b); \
static void F##_neg(fe *r, const fe *a); \
static void F##_dbl(fe *r, const fe *a); \
static void F##_mul(fe *r, const fe *a, const fe *b);   /* dispatching */ \
static void F##_sqr(fe *r, const fe *a); \
static void F##_mul_portable(fe *r, const fe *a, const fe *b); \
static void F##_mul_adx(fe *r, const fe *a, const fe *b); \
static int  F##_inv(fe *r, const fe *a);                /* 0 if a == 0 (r = 0) */ \
static void F##_pow_limbs(fe *r, const fe *a, const uint64_t *e, size_t nlimbs); \
/* batch inverse, Montgomery's trick; scratch has n elements; zero inputs \
   stay zero in the output; returns 1 if all inputs were non-zero. r may equal a. */ \
static int  F##_batch_inv(fe *r, const fe *a, size_t n, fe *scratch); \
/* canonical 32-byte LE <-> Montgomery */ \
static int  F##_from_bytes(fe *r, const uint8_t in[32]);   /* 0 if >= modulus */ \
static void F##_to_bytes(uint8_t out[32], const fe *a); \
static void F##_from_u64(fe *r, uint64_t x); \
/* plain (non-Montgomery) limbs of the value */ \
static void F##_to_limbs(uint64_t out[4], const fe *a); \
static int  F##_from_limbs(fe *r, const uint64_t in[4]); /* 0 if >= modulus */

ZKA_FIELD_DECLS(fq)
ZKA_FIELD_DECLS(fr)

static int fq_sqrt(fe *r, const fe *a);        /* 0 if non-residue */
static int fq_is_lex_largest(const fe *a);     /* a > (p-1)/2 */

#endif
