/* group_impl.h - G1 and G2 (contract: group.h).
 *
 * G1: y^2 = x^3 + 3 over Fq (prime order r, cofactor 1).
 * G2: y^2 = x^3 + 3/(9+u) over Fq2 (the D-type sextic twist; #E'(Fq2) = h*r,
 *     h = 2p - r, so points need a subgroup check).
 *
 * The group law is written once, as the macro template ZKA_GROUP_IMPL below,
 * over the coordinate field (fq for G1, fq2 for G2).  All formulas are for
 * a = 0 short Weierstrass curves in Jacobian coordinates (x = X/Z^2,
 * y = Y/Z^3, infinity <=> Z = 0):
 *   dbl  dbl-2009-l   (1M + 5S + 6 add-like)
 *   add  add-2007-bl  (11M + 5S)
 *   madd madd-2007-bl (7M + 4S)
 * add and madd detect the exceptional inputs (either operand infinity,
 * equal points -> dbl, opposite points -> infinity), so they are complete
 * (variable time).  Every function tolerates r aliasing its inputs.
 *
 * Scalar multiplication is a variable-time width-5 wNAF with the 8 odd
 * multiples normalised to affine with one inversion (then mixed additions).
 *
 * G2 subgroup check: psi = untwist o Frobenius o twist,
 *   psi(x, y) = (conj(x) * xi^((p-1)/3), conj(y) * xi^((p-1)/2)).
 * psi is an endomorphism of E' defined over Fq2 and satisfies the Frobenius
 * characteristic polynomial psi^2 - t*psi + p = 0 (t = 6x^2 + 1).  On G2 it
 * acts as multiplication by p = t - 1 = 6x^2 (mod r).  Conversely, if
 * psi(Q) = [t-1]Q for Q on E', applying the polynomial gives
 * [(t-1)^2 - t(t-1) + p]Q = [p + 1 - t]Q = [r]Q = O (BN curves: #E(Fq) = r),
 * and since r^2 does not divide #E'(Fq2) = (2p - r) r, Q is in G2.  So the test
 * psi(Q) == [6x^2]Q (a 127-bit multiplication) is exact for points on E'.
 */
#ifndef ZKA_GROUP_IMPL_H
#define ZKA_GROUP_IMPL_H

#include <string.h>

#ifndef ZKA_UNUSED
#define ZKA_UNUSED __attribute__((unused))
#endif

/* ------------------------------------------------------------------------ */
/* Per-group hooks used by the template: curve constant b, coordinate        */
/* encoding, square root and sign.                                          */

#define ZKA_G1_CB 32 /* bytes per coordinate */
#define ZKA_G2_CB 64

static ZKA_UNUSED void g1_curve_b(fe *r) { memcpy(r->v, G1_B_MONT, sizeof r->v); }
static ZKA_UNUSED void g2_curve_b(fq2 *r) {
    memcpy(r->c0.v, G2_B_MONT[0], sizeof r->c0.v);
    memcpy(r->c1.v, G2_B_MONT[1], sizeof r->c1.v);
}

static ZKA_UNUSED int g1_coord_from_bytes(fe *r, const uint8_t *in) { return fq_from_bytes(r, in); }
static ZKA_UNUSED void g1_coord_to_bytes(uint8_t *out, const fe *a) { fq_to_bytes(out, a); }
static ZKA_UNUSED int g1_coord_sqrt(fe *r, const fe *a) { return fq_sqrt(r, a); }
static ZKA_UNUSED int g1_coord_is_lex_largest(const fe *a) { return fq_is_lex_largest(a); }

static ZKA_UNUSED int g2_coord_from_bytes(fq2 *r, const uint8_t *in) {
    int ok0 = fq_from_bytes(&r->c0, in);
    int ok1 = fq_from_bytes(&r->c1, in + 32);
    return ok0 && ok1;
}
static ZKA_UNUSED void g2_coord_to_bytes(uint8_t *out, const fq2 *a) {
    fq_to_bytes(out, &a->c0);
    fq_to_bytes(out + 32, &a->c1);
}
static ZKA_UNUSED int g2_coord_sqrt(fq2 *r, const fq2 *a) { return fq2_sqrt(r, a); }
static ZKA_UNUSED int g2_coord_is_lex_largest(const fq2 *a) { return fq2_is_lex_largest(a); }

static ZKA_UNUSED int zka_bytes_all_zero(const uint8_t *p, size_t n) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= p[i];
    return acc == 0;
}

/* ------------------------------------------------------------------------ */
/* The template.  G = group prefix, A/J = affine/Jacobian types, F = field    */
/* prefix, T = field type, CB = bytes per encoded coordinate.               */

#define ZKA_GROUP_IMPL(G, A, J, F, T, CB)                                               \
                                                                                        \
static ZKA_UNUSED int G##_aff_is_inf(const A *p) {                                      \
    return F##_is_zero(&p->x) && F##_is_zero(&p->y);                                    \
}                                                                                       \
                                                                                        \
static ZKA_UNUSED void G##_aff_set_inf(A *p) {                                          \
    F##_set_zero(&p->x);                                                                \
    F##_set_zero(&p->y);                                                                \
}                                                                                       \
                                                                                        \
/* y^2 == x^3 + b; infinity counts as on the curve. */                                  \
static ZKA_UNUSED int G##_aff_on_curve(const A *p) {                                    \
    T lhs, rhs, b;                                                                      \
    if (G##_aff_is_inf(p)) return 1;                                                    \
    F##_sqr(&lhs, &p->y);                                                               \
    F##_sqr(&rhs, &p->x);                                                               \
    F##_mul(&rhs, &rhs, &p->x);                                                         \
    G##_curve_b(&b);                                                                    \
    F##_add(&rhs, &rhs, &b);                                                            \
    return F##_eq(&lhs, &rhs);                                                          \
}                                                                                       \
                                                                                        \
static ZKA_UNUSED void G##_aff_neg(A *r, const A *p) {                                  \
    r->x = p->x;                                                                        \
    F##_neg(&r->y, &p->y); /* -0 = 0 keeps infinity */                                  \
}                                                                                       \
                                                                                        \
static ZKA_UNUSED void G##_jac_set_inf(J *p) {                                          \
    F##_set_one(&p->X);                                                                 \
    F##_set_one(&p->Y);                                                                 \
    F##_set_zero(&p->Z);                                                                \
}                                                                                       \
                                                                                        \
static ZKA_UNUSED int G##_jac_is_inf(const J *p) { return F##_is_zero(&p->Z); }         \
                                                                                        \
static ZKA_UNUSED void G##_jac_from_aff(J *r, const A *p) {                             \
    if (G##_aff_is_inf(p)) {                                                            \
        G##_jac_set_inf(r);                                                             \
        return;                                                                         \
    }                                                                                   \
    r->X = p->x;                                                                        \
    r->Y = p->y;                                                                        \
    F##_set_one(&r->Z);                                                                 \
}                                                                                       \
                                                                                        \
static ZKA_UNUSED void G##_jac_to_aff(A *r, const J *p) {                               \
    T zi, zi2;                                                                          \
    if (G##_jac_is_inf(p)) {                                                            \
        G##_aff_set_inf(r);                                                             \
        return;                                                                         \
    }                                                                                   \
    F##_inv(&zi, &p->Z);                                                                \
    F##_sqr(&zi2, &zi);                                                                 \
    F##_mul(&r->x, &p->X, &zi2);                                                        \
    F##_mul(&zi2, &zi2, &zi);                                                           \
    F##_mul(&r->y, &p->Y, &zi2);                                                        \
}                                                                                       \
                                                                                        \
/* Montgomery's trick over the non-infinite Z's; scratch holds n T's.                   \
   r and p must not overlap. */                                                         \
static ZKA_UNUSED void G##_jac_to_aff_batch(A *r, const J *p, size_t n, void *scratch) { \
    T *s = (T *)scratch;                                                                \
    T acc, inv, zi, zi2;                                                                \
    size_t i;                                                                           \
    if (n == 0) return;                                                                 \
    F##_set_one(&acc);                                                                  \
    for (i = 0; i < n; i++) {                                                           \
        s[i] = acc;                                                                     \
        if (!G##_jac_is_inf(&p[i])) F##_mul(&acc, &acc, &p[i].Z);                       \
    }                                                                                   \
    F##_inv(&inv, &acc); /* acc is a product of non-zero values */                      \
    for (i = n; i-- > 0;) {                                                             \
        if (G##_jac_is_inf(&p[i])) {                                                    \
            G##_aff_set_inf(&r[i]);                                                     \
            continue;                                                                   \
        }                                                                               \
        F##_mul(&zi, &inv, &s[i]);                                                      \
        F##_mul(&inv, &inv, &p[i].Z);                                                   \
        F##_sqr(&zi2, &zi);                                                             \
        F##_mul(&r[i].x, &p[i].X, &zi2);                                                \
        F##_mul(&zi2, &zi2, &zi);                                                       \
        F##_mul(&r[i].y, &p[i].Y, &zi2);                                                \
    }                                                                                   \
}                                                                                       \
                                                                                        \
static ZKA_UNUSED int G##_jac_eq(const J *a, const J *b) {                              \
    T z1z1, z2z2, t1, t2;                                                               \
    int ai = G##_jac_is_inf(a), bi = G##_jac_is_inf(b);                                 \
    if (ai || bi) return ai && bi;                                                      \
    F##_sqr(&z1z1, &a->Z);                                                              \
    F##_sqr(&z2z2, &b->Z);                                                              \
    F##_mul(&t1, &a->X, &z2z2);                                                         \
    F##_mul(&t2, &b->X, &z1z1);                                                         \
    if (!F##_eq(&t1, &t2)) return 0;                                                    \
    F##_mul(&z1z1, &z1z1, &a->Z);                                                       \
    F##_mul(&z2z2, &z2z2, &b->Z);                                                       \
    F##_mul(&t1, &a->Y, &z2z2);                                                         \
    F##_mul(&t2, &b->Y, &z1z1);                                                         \
    return F##_eq(&t1, &t2);                                                            \
}                                                                                       \
                                                                                        \
static ZKA_UNUSED void G##_jac_neg(J *r, const J *p) {                                  \
    r->X = p->X;                                                                        \
    F##_neg(&r->Y, &p->Y);                                                              \
    r->Z = p->Z;                                                                        \
}                                                                                       \
                                                                                        \
/* dbl-2009-l (a = 0). */                                                               \
static ZKA_UNUSED void G##_jac_dbl(J *r, const J *p) {                                  \
    T a, b, c, d, e, f, x3, y3, z3;                                                     \
    if (G##_jac_is_inf(p)) {                                                            \
        G##_jac_set_inf(r);                                                             \
        return;                                                                         \
    }                                                                                   \
    F##_sqr(&a, &p->X);                                                                 \
    F##_sqr(&b, &p->Y);                                                                 \
    F##_sqr(&c, &b);                                                                    \
    F##_add(&d, &p->X, &b);                                                             \
    F##_sqr(&d, &d);                                                                    \
    F##_sub(&d, &d, &a);                                                                \
    F##_sub(&d, &d, &c);                                                                \
    F##_dbl(&d, &d);                 /* D = 2((X+B)^2 - A - C) */                       \
    F##_dbl(&e, &a);                                                                    \
    F##_add(&e, &e, &a);             /* E = 3A */                                       \
    F##_sqr(&f, &e);                 /* F = E^2 */                                      \
    F##_mul(&z3, &p->Y, &p->Z);                                                         \
    F##_dbl(&z3, &z3);               /* Z3 = 2YZ */                                     \
    F##_dbl(&x3, &d);                                                                   \
    F##_sub(&x3, &f, &x3);           /* X3 = F - 2D */                                  \
    F##_sub(&y3, &d, &x3);                                                              \
    F##_mul(&y3, &y3, &e);                                                              \
    F##_dbl(&c, &c);                                                                    \
    F##_dbl(&c, &c);                                                                    \
    F##_dbl(&c, &c);                                                                    \
    F##_sub(&y3, &y3, &c);           /* Y3 = E(D - X3) - 8C */                          \
    r->X = x3;                                                                          \
    r->Y = y3;                                                                          \
    r->Z = z3;                                                                          \
}                                                                                       \
                                                                                        \
/* add-2007-bl with the exceptional cases handled. */                                   \
static ZKA_UNUSED void G##_jac_add(J *r, const J *a, const J *b) {                      \
    T z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v, x3, y3, z3;                           \
    if (G##_jac_is_inf(a)) {                                                            \
        *r = *b;                                                                        \
        return;                                                                         \
    }                                                                                   \
    if (G##_jac_is_inf(b)) {                                                            \
        *r = *a;                                                                        \
        return;                                                                         \
    }                                                                                   \
    F##_sqr(&z1z1, &a->Z);                                                              \
    F##_sqr(&z2z2, &b->Z);                                                              \
    F##_mul(&u1, &a->X, &z2z2);                                                         \
    F##_mul(&u2, &b->X, &z1z1);                                                         \
    F##_mul(&s1, &a->Y, &b->Z);                                                         \
    F##_mul(&s1, &s1, &z2z2);                                                           \
    F##_mul(&s2, &b->Y, &a->Z);                                                         \
    F##_mul(&s2, &s2, &z1z1);                                                           \
    F##_sub(&h, &u2, &u1);                                                              \
    F##_sub(&rr, &s2, &s1);                                                             \
    if (F##_is_zero(&h)) {                                                              \
        if (F##_is_zero(&rr)) {                                                         \
            J t = *a;                                                                   \
            G##_jac_dbl(r, &t);                                                         \
        } else {                                                                        \
            G##_jac_set_inf(r);                                                         \
        }                                                                               \
        return;                                                                         \
    }                                                                                   \
    F##_dbl(&rr, &rr);               /* r = 2(S2 - S1) */                               \
    F##_dbl(&i, &h);                                                                    \
    F##_sqr(&i, &i);                 /* I = (2H)^2 */                                   \
    F##_mul(&j, &h, &i);             /* J = H*I */                                      \
    F##_mul(&v, &u1, &i);            /* V = U1*I */                                     \
    F##_sqr(&x3, &rr);                                                                  \
    F##_sub(&x3, &x3, &j);                                                              \
    F##_sub(&x3, &x3, &v);                                                              \
    F##_sub(&x3, &x3, &v);           /* X3 = r^2 - J - 2V */                            \
    F##_sub(&y3, &v, &x3);                                                              \
    F##_mul(&y3, &y3, &rr);                                                             \
    F##_mul(&s1, &s1, &j);                                                              \
    F##_dbl(&s1, &s1);                                                                  \
    F##_sub(&y3, &y3, &s1);          /* Y3 = r(V - X3) - 2 S1 J */                      \
    F##_add(&z3, &a->Z, &b->Z);                                                         \
    F##_sqr(&z3, &z3);                                                                  \
    F##_sub(&z3, &z3, &z1z1);                                                           \
    F##_sub(&z3, &z3, &z2z2);                                                           \
    F##_mul(&z3, &z3, &h);           /* Z3 = ((Z1+Z2)^2 - Z1Z1 - Z2Z2) H */             \
    r->X = x3;                                                                          \
    r->Y = y3;                                                                          \
    r->Z = z3;                                                                          \
}                                                                                       \
                                                                                        \
/* madd-2007-bl with the exceptional cases handled. */                                  \
static ZKA_UNUSED void G##_jac_add_mixed(J *r, const J *a, const A *b) {                \
    T z1z1, u2, s2, h, hh, i, j, rr, v, x3, y3, z3;                                     \
    if (G##_aff_is_inf(b)) {                                                            \
        *r = *a;                                                                        \
        return;                                                                         \
    }                                                                                   \
    if (G##_jac_is_inf(a)) {                                                            \
        G##_jac_from_aff(r, b);                                                         \
        return;                                                                         \
    }                                                                                   \
    F##_sqr(&z1z1, &a->Z);                                                              \
    F##_mul(&u2, &b->x, &z1z1);                                                         \
    F##_mul(&s2, &b->y, &a->Z);                                                         \
    F##_mul(&s2, &s2, &z1z1);                                                           \
    F##_sub(&h, &u2, &a->X);                                                            \
    F##_sub(&rr, &s2, &a->Y);                                                           \
    if (F##_is_zero(&h)) {                                                              \
        if (F##_is_zero(&rr)) {                                                         \
            J t = *a;                                                                   \
            G##_jac_dbl(r, &t);                                                         \
        } else {                                                                        \
            G##_jac_set_inf(r);                                                         \
        }                                                                               \
        return;                                                                         \
    }                                                                                   \
    F##_dbl(&rr, &rr);               /* r = 2(S2 - Y1) */                               \
    F##_sqr(&hh, &h);                                                                   \
    F##_dbl(&i, &hh);                                                                   \
    F##_dbl(&i, &i);                 /* I = 4 HH */                                     \
    F##_mul(&j, &h, &i);                                                                \
    F##_mul(&v, &a->X, &i);                                                             \
    F##_sqr(&x3, &rr);                                                                  \
    F##_sub(&x3, &x3, &j);                                                              \
    F##_sub(&x3, &x3, &v);                                                              \
    F##_sub(&x3, &x3, &v);                                                              \
    F##_sub(&y3, &v, &x3);                                                              \
    F##_mul(&y3, &y3, &rr);                                                             \
    F##_mul(&j, &j, &a->Y);                                                             \
    F##_dbl(&j, &j);                                                                    \
    F##_sub(&y3, &y3, &j);           /* Y3 = r(V - X3) - 2 Y1 J */                      \
    F##_add(&z3, &a->Z, &h);                                                            \
    F##_sqr(&z3, &z3);                                                                  \
    F##_sub(&z3, &z3, &z1z1);                                                           \
    F##_sub(&z3, &z3, &hh);          /* Z3 = (Z1 + H)^2 - Z1Z1 - HH */                  \
    r->X = x3;                                                                          \
    r->Y = y3;                                                                          \
    r->Z = z3;                                                                          \
}                                                                                       \
                                                                                        \
/* Variable-time width-5 wNAF; k is any 256-bit integer (not reduced). */               \
static ZKA_UNUSED void G##_jac_mul_var(J *r, const J *p, const uint64_t k[4]) {         \
    enum { W = 5, TBL = 1 << (W - 2) };                                                 \
    int8_t naf[260];                                                                    \
    uint64_t e[5];                                                                      \
    int len = 0, i;                                                                     \
    J tj[TBL], p2, acc;                                                                 \
    A ta[TBL];                                                                          \
    T scratch[TBL];                                                                     \
    e[0] = k[0]; e[1] = k[1]; e[2] = k[2]; e[3] = k[3]; e[4] = 0;                       \
    if (G##_jac_is_inf(p) || (e[0] | e[1] | e[2] | e[3]) == 0) {                        \
        G##_jac_set_inf(r);                                                             \
        return;                                                                         \
    }                                                                                   \
    while (e[0] | e[1] | e[2] | e[3] | e[4]) {                                          \
        int d = 0;                                                                      \
        if (e[0] & 1) {                                                                 \
            d = (int)(e[0] & ((1u << W) - 1));                                          \
            if (d >= (1 << (W - 1))) d -= (1 << W);                                     \
            if (d > 0) {                                                                \
                e[0] -= (uint64_t)d; /* low bits equal d: no borrow */                  \
            } else {                                                                    \
                uint64_t add = (uint64_t)(-d);                                          \
                for (int l = 0; l < 5 && add; l++) {                                    \
                    e[l] += add;                                                        \
                    add = (e[l] < add);                                                 \
                }                                                                       \
            }                                                                           \
        }                                                                               \
        naf[len++] = (int8_t)d;                                                         \
        for (int l = 0; l < 4; l++) e[l] = (e[l] >> 1) | (e[l + 1] << 63);              \
        e[4] >>= 1;                                                                     \
    }                                                                                   \
    tj[0] = *p;                                                                         \
    G##_jac_dbl(&p2, p);                                                                \
    for (i = 1; i < TBL; i++) G##_jac_add(&tj[i], &tj[i - 1], &p2);                     \
    G##_jac_to_aff_batch(ta, tj, TBL, scratch);                                         \
    G##_jac_set_inf(&acc);                                                              \
    for (i = len - 1; i >= 0; i--) {                                                    \
        int d = naf[i];                                                                 \
        if (!G##_jac_is_inf(&acc)) G##_jac_dbl(&acc, &acc);                             \
        if (d > 0) {                                                                    \
            G##_jac_add_mixed(&acc, &acc, &ta[(d - 1) / 2]);                            \
        } else if (d < 0) {                                                             \
            A n;                                                                        \
            G##_aff_neg(&n, &ta[(-d - 1) / 2]);                                         \
            G##_jac_add_mixed(&acc, &acc, &n);                                          \
        }                                                                               \
    }                                                                                   \
    *r = acc;                                                                           \
}                                                                                       \
                                                                                        \
/* ---- encodings ---- */                                                               \
                                                                                        \
/* x || y, canonical; all zero = infinity.  Returns a zka_status. */                    \
static ZKA_UNUSED int G##_aff_from_bytes_on_curve(A *r, const uint8_t *in) {            \
    if (zka_bytes_all_zero(in, 2 * (CB))) {                                             \
        G##_aff_set_inf(r);                                                             \
        return ZKA_OK;                                                                  \
    }                                                                                   \
    if (!G##_coord_from_bytes(&r->x, in) ||                                             \
        !G##_coord_from_bytes(&r->y, in + (CB))) {                                      \
        G##_aff_set_inf(r);                                                             \
        return ZKA_ERR_NONCANONICAL;                                                    \
    }                                                                                   \
    if (!G##_aff_on_curve(r)) {                                                         \
        G##_aff_set_inf(r);                                                             \
        return ZKA_ERR_NOT_ON_CURVE;                                                    \
    }                                                                                   \
    return ZKA_OK;                                                                      \
}                                                                                       \
                                                                                        \
static ZKA_UNUSED void G##_aff_to_bytes(uint8_t out[2 * (CB)], const A *p) {            \
    G##_coord_to_bytes(out, &p->x);                                                     \
    G##_coord_to_bytes(out + (CB), &p->y);                                              \
}                                                                                       \
                                                                                        \
/* x with flags in the top bits of the last byte: 0x80 infinity, 0x40 y is              \
   the lexicographically largest root. */                                               \
static ZKA_UNUSED void G##_aff_compress(uint8_t *out, const A *p) {                     \
    if (G##_aff_is_inf(p)) {                                                            \
        memset(out, 0, (CB));                                                           \
        out[(CB) - 1] = 0x80;                                                           \
        return;                                                                         \
    }                                                                                   \
    G##_coord_to_bytes(out, &p->x);                                                     \
    if (G##_coord_is_lex_largest(&p->y)) out[(CB) - 1] |= 0x40;                         \
}                                                                                       \
                                                                                        \
/* Returns a zka_status; on success r is on the curve (no subgroup check). */           \
static ZKA_UNUSED int G##_aff_decompress(A *r, const uint8_t *in) {                     \
    uint8_t buf[CB];                                                                    \
    unsigned flags;                                                                     \
    T rhs, b, chk;                                                                      \
    memcpy(buf, in, (CB));                                                              \
    flags = buf[(CB) - 1] & 0xC0u;                                                      \
    buf[(CB) - 1] &= 0x3Fu;                                                             \
    G##_aff_set_inf(r);                                                                 \
    if (flags & 0x80u) {                                                                \
        if ((flags & 0x40u) || !zka_bytes_all_zero(buf, (CB)))                          \
            return ZKA_ERR_ENCODING;                                                    \
        return ZKA_OK;                                                                  \
    }                                                                                   \
    if (!G##_coord_from_bytes(&r->x, buf)) {                                            \
        G##_aff_set_inf(r);                                                             \
        return ZKA_ERR_NONCANONICAL;                                                    \
    }                                                                                   \
    F##_sqr(&rhs, &r->x);                                                               \
    F##_mul(&rhs, &rhs, &r->x);                                                         \
    G##_curve_b(&b);                                                                    \
    F##_add(&rhs, &rhs, &b);                                                            \
    if (!G##_coord_sqrt(&r->y, &rhs)) {                                                 \
        G##_aff_set_inf(r);                                                             \
        return ZKA_ERR_NOT_ON_CURVE;                                                    \
    }                                                                                   \
    F##_sqr(&chk, &r->y);                                                               \
    if (!F##_eq(&chk, &rhs)) { /* defensive: a wrong root is no root */                 \
        G##_aff_set_inf(r);                                                             \
        return ZKA_ERR_NOT_ON_CURVE;                                                    \
    }                                                                                   \
    if (F##_is_zero(&r->y) && (flags & 0x40u)) {                                        \
        /* unreachable on these curves (odd order); 0 has no larger root */             \
        G##_aff_set_inf(r);                                                             \
        return ZKA_ERR_ENCODING;                                                        \
    }                                                                                   \
    if (G##_coord_is_lex_largest(&r->y) != ((flags & 0x40u) != 0))                      \
        F##_neg(&r->y, &r->y);                                                          \
    return ZKA_OK;                                                                      \
}

ZKA_GROUP_IMPL(g1, g1_aff, g1_jac, fq, fe, ZKA_G1_CB)
ZKA_GROUP_IMPL(g2, g2_aff, g2_jac, fq2, fq2, ZKA_G2_CB)

/* ------------------------------------------------------------------------ */
/* Group-specific parts.                                                    */

static ZKA_UNUSED void g1_aff_generator(g1_aff *r) {
    memcpy(r->x.v, G1_GEN_X_MONT, sizeof r->x.v);
    memcpy(r->y.v, G1_GEN_Y_MONT, sizeof r->y.v);
}

static ZKA_UNUSED void g2_aff_generator(g2_aff *r) {
    memcpy(r->x.c0.v, G2_GEN_X_MONT[0], sizeof r->x.c0.v);
    memcpy(r->x.c1.v, G2_GEN_X_MONT[1], sizeof r->x.c1.v);
    memcpy(r->y.c0.v, G2_GEN_Y_MONT[0], sizeof r->y.c0.v);
    memcpy(r->y.c1.v, G2_GEN_Y_MONT[1], sizeof r->y.c1.v);
}

/* psi(x, y) = (conj(x) * xi^((p-1)/3), conj(y) * xi^((p-1)/2)). */
static ZKA_UNUSED void g2_aff_psi(g2_aff *r, const g2_aff *p) {
    fq2 cx, cy;
    if (g2_aff_is_inf(p)) {
        g2_aff_set_inf(r);
        return;
    }
    memcpy(cx.c0.v, G2_PSI_X_MONT[0], sizeof cx.c0.v);
    memcpy(cx.c1.v, G2_PSI_X_MONT[1], sizeof cx.c1.v);
    memcpy(cy.c0.v, G2_PSI_Y_MONT[0], sizeof cy.c0.v);
    memcpy(cy.c1.v, G2_PSI_Y_MONT[1], sizeof cy.c1.v);
    {
        fq2 x, y;
        fq2_conj(&x, &p->x);
        fq2_conj(&y, &p->y);
        fq2_mul(&r->x, &x, &cx);
        fq2_mul(&r->y, &y, &cy);
    }
}

/* psi(Q) == [6x^2] Q; exact for Q on the twist (see the top of this file). */
static ZKA_UNUSED int g2_aff_in_subgroup(const g2_aff *p) {
    g2_aff ps;
    g2_jac q, lhs, rhs;
    if (g2_aff_is_inf(p)) return 1;
    g2_aff_psi(&ps, p);
    g2_jac_from_aff(&lhs, &ps);
    g2_jac_from_aff(&q, p);
    g2_jac_mul_var(&rhs, &q, BN_6X2);
    return g2_jac_eq(&lhs, &rhs);
}

static ZKA_UNUSED int g1_aff_from_bytes(g1_aff *r, const uint8_t in[64]) {
    return g1_aff_from_bytes_on_curve(r, in);
}

static ZKA_UNUSED int g2_aff_from_bytes_unchecked_subgroup(g2_aff *r, const uint8_t in[128]) {
    return g2_aff_from_bytes_on_curve(r, in);
}

static ZKA_UNUSED int g2_aff_from_bytes(g2_aff *r, const uint8_t in[128]) {
    int st = g2_aff_from_bytes_on_curve(r, in);
    if (st != ZKA_OK) return st;
    if (!g2_aff_in_subgroup(r)) {
        g2_aff_set_inf(r);
        return ZKA_ERR_NOT_IN_SUBGROUP;
    }
    return ZKA_OK;
}

/* Scalar of an exported function: canonical Fr (< r), as plain limbs. */
static ZKA_UNUSED int zka_group_scalar(uint64_t k[4], const zka_fr *s) {
    zka_load_limbs(k, s->b);
    for (int i = 3; i >= 0; i--) {
        if (k[i] < FR_MODULUS[i]) return ZKA_OK;
        if (k[i] > FR_MODULUS[i]) return ZKA_ERR_NONCANONICAL;
    }
    return ZKA_ERR_NONCANONICAL; /* k == r */
}

/* ------------------------------------------------------------------------ */
/* Exported functions (same shape for both groups).  Inputs are fully        */
/* validated (G##_aff_from_bytes: canonical, on curve, and for G2 in the     */
/* subgroup) before use; outputs are written only on success and may alias   */
/* inputs.                                                                   */

#define ZKA_GROUP_EXPORTS(G, A, J, ZT, CB)                                              \
zka_status zka_##G##_generator(ZT *out) {                                               \
    A g;                                                                                \
    if (!out) return ZKA_ERR_NULL;                                                      \
    G##_aff_generator(&g);                                                              \
    G##_aff_to_bytes(out->b, &g);                                                       \
    return ZKA_OK;                                                                      \
}                                                                                       \
                                                                                        \
zka_status zka_##G##_check(const ZT *p) {                                               \
    A a;                                                                                \
    if (!p) return ZKA_ERR_NULL;                                                        \
    return (zka_status)G##_aff_from_bytes(&a, p->b);                                    \
}                                                                                       \
                                                                                        \
zka_status zka_##G##_add(ZT *out, const ZT *a, const ZT *b) {                           \
    A pa, pb;                                                                           \
    J ja;                                                                               \
    int st;                                                                             \
    if (!out || !a || !b) return ZKA_ERR_NULL;                                          \
    if ((st = G##_aff_from_bytes(&pa, a->b)) != ZKA_OK) return (zka_status)st;          \
    if ((st = G##_aff_from_bytes(&pb, b->b)) != ZKA_OK) return (zka_status)st;          \
    G##_jac_from_aff(&ja, &pa);                                                         \
    G##_jac_add_mixed(&ja, &ja, &pb);                                                   \
    G##_jac_to_aff(&pa, &ja);                                                           \
    G##_aff_to_bytes(out->b, &pa);                                                      \
    return ZKA_OK;                                                                      \
}                                                                                       \
                                                                                        \
zka_status zka_##G##_double(ZT *out, const ZT *a) {                                     \
    A pa;                                                                               \
    J ja;                                                                               \
    int st;                                                                             \
    if (!out || !a) return ZKA_ERR_NULL;                                                \
    if ((st = G##_aff_from_bytes(&pa, a->b)) != ZKA_OK) return (zka_status)st;          \
    G##_jac_from_aff(&ja, &pa);                                                         \
    G##_jac_dbl(&ja, &ja);                                                              \
    G##_jac_to_aff(&pa, &ja);                                                           \
    G##_aff_to_bytes(out->b, &pa);                                                      \
    return ZKA_OK;                                                                      \
}                                                                                       \
                                                                                        \
zka_status zka_##G##_neg(ZT *out, const ZT *a) {                                        \
    A pa;                                                                               \
    int st;                                                                             \
    if (!out || !a) return ZKA_ERR_NULL;                                                \
    if ((st = G##_aff_from_bytes(&pa, a->b)) != ZKA_OK) return (zka_status)st;          \
    G##_aff_neg(&pa, &pa);                                                              \
    G##_aff_to_bytes(out->b, &pa);                                                      \
    return ZKA_OK;                                                                      \
}                                                                                       \
                                                                                        \
zka_status zka_##G##_mul_var(ZT *out, const ZT *p, const zka_fr *k) {                   \
    A pa;                                                                               \
    J jp;                                                                               \
    uint64_t kl[4];                                                                     \
    int st;                                                                             \
    if (!out || !p || !k) return ZKA_ERR_NULL;                                          \
    if ((st = G##_aff_from_bytes(&pa, p->b)) != ZKA_OK) return (zka_status)st;          \
    if ((st = zka_group_scalar(kl, k)) != ZKA_OK) return (zka_status)st;                \
    G##_jac_from_aff(&jp, &pa);                                                         \
    G##_jac_mul_var(&jp, &jp, kl);                                                      \
    G##_jac_to_aff(&pa, &jp);                                                           \
    G##_aff_to_bytes(out->b, &pa);                                                      \
    return ZKA_OK;                                                                      \
}                                                                                       \
                                                                                        \
zka_status zka_##G##_compress(uint8_t *out, size_t out_len, const ZT *p) {              \
    A pa;                                                                               \
    int st;                                                                             \
    if (!out || !p) return ZKA_ERR_NULL;                                                \
    if (out_len != (CB)) return ZKA_ERR_LENGTH;                                         \
    if ((st = G##_aff_from_bytes(&pa, p->b)) != ZKA_OK) return (zka_status)st;          \
    G##_aff_compress(out, &pa);                                                         \
    return ZKA_OK;                                                                      \
}

ZKA_GROUP_EXPORTS(g1, g1_aff, g1_jac, zka_g1, ZKA_G1_CB)
ZKA_GROUP_EXPORTS(g2, g2_aff, g2_jac, zka_g2, ZKA_G2_CB)

zka_status zka_g1_decompress(zka_g1 *out, const uint8_t *in, size_t in_len) {
    g1_aff pa;
    int st;
    if (!out || !in) return ZKA_ERR_NULL;
    if (in_len != ZKA_G1_COMPRESSED_BYTES) return ZKA_ERR_LENGTH;
    if ((st = g1_aff_decompress(&pa, in)) != ZKA_OK) return (zka_status)st;
    g1_aff_to_bytes(out->b, &pa); /* cofactor 1: on curve = in G1 */
    return ZKA_OK;
}

zka_status zka_g2_decompress(zka_g2 *out, const uint8_t *in, size_t in_len) {
    g2_aff pa;
    int st;
    if (!out || !in) return ZKA_ERR_NULL;
    if (in_len != ZKA_G2_COMPRESSED_BYTES) return ZKA_ERR_LENGTH;
    if ((st = g2_aff_decompress(&pa, in)) != ZKA_OK) return (zka_status)st;
    if (!g2_aff_in_subgroup(&pa)) return ZKA_ERR_NOT_IN_SUBGROUP;
    g2_aff_to_bytes(out->b, &pa);
    return ZKA_OK;
}

zka_status zka_g2_check_on_curve(const zka_g2 *p) {
    g2_aff a;
    if (!p) return ZKA_ERR_NULL;
    return (zka_status)g2_aff_from_bytes_unchecked_subgroup(&a, p->b);
}

/* The header says "assumes p already on curve"; we still decode it, and an
   encoding that is non-canonical or off the curve gets that status (the psi
   criterion is only meaningful on the curve). */
zka_status zka_g2_in_subgroup(const zka_g2 *p) {
    g2_aff a;
    int st;
    if (!p) return ZKA_ERR_NULL;
    if ((st = g2_aff_from_bytes_unchecked_subgroup(&a, p->b)) != ZKA_OK) return (zka_status)st;
    return g2_aff_in_subgroup(&a) ? ZKA_OK : ZKA_ERR_NOT_IN_SUBGROUP;
}

#endif /* ZKA_GROUP_IMPL_H */
