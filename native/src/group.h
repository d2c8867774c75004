/* group.h - contract of G1 and G2 (implementation: group_impl.h).
 * Affine points: the point at infinity is (0, 0) (never on either curve).
 * Jacobian points (X, Y, Z) represent (X/Z^2, Y/Z^3); infinity has Z = 0.
 * G1: y^2 = x^3 + 3 over Fq.  G2: y^2 = x^3 + 3/(9+u) over Fq2. */
#ifndef ZKA_GROUP_H
#define ZKA_GROUP_H
#include "tower.h"

typedef struct { fe x, y; } g1_aff;
typedef struct { fe X, Y, Z; } g1_jac;
typedef struct { fq2 x, y; } g2_aff;
typedef struct { fq2 X, Y, Z; } g2_jac;

#define ZKA_GROUP_DECLS(G, A, J) \
static int  G##_aff_is_inf(const A *p); \
static void G##_aff_set_inf(A *p); \
static int  G##_aff_on_curve(const A *p);           /* infinity counts as on curve */ \
static void G##_aff_neg(A *r, const A *p); \
static void G##_jac_set_inf(J *p); \
static int  G##_jac_is_inf(const J *p); \
static void G##_jac_from_aff(J *r, const A *p); \
static void G##_jac_to_aff(A *r, const J *p); \
/* batch conversion with one inversion; scratch: n elements of the base field */ \
static void G##_jac_to_aff_batch(A *r, const J *p, size_t n, void *scratch); \
static int  G##_jac_eq(const J *a, const J *b); \
static void G##_jac_neg(J *r, const J *p); \
static void G##_jac_dbl(J *r, const J *p); \
static void G##_jac_add(J *r, const J *a, const J *b);       /* complete w.r.t. inf/equal/opposite */ \
static void G##_jac_add_mixed(J *r, const J *a, const A *b); /* complete likewise */ \
static void G##_jac_mul_var(J *r, const J *p, const uint64_t k[4]); \
static void G##_aff_generator(A *r);

ZKA_GROUP_DECLS(g1, g1_aff, g1_jac)
ZKA_GROUP_DECLS(g2, g2_aff, g2_jac)

static int g2_aff_in_subgroup(const g2_aff *p);      /* psi(Q) == [6x^2] Q */

/* encodings (canonical bytes <-> internal), with validation statuses */
static int g1_aff_from_bytes(g1_aff *r, const uint8_t in[64]);   /* zka_status; canonical + on curve */
static void g1_aff_to_bytes(uint8_t out[64], const g1_aff *p);
static int g2_aff_from_bytes_unchecked_subgroup(g2_aff *r, const uint8_t in[128]); /* canonical + on curve */
static int g2_aff_from_bytes(g2_aff *r, const uint8_t in[128]);  /* + subgroup */
static void g2_aff_to_bytes(uint8_t out[128], const g2_aff *p);

#endif
