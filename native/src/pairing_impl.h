/* pairing_impl.h - the optimal ate pairing on BN254.
 *
 * e(P, Q) = f_{6x+2,Q}(P) * l_{[6x+2]Q, pi(Q)}(P) * l_{[6x+2]Q+pi(Q), -pi^2(Q)}(P),
 * raised to (p^12 - 1) / r.
 *
 * Miller loop.  Q lives on the D-type twist E': y^2 = x^3 + b', b' = 3/xi,
 * and is untwisted into E(Fq12) by (x, y) -> (x w^2, y w^3) (w^6 = xi).  The
 * running point T is kept in homogeneous projective coordinates (X : Y : Z),
 * x = X/Z, y = Y/Z.  Every line through T (tangent, or chord through T and an
 * affine point Q'), evaluated at P = (xP, yP) and multiplied by a factor in
 * Fq2 (which the final exponentiation removes, as it removes every element of
 * the proper subfield Fq6), has the sparse shape
 *       l = c0 * yP  +  (c1 * xP) w  +  c2 w^3,     c0, c1, c2 in Fq2,
 * where (c0, c1, c2) depend on T and Q only.  They are
 *   tangent:  (-2YZ, 3X^2, 3b'Z^2 - Y^2)
 *   chord:    (lambda, -theta, theta xQ' - lambda yQ'),
 *             theta = Y - yQ' Z, lambda = X - xQ' Z
 * (derived from l = yP - y - m (xP - x) with slope m = m' w on the untwisted
 * curve, cleared of denominators; the doubling and addition formulas are those
 * of Costello, Lange, Naehrig, "Faster pairing computations on curves with
 * high-degree twists", PKC 2010).  That is why a G2 point can be "prepared":
 * its list of (c0, c1, c2) is all the loop needs from Q.  Prepared lines are
 * further divided by c0 (one batched inversion in zka_g2_prepare) and, at
 * evaluation, by yP (one batched inversion per check), giving
 * 1 + b (xP/yP) w + c (1/yP) w^3, whose product with f costs 10 Fq2
 * multiplications instead of 13.
 *
 * The loop runs over the non-adjacent form of 6x+2 (computed here from
 * BN_6X_PLUS_2); a digit -1 adds -Q.  Lines are multiplied into f with a
 * sparse Fq12 multiplication (13 Fq2 multiplications instead of 18).  Several
 * pairs share one f and hence one squaring per step.
 *
 * Final exponentiation.  (p^12-1)/r = (p^6-1)(p^2+1) * (p^4-p^2+1)/r.  The easy
 * part costs one inversion and a Frobenius; afterwards f is in the cyclotomic
 * subgroup (f^(p^6) = f^-1), where the inverse is the conjugate and squaring is
 * the Granger-Scott formula (9 Fq2 squarings; pair_fq12_cyc_sqr).  The hard
 * part is the exact exponent (p^4-p^2+1)/r written in base p with coefficients
 * polynomial in x (Scott, Benger, Charlemagne, Dominguez Perez, Kachisa, "On
 * the final exponentiation for calculating pairings on ordinary elliptic
 * curves", Pairing 2009):
 *     l3 = 1, l2 = 6x^2 + 1, l1 = -36x^3 - 18x^2 - 12x + 1,
 *     l0 = -36x^3 - 30x^2 - 18x - 2,
 * evaluated with three exponentiations by x (width-4 NAF, cyclotomic
 * squarings) and a short vectorial addition chain.  The result equals f^((p^12-1)/r) exactly (tests compare with the
 * plain exponentiation and with py_ecc).
 *
 * Everything is variable time: the pairing inputs are public (verification).
 */
#ifndef ZKA_PAIRING_IMPL_H
#define ZKA_PAIRING_IMPL_H

#include <stdlib.h>
#include <string.h>

/* One line: l = c0*yP + (c1*xP) w + c2 w^3. */
typedef struct { fq2 c0, c1, c2; } pair_line;

/* T in homogeneous projective coordinates. */
typedef struct { fq2 X, Y, Z; } pair_g2_proj;

/* 6x+2 has 66 NAF digits: 65 doublings, 21 additions, 2 Frobenius lines. */
#define PAIR_NAF_MAX 72
#define PAIR_MAX_LINES (2 * PAIR_NAF_MAX + 2)
/* pairs sharing one Miller accumulator per pass (stack-bounded state) */
#define PAIR_CHUNK 8

/* A prepared line, scaled so that c0 = 1: l / c0 = yP + (b xP) w + c w^3.
   Divided further by yP at evaluation time it is 1 + b (xP/yP) w + (c/yP) w^3,
   which multiplies into f with 10 Fq2 multiplications (pair_fq12_mul_by_1_34). */
typedef struct { fq2 b, c; } pair_pline;

struct zka_g2_prepared {
    uint32_t magic;
    uint32_t is_inf;
    uint32_t nlines;
    pair_pline lines[PAIR_MAX_LINES];
};
#define PAIR_PREPARED_MAGIC 0x7a6b6732u /* "zkg2" */

/* ------------------------------------------------------------ helpers */

/* Non-adjacent form of a little-endian multi-limb integer; digits[i] is the
   coefficient of 2^i.  Returns the number of digits (0 for 0). */
static size_t pair_naf(int8_t *digits, size_t max, const uint64_t *limbs, size_t nlimbs) {
    uint64_t k[5] = {0, 0, 0, 0, 0};
    size_t n = 0;
    memcpy(k, limbs, nlimbs * sizeof(uint64_t));
    for (;;) {
        int nz = 0;
        for (size_t i = 0; i < 5; i++) nz |= k[i] != 0;
        if (!nz || n >= max) break;
        int8_t d = 0;
        if (k[0] & 1) {
            d = (k[0] & 2) ? -1 : 1;
            if (d == 1) {
                k[0] -= 1; /* k odd: no borrow */
            } else {
                for (size_t i = 0; i < 5; i++) /* k += 1 */
                    if (++k[i] != 0) break;
            }
        }
        digits[n++] = d;
        for (size_t i = 0; i < 4; i++) k[i] = (k[i] >> 1) | (k[i + 1] << 63);
        k[4] >>= 1;
    }
    return n;
}

/* r = a / 2 mod p (Montgomery form is preserved: (a/2) R = (a R) / 2). */
static void pair_fq_half(fe *r, const fe *a) {
    uint64_t mask = 0 - (a->v[0] & 1), t[4], carry = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t m = FQ_MODULUS[i] & mask;
        uint64_t s = a->v[i] + m;
        uint64_t c1 = s < m;
        uint64_t s2 = s + carry;
        uint64_t c2 = s2 < carry;
        t[i] = s2;
        carry = c1 | c2;
    }
    /* a + p < 2^255, so carry == 0 here */
    for (int i = 0; i < 3; i++) r->v[i] = (t[i] >> 1) | (t[i + 1] << 63);
    r->v[3] = (t[3] >> 1) | (carry << 63);
}

static void pair_fq2_half(fq2 *r, const fq2 *a) {
    pair_fq_half(&r->c0, &a->c0);
    pair_fq_half(&r->c1, &a->c1);
}

static void pair_fq2_const(fq2 *r, const uint64_t c[2][4]) {
    memcpy(r->c0.v, c[0], sizeof r->c0.v);
    memcpy(r->c1.v, c[1], sizeof r->c1.v);
}

/* Fq6 times (b0 + b1 v): 5 Fq2 multiplications. */
static void pair_fq6_mul_by_01(fq6 *r, const fq6 *a, const fq2 *b0, const fq2 *b1) {
    fq2 t0, t1, s, u, c0, c1, c2;
    fq2_mul(&t0, &a->c0, b0);
    fq2_mul(&t1, &a->c1, b1);
    /* c0 = t0 + xi * a2 b1,  a2 b1 = (a1 + a2) b1 - t1 */
    fq2_add(&s, &a->c1, &a->c2);
    fq2_mul(&u, &s, b1);
    fq2_sub(&u, &u, &t1);
    fq2_mul_xi(&u, &u);
    fq2_add(&c0, &u, &t0);
    /* c1 = (a0 + a1)(b0 + b1) - t0 - t1 */
    fq2_add(&s, &a->c0, &a->c1);
    fq2_add(&u, b0, b1);
    fq2_mul(&c1, &s, &u);
    fq2_sub(&c1, &c1, &t0);
    fq2_sub(&c1, &c1, &t1);
    /* c2 = (a0 + a2) b0 - t0 + t1 = a2 b0 + a1 b1 */
    fq2_add(&s, &a->c0, &a->c2);
    fq2_mul(&c2, &s, b0);
    fq2_sub(&c2, &c2, &t0);
    fq2_add(&c2, &c2, &t1);
    r->c0 = c0;
    r->c1 = c1;
    r->c2 = c2;
}

/* f *= (a + b w + c w^3), i.e. Fq6 parts l0 = (a, 0, 0), l1 = (b, c, 0). */
static void pair_fq12_mul_by_034(fq12 *f, const fq2 *a, const fq2 *b, const fq2 *c) {
    fq6 t0, t1, s;
    fq2 ab;
    fq2_mul(&t0.c0, &f->c0.c0, a);
    fq2_mul(&t0.c1, &f->c0.c1, a);
    fq2_mul(&t0.c2, &f->c0.c2, a);
    pair_fq6_mul_by_01(&t1, &f->c1, b, c);
    fq6_add(&s, &f->c0, &f->c1);
    fq2_add(&ab, a, b);
    pair_fq6_mul_by_01(&s, &s, &ab, c);
    fq6_sub(&s, &s, &t0);
    fq6_sub(&f->c1, &s, &t1);
    fq6_mul_v(&t1, &t1);
    fq6_add(&f->c0, &t0, &t1);
}

/* f *= (1 + b w + c w^3): f0 + v f1 l1 + (f1 + f0 l1) w with l1 = (b, c, 0). */
static void pair_fq12_mul_by_1_34(fq12 *f, const fq2 *b, const fq2 *c) {
    fq6 t0, t1;
    pair_fq6_mul_by_01(&t0, &f->c0, b, c);
    pair_fq6_mul_by_01(&t1, &f->c1, b, c);
    fq6_add(&f->c1, &f->c1, &t0);
    fq6_mul_v(&t1, &t1);
    fq6_add(&f->c0, &f->c0, &t1);
}

/* f *= prepared line at P, given xu = xP/yP and u = 1/yP. */
static void pair_mul_pline(fq12 *f, const pair_pline *l, const fe *xu, const fe *u) {
    fq2 b, c;
    fq2_mul_fq(&b, &l->b, xu);
    fq2_mul_fq(&c, &l->c, u);
    pair_fq12_mul_by_1_34(f, &b, &c);
}

/* f *= line evaluated at P. */
static void pair_mul_line(fq12 *f, const pair_line *l, const fe *xP, const fe *yP) {
    fq2 a, b;
    fq2_mul_fq(&a, &l->c0, yP);
    fq2_mul_fq(&b, &l->c1, xP);
    pair_fq12_mul_by_034(f, &a, &b, &l->c2);
}

/* (a0 + a1 s)^2 in Fq4 = Fq2[s]/(s^2 - xi). */
static void pair_fq4_sqr(fq2 *r0, fq2 *r1, const fq2 *a0, const fq2 *a1) {
    fq2 t0, t1, s;
    fq2_sqr(&t0, a0);
    fq2_sqr(&t1, a1);
    fq2_add(&s, a0, a1);
    fq2_sqr(&s, &s);
    fq2_sub(&s, &s, &t0);
    fq2_sub(r1, &s, &t1);
    fq2_mul_xi(&t1, &t1);
    fq2_add(r0, &t0, &t1);
}

/* r = 3t - 2c (add = 0) or 3t + 2c (add = 1). */
static void pair_3t_2c(fq2 *r, const fq2 *t, const fq2 *c, int add) {
    fq2 u;
    if (add) fq2_add(&u, t, c);
    else fq2_sub(&u, t, c);
    fq2_dbl(&u, &u);
    fq2_add(r, &u, t);
}

/* Granger-Scott squaring in the cyclotomic subgroup (a^(p^6+1) = 1).
   View Fq12 = Fq4[w]/(w^3 - s), s = w^3, a = A0 + A1 w + A2 w^2 with
   A0 = c0.c0 + c1.c1 s, A1 = c1.c0 + c0.c2 s, A2 = c0.c1 + c1.c2 s; then
   a^2 = (3A0^2 - 2conj(A0)) + (3s A2^2 + 2conj(A1)) w + (3A1^2 - 2conj(A2)) w^2,
   conj(a0 + a1 s) = a0 - a1 s.  Only valid for cyclotomic a. */
static void pair_fq12_cyc_sqr(fq12 *r, const fq12 *a) {
    fq2 t00, t01, t10, t11, t20, t21, s0;
    pair_fq4_sqr(&t00, &t01, &a->c0.c0, &a->c1.c1);
    pair_fq4_sqr(&t10, &t11, &a->c1.c0, &a->c0.c2);
    pair_fq4_sqr(&t20, &t21, &a->c0.c1, &a->c1.c2);
    fq2_mul_xi(&s0, &t21);
    /* s A2^2 = (xi t21) + t20 s */
    pair_3t_2c(&r->c0.c0, &t00, &a->c0.c0, 0);
    pair_3t_2c(&r->c1.c1, &t01, &a->c1.c1, 1);
    pair_3t_2c(&r->c1.c0, &s0, &a->c1.c0, 1);
    pair_3t_2c(&r->c0.c2, &t20, &a->c0.c2, 0);
    pair_3t_2c(&r->c0.c1, &t10, &a->c0.c1, 0);
    pair_3t_2c(&r->c1.c2, &t11, &a->c1.c2, 1);
}

/* Width-w NAF of a 64-bit integer: odd digits in (-2^(w-1), 2^(w-1)), at most
   one non-zero digit in any w consecutive positions.  Returns the length. */
static size_t pair_wnaf64(int8_t *digits, size_t max, uint64_t k, unsigned w) {
    /* k < 2^63 here (x), so k + 2^(w-1) cannot overflow */
    size_t n = 0;
    const uint64_t mask = ((uint64_t)1 << w) - 1, half = (uint64_t)1 << (w - 1);
    while (k && n < max) {
        int8_t d = 0;
        if (k & 1) {
            uint64_t m = k & mask;
            if (m >= half) {
                d = (int8_t)((int)m - (int)(mask + 1));
                k += (mask + 1) - m;
            } else {
                d = (int8_t)m;
                k -= m;
            }
        }
        digits[n++] = d;
        k >>= 1;
    }
    return n;
}

/* r = a^x for cyclotomic a: width-4 NAF of x (16 multiplications instead of
   the 23 of the plain NAF), a^-d = conj(a^d). */
static void pair_fq12_cyc_exp_x(fq12 *r, const fq12 *a) {
    int8_t d[PAIR_NAF_MAX];
    size_t n = pair_wnaf64(d, PAIR_NAF_MAX, BN_X, 4);
    fq12 tab[4], neg, a2, acc; /* tab[j] = a^(2j+1) */
    tab[0] = *a;
    pair_fq12_cyc_sqr(&a2, a);
    for (int j = 1; j < 4; j++) fq12_mul(&tab[j], &tab[j - 1], &a2);
    acc = tab[(d[n - 1] - 1) / 2]; /* the top digit is positive */
    for (size_t i = n - 1; i-- > 0;) {
        pair_fq12_cyc_sqr(&acc, &acc);
        if (d[i] > 0) {
            fq12_mul(&acc, &acc, &tab[(d[i] - 1) / 2]);
        } else if (d[i] < 0) {
            fq12_conj(&neg, &tab[(-d[i] - 1) / 2]);
            fq12_mul(&acc, &acc, &neg);
        }
    }
    *r = acc;
}

/* f^((p^12-1)/r); returns 0 (r = 0) when f = 0. */
static int pair_final_exp(fq12 *r, const fq12 *f) {
    fq12 t, u, fx, fx2, fx3, y0, y1, y2, y3, y4, y5, y6, t0, t1;
    /* easy part: f^((p^6-1)(p^2+1)) */
    if (!fq12_inv(&u, f)) {
        memset(r, 0, sizeof *r);
        return 0;
    }
    fq12_conj(&t, f);
    fq12_mul(&t, &t, &u);
    fq12_frobenius(&u, &t, 2);
    fq12_mul(&t, &u, &t);
    /* hard part (t is cyclotomic now) */
    pair_fq12_cyc_exp_x(&fx, &t);
    pair_fq12_cyc_exp_x(&fx2, &fx);
    pair_fq12_cyc_exp_x(&fx3, &fx2);
    fq12_frobenius(&y0, &t, 1);
    fq12_frobenius(&u, &t, 2);
    fq12_mul(&y0, &y0, &u);
    fq12_frobenius(&u, &t, 3);
    fq12_mul(&y0, &y0, &u);               /* f^(p + p^2 + p^3) */
    fq12_conj(&y1, &t);                   /* f^-1 */
    fq12_frobenius(&y2, &fx2, 2);         /* f^(x^2 p^2) */
    fq12_frobenius(&y3, &fx, 1);
    fq12_conj(&y3, &y3);                  /* f^(-x p) */
    fq12_frobenius(&u, &fx2, 1);
    fq12_mul(&y4, &fx, &u);
    fq12_conj(&y4, &y4);                  /* f^(-x - x^2 p) */
    fq12_conj(&y5, &fx2);                 /* f^(-x^2) */
    fq12_frobenius(&u, &fx3, 1);
    fq12_mul(&y6, &fx3, &u);
    fq12_conj(&y6, &y6);                  /* f^(-x^3 - x^3 p) */
    /* y0 * y1^2 * y2^6 * y3^12 * y4^18 * y5^30 * y6^36 */
    pair_fq12_cyc_sqr(&t0, &y6);
    fq12_mul(&t0, &t0, &y4);
    fq12_mul(&t0, &t0, &y5);
    fq12_mul(&t1, &y3, &y5);
    fq12_mul(&t1, &t1, &t0);
    fq12_mul(&t0, &t0, &y2);
    pair_fq12_cyc_sqr(&t1, &t1);
    fq12_mul(&t1, &t1, &t0);
    pair_fq12_cyc_sqr(&t1, &t1);
    fq12_mul(&t0, &t1, &y1);
    fq12_mul(&t1, &t1, &y0);
    pair_fq12_cyc_sqr(&t0, &t0);
    fq12_mul(r, &t0, &t1);
    return 1;
}

/* ------------------------------------------------------- line steps */

/* T <- 2T; line = tangent at T. */
static void pair_dbl_step(pair_g2_proj *T, pair_line *l) {
    fq2 a, b, c, e, f, g, h, j, b3, e2, t;
    pair_fq2_const(&b3, G2_B_MONT);
    fq2_add(&t, &b3, &b3);
    fq2_add(&b3, &t, &b3);                /* 3b' */
    fq2_mul(&a, &T->X, &T->Y);
    pair_fq2_half(&a, &a);                /* XY/2 */
    fq2_sqr(&b, &T->Y);                   /* Y^2 */
    fq2_sqr(&c, &T->Z);                   /* Z^2 */
    fq2_mul(&e, &c, &b3);                 /* 3b'Z^2 */
    fq2_dbl(&f, &e);
    fq2_add(&f, &f, &e);                  /* 9b'Z^2 */
    fq2_add(&g, &b, &f);
    pair_fq2_half(&g, &g);                /* (Y^2 + 9b'Z^2)/2 */
    fq2_add(&h, &T->Y, &T->Z);
    fq2_sqr(&h, &h);
    fq2_sub(&h, &h, &b);
    fq2_sub(&h, &h, &c);                  /* 2YZ */
    fq2_sqr(&j, &T->X);                   /* X^2 */
    fq2_sqr(&e2, &e);
    /* line */
    fq2_neg(&l->c0, &h);
    fq2_dbl(&l->c1, &j);
    fq2_add(&l->c1, &l->c1, &j);
    fq2_sub(&l->c2, &e, &b);
    /* point */
    fq2_sub(&t, &b, &f);
    fq2_mul(&T->X, &a, &t);               /* XY/2 (Y^2 - 9b'Z^2) */
    fq2_sqr(&g, &g);
    fq2_dbl(&t, &e2);
    fq2_add(&t, &t, &e2);
    fq2_sub(&T->Y, &g, &t);               /* G^2 - 27b'^2 Z^4 */
    fq2_mul(&T->Z, &b, &h);               /* 2 Y^3 Z */
}

/* T <- T + Q (Q affine, Q != +-T); line = chord through T and Q.
   update = 0 computes the line only. */
static void pair_add_step(pair_g2_proj *T, const g2_aff *q, pair_line *l, int update) {
    fq2 theta, lambda, c, d, e, f, g, h, t;
    fq2_mul(&t, &q->y, &T->Z);
    fq2_sub(&theta, &T->Y, &t);
    fq2_mul(&t, &q->x, &T->Z);
    fq2_sub(&lambda, &T->X, &t);
    /* line */
    fq2_mul(&t, &theta, &q->x);
    fq2_mul(&h, &lambda, &q->y);
    fq2_sub(&l->c2, &t, &h);
    l->c0 = lambda;
    fq2_neg(&l->c1, &theta);
    if (!update) return;
    fq2_sqr(&c, &theta);
    fq2_sqr(&d, &lambda);
    fq2_mul(&e, &lambda, &d);
    fq2_mul(&f, &T->Z, &c);
    fq2_mul(&g, &T->X, &d);
    fq2_add(&h, &e, &f);
    fq2_sub(&h, &h, &g);
    fq2_sub(&h, &h, &g);                  /* E + F - 2G */
    fq2_mul(&T->X, &lambda, &h);
    fq2_sub(&t, &g, &h);
    fq2_mul(&t, &theta, &t);
    fq2_mul(&g, &e, &T->Y);
    fq2_sub(&T->Y, &t, &g);
    fq2_mul(&T->Z, &T->Z, &e);
}

/* pi(Q) and -pi^2(Q) on the twist. */
static void pair_frobenius_points(g2_aff *q1, g2_aff *q2, const g2_aff *q) {
    fq2 g, t;
    fq2_conj(&t, &q->x);
    pair_fq2_const(&g, FQ12_FROB_GAMMA_MONT[1][2]);
    fq2_mul(&q1->x, &t, &g);
    fq2_conj(&t, &q->y);
    pair_fq2_const(&g, FQ12_FROB_GAMMA_MONT[1][3]);
    fq2_mul(&q1->y, &t, &g);
    pair_fq2_const(&g, FQ12_FROB_GAMMA_MONT[2][2]);
    fq2_mul(&q2->x, &q->x, &g);
    pair_fq2_const(&g, FQ12_FROB_GAMMA_MONT[2][3]);
    fq2_mul(&t, &q->y, &g);
    fq2_neg(&q2->y, &t);
}

/* ------------------------------------------------------- Miller loop */

/* One pair of a (multi-)Miller loop: either its prepared lines, consumed in
   order, or Q and the running T. */
typedef struct {
    fe xP, yP;
    const pair_pline *lines;  /* prepared, or NULL */
    size_t pos;
    fe xu, u;                 /* prepared: xP/yP, 1/yP (pair_states_finish) */
    g2_aff q, nq;
    pair_g2_proj T;
} pair_state;

static void pair_state_init_q(pair_state *s, const g1_aff *p, const g2_aff *q) {
    s->xP = p->x;
    s->yP = p->y;
    s->lines = NULL;
    s->pos = 0;
    s->q = *q;
    s->nq.x = q->x;
    fq2_neg(&s->nq.y, &q->y);
    s->T.X = q->x;
    s->T.Y = q->y;
    fq2_set_one(&s->T.Z);
}

static void pair_state_init_prepared(pair_state *s, const g1_aff *p, const pair_pline *lines) {
    memset(s, 0, sizeof *s);
    s->xP = p->x;
    s->yP = p->y;
    s->lines = lines;
}

/* 1/yP and xP/yP of the prepared pairs, with one inversion (yP != 0: P is
   not infinity and G1 has no point of order 2). */
static void pair_states_finish(pair_state *st, size_t n) {
    fe y[PAIR_CHUNK], scratch[PAIR_CHUNK];
    size_t m = 0, i;
    for (i = 0; i < n; i++)
        if (st[i].lines) y[m++] = st[i].yP;
    if (m == 0) return;
    fq_batch_inv(y, y, m, scratch);
    for (i = 0, m = 0; i < n; i++) {
        if (!st[i].lines) continue;
        st[i].u = y[m++];
        fq_mul(&st[i].xu, &st[i].xP, &st[i].u);
    }
}

/* f = prod over the pairs of their Miller functions (times factors in proper
   subfields).  n >= 1; every pair non-degenerate (P, Q not infinity, Q in
   G2); prepared pairs went through pair_states_finish. */
static void pair_miller_multi(fq12 *f, pair_state *st, size_t n) {
    int8_t d[PAIR_NAF_MAX];
    size_t nd = pair_naf(d, PAIR_NAF_MAX, BN_6X_PLUS_2, 4);
    pair_line tmp;
    int first = 1;
    fq12_set_one(f);
    for (size_t i = nd - 1; i-- > 0;) {
        if (!first) fq12_sqr(f, f);
        first = 0;
        for (size_t k = 0; k < n; k++) {
            pair_state *s = &st[k];
            if (s->lines) {
                pair_mul_pline(f, &s->lines[s->pos++], &s->xu, &s->u);
            } else {
                pair_dbl_step(&s->T, &tmp);
                pair_mul_line(f, &tmp, &s->xP, &s->yP);
            }
        }
        if (d[i] == 0) continue;
        for (size_t k = 0; k < n; k++) {
            pair_state *s = &st[k];
            if (s->lines) {
                pair_mul_pline(f, &s->lines[s->pos++], &s->xu, &s->u);
            } else {
                pair_add_step(&s->T, d[i] > 0 ? &s->q : &s->nq, &tmp, 1);
                pair_mul_line(f, &tmp, &s->xP, &s->yP);
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        pair_state *s = &st[k];
        if (s->lines) {
            pair_mul_pline(f, &s->lines[s->pos], &s->xu, &s->u);
            pair_mul_pline(f, &s->lines[s->pos + 1], &s->xu, &s->u);
            s->pos += 2;
        } else {
            g2_aff q1, q2;
            pair_frobenius_points(&q1, &q2, &s->q);
            pair_add_step(&s->T, &q1, &tmp, 1);
            pair_mul_line(f, &tmp, &s->xP, &s->yP);
            pair_add_step(&s->T, &q2, &tmp, 0);
            pair_mul_line(f, &tmp, &s->xP, &s->yP);
        }
    }
}

/* The line sequence of Q (not infinity, in G2), in the order the loop uses. */
static size_t pair_prepare_lines(pair_line *out, const g2_aff *q) {
    int8_t d[PAIR_NAF_MAX];
    size_t nd = pair_naf(d, PAIR_NAF_MAX, BN_6X_PLUS_2, 4), m = 0;
    pair_state s;
    g2_aff q1, q2;
    g1_aff dummy;
    memset(&dummy, 0, sizeof dummy);
    pair_state_init_q(&s, &dummy, q);
    for (size_t i = nd - 1; i-- > 0;) {
        pair_dbl_step(&s.T, &out[m++]);
        if (d[i] > 0) pair_add_step(&s.T, &s.q, &out[m++], 1);
        else if (d[i] < 0) pair_add_step(&s.T, &s.nq, &out[m++], 1);
    }
    pair_frobenius_points(&q1, &q2, &s.q);
    pair_add_step(&s.T, &q1, &out[m++], 1);
    pair_add_step(&s.T, &q2, &out[m++], 0);
    return m;
}

/* ------------------------------------------------------- encodings */

static int pair_fq12_from_bytes(fq12 *r, const uint8_t in[384]) {
    fe *c[12] = {&r->c0.c0.c0, &r->c0.c0.c1, &r->c0.c1.c0, &r->c0.c1.c1,
                 &r->c0.c2.c0, &r->c0.c2.c1, &r->c1.c0.c0, &r->c1.c0.c1,
                 &r->c1.c1.c0, &r->c1.c1.c1, &r->c1.c2.c0, &r->c1.c2.c1};
    for (int i = 0; i < 12; i++)
        if (!fq_from_bytes(c[i], in + 32 * i)) return ZKA_ERR_NONCANONICAL;
    return ZKA_OK;
}

static void pair_fq12_to_bytes(uint8_t out[384], const fq12 *a) {
    const fe *c[12] = {&a->c0.c0.c0, &a->c0.c0.c1, &a->c0.c1.c0, &a->c0.c1.c1,
                       &a->c0.c2.c0, &a->c0.c2.c1, &a->c1.c0.c0, &a->c1.c0.c1,
                       &a->c1.c1.c0, &a->c1.c1.c1, &a->c1.c2.c0, &a->c1.c2.c1};
    for (int i = 0; i < 12; i++) fq_to_bytes(out + 32 * i, c[i]);
}

/* ------------------------------------------------------- exported */

/* Decode and fully validate one pair; *skip = 1 if it contributes 1. */
static int pair_decode(g1_aff *p, g2_aff *q, int *skip, const zka_g1 *pb, const zka_g2 *qb) {
    int st = g1_aff_from_bytes(p, pb->b);
    if (st != ZKA_OK) return st;
    st = g2_aff_from_bytes(q, qb->b);
    if (st != ZKA_OK) return st;
    *skip = g1_aff_is_inf(p) || g2_aff_is_inf(q);
    return ZKA_OK;
}

static zka_status pair_miller_one(fq12 *f, const zka_g1 *p, const zka_g2 *q) {
    g1_aff pa;
    g2_aff qa;
    int skip = 0;
    int st = pair_decode(&pa, &qa, &skip, p, q);
    if (st != ZKA_OK) return (zka_status)st;
    if (skip) {
        fq12_set_one(f);
    } else {
        pair_state s;
        pair_state_init_q(&s, &pa, &qa);
        pair_miller_multi(f, &s, 1);
    }
    return ZKA_OK;
}

zka_status zka_miller_loop(zka_fq12 *out, const zka_g1 *p, const zka_g2 *q) {
    fq12 f;
    zka_status st;
    if (!out || !p || !q) return ZKA_ERR_NULL;
    st = pair_miller_one(&f, p, q);
    if (st != ZKA_OK) return st;
    pair_fq12_to_bytes(out->b, &f);
    return ZKA_OK;
}

zka_status zka_final_exponentiation(zka_fq12 *out, const zka_fq12 *f) {
    fq12 a, r;
    int st;
    if (!out || !f) return ZKA_ERR_NULL;
    st = pair_fq12_from_bytes(&a, f->b);
    if (st != ZKA_OK) return (zka_status)st;
    pair_final_exp(&r, &a); /* 0 -> 0 */
    pair_fq12_to_bytes(out->b, &r);
    return ZKA_OK;
}

zka_status zka_pairing(zka_fq12 *out, const zka_g1 *p, const zka_g2 *q) {
    fq12 f, r;
    zka_status st;
    if (!out || !p || !q) return ZKA_ERR_NULL;
    st = pair_miller_one(&f, p, q);
    if (st != ZKA_OK) return st;
    pair_final_exp(&r, &f);
    pair_fq12_to_bytes(out->b, &r);
    return ZKA_OK;
}

/* Shared body of both checks: validates every pair first, then runs the
   Miller loops in chunks of PAIR_CHUNK pairs sharing squarings, then one
   final exponentiation. */
static zka_status pair_check(int *ok, const zka_g1 *ps, const zka_g2 *qs,
                             const zka_g2_prepared *const *preps, size_t n) {
    pair_state st[PAIR_CHUNK];
    fq12 acc, f;
    size_t i, k;
    if (!ok) return ZKA_ERR_NULL;
    if (n > 0 && !ps) return ZKA_ERR_NULL;
    /* pass 1: validate everything */
    for (i = 0; i < n; i++) {
        g1_aff pa;
        int s = g1_aff_from_bytes(&pa, ps[i].b);
        if (s != ZKA_OK) return (zka_status)s;
        if (preps && preps[i]) {
            if (preps[i]->magic != PAIR_PREPARED_MAGIC) return ZKA_ERR_PARAM;
        } else {
            g2_aff qa;
            if (!qs) return ZKA_ERR_NULL;
            s = g2_aff_from_bytes(&qa, qs[i].b);
            if (s != ZKA_OK) return (zka_status)s;
        }
    }
    /* pass 2: Miller loops over the non-trivial pairs */
    fq12_set_one(&acc);
    for (i = 0, k = 0; i <= n; i++) {
        if (i < n) {
            g1_aff pa;
            g1_aff_from_bytes(&pa, ps[i].b);
            if (g1_aff_is_inf(&pa)) continue;
            if (preps && preps[i]) {
                if (preps[i]->is_inf) continue;
                pair_state_init_prepared(&st[k++], &pa, preps[i]->lines);
            } else {
                g2_aff qa;
                g2_aff_from_bytes_unchecked_subgroup(&qa, qs[i].b); /* checked above */
                if (g2_aff_is_inf(&qa)) continue;
                pair_state_init_q(&st[k++], &pa, &qa);
            }
        }
        if (k == PAIR_CHUNK || (i == n && k > 0)) {
            pair_states_finish(st, k);
            pair_miller_multi(&f, st, k);
            fq12_mul(&acc, &acc, &f);
            k = 0;
        }
    }
    pair_final_exp(&f, &acc);
    *ok = fq12_is_one(&f);
    return ZKA_OK;
}

zka_status zka_pairing_check(int *ok, const zka_g1 *ps, const zka_g2 *qs, size_t n) {
    if (n > 0 && !qs) return ZKA_ERR_NULL;
    return pair_check(ok, ps, qs, NULL, n);
}

zka_status zka_pairing_check_prepared(int *ok, const zka_g1 *ps, const zka_g2 *qs,
                                      const zka_g2_prepared *const *preps, size_t n) {
    if (n > 0 && !preps) return ZKA_ERR_NULL;
    return pair_check(ok, ps, qs, preps, n);
}

zka_status zka_g2_prepare(zka_g2_prepared **out, const zka_g2 *q) {
    g2_aff qa;
    zka_g2_prepared *p;
    pair_line *raw;
    fq2 *inv, *scratch;
    size_t n, i;
    int st;
    if (!out) return ZKA_ERR_NULL;
    *out = NULL;
    if (!q) return ZKA_ERR_NULL;
    st = g2_aff_from_bytes(&qa, q->b);
    if (st != ZKA_OK) return (zka_status)st;
    p = (zka_g2_prepared *)malloc(sizeof *p);
    raw = (pair_line *)malloc(PAIR_MAX_LINES * sizeof *raw);
    inv = (fq2 *)malloc(2 * PAIR_MAX_LINES * sizeof *inv);
    if (!p || !raw || !inv) {
        free(p);
        free(raw);
        free(inv);
        return ZKA_ERR_NOMEM;
    }
    scratch = inv + PAIR_MAX_LINES;
    memset(p, 0, sizeof *p);
    p->magic = PAIR_PREPARED_MAGIC;
    if (g2_aff_is_inf(&qa)) {
        p->is_inf = 1;
    } else {
        /* scale every line by 1/c0 (one batched inversion); c0 = -2YZ or
           X - xQ' Z is never 0 for Q in G2 (no T = +-Q' occurs) */
        n = pair_prepare_lines(raw, &qa);
        for (i = 0; i < n; i++) inv[i] = raw[i].c0;
        if (!fq2_batch_inv(inv, inv, n, scratch)) {
            free(p);
            free(raw);
            free(inv);
            return ZKA_ERR_PARAM; /* unreachable for a validated point */
        }
        for (i = 0; i < n; i++) {
            fq2_mul(&p->lines[i].b, &raw[i].c1, &inv[i]);
            fq2_mul(&p->lines[i].c, &raw[i].c2, &inv[i]);
        }
        p->nlines = (uint32_t)n;
    }
    free(raw);
    free(inv);
    *out = p;
    return ZKA_OK;
}

void zka_g2_prepared_free(zka_g2_prepared *prep) {
    if (!prep) return;
    prep->magic = 0;
    free(prep);
}

#endif /* ZKA_PAIRING_IMPL_H */
