/* tower_impl.h - Fq2, Fq6, Fq12 (contract: tower.h).
 *   Fq2  = Fq[u]/(u^2 + 1)
 *   Fq6  = Fq2[v]/(v^3 - xi), xi = 9 + u
 *   Fq12 = Fq6[w]/(w^2 - v)
 * Frobenius coefficients come from constants.h (FQ12_FROB_GAMMA_MONT), generated
 * by native/gen/gen_constants.py. */
#ifndef ZKA_TOWER_IMPL_H
#define ZKA_TOWER_IMPL_H
#include <string.h>

/* fq2 and the generated uint64_t[2][4] constants share one layout. */
typedef char zka_fq2_layout_check[(sizeof(fq2) == sizeof(uint64_t[2][4])) ? 1 : -1];

static ZKA_UNUSED void fq2_from_const(fq2 *r, const uint64_t c[2][4]) {
    memcpy(r->c0.v, c[0], sizeof r->c0.v);
    memcpy(r->c1.v, c[1], sizeof r->c1.v);
}

/* ------------------------------------------------------------------ Fq2 */

static ZKA_UNUSED void fq2_set_zero(fq2 *r) { fq_set_zero(&r->c0); fq_set_zero(&r->c1); }
static ZKA_UNUSED void fq2_set_one(fq2 *r) { fq_set_one(&r->c0); fq_set_zero(&r->c1); }
static ZKA_UNUSED int fq2_is_zero(const fq2 *a) { return fq_is_zero(&a->c0) & fq_is_zero(&a->c1); }
static ZKA_UNUSED int fq2_eq(const fq2 *a, const fq2 *b) {
    return fq_eq(&a->c0, &b->c0) & fq_eq(&a->c1, &b->c1);
}
static ZKA_UNUSED void fq2_add(fq2 *r, const fq2 *a, const fq2 *b) {
    fq_add(&r->c0, &a->c0, &b->c0);
    fq_add(&r->c1, &a->c1, &b->c1);
}
static ZKA_UNUSED void fq2_sub(fq2 *r, const fq2 *a, const fq2 *b) {
    fq_sub(&r->c0, &a->c0, &b->c0);
    fq_sub(&r->c1, &a->c1, &b->c1);
}
static ZKA_UNUSED void fq2_neg(fq2 *r, const fq2 *a) {
    fq_neg(&r->c0, &a->c0);
    fq_neg(&r->c1, &a->c1);
}
static ZKA_UNUSED void fq2_dbl(fq2 *r, const fq2 *a) {
    fq_dbl(&r->c0, &a->c0);
    fq_dbl(&r->c1, &a->c1);
}
static ZKA_UNUSED void fq2_conj(fq2 *r, const fq2 *a) {
    r->c0 = a->c0;
    fq_neg(&r->c1, &a->c1);
}
/* Karatsuba: 3 multiplications. */
static ZKA_UNUSED void fq2_mul(fq2 *r, const fq2 *a, const fq2 *b) {
    fe v0, v1, s, t;
    fq_mul(&v0, &a->c0, &b->c0);
    fq_mul(&v1, &a->c1, &b->c1);
    fq_add(&s, &a->c0, &a->c1);
    fq_add(&t, &b->c0, &b->c1);
    fq_mul(&s, &s, &t);
    fq_sub(&s, &s, &v0);
    fq_sub(&r->c1, &s, &v1);
    fq_sub(&r->c0, &v0, &v1);
}
/* (a0 + a1 u)^2 = (a0 + a1)(a0 - a1) + 2 a0 a1 u: 2 multiplications. */
static ZKA_UNUSED void fq2_sqr(fq2 *r, const fq2 *a) {
    fe s, d, m;
    fq_add(&s, &a->c0, &a->c1);
    fq_sub(&d, &a->c0, &a->c1);
    fq_mul(&m, &a->c0, &a->c1);
    fq_mul(&r->c0, &s, &d);
    fq_dbl(&r->c1, &m);
}
static ZKA_UNUSED void fq2_mul_fq(fq2 *r, const fq2 *a, const fe *b) {
    fq_mul(&r->c0, &a->c0, b);
    fq_mul(&r->c1, &a->c1, b);
}
/* (a0 + a1 u)(9 + u) = (9 a0 - a1) + (a0 + 9 a1) u */
static ZKA_UNUSED void fq2_mul_xi(fq2 *r, const fq2 *a) {
    fe t0, t1;
    fq_dbl(&t0, &a->c0);
    fq_dbl(&t0, &t0);
    fq_dbl(&t0, &t0);
    fq_add(&t0, &t0, &a->c0); /* 9 a0 */
    fq_dbl(&t1, &a->c1);
    fq_dbl(&t1, &t1);
    fq_dbl(&t1, &t1);
    fq_add(&t1, &t1, &a->c1); /* 9 a1 */
    fq_sub(&t0, &t0, &a->c1);
    fq_add(&r->c1, &t1, &a->c0);
    r->c0 = t0;
}
static ZKA_UNUSED int fq2_inv(fq2 *r, const fq2 *a) {
    fe n, t;
    fq_sqr(&n, &a->c0);
    fq_sqr(&t, &a->c1);
    fq_add(&n, &n, &t);
    int ok = fq_inv(&n, &n); /* a0^2 + a1^2 = 0 only for a = 0 (-1 is a non-residue) */
    fq_mul(&r->c0, &a->c0, &n);
    fq_mul(&t, &a->c1, &n);
    fq_neg(&r->c1, &t);
    return ok;
}
static ZKA_UNUSED int fq2_batch_inv(fq2 *r, const fq2 *a, size_t n, fq2 *scratch) {
    fq2 acc, inv, t;
    int all = 1;
    fq2_set_one(&acc);
    for (size_t i = 0; i < n; i++) {
        scratch[i] = acc;
        if (fq2_is_zero(&a[i])) all = 0;
        else fq2_mul(&acc, &acc, &a[i]);
    }
    fq2_inv(&inv, &acc);
    for (size_t i = n; i-- > 0;) {
        if (fq2_is_zero(&a[i])) continue;
        fq2_mul(&t, &inv, &scratch[i]);
        fq2_mul(&inv, &inv, &a[i]);
        r[i] = t;
    }
    if (r != a)
        for (size_t i = 0; i < n; i++)
            if (fq2_is_zero(&a[i])) fq2_set_zero(&r[i]);
    return all;
}
/* r = a^e, e plain little-endian limbs; 4-bit fixed window (variable time in e). */
static ZKA_UNUSED void fq2_pow_limbs(fq2 *r, const fq2 *a, const uint64_t *e, size_t nlimbs) {
    fq2 tab[16], acc;
    int started = 0;
    fq2_set_one(&tab[0]);
    tab[1] = *a;
    for (int i = 2; i < 16; i++) fq2_mul(&tab[i], &tab[i - 1], a);
    fq2_set_one(&acc);
    for (size_t k = 16 * nlimbs; k-- > 0;) {
        unsigned nib = (unsigned)(e[k >> 4] >> (4 * (k & 15))) & 15;
        if (started) {
            fq2_sqr(&acc, &acc);
            fq2_sqr(&acc, &acc);
            fq2_sqr(&acc, &acc);
            fq2_sqr(&acc, &acc);
            if (nib) fq2_mul(&acc, &acc, &tab[nib]);
        } else if (nib) {
            acc = tab[nib];
            started = 1;
        }
    }
    *r = acc;
}
/* Square root for p = 3 mod 4 (Adj and Rodriguez-Henriquez, "Square root
   computation over even extension fields", Algorithm 9), result verified. */
static ZKA_UNUSED int fq2_sqrt(fq2 *r, const fq2 *a) {
    fq2 a1, alpha, x0, x, c;
    fq2_pow_limbs(&a1, a, FQ_P_MINUS_3_DIV_4, 4);
    fq2_sqr(&alpha, &a1);
    fq2_mul(&alpha, &alpha, a);
    fq2_mul(&x0, &a1, a);
    fq2 minus_one;
    fq2_set_one(&minus_one);
    fq_neg(&minus_one.c0, &minus_one.c0);
    if (fq2_eq(&alpha, &minus_one)) {
        /* x = u * x0 = -x0.c1 + x0.c0 u */
        fq_neg(&x.c0, &x0.c1);
        x.c1 = x0.c0;
    } else {
        fq2 b;
        fq2_set_one(&b);
        fq2_add(&b, &b, &alpha);
        fq2_pow_limbs(&b, &b, FQ_P_MINUS_1_DIV_2, 4);
        fq2_mul(&x, &b, &x0);
    }
    fq2_sqr(&c, &x);
    int ok = fq2_eq(&c, a);
    *r = x;
    return ok;
}
static ZKA_UNUSED int fq2_is_lex_largest(const fq2 *a) {
    if (!fq_is_zero(&a->c1)) return fq_is_lex_largest(&a->c1);
    return fq_is_lex_largest(&a->c0);
}
static ZKA_UNUSED void fq2_frobenius(fq2 *r, const fq2 *a) { fq2_conj(r, a); }

/* canonical bytes c0 || c1 */
static ZKA_UNUSED int fq2_from_bytes(fq2 *r, const uint8_t in[64]) {
    int ok0 = fq_from_bytes(&r->c0, in);
    int ok1 = fq_from_bytes(&r->c1, in + 32);
    return ok0 & ok1;
}
static ZKA_UNUSED void fq2_to_bytes(uint8_t out[64], const fq2 *a) {
    fq_to_bytes(out, &a->c0);
    fq_to_bytes(out + 32, &a->c1);
}

/* a * gamma_{power,k} after the Fq2 Frobenius of a (conjugation for odd powers) */
static ZKA_UNUSED void fq2_frob_coeff(fq2 *r, const fq2 *a, unsigned power, unsigned k) {
    fq2 g, t;
    power %= 12;
    if (power & 1) fq2_conj(&t, a);
    else t = *a;
    if (k == 0) { *r = t; return; }
    fq2_from_const(&g, FQ12_FROB_GAMMA_MONT[power][k]);
    if (power & 1) fq2_mul(r, &t, &g);
    else fq2_mul_fq(r, &t, &g.c0); /* even powers: gamma in Fq */
}

/* ------------------------------------------------------------------ Fq6 */

static ZKA_UNUSED void fq6_set_zero(fq6 *r) {
    fq2_set_zero(&r->c0);
    fq2_set_zero(&r->c1);
    fq2_set_zero(&r->c2);
}
static ZKA_UNUSED void fq6_set_one(fq6 *r) {
    fq2_set_one(&r->c0);
    fq2_set_zero(&r->c1);
    fq2_set_zero(&r->c2);
}
static ZKA_UNUSED int fq6_is_zero(const fq6 *a) {
    return fq2_is_zero(&a->c0) & fq2_is_zero(&a->c1) & fq2_is_zero(&a->c2);
}
static ZKA_UNUSED int fq6_eq(const fq6 *a, const fq6 *b) {
    return fq2_eq(&a->c0, &b->c0) & fq2_eq(&a->c1, &b->c1) & fq2_eq(&a->c2, &b->c2);
}
static ZKA_UNUSED void fq6_add(fq6 *r, const fq6 *a, const fq6 *b) {
    fq2_add(&r->c0, &a->c0, &b->c0);
    fq2_add(&r->c1, &a->c1, &b->c1);
    fq2_add(&r->c2, &a->c2, &b->c2);
}
static ZKA_UNUSED void fq6_sub(fq6 *r, const fq6 *a, const fq6 *b) {
    fq2_sub(&r->c0, &a->c0, &b->c0);
    fq2_sub(&r->c1, &a->c1, &b->c1);
    fq2_sub(&r->c2, &a->c2, &b->c2);
}
static ZKA_UNUSED void fq6_neg(fq6 *r, const fq6 *a) {
    fq2_neg(&r->c0, &a->c0);
    fq2_neg(&r->c1, &a->c1);
    fq2_neg(&r->c2, &a->c2);
}
/* Karatsuba over Fq2: 6 Fq2 multiplications. */
static ZKA_UNUSED void fq6_mul(fq6 *r, const fq6 *a, const fq6 *b) {
    fq2 v0, v1, v2, s, t, c0, c1, c2;
    fq2_mul(&v0, &a->c0, &b->c0);
    fq2_mul(&v1, &a->c1, &b->c1);
    fq2_mul(&v2, &a->c2, &b->c2);
    /* c0 = v0 + xi ((a1 + a2)(b1 + b2) - v1 - v2) */
    fq2_add(&s, &a->c1, &a->c2);
    fq2_add(&t, &b->c1, &b->c2);
    fq2_mul(&s, &s, &t);
    fq2_sub(&s, &s, &v1);
    fq2_sub(&s, &s, &v2);
    fq2_mul_xi(&s, &s);
    fq2_add(&c0, &s, &v0);
    /* c1 = (a0 + a1)(b0 + b1) - v0 - v1 + xi v2 */
    fq2_add(&s, &a->c0, &a->c1);
    fq2_add(&t, &b->c0, &b->c1);
    fq2_mul(&s, &s, &t);
    fq2_sub(&s, &s, &v0);
    fq2_sub(&s, &s, &v1);
    fq2_mul_xi(&t, &v2);
    fq2_add(&c1, &s, &t);
    /* c2 = (a0 + a2)(b0 + b2) - v0 - v2 + v1 */
    fq2_add(&s, &a->c0, &a->c2);
    fq2_add(&t, &b->c0, &b->c2);
    fq2_mul(&s, &s, &t);
    fq2_sub(&s, &s, &v0);
    fq2_sub(&s, &s, &v2);
    fq2_add(&c2, &s, &v1);
    r->c0 = c0;
    r->c1 = c1;
    r->c2 = c2;
}
/* Chung-Hasan SQR2: 2 Fq2 multiplications and 3 squarings. */
static ZKA_UNUSED void fq6_sqr(fq6 *r, const fq6 *a) {
    fq2 s0, s1, s2, s3, s4, t;
    fq2_sqr(&s0, &a->c0);
    fq2_mul(&s1, &a->c0, &a->c1);
    fq2_dbl(&s1, &s1);
    fq2_sub(&t, &a->c0, &a->c1);
    fq2_add(&t, &t, &a->c2);
    fq2_sqr(&s2, &t);
    fq2_mul(&s3, &a->c1, &a->c2);
    fq2_dbl(&s3, &s3);
    fq2_sqr(&s4, &a->c2);
    /* c2 = s1 + s2 + s3 - s0 - s4 */
    fq2_add(&t, &s1, &s2);
    fq2_add(&t, &t, &s3);
    fq2_sub(&t, &t, &s0);
    fq2_sub(&r->c2, &t, &s4);
    /* c1 = s1 + xi s4 */
    fq2_mul_xi(&s4, &s4);
    fq2_add(&r->c1, &s1, &s4);
    /* c0 = s0 + xi s3 */
    fq2_mul_xi(&s3, &s3);
    fq2_add(&r->c0, &s0, &s3);
}
/* (a0 + a1 v + a2 v^2) v = xi a2 + a0 v + a1 v^2 */
static ZKA_UNUSED void fq6_mul_v(fq6 *r, const fq6 *a) {
    fq2 t;
    fq2_mul_xi(&t, &a->c2);
    r->c2 = a->c1;
    r->c1 = a->c0;
    r->c0 = t;
}
static ZKA_UNUSED void fq6_mul_fq2(fq6 *r, const fq6 *a, const fq2 *b) {
    fq2_mul(&r->c0, &a->c0, b);
    fq2_mul(&r->c1, &a->c1, b);
    fq2_mul(&r->c2, &a->c2, b);
}
static ZKA_UNUSED int fq6_inv(fq6 *r, const fq6 *a) {
    fq2 t0, t1, t2, s, d;
    /* t0 = a0^2 - xi a1 a2 */
    fq2_sqr(&t0, &a->c0);
    fq2_mul(&s, &a->c1, &a->c2);
    fq2_mul_xi(&s, &s);
    fq2_sub(&t0, &t0, &s);
    /* t1 = xi a2^2 - a0 a1 */
    fq2_sqr(&t1, &a->c2);
    fq2_mul_xi(&t1, &t1);
    fq2_mul(&s, &a->c0, &a->c1);
    fq2_sub(&t1, &t1, &s);
    /* t2 = a1^2 - a0 a2 */
    fq2_sqr(&t2, &a->c1);
    fq2_mul(&s, &a->c0, &a->c2);
    fq2_sub(&t2, &t2, &s);
    /* d = a0 t0 + xi (a2 t1 + a1 t2) */
    fq2_mul(&d, &a->c2, &t1);
    fq2_mul(&s, &a->c1, &t2);
    fq2_add(&d, &d, &s);
    fq2_mul_xi(&d, &d);
    fq2_mul(&s, &a->c0, &t0);
    fq2_add(&d, &d, &s);
    int ok = fq2_inv(&d, &d);
    fq2_mul(&r->c0, &t0, &d);
    fq2_mul(&r->c1, &t1, &d);
    fq2_mul(&r->c2, &t2, &d);
    return ok;
}
/* a^(p^power): v^(p^i) = gamma_{i,2} v, (v^2)^(p^i) = gamma_{i,4} v^2 */
static ZKA_UNUSED void fq6_frobenius(fq6 *r, const fq6 *a, unsigned power) {
    fq2_frob_coeff(&r->c0, &a->c0, power, 0);
    fq2_frob_coeff(&r->c1, &a->c1, power, 2);
    fq2_frob_coeff(&r->c2, &a->c2, power, 4);
}
static ZKA_UNUSED int fq6_from_bytes(fq6 *r, const uint8_t in[192]) {
    int ok = fq2_from_bytes(&r->c0, in);
    ok &= fq2_from_bytes(&r->c1, in + 64);
    ok &= fq2_from_bytes(&r->c2, in + 128);
    return ok;
}
static ZKA_UNUSED void fq6_to_bytes(uint8_t out[192], const fq6 *a) {
    fq2_to_bytes(out, &a->c0);
    fq2_to_bytes(out + 64, &a->c1);
    fq2_to_bytes(out + 128, &a->c2);
}

/* ----------------------------------------------------------------- Fq12 */

static ZKA_UNUSED void fq12_set_zero(fq12 *r) { fq6_set_zero(&r->c0); fq6_set_zero(&r->c1); }
static ZKA_UNUSED void fq12_set_one(fq12 *r) { fq6_set_one(&r->c0); fq6_set_zero(&r->c1); }
static ZKA_UNUSED int fq12_eq(const fq12 *a, const fq12 *b) {
    return fq6_eq(&a->c0, &b->c0) & fq6_eq(&a->c1, &b->c1);
}
static ZKA_UNUSED int fq12_is_one(const fq12 *a) {
    fq12 one;
    fq12_set_one(&one);
    return fq12_eq(a, &one);
}
static ZKA_UNUSED void fq12_add(fq12 *r, const fq12 *a, const fq12 *b) {
    fq6_add(&r->c0, &a->c0, &b->c0);
    fq6_add(&r->c1, &a->c1, &b->c1);
}
static ZKA_UNUSED void fq12_sub(fq12 *r, const fq12 *a, const fq12 *b) {
    fq6_sub(&r->c0, &a->c0, &b->c0);
    fq6_sub(&r->c1, &a->c1, &b->c1);
}
/* Karatsuba over Fq6: 3 Fq6 multiplications. */
static ZKA_UNUSED void fq12_mul(fq12 *r, const fq12 *a, const fq12 *b) {
    fq6 v0, v1, s, t;
    fq6_mul(&v0, &a->c0, &b->c0);
    fq6_mul(&v1, &a->c1, &b->c1);
    fq6_add(&s, &a->c0, &a->c1);
    fq6_add(&t, &b->c0, &b->c1);
    fq6_mul(&s, &s, &t);
    fq6_sub(&s, &s, &v0);
    fq6_sub(&r->c1, &s, &v1);
    fq6_mul_v(&v1, &v1);
    fq6_add(&r->c0, &v0, &v1);
}
/* complex squaring: 2 Fq6 multiplications. */
static ZKA_UNUSED void fq12_sqr(fq12 *r, const fq12 *a) {
    fq6 ab, s, t;
    fq6_mul(&ab, &a->c0, &a->c1);
    fq6_add(&s, &a->c0, &a->c1);
    fq6_mul_v(&t, &a->c1);
    fq6_add(&t, &t, &a->c0);
    fq6_mul(&s, &s, &t);     /* (a0 + a1)(a0 + v a1) = a0^2 + v a1^2 + ab (1 + v) */
    fq6_sub(&s, &s, &ab);
    fq6_mul_v(&t, &ab);
    fq6_sub(&r->c0, &s, &t);
    fq6_add(&r->c1, &ab, &ab);
}
static ZKA_UNUSED int fq12_inv(fq12 *r, const fq12 *a) {
    fq6 t0, t1;
    fq6_sqr(&t0, &a->c0);
    fq6_sqr(&t1, &a->c1);
    fq6_mul_v(&t1, &t1);
    fq6_sub(&t0, &t0, &t1);
    int ok = fq6_inv(&t0, &t0);
    fq6_mul(&r->c0, &a->c0, &t0);
    fq6_mul(&t1, &a->c1, &t0);
    fq6_neg(&r->c1, &t1);
    return ok;
}
static ZKA_UNUSED void fq12_conj(fq12 *r, const fq12 *a) {
    r->c0 = a->c0;
    fq6_neg(&r->c1, &a->c1);
}
/* a^(p^power).  c0 holds the coefficients of w^0, w^2, w^4 and c1 those of
   w^1, w^3, w^5: (x w^k)^(p^i) = frob^i(x) gamma_{i,k} w^k. */
static ZKA_UNUSED void fq12_frobenius(fq12 *r, const fq12 *a, unsigned power) {
    power %= 12;
    fq2_frob_coeff(&r->c0.c0, &a->c0.c0, power, 0);
    fq2_frob_coeff(&r->c0.c1, &a->c0.c1, power, 2);
    fq2_frob_coeff(&r->c0.c2, &a->c0.c2, power, 4);
    fq2_frob_coeff(&r->c1.c0, &a->c1.c0, power, 1);
    fq2_frob_coeff(&r->c1.c1, &a->c1.c1, power, 3);
    fq2_frob_coeff(&r->c1.c2, &a->c1.c2, power, 5);
}
static ZKA_UNUSED int fq12_from_bytes(fq12 *r, const uint8_t in[384]) {
    int ok = fq6_from_bytes(&r->c0, in);
    ok &= fq6_from_bytes(&r->c1, in + 192);
    return ok;
}
static ZKA_UNUSED void fq12_to_bytes(uint8_t out[384], const fq12 *a) {
    fq6_to_bytes(out, &a->c0);
    fq6_to_bytes(out + 192, &a->c1);
}

/* ------------------------------------------------------- exported API */

#define ZKA_TOWER_BINOP(NAME, T, F, OP)                                                 \
zka_status zka_##NAME(T *out, const T *a, const T *b) {                                 \
    F x, y;                                                                             \
    if (!out || !a || !b) return ZKA_ERR_NULL;                                          \
    if (!F##_from_bytes(&x, a->b) || !F##_from_bytes(&y, b->b)) return ZKA_ERR_NONCANONICAL; \
    OP(&x, &x, &y);                                                                     \
    F##_to_bytes(out->b, &x);                                                           \
    return ZKA_OK;                                                                      \
}
#define ZKA_TOWER_UNOP(NAME, T, F, OP)                                                  \
zka_status zka_##NAME(T *out, const T *a) {                                             \
    F x;                                                                                \
    if (!out || !a) return ZKA_ERR_NULL;                                                \
    if (!F##_from_bytes(&x, a->b)) return ZKA_ERR_NONCANONICAL;                         \
    OP(&x, &x);                                                                         \
    F##_to_bytes(out->b, &x);                                                           \
    return ZKA_OK;                                                                      \
}
#define ZKA_TOWER_INV(NAME, T, F)                                                       \
zka_status zka_##NAME(T *out, const T *a) {                                             \
    F x;                                                                                \
    if (!out || !a) return ZKA_ERR_NULL;                                                \
    if (!F##_from_bytes(&x, a->b)) return ZKA_ERR_NONCANONICAL;                         \
    if (!F##_inv(&x, &x)) return ZKA_ERR_NOT_INVERTIBLE;                                \
    F##_to_bytes(out->b, &x);                                                           \
    return ZKA_OK;                                                                      \
}

ZKA_TOWER_BINOP(fq2_add, zka_fq2, fq2, fq2_add)
ZKA_TOWER_BINOP(fq2_sub, zka_fq2, fq2, fq2_sub)
ZKA_TOWER_BINOP(fq2_mul, zka_fq2, fq2, fq2_mul)
ZKA_TOWER_UNOP(fq2_sqr, zka_fq2, fq2, fq2_sqr)
ZKA_TOWER_INV(fq2_inv, zka_fq2, fq2)
ZKA_TOWER_BINOP(fq6_mul, zka_fq6, fq6, fq6_mul)
ZKA_TOWER_INV(fq6_inv, zka_fq6, fq6)
ZKA_TOWER_BINOP(fq12_mul, zka_fq12, fq12, fq12_mul)
ZKA_TOWER_UNOP(fq12_sqr, zka_fq12, fq12, fq12_sqr)
ZKA_TOWER_INV(fq12_inv, zka_fq12, fq12)
ZKA_TOWER_UNOP(fq12_conj, zka_fq12, fq12, fq12_conj)

zka_status zka_fq2_sqrt(zka_fq2 *out, const zka_fq2 *a) {
    fq2 x, s;
    if (!out || !a) return ZKA_ERR_NULL;
    if (!fq2_from_bytes(&x, a->b)) return ZKA_ERR_NONCANONICAL;
    if (!fq2_sqrt(&s, &x)) return ZKA_ERR_NO_SQRT;
    fq2_to_bytes(out->b, &s);
    return ZKA_OK;
}

zka_status zka_fq12_frobenius(zka_fq12 *out, const zka_fq12 *a, uint32_t power) {
    fq12 x;
    if (!out || !a) return ZKA_ERR_NULL;
    if (power > 11) return ZKA_ERR_PARAM;
    if (!fq12_from_bytes(&x, a->b)) return ZKA_ERR_NONCANONICAL;
    fq12_frobenius(&x, &x, power);
    fq12_to_bytes(out->b, &x);
    return ZKA_OK;
}

#endif /* ZKA_TOWER_IMPL_H */
