/* tower.h - contract of Fq2, Fq6, Fq12 (implementation: tower_impl.h).
 *   Fq2  = Fq[u]/(u^2 + 1)
 *   Fq6  = Fq2[v]/(v^3 - xi), xi = 9 + u
 *   Fq12 = Fq6[w]/(w^2 - v)
 * All elements in Montgomery form coordinate-wise. */
#ifndef ZKA_TOWER_H
#define ZKA_TOWER_H
#include "field.h"

typedef struct { fe c0, c1; } fq2;
typedef struct { fq2 c0, c1, c2; } fq6;
typedef struct { fq6 c0, c1; } fq12;

static void fq2_set_zero(fq2 *r);
static void fq2_set_one(fq2 *r);
static int  fq2_is_zero(const fq2 *a);
static int  fq2_eq(const fq2 *a, const fq2 *b);
static void fq2_add(fq2 *r, const fq2 *a, const fq2 *b);
static void fq2_sub(fq2 *r, const fq2 *a, const fq2 *b);
static void fq2_neg(fq2 *r, const fq2 *a);
static void fq2_dbl(fq2 *r, const fq2 *a);
static void fq2_conj(fq2 *r, const fq2 *a);
static void fq2_mul(fq2 *r, const fq2 *a, const fq2 *b);
static void fq2_sqr(fq2 *r, const fq2 *a);
static void fq2_mul_fq(fq2 *r, const fq2 *a, const fe *b);
static void fq2_mul_xi(fq2 *r, const fq2 *a);             /* a * (9 + u) */
static int  fq2_inv(fq2 *r, const fq2 *a);                /* 0 if a == 0 */
static int  fq2_batch_inv(fq2 *r, const fq2 *a, size_t n, fq2 *scratch);
static int  fq2_sqrt(fq2 *r, const fq2 *a);               /* 0 if non-residue */
static int  fq2_is_lex_largest(const fq2 *a);             /* c1 first, then c0 */
static void fq2_frobenius(fq2 *r, const fq2 *a);          /* a^p = conj */

static void fq6_set_zero(fq6 *r);
static void fq6_set_one(fq6 *r);
static void fq6_add(fq6 *r, const fq6 *a, const fq6 *b);
static void fq6_sub(fq6 *r, const fq6 *a, const fq6 *b);
static void fq6_neg(fq6 *r, const fq6 *a);
static void fq6_mul(fq6 *r, const fq6 *a, const fq6 *b);
static void fq6_sqr(fq6 *r, const fq6 *a);
static void fq6_mul_v(fq6 *r, const fq6 *a);               /* a * v */
static int  fq6_inv(fq6 *r, const fq6 *a);
static void fq6_frobenius(fq6 *r, const fq6 *a, unsigned power);

static void fq12_set_one(fq12 *r);
static int  fq12_eq(const fq12 *a, const fq12 *b);
static int  fq12_is_one(const fq12 *a);
static void fq12_mul(fq12 *r, const fq12 *a, const fq12 *b);
static void fq12_sqr(fq12 *r, const fq12 *a);
static int  fq12_inv(fq12 *r, const fq12 *a);
static void fq12_conj(fq12 *r, const fq12 *a);
static void fq12_frobenius(fq12 *r, const fq12 *a, unsigned power);  /* a^(p^power) */

#endif
