/* msm_impl.h - multi-scalar multiplication for G1 and G2 (contract: the MSM
 * section of zkattest.h).
 *
 * out = sum_i k_i P_i by Pippenger's bucket method:
 *
 *  - Signed windows.  For a window width c every scalar k is recoded as
 *    k = sum_j d_j 2^(jc) with d_j in [-2^(c-1), 2^(c-1) - 1], so a window
 *    needs only 2^(c-1) buckets (bucket |d|-1, the point negated for d < 0).
 *    The digits come without a sequential carry: adding
 *    B = sum_j 2^(c-1) 2^(jc) to k turns the balanced representation into the
 *    plain base-2^c one, so d_j = window_j(k + B) - 2^(c-1).  The number of
 *    windows w is the least one with k_max + B < 2^(wc).
 *
 *  - Batch-affine buckets.  Buckets are affine points; the additions of up to
 *    K distinct buckets are collected into one batch and their denominators
 *    x_P - x_B inverted together (Montgomery's trick: about 6 multiplications
 *    per addition instead of ~11 for a mixed Jacobian one).  The exceptional
 *    cases never enter a batch: an empty bucket just takes the point; a point
 *    whose x equals the bucket's x (doubling or P + (-P)) goes to the
 *    bucket's overflow accumulator in XYZZ coordinates (complete mixed
 *    addition, no inversion); a point whose bucket already sits in the
 *    current batch waits in a deferred list (at most K long, retried after
 *    each flush), and beyond that goes to the overflow accumulator too.
 *    Repeated points and repeated scalars (for instance the many 0/1 witness
 *    values of a Groth16 prover) therefore cost at most one XYZZ addition
 *    each instead of degenerating into one inversion per addition.  A window
 *    whose digits take few values (the top one) gets a batch of at most half
 *    of them, or none (XYZZ only) when that is too small to repay an
 *    inversion.
 *
 *  - Bucket reduction by running sums in XYZZ (x = X/ZZ, y = Y/ZZZ,
 *    ZZ^3 = ZZZ^2; madd 8M+2S, add 12M+2S), window combination by Horner.
 *
 *  - G1 uses the GLV endomorphism phi(x, y) = (beta x, y) = [lambda](x, y):
 *    k = k1 + k2 lambda (mod r) with |k1|, |k2| < 2^127.2, so an MSM of n G1
 *    points becomes one of 2n points with 128-bit scalars (signs folded into
 *    the points).  The constants are derived below from the BN parameter x
 *    (constants.h).
 *
 *  - AVX-512 IFMA (x86-64, chosen at run time): points and buckets are kept
 *    in radix 2^52 and the batch additions and the bucket reduction run on 8
 *    lanes (vpmadd52luq/huq), for G1 and G2; see "AVX-512 IFMA arithmetic".
 *
 *  - Threads (zka_parallel_for): the w*n (window, point) pairs are laid out
 *    window-major and cut into contiguous slices of about equal work (the
 *    non-zero digits, counted while recoding, plus the bucket reductions),
 *    one per thread.  A thread reduces each (part of a) window it owns into
 *    its own partial-sum slot, so threads share nothing mutable; the caller
 *    adds the partials of each window and runs Horner.  At most T-1 windows
 *    are split, which costs one extra bucket reduction each.
 *
 * The code is written once, as templates at the top of this file: the MSM
 * (ZKA_MSM_TEMPLATE, instantiated per group) and the radix-2^52 vector
 * arithmetic (ZKA_MSM_V52_TEMPLATE, per coordinate field Fq / Fq2); the file
 * includes itself with the parameters bound by macros.
 *
 * Variable time in the scalars (like every MSM used by Groth16 provers);
 * digit arrays, which encode the scalars, are wiped before they are freed.
 */

#if defined(ZKA_MSM_TEMPLATE)
/* ======================================================================== */
/* Template body.  Parameters:                                               */
/*   MSM_G  group prefix (g1, g2)      MSM_F  field prefix (fq, fq2)         */
/*   MSM_E  field element type          MSM_A / MSM_J  affine / Jacobian     */
/*   MSM_ZT byte type (zka_g1, zka_g2)  MSM_LOAD(A *, const uint8_t *)       */
/*   MSM_GLV 1: split scalars with phi (G1 only; zka_msm_glv_* below)      */
/*   MSM_IFMA 1: AVX-512 IFMA path, with MSM_V52 the prefix of the radix-  */
/*   2^52 arithmetic of the coordinate field (degree MSM_VD)               */

#define MG(name) ZKA_MSM_CAT(MSM_G, _msm_##name)
#define MF(op) ZKA_MSM_CAT(MSM_F, _##op)
#define MGR(op) ZKA_MSM_CAT(MSM_G, _##op)
#define XYZZ MG(xyzz)
#define CTX MG(ctx)
#if MSM_IFMA
#define MSM_PT52 ZKA_MSM_CAT(MSM_V52, _pt)
#endif

typedef struct { MSM_E X, Y, ZZ, ZZZ; } XYZZ;

static void MG(xyzz_set_inf)(XYZZ *p) {
    MF(set_zero)(&p->X);
    MF(set_zero)(&p->Y);
    MF(set_zero)(&p->ZZ);
    MF(set_zero)(&p->ZZZ);
}

static int MG(xyzz_is_inf)(const XYZZ *p) { return MF(is_zero)(&p->ZZ); }

/* r = (x, y), an affine point that is not infinity */
static void MG(xyzz_set_xy)(XYZZ *r, const MSM_E *x, const MSM_E *y) {
    r->X = *x;
    r->Y = *y;
    MF(set_one)(&r->ZZ);
    MF(set_one)(&r->ZZZ);
}

/* dbl-2008-s-1 (a = 0): U = 2Y, V = U^2, W = UV, S = XV, M = 3X^2,
   X3 = M^2 - 2S, Y3 = M(S - X3) - WY, ZZ3 = V ZZ, ZZZ3 = W ZZZ.
   r may alias p.  (No 2-torsion on either curve: Y = 0 never occurs for a
   finite point, and would give ZZ3 = 0 = infinity anyway.) */
static void MG(xyzz_dbl)(XYZZ *r, const XYZZ *p) {
    MSM_E U, V, W, S, M, t, x3, y3;
    if (MG(xyzz_is_inf)(p)) {
        MG(xyzz_set_inf)(r);
        return;
    }
    MF(dbl)(&U, &p->Y);
    MF(sqr)(&V, &U);
    MF(mul)(&W, &U, &V);
    MF(mul)(&S, &p->X, &V);
    MF(sqr)(&M, &p->X);
    MF(dbl)(&t, &M);
    MF(add)(&M, &M, &t);
    MF(sqr)(&x3, &M);
    MF(dbl)(&t, &S);
    MF(sub)(&x3, &x3, &t);
    MF(sub)(&t, &S, &x3);
    MF(mul)(&y3, &M, &t);
    MF(mul)(&t, &W, &p->Y);
    MF(sub)(&y3, &y3, &t);
    MF(mul)(&r->ZZ, &V, &p->ZZ);
    MF(mul)(&r->ZZZ, &W, &p->ZZZ);
    r->X = x3;
    r->Y = y3;
}

/* r = 2 (x, y), affine input (mdbl-2008-s-1); ZZ3 = V, ZZZ3 = W. */
static void MG(xyzz_dbl_xy)(XYZZ *r, const MSM_E *x, const MSM_E *y) {
    MSM_E U, V, W, S, M, t, x3, y3;
    MF(dbl)(&U, y);
    MF(sqr)(&V, &U);
    MF(mul)(&W, &U, &V);
    MF(mul)(&S, x, &V);
    MF(sqr)(&M, x);
    MF(dbl)(&t, &M);
    MF(add)(&M, &M, &t);
    MF(sqr)(&x3, &M);
    MF(dbl)(&t, &S);
    MF(sub)(&x3, &x3, &t);
    MF(sub)(&t, &S, &x3);
    MF(mul)(&y3, &M, &t);
    MF(mul)(&t, &W, y);
    MF(sub)(&y3, &y3, &t);
    r->X = x3;
    r->Y = y3;
    r->ZZ = V;
    r->ZZZ = W;
}

/* r = p + (x2, y2), (x2, y2) affine and finite; complete (madd-2008-s):
   U2 = x2 ZZ1, S2 = y2 ZZZ1, P = U2 - X1, R = S2 - Y1, PP = P^2, PPP = P PP,
   Q = X1 PP, X3 = R^2 - PPP - 2Q, Y3 = R(Q - X3) - Y1 PPP,
   ZZ3 = ZZ1 PP, ZZZ3 = ZZZ1 PPP.  r may alias p. */
static void MG(xyzz_madd_xy)(XYZZ *r, const XYZZ *p, const MSM_E *x2, const MSM_E *y2) {
    MSM_E U2, S2, P, R, PP, PPP, Q, t, x3, y3;
    if (MG(xyzz_is_inf)(p)) {
        MG(xyzz_set_xy)(r, x2, y2);
        return;
    }
    MF(mul)(&U2, x2, &p->ZZ);
    MF(mul)(&S2, y2, &p->ZZZ);
    MF(sub)(&P, &U2, &p->X);
    MF(sub)(&R, &S2, &p->Y);
    if (MF(is_zero)(&P)) {
        if (MF(is_zero)(&R)) MG(xyzz_dbl_xy)(r, x2, y2);
        else MG(xyzz_set_inf)(r);
        return;
    }
    MF(sqr)(&PP, &P);
    MF(mul)(&PPP, &P, &PP);
    MF(mul)(&Q, &p->X, &PP);
    MF(sqr)(&x3, &R);
    MF(sub)(&x3, &x3, &PPP);
    MF(dbl)(&t, &Q);
    MF(sub)(&x3, &x3, &t);
    MF(sub)(&t, &Q, &x3);
    MF(mul)(&y3, &R, &t);
    MF(mul)(&t, &p->Y, &PPP);
    MF(sub)(&y3, &y3, &t);
    MF(mul)(&r->ZZ, &p->ZZ, &PP);
    MF(mul)(&r->ZZZ, &p->ZZZ, &PPP);
    r->X = x3;
    r->Y = y3;
}

/* r = p + q, complete (add-2008-s):
   U1 = X1 ZZ2, U2 = X2 ZZ1, S1 = Y1 ZZZ2, S2 = Y2 ZZZ1, P = U2 - U1,
   R = S2 - S1, PP = P^2, PPP = P PP, Q = U1 PP, X3 = R^2 - PPP - 2Q,
   Y3 = R(Q - X3) - S1 PPP, ZZ3 = ZZ1 ZZ2 PP, ZZZ3 = ZZZ1 ZZZ2 PPP.
   r may alias p or q. */
static void MG(xyzz_add)(XYZZ *r, const XYZZ *p, const XYZZ *q) {
    MSM_E U1, U2, S1, S2, P, R, PP, PPP, Q, t, x3, y3, zz3, zzz3;
    if (MG(xyzz_is_inf)(q)) {
        if (r != p) *r = *p;
        return;
    }
    if (MG(xyzz_is_inf)(p)) {
        *r = *q;
        return;
    }
    MF(mul)(&U1, &p->X, &q->ZZ);
    MF(mul)(&U2, &q->X, &p->ZZ);
    MF(mul)(&S1, &p->Y, &q->ZZZ);
    MF(mul)(&S2, &q->Y, &p->ZZZ);
    MF(sub)(&P, &U2, &U1);
    MF(sub)(&R, &S2, &S1);
    if (MF(is_zero)(&P)) {
        if (MF(is_zero)(&R)) MG(xyzz_dbl)(r, p);
        else MG(xyzz_set_inf)(r);
        return;
    }
    MF(sqr)(&PP, &P);
    MF(mul)(&PPP, &P, &PP);
    MF(mul)(&Q, &U1, &PP);
    MF(sqr)(&x3, &R);
    MF(sub)(&x3, &x3, &PPP);
    MF(dbl)(&t, &Q);
    MF(sub)(&x3, &x3, &t);
    MF(sub)(&t, &Q, &x3);
    MF(mul)(&y3, &R, &t);
    MF(mul)(&t, &S1, &PPP);
    MF(sub)(&y3, &y3, &t);
    MF(mul)(&zz3, &p->ZZ, &q->ZZ);
    MF(mul)(&zz3, &zz3, &PP);
    MF(mul)(&zzz3, &p->ZZZ, &q->ZZZ);
    MF(mul)(&zzz3, &zzz3, &PPP);
    r->X = x3;
    r->Y = y3;
    r->ZZ = zz3;
    r->ZZZ = zzz3;
}

/* affine: with t = 1/(ZZ ZZZ), 1/ZZ = t ZZZ and 1/ZZZ = t ZZ */
static void MG(xyzz_to_aff)(MSM_A *r, const XYZZ *p) {
    MSM_E t, u;
    if (MG(xyzz_is_inf)(p)) {
        MGR(aff_set_inf)(r);
        return;
    }
    MF(mul)(&t, &p->ZZ, &p->ZZZ);
    MF(inv)(&t, &t);
    MF(mul)(&u, &t, &p->ZZZ);
    MF(mul)(&r->x, &p->X, &u);
    MF(mul)(&u, &t, &p->ZZ);
    MF(mul)(&r->y, &p->Y, &u);
}

/* ------------------------------------------------------------------------ */
/* The shared, read-only description of one MSM run plus the disjoint
   per-thread output slots. */
typedef struct {
    /* inputs (phase 1) */
    const MSM_ZT *in_pts;
    const zka_fr *in_sc;
    size_t n_in;               /* input points */
    int *status;               /* [T] phase-1 status per thread */
    const zka_msm_glv *glv;    /* endomorphism constants (MSM_GLV) */
#if MSM_IFMA
    int ifma;                  /* use the AVX-512 IFMA batch additions */
    MSM_PT52 *pts52;           /* n points in radix 2^52 (instead of pts) */
    const zka_msm_f52 *f52;
#endif
    /* prepared data */
    MSM_A *pts;                /* n points (Montgomery affine) */
    int16_t *digits;           /* w * n, window-major */
    size_t n;                  /* n = n_in * (MSM_GLV ? 2 : 1) */
    uint32_t c, w, nb, K;      /* K: batch capacity */
    uint32_t Kw[ZKA_MSM_MAX_W]; /* batch size per window (0: XYZZ only) */
    uint64_t bias[5];          /* B = sum_j 2^(c-1) 2^(jc) */
    /* per-thread scratch and results */
    unsigned char *scratch;    /* T slices of scratch_bytes */
    size_t scratch_bytes;
    XYZZ *partials;            /* [T][w] */
    uint64_t *nzc;             /* [T][w] non-zero digits per phase-1 thread and window */
    size_t cuts[ZKA_MAX_THREADS + 1]; /* thread t takes pairs [cuts[t], cuts[t+1]) */
} CTX;

/* Scratch slice of one thread. */
typedef struct {
    MSM_A *bk;                 /* nb affine buckets */
    XYZZ *ov;                  /* nb overflow accumulators */
    uint8_t *st;               /* nb bucket states */
    MSM_E *den;                /* K denominators */
    MSM_E *scr;                /* K prefix products */
    const MSM_A **bp;          /* K points of the batch */
    uint32_t *bi;              /* K bucket indices */
    uint8_t *bn;               /* K negation flags */
    const MSM_A **qp;          /* K deferred points */
    uint32_t *qb;              /* K their buckets */
    uint8_t *qn;               /* K their negation flags */
#if MSM_IFMA
    MSM_PT52 *bk52;            /* nb buckets in radix 2^52 */
    int64_t *pi, *qi;          /* K point indices of the batch / deferred */
    uint64_t *vden, *vpre;     /* per 8 entries: den, x_B, x_P / prefix (5 x 8 lanes each) */
#endif
} MG(slice);

/* The scratch of one thread; the arrays of the path not taken are empty. */
static size_t MG(scratch_layout)(MG(slice) *s, unsigned char *base, uint32_t nb, uint32_t K,
                                 int ifma) {
    size_t off = 0;
    const uint32_t nbs = ifma ? 0 : nb, Ks = ifma ? 0 : K; /* scalar-path sizes */
#define ZKA_MSM_TAKE(field, type, count)                                    \
    do {                                                                    \
        if (s) s->field = (type *)(void *)(base + off);                     \
        off += ((size_t)(count) * sizeof(type) + 63) & ~(size_t)63;         \
    } while (0)
    ZKA_MSM_TAKE(bk, MSM_A, nbs);
    ZKA_MSM_TAKE(ov, XYZZ, nb);
    ZKA_MSM_TAKE(den, MSM_E, Ks);
    ZKA_MSM_TAKE(scr, MSM_E, Ks);
    ZKA_MSM_TAKE(bp, const MSM_A *, Ks);
    ZKA_MSM_TAKE(bi, uint32_t, K);
    ZKA_MSM_TAKE(bn, uint8_t, K);
    ZKA_MSM_TAKE(qp, const MSM_A *, Ks);
    ZKA_MSM_TAKE(qb, uint32_t, K);
    ZKA_MSM_TAKE(qn, uint8_t, K);
    ZKA_MSM_TAKE(st, uint8_t, nb);
#if MSM_IFMA
    if (ifma) {
        ZKA_MSM_TAKE(bk52, MSM_PT52, nb);
        ZKA_MSM_TAKE(pi, int64_t, K);
        ZKA_MSM_TAKE(qi, int64_t, K);
        ZKA_MSM_TAKE(vden, uint64_t, ((size_t)K / 8 + 1) * 120 * MSM_VD);
        ZKA_MSM_TAKE(vpre, uint64_t, ((size_t)K / 8 + 1) * 40 * MSM_VD);
    }
#endif
#undef ZKA_MSM_TAKE
    return off;
}

/* Phase 1: thread t loads its share of the points and recodes its scalars. */
static void MG(prepare_task)(void *vctx, uint32_t t, uint32_t T) {
    CTX *cx = (CTX *)vctx;
    size_t lo, hi;
    zka_msm_split(&lo, &hi, cx->n_in, t, T);
    const uint32_t c = cx->c, w = cx->w, half = 1u << (c - 1), mask = (1u << c) - 1;
    const size_t n = cx->n;
    uint64_t *nz = cx->nzc + (size_t)t * w;
    for (size_t i = lo; i < hi; i++) {
        MSM_A p;
        int st = MSM_LOAD(&p, cx->in_pts[i].b);
        if (st != ZKA_OK) {
            cx->status[t] = st;
            return;
        }
        uint64_t k[4];
        zka_load_limbs(k, cx->in_sc[i].b);
#if MSM_GLV
        uint64_t ks[2][4];
        int neg[2];
        zka_msm_glv_split(ks, neg, k, cx->glv);
        const int inf = MGR(aff_is_inf)(&p);
#if MSM_IFMA
        if (cx->ifma) { /* +-P and +-phi(P) in radix 2^52 */
            MSM_PT52 *o = &cx->pts52[2 * i];
            if (inf) {
                memset(o, 0, 2 * sizeof *o);
            } else {
                uint64_t y52[5], ny52[5];
                MSM_E bx;
                zka_msm_fe_to52(o[0].x, &p.x, cx->f52);
                MF(mul)(&bx, &p.x, &cx->f52->beta16);   /* beta x R' */
                zka_msm_pack52(o[1].x, bx.v);
                zka_msm_fe_to52(y52, &p.y, cx->f52);
                zka_msm_neg52(ny52, y52, cx->f52);
                memcpy(o[0].y, neg[0] ? ny52 : y52, sizeof y52);
                memcpy(o[1].y, neg[1] ? ny52 : y52, sizeof y52);
            }
        } else
#endif
        {
            MSM_A q[2];
            q[0] = p;
            q[1].y = p.y;
            MF(mul)(&q[1].x, &p.x, &cx->glv->beta);   /* phi(P); phi(inf) = inf */
            for (int h = 0; h < 2; h++) {
                if (neg[h]) MGR(aff_neg)(&q[h], &q[h]);
                cx->pts[2 * i + h] = q[h];
            }
        }
        for (int h = 0; h < 2; h++)
            zka_msm_recode(cx->digits + 2 * i + h, n, nz, ks[h], inf, cx->bias, c, w, half, mask);
        zka_msm_wipe(ks, sizeof ks);
#else
#if MSM_IFMA
        if (cx->ifma) {
            MSM_PT52 *o = &cx->pts52[i];
            if (MGR(aff_is_inf)(&p)) {
                memset(o, 0, sizeof *o);
            } else {
                ZKA_MSM_CAT(MSM_V52, _to52)(o->x, &p.x, cx->f52);
                ZKA_MSM_CAT(MSM_V52, _to52)(o->y, &p.y, cx->f52);
            }
        } else
#endif
            cx->pts[i] = p;
        zka_msm_recode(cx->digits + i, n, nz, k, MGR(aff_is_inf)(&p), cx->bias, c, w, half, mask);
#endif
        zka_msm_wipe(k, sizeof k);
    }
}

/* overflow_b += +-P (complete XYZZ mixed addition) */
static void MG(ovf_add)(MG(slice) *s, uint32_t b, const MSM_A *P, int neg) {
    MSM_E y;
    if (neg) MF(neg)(&y, &P->y);
    else y = P->y;
    if (s->st[b] & ZKA_MSM_OVF) MG(xyzz_madd_xy)(&s->ov[b], &s->ov[b], &P->x, &y);
    else MG(xyzz_set_xy)(&s->ov[b], &P->x, &y);
    s->st[b] |= ZKA_MSM_OVF;
}

/* Apply the collected batch: B <- B + (+-P) for every entry.  The
   denominators (all non-zero: equal x never enters a batch) are inverted
   together by Montgomery's trick, fused with the additions:
   scr[e] = den[0] ... den[e-1], one inversion of the full product, then
   walking back 1/den[e] = inv * scr[e] and inv <- inv * den[e]. */
static void MG(flush)(MG(slice) *s, size_t k) {
    MSM_E acc, inv;
    MF(set_one)(&acc);
    for (size_t e = 0; e < k; e++) {
        s->scr[e] = acc;
        MF(mul)(&acc, &acc, &s->den[e]);
    }
    MF(inv)(&inv, &acc);
    for (size_t e = k; e-- > 0;) {
        MSM_A *B = &s->bk[s->bi[e]];
        const MSM_A *P = s->bp[e];
        MSM_E lam, x3, t, d;
        MF(mul)(&d, &inv, &s->scr[e]);          /* 1 / den[e] */
        MF(mul)(&inv, &inv, &s->den[e]);
        /* lambda = (y - yB) / (xP - xB) with y = +-yP; for -P the
           denominator was stored negated: lambda = (yP + yB) / (xB - xP) */
        if (s->bn[e]) MF(add)(&lam, &P->y, &B->y);
        else MF(sub)(&lam, &P->y, &B->y);
        MF(mul)(&lam, &lam, &d);
        MF(sqr)(&x3, &lam);
        MF(sub)(&x3, &x3, &B->x);
        MF(sub)(&x3, &x3, &P->x);
        MF(sub)(&t, &B->x, &x3);
        MF(mul)(&t, &lam, &t);
        MF(sub)(&B->y, &t, &B->y);
        B->x = x3;
        s->st[s->bi[e]] &= (uint8_t)~ZKA_MSM_INBATCH;
    }
}

/* Route +-P into bucket b: an empty bucket takes the point, a bucket whose x
   equals P's (doubling or P + (-P)) adds it into its overflow accumulator,
   otherwise the addition joins the batch.  Returns 0 (nothing done) if the
   bucket is already the target of a pending batch entry. */
static int MG(sched)(MG(slice) *s, uint32_t b, const MSM_A *P, int neg, size_t *k) {
    MSM_A *B = &s->bk[b];
    uint8_t sb = s->st[b];
    if (!(sb & ZKA_MSM_FULL)) {
        B->x = P->x;
        if (neg) MF(neg)(&B->y, &P->y);
        else B->y = P->y;
        s->st[b] = sb | ZKA_MSM_FULL;
        return 1;
    }
    if (sb & ZKA_MSM_INBATCH) return 0;
    if (MF(eq)(&B->x, &P->x)) {
        MG(ovf_add)(s, b, P, neg);
        return 1;
    }
    if (neg) MF(sub)(&s->den[*k], &B->x, &P->x);
    else MF(sub)(&s->den[*k], &P->x, &B->x);
    s->bi[*k] = b;
    s->bp[*k] = P;
    s->bn[*k] = (uint8_t)neg;
    s->st[b] = sb | ZKA_MSM_INBATCH;
    ++*k;
    return 1;
}

/* Retry the deferred points (after a flush); those whose bucket is taken by
   the new batch stay deferred. */
static void MG(drain)(MG(slice) *s, size_t *k, size_t *q, uint32_t K) {
    size_t keep = 0;
    for (size_t e = 0; e < *q; e++) {
        if (!MG(sched)(s, s->qb[e], s->qp[e], s->qn[e], k)) {
            s->qb[keep] = s->qb[e];
            s->qp[keep] = s->qp[e];
            s->qn[keep] = s->qn[e];
            keep++;
        } else if (*k == K) {
            MG(flush)(s, *k);
            *k = 0;
        }
    }
    *q = keep;
}

/* Bucket accumulation of window j over points [lo, hi), then the running-sum
   reduction sum_b (b+1) bucket_b into *out.  A point whose bucket is already
   in the current batch is deferred (up to K of them) and retried after the
   next flush; beyond that it goes to the bucket's overflow accumulator. */
static void MG(window)(const CTX *cx, MG(slice) *s, uint32_t j, size_t lo, size_t hi, XYZZ *out) {
    const uint32_t nb = cx->nb, K = cx->Kw[j], Q = cx->K;
    const int16_t *dg = cx->digits + (size_t)j * cx->n;
    const MSM_A *pts = cx->pts;
    MSM_A *bk = s->bk;
    uint8_t *st = s->st;
    size_t k = 0, q = 0;
    memset(st, 0, nb);
    for (size_t i = lo; i < hi; i++) {
        int d = dg[i];
        if (i + ZKA_MSM_PREFETCH < hi) {
            int d2 = dg[i + ZKA_MSM_PREFETCH];
            if (d2) __builtin_prefetch(&bk[(d2 > 0 ? d2 : -d2) - 1]);
        }
        if (d == 0) continue;
        uint32_t b = (uint32_t)(d > 0 ? d : -d) - 1;
        int neg = d < 0;
        const MSM_A *P = &pts[i];
        if (K == 0) { /* no batching: the bucket takes the point or adds it */
            if (!(st[b] & ZKA_MSM_FULL)) MG(sched)(s, b, P, neg, &k);
            else MG(ovf_add)(s, b, P, neg);
            continue;
        }
        if (!MG(sched)(s, b, P, neg, &k)) {
            if (q < Q) {
                s->qb[q] = b;
                s->qp[q] = P;
                s->qn[q] = (uint8_t)neg;
                q++;
            } else {
                MG(ovf_add)(s, b, P, neg);
            }
        } else if (k == K) {
            MG(flush)(s, k);
            k = 0;
            MG(drain)(s, &k, &q, K);
        }
    }
    if (k) MG(flush)(s, k);
    k = 0;
    MG(drain)(s, &k, &q, K);
    if (k) MG(flush)(s, k);
    for (size_t e = 0; e < q; e++) MG(ovf_add)(s, s->qb[e], s->qp[e], s->qn[e]);

    XYZZ run, tot;
    MG(xyzz_set_inf)(&run);
    MG(xyzz_set_inf)(&tot);
    for (uint32_t b = nb; b-- > 0;) {
        uint8_t sb = st[b];
        if (sb & ZKA_MSM_FULL) MG(xyzz_madd_xy)(&run, &run, &bk[b].x, &bk[b].y);
        if (sb & ZKA_MSM_OVF) MG(xyzz_add)(&run, &run, &s->ov[b]);
        MG(xyzz_add)(&tot, &tot, &run);
    }
    *out = tot;
}

#if MSM_IFMA
/* ---- the window with the IFMA batch additions ----
 * Same routing as MG(window) (empty bucket takes the point, equal x goes to
 * the overflow accumulator, busy bucket defers), on radix-2^52 points and
 * buckets (MSM_V52 arithmetic). */
#define MV(op) ZKA_MSM_CAT(MSM_V52, _##op)
#define PT MV(pt)

static void MG(ovf52)(MG(slice) *s, const PT *pts, uint32_t b, int64_t i, int neg,
                      const zka_msm_f52 *f) {
    MSM_A q;
    MV(tofe)(&q.x, pts[i].x, f);
    MV(tofe)(&q.y, pts[i].y, f);
    MG(ovf_add)(s, b, &q, neg);
}

static int MG(sched52)(MG(slice) *s, const PT *pts, uint32_t b, int64_t i, int neg, size_t *k,
                       const zka_msm_f52 *f) {
    PT *B = &s->bk52[b];
    const PT *P = &pts[i];
    uint8_t sb = s->st[b];
    if (!(sb & ZKA_MSM_FULL)) {
        memcpy(B->x, P->x, sizeof B->x);
        if (neg) MV(neg)(B->y, P->y, f);
        else memcpy(B->y, P->y, sizeof B->y);
        s->st[b] = sb | ZKA_MSM_FULL;
        return 1;
    }
    if (sb & ZKA_MSM_INBATCH) return 0;
    if (MV(eq)(B->x, P->x)) {
        MG(ovf52)(s, pts, b, i, neg, f);
        return 1;
    }
    s->bi[*k] = b;
    s->pi[*k] = i;
    s->bn[*k] = (uint8_t)neg;
    s->st[b] = sb | ZKA_MSM_INBATCH;
    ++*k;
    return 1;
}

static void MG(flush52)(MG(slice) *s, const PT *pts, size_t k, const zka_msm_f52 *f) {
    MV(flush)(s->bk52, pts, s->bi, s->pi, s->bn, k, s->vden, s->vpre, f);
    for (size_t e = 0; e < k; e++) s->st[s->bi[e]] &= (uint8_t)~ZKA_MSM_INBATCH;
}

static void MG(drain52)(MG(slice) *s, const PT *pts, size_t *k, size_t *q, uint32_t K,
                        const zka_msm_f52 *f) {
    size_t keep = 0;
    for (size_t e = 0; e < *q; e++) {
        if (!MG(sched52)(s, pts, s->qb[e], s->qi[e], s->qn[e], k, f)) {
            s->qb[keep] = s->qb[e];
            s->qi[keep] = s->qi[e];
            s->qn[keep] = s->qn[e];
            keep++;
        } else if (*k == K) {
            MG(flush52)(s, pts, *k, f);
            *k = 0;
        }
    }
    *q = keep;
}

/* lane l of a vector XYZZ as a scalar XYZZ */
ZKA_IFMA_TARGET static void MG(vget)(XYZZ *a, const MV(vxyzz) *v, int l, const zka_msm_f52 *f) {
    MV(get_lane)(&a->X, &v->X, l, f);
    MV(get_lane)(&a->Y, &v->Y, l, f);
    MV(get_lane)(&a->ZZ, &v->ZZ, l, f);
    MV(get_lane)(&a->ZZZ, &v->ZZZ, l, f);
}

ZKA_IFMA_TARGET static void MG(vset)(MV(vxyzz) *v, int l, const XYZZ *a, const zka_msm_f52 *f) {
    MV(set_lane)(&v->X, l, &a->X, f);
    MV(set_lane)(&v->Y, l, &a->Y, f);
    MV(set_lane)(&v->ZZ, l, &a->ZZ, f);
    MV(set_lane)(&v->ZZZ, l, &a->ZZZ, f);
}

/* lane l of *v (infinite if the bit is set in *inf) <- lane value + a, by the
   scalar (complete) code */
ZKA_IFMA_TARGET static void MG(vfix)(MV(vxyzz) *v, __mmask8 *inf, int l, const XYZZ *a,
                                     const zka_msm_f52 *f) {
    XYZZ x;
    if (*inf & (1u << l)) MG(xyzz_set_inf)(&x);
    else MG(vget)(&x, v, l, f);
    MG(xyzz_add)(&x, &x, a);
    if (MG(xyzz_is_inf)(&x)) {
        *inf |= (__mmask8)(1u << l);
    } else {
        *inf &= (__mmask8)~(1u << l);
        MG(vset)(v, l, &x, f);
    }
}

/* Running-sum reduction of the radix-2^52 buckets, 8 segments at a time:
   lane s sums the buckets [sL, (s+1)L), L = nb/8, giving
   R_s = sum_i B_(sL+i) and T_s = sum_i (i+1) B_(sL+i); then
   sum_b (b+1) B_b = sum_s T_s + L sum_s s R_s (scalar). */
ZKA_IFMA_TARGET static void MG(reduce52)(const CTX *cx, MG(slice) *s, XYZZ *out) {
    const zka_msm_f52 *f = cx->f52;
    const uint32_t L = cx->nb / 8;
    zka_v52c c;
    MV(vxyzz) run, tot, t;
    MV(v) one;
    __mmask8 run_inf = 0xff, tot_inf = 0xff, exc;
    int64_t offs[8];
    zka_v52c_init(&c, f);
    MV(set_one)(&one, &c);
    for (int l = 0; l < 8; l++) offs[l] = (int64_t)l * L * (int64_t)sizeof(PT);
    const __m512i off0 = _mm512_loadu_si512((const void *)offs);
    memset(&run, 0, sizeof run);
    memset(&tot, 0, sizeof tot);
    for (uint32_t i = L; i-- > 0;) {
        __mmask8 full = 0, ovf = 0;
        for (int l = 0; l < 8; l++) {
            uint8_t sb = s->st[(size_t)l * L + i];
            if (sb & ZKA_MSM_FULL) full |= (__mmask8)(1u << l);
            if (sb & ZKA_MSM_OVF) ovf |= (__mmask8)(1u << l);
        }
        if (full) {
            const __m512i off =
                _mm512_add_epi64(off0, _mm512_set1_epi64((long long)i * (long long)sizeof(PT)));
            MV(v) x, y;
            MV(gather)(&x, s->bk52[0].x, off); /* empty buckets' lanes are replaced below */
            MV(gather)(&y, s->bk52[0].y, off);
            MV(blend)(&x, full, &one, &x);
            MV(blend)(&y, full, &one, &y);
            MV(vxyzz_madd)(&t, &exc, &run, &x, &y, &c);
            exc &= full & (__mmask8)~run_inf;
            MV(vxyzz_blend)(&run, full & (__mmask8)~run_inf & (__mmask8)~exc, &run, &t);
            __mmask8 fresh = full & run_inf; /* infinity + B = B */
            if (fresh) {
                t.X = x;
                t.Y = y;
                t.ZZ = one;
                t.ZZZ = one;
                MV(vxyzz_blend)(&run, fresh, &run, &t);
            }
            run_inf &= (__mmask8)~full;
            for (int l = 0; l < 8; l++)
                if (exc & (1u << l)) { /* run (not updated on this lane) + B */
                    XYZZ a;
                    MSM_E bx, by;
                    MV(tofe)(&bx, s->bk52[(size_t)l * L + i].x, f);
                    MV(tofe)(&by, s->bk52[(size_t)l * L + i].y, f);
                    MG(xyzz_set_xy)(&a, &bx, &by);
                    MG(vfix)(&run, &run_inf, l, &a, f);
                }
        }
        if (ovf)
            for (int l = 0; l < 8; l++)
                if (ovf & (1u << l)) MG(vfix)(&run, &run_inf, l, &s->ov[(size_t)l * L + i], f);
        /* tot += run */
        __mmask8 live = (__mmask8)~run_inf;
        if (live) {
            MV(vxyzz_add)(&t, &exc, &tot, &run, &c);
            exc &= live & (__mmask8)~tot_inf;
            MV(vxyzz_blend)(&tot, live & (__mmask8)~tot_inf & (__mmask8)~exc, &tot, &t);
            MV(vxyzz_blend)(&tot, live & tot_inf, &tot, &run);
            tot_inf &= (__mmask8)~(live & ~exc);
            for (int l = 0; l < 8; l++)
                if (exc & (1u << l)) { /* tot (not updated on this lane) + run */
                    XYZZ a;
                    MG(vget)(&a, &run, l, f);
                    MG(vfix)(&tot, &tot_inf, l, &a, f);
                }
        }
    }
    /* combine the segments: W = sum_s T_s + L * sum_{s>=1} s R_s */
    XYZZ R[8], T[8], r, v, w;
    for (int l = 0; l < 8; l++) {
        if (run_inf & (1u << l)) MG(xyzz_set_inf)(&R[l]);
        else MG(vget)(&R[l], &run, l, f);
        if (tot_inf & (1u << l)) MG(xyzz_set_inf)(&T[l]);
        else MG(vget)(&T[l], &tot, l, f);
    }
    MG(xyzz_set_inf)(&r);
    MG(xyzz_set_inf)(&v);
    for (int l = 7; l >= 1; l--) {
        MG(xyzz_add)(&r, &r, &R[l]);
        MG(xyzz_add)(&v, &v, &r);
    }
    for (uint32_t m = L; m > 1; m >>= 1) MG(xyzz_dbl)(&v, &v); /* L = 2^k */
    w = v;
    for (int l = 0; l < 8; l++) MG(xyzz_add)(&w, &w, &T[l]);
    *out = w;
}

static void MG(window_ifma)(const CTX *cx, MG(slice) *s, uint32_t j, size_t lo, size_t hi,
                            XYZZ *out) {
    const uint32_t nb = cx->nb, K = cx->Kw[j], Q = cx->K;
    const int16_t *dg = cx->digits + (size_t)j * cx->n;
    const PT *pts = cx->pts52;
    const zka_msm_f52 *f = cx->f52;
    size_t k = 0, q = 0;
    memset(s->st, 0, nb);
    for (size_t i = lo; i < hi; i++) {
        int d = dg[i];
        if (i + ZKA_MSM_PREFETCH < hi) {
            int d2 = dg[i + ZKA_MSM_PREFETCH];
            if (d2) __builtin_prefetch(&s->bk52[(d2 > 0 ? d2 : -d2) - 1]);
        }
        if (d == 0) continue;
        uint32_t b = (uint32_t)(d > 0 ? d : -d) - 1;
        int neg = d < 0;
        if (K == 0) {
            if (!(s->st[b] & ZKA_MSM_FULL)) MG(sched52)(s, pts, b, (int64_t)i, neg, &k, f);
            else MG(ovf52)(s, pts, b, (int64_t)i, neg, f);
            continue;
        }
        if (!MG(sched52)(s, pts, b, (int64_t)i, neg, &k, f)) {
            if (q < Q) {
                s->qb[q] = b;
                s->qi[q] = (int64_t)i;
                s->qn[q] = (uint8_t)neg;
                q++;
            } else {
                MG(ovf52)(s, pts, b, (int64_t)i, neg, f);
            }
        } else if (k == K) {
            MG(flush52)(s, pts, k, f);
            k = 0;
            MG(drain52)(s, pts, &k, &q, K, f);
        }
    }
    if (k) MG(flush52)(s, pts, k, f);
    k = 0;
    MG(drain52)(s, pts, &k, &q, K ? K : 1, f);
    if (k) MG(flush52)(s, pts, k, f);
    for (size_t e = 0; e < q; e++) MG(ovf52)(s, pts, s->qb[e], s->qi[e], s->qn[e], f);

    if (nb >= ZKA_MSM_VREDUCE_MIN_NB) {
        MG(reduce52)(cx, s, out);
        return;
    }
    XYZZ run, tot;
    MG(xyzz_set_inf)(&run);
    MG(xyzz_set_inf)(&tot);
    for (uint32_t b = nb; b-- > 0;) {
        uint8_t sb = s->st[b];
        if (sb & ZKA_MSM_FULL) {
            MSM_E x, y;
            MV(tofe)(&x, s->bk52[b].x, f);
            MV(tofe)(&y, s->bk52[b].y, f);
            MG(xyzz_madd_xy)(&run, &run, &x, &y);
        }
        if (sb & ZKA_MSM_OVF) MG(xyzz_add)(&run, &run, &s->ov[b]);
        MG(xyzz_add)(&tot, &tot, &run);
    }
    *out = tot;
}
#undef PT
#undef MV
#endif /* MSM_IFMA */

/* Cut the window-major (window, point) pairs into T slices of about equal
   work: a window weighs its non-zero digits plus its bucket reduction
   (in additions per bucket: ~4 on the scalar path, ~0.8 with IFMA), spread
   evenly over its points. */
static void MG(cut)(CTX *cx, uint32_t T) {
    const size_t n = cx->n;
    double wt[ZKA_MSM_MAX_W], total = 0, cum = 0, red = 4.0;
    uint32_t j = 0;
#if MSM_IFMA
    if (cx->ifma) red = 0.8;
#endif
    for (uint32_t i = 0; i < cx->w; i++) {
        uint64_t nz = 0;
        for (uint32_t t = 0; t < T; t++) nz += cx->nzc[(size_t)t * cx->w + i];
        wt[i] = nz ? (double)nz + red * cx->nb : 0;
        total += wt[i];
    }
    cx->cuts[0] = 0;
    for (uint32_t t = 1; t < T; t++) {
        double target = total * t / T;
        while (j + 1 < cx->w && cum + wt[j] <= target) cum += wt[j++];
        double frac = wt[j] > 0 ? (target - cum) / wt[j] : 0;
        size_t i = frac <= 0 ? 0 : frac >= 1 ? n : (size_t)(frac * (double)n);
        size_t cut = (size_t)j * n + i;
        cx->cuts[t] = cut < cx->cuts[t - 1] ? cx->cuts[t - 1] : cut;
    }
    cx->cuts[T] = (size_t)cx->w * n;
}

/* Phase 2: thread t takes the t-th slice of the window-major (window, point)
   pairs and writes one partial sum per window it touches. */
static void MG(bucket_task)(void *vctx, uint32_t t, uint32_t T) {
    CTX *cx = (CTX *)vctx;
    const size_t n = cx->n, lo = cx->cuts[t], hi = cx->cuts[t + 1];
    (void)T;
    if (lo >= hi) return;
    MG(slice) s;
#if MSM_IFMA
    MG(scratch_layout)(&s, cx->scratch + (size_t)t * cx->scratch_bytes, cx->nb, cx->K, cx->ifma);
#else
    MG(scratch_layout)(&s, cx->scratch + (size_t)t * cx->scratch_bytes, cx->nb, cx->K, 0);
#endif
    for (uint32_t j = (uint32_t)(lo / n); j < cx->w && (size_t)j * n < hi; j++) {
        size_t a = (size_t)j * n, e = a + n;
        if (a < lo) a = lo;
        if (e > hi) e = hi;
#if MSM_IFMA
        if (cx->ifma) {
            MG(window_ifma)(cx, &s, j, a - (size_t)j * n, e - (size_t)j * n,
                            &cx->partials[(size_t)t * cx->w + j]);
            continue;
        }
#endif
        MG(window)(cx, &s, j, a - (size_t)j * n, e - (size_t)j * n,
                   &cx->partials[(size_t)t * cx->w + j]);
    }
}

/* One Pippenger run over n_in >= 1 points (see MG(run)). */
static int MG(run_one)(MSM_A *res, const MSM_ZT *points, const zka_fr *scalars, size_t n_in,
                       uint32_t nthreads) {
    CTX cx;
    int rc = ZKA_OK;
    size_t n, dsz = 0, psz, sl, tmp;
    void *pm = NULL;           /* the prepared points (pts or pts52) */
    memset(&cx, 0, sizeof cx);
    if (!zka_mul_size(&n, n_in, MSM_GLV ? 2 : 1)) return ZKA_ERR_NOMEM;
    cx.in_pts = points;
    cx.in_sc = scalars;
    cx.n_in = n_in;
    cx.n = n;
#if MSM_GLV
    zka_msm_glv glv;
    zka_msm_glv_init(&glv);
    cx.glv = &glv;
#endif
#if MSM_IFMA
    zka_msm_f52 f52;
    cx.ifma = n >= ZKA_MSM_IFMA_MIN_N && zka_msm_ifma_usable();
    if (cx.ifma) {
        zka_msm_f52_init(&f52);
#if MSM_GLV
        fq_mul(&f52.beta16, &glv.beta, &f52.mont16);
#endif
        cx.f52 = &f52;
    }
#endif
    uint64_t kmax[4];          /* bound on the (half) scalars */
#if MSM_GLV
    zka_msm_glv_bound(kmax);
#else
    memcpy(kmax, FR_MODULUS, sizeof kmax);
#endif
#if MSM_IFMA
    cx.c = zka_msm_window_for(n, kmax, cx.ifma);
#else
    cx.c = zka_msm_window_for(n, kmax, 0);
#endif
    zka_msm_bias(cx.bias, &cx.w, cx.c, kmax);
    cx.nb = 1u << (cx.c - 1);
    cx.K = zka_msm_batch(cx.nb);
    for (uint32_t j = 0; j < cx.w; j++) {
        /* a window with few distinct digits (the top one) gets a smaller
           batch, or none: a batch larger than half the buckets in use
           mostly defers */
        uint64_t span = zka_msm_span(kmax, cx.bias, j, cx.c);
        uint64_t kj = span / 2 < cx.K ? span / 2 : cx.K;
        cx.Kw[j] = kj < ZKA_MSM_MIN_BATCH ? 0 : (uint32_t)kj;
    }

    uint32_t T = zka_threads_resolve(nthreads);
    {
        size_t units;
        if (!zka_mul_size(&units, n, cx.w)) return ZKA_ERR_NOMEM;
        size_t useful = units / ZKA_MSM_MIN_UNITS + 1;
        if (useful < T) T = (uint32_t)useful;
    }

    size_t elem = sizeof(MSM_A);
#if MSM_IFMA
    cx.scratch_bytes = MG(scratch_layout)(NULL, NULL, cx.nb, cx.K, cx.ifma);
    if (cx.ifma) elem = sizeof(MSM_PT52);
#else
    cx.scratch_bytes = MG(scratch_layout)(NULL, NULL, cx.nb, cx.K, 0);
#endif
    if (!zka_mul_size(&psz, n, elem) ||
        !zka_mul_size(&dsz, n, (size_t)cx.w * sizeof(int16_t)) ||
        !zka_mul_size(&sl, cx.scratch_bytes, T) ||
        !zka_mul_size(&tmp, (size_t)T * cx.w, sizeof(XYZZ)))
        return ZKA_ERR_NOMEM;
    pm = malloc(psz ? psz : 1);
#if MSM_IFMA
    if (cx.ifma) cx.pts52 = (MSM_PT52 *)pm;
    else
#endif
        cx.pts = (MSM_A *)pm;
    cx.digits = (int16_t *)malloc(dsz ? dsz : 1);
    cx.scratch = (unsigned char *)malloc(sl ? sl : 1);
    cx.partials = (XYZZ *)malloc(tmp ? tmp : 1);
    cx.status = (int *)calloc(T, sizeof(int));
    cx.nzc = (uint64_t *)calloc((size_t)T * cx.w, sizeof(uint64_t));
    if (!pm || !cx.digits || !cx.scratch || !cx.partials || !cx.status || !cx.nzc) {
        rc = ZKA_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < (size_t)T * cx.w; i++) MG(xyzz_set_inf)(&cx.partials[i]);

    /* phase 1: load and validate points, recode scalars */
    {
        uint32_t T1 = T;
        if (n_in < T1) T1 = n_in ? (uint32_t)n_in : 1;
        zka_parallel_for(T1, MG(prepare_task), &cx);
        for (uint32_t t = 0; t < T1; t++)
            if (cx.status[t] != ZKA_OK) {
                rc = cx.status[t];
                goto done;
            }
    }
    /* phase 2: buckets, the (window, point) pairs cut by estimated work */
    MG(cut)(&cx, T);
    zka_parallel_for(T, MG(bucket_task), &cx);

    /* combine: W_j = sum_t partial[t][j]; result = sum_j 2^(jc) W_j */
    {
        XYZZ acc, wj;
        MG(xyzz_set_inf)(&acc);
        for (uint32_t j = cx.w; j-- > 0;) {
            for (uint32_t i = 0; i < cx.c; i++) MG(xyzz_dbl)(&acc, &acc);
            wj = cx.partials[j];
            for (uint32_t t = 1; t < T; t++) MG(xyzz_add)(&wj, &wj, &cx.partials[(size_t)t * cx.w + j]);
            MG(xyzz_add)(&acc, &acc, &wj);
        }
        MG(xyzz_to_aff)(res, &acc);
    }

done:
    if (cx.digits) zka_msm_wipe(cx.digits, dsz);
    free(pm);
    free(cx.digits);
    free(cx.scratch);
    free(cx.partials);
    free(cx.status);
    free(cx.nzc);
    return rc;
}

/* *res = sum scalars[i] points[i] (affine, Montgomery).  The internal entry
   point (the exported function and the Groth16 prover call it): the points
   are validated here (canonical, on the curve: a zka_status is returned
   otherwise); the scalars must already be canonical (< r).  Inputs beyond
   ZKA_MSM_CHUNK points are summed chunk by chunk, which bounds the scratch
   memory (prepared points and digits take ~100-200 bytes per input point) at
   a negligible cost (one more set of bucket reductions per chunk). */
static int MG(run)(MSM_A *res, const MSM_ZT *points, const zka_fr *scalars, size_t n,
                   uint32_t nthreads) {
    XYZZ acc;
    MG(xyzz_set_inf)(&acc);
    for (size_t off = 0; off < n; off += ZKA_MSM_CHUNK) {
        size_t m = n - off < ZKA_MSM_CHUNK ? n - off : ZKA_MSM_CHUNK;
        MSM_A r;
        int st = MG(run_one)(&r, points + off, scalars + off, m, nthreads);
        if (st != ZKA_OK) return st;
        if (!MGR(aff_is_inf)(&r)) MG(xyzz_madd_xy)(&acc, &acc, &r.x, &r.y);
    }
    MG(xyzz_to_aff)(res, &acc);
    return ZKA_OK;
}

/* Reference: per point MSB-first double-and-add in Jacobian (group_impl.h
   formulas, independent of the XYZZ code above), summed in Jacobian. */
static int MG(naive)(MSM_A *res, const MSM_ZT *points, const zka_fr *scalars, size_t n) {
    MSM_J acc, r;
    MGR(jac_set_inf)(&acc);
    for (size_t i = 0; i < n; i++) {
        MSM_A p;
        uint64_t k[4];
        int st = MSM_LOAD(&p, points[i].b);
        if (st != ZKA_OK) return st;
        zka_load_limbs(k, scalars[i].b);
        MGR(jac_set_inf)(&r);
        for (int bit = 255; bit >= 0; bit--) {
            MGR(jac_dbl)(&r, &r);
            if ((k[bit >> 6] >> (bit & 63)) & 1) MGR(jac_add_mixed)(&r, &r, &p);
        }
        MGR(jac_add)(&acc, &acc, &r);
    }
    MGR(jac_to_aff)(res, &acc);
    return ZKA_OK;
}

#undef MG
#undef MF
#undef MGR
#undef XYZZ
#undef CTX
#undef MSM_PT52

#elif defined(ZKA_MSM_V52_TEMPLATE)
/* ======================================================================== */
/* Template body 2: 8-lane radix-2^52 arithmetic over the coordinate field  */
/* of a group, Fq (V52_D = 1) or Fq2 (V52_D = 2, componentwise storage      */
/* c0 limbs then c1 limbs), and the batch-affine additions and vector XYZZ  */
/* additions built on it.  Parameters: V52_N name prefix, V52_D degree,     */
/* V52_FE the core's element type, V52_F its function prefix, V52_C(a, i)  */
/* the i-th fe component of a V52_FE pointer.                                */
/*                                                                          */
/* Contract of MV(mul): multiplicands < 4p and outputs < 2p, componentwise  */
/* (Fq: zka_v52_mul gives < 1.2p; Fq2: Karatsuba, see below).  Every bound  */
/* in the formulas below follows from it.                                   */

#define MV(name) ZKA_MSM_CAT(V52_N, _##name)
#define V52_L (5 * V52_D) /* limbs per element */

typedef struct { uint64_t x[V52_L], y[V52_L]; } MV(pt);   /* canonical, R' form */
typedef struct { zka_v52 c[V52_D]; } MV(v);
typedef struct { MV(v) X, Y, ZZ, ZZZ; } MV(vxyzz);

/* ---- scalar conversions ---- */
static void MV(to52)(uint64_t o[V52_L], const V52_FE *a, const zka_msm_f52 *f) {
    for (int i = 0; i < V52_D; i++) zka_msm_fe_to52(o + 5 * i, V52_C(a, i), f);
}

static void MV(tofe)(V52_FE *o, const uint64_t a[V52_L], const zka_msm_f52 *f) {
    for (int i = 0; i < V52_D; i++) zka_msm_52_tofe(V52_C(o, i), a + 5 * i, f);
}

static void MV(tofe_lazy)(V52_FE *o, const uint64_t a[V52_L], const zka_msm_f52 *f) {
    for (int i = 0; i < V52_D; i++) zka_msm_52lazy_tofe(V52_C(o, i), a + 5 * i, f);
}

static int MV(eq)(const uint64_t a[V52_L], const uint64_t b[V52_L]) {
    uint64_t d = 0;
    for (int i = 0; i < V52_L; i++) d |= a[i] ^ b[i];
    return d == 0;
}

static void MV(neg)(uint64_t o[V52_L], const uint64_t a[V52_L], const zka_msm_f52 *f) {
    for (int i = 0; i < V52_D; i++) zka_msm_neg52(o + 5 * i, a + 5 * i, f);
}

/* ---- vector element operations (componentwise unless stated) ---- */
ZKA_IFMA_TARGET static inline void MV(add)(MV(v) *r, const MV(v) *a, const MV(v) *b,
                                           const zka_v52c *c) {
    for (int i = 0; i < V52_D; i++) zka_v52_add(&r->c[i], &a->c[i], &b->c[i], c);
}

ZKA_IFMA_TARGET static inline void MV(subk)(MV(v) *r, const MV(v) *a, const MV(v) *b,
                                            const __m512i *k, const zka_v52c *c) {
    for (int i = 0; i < V52_D; i++) zka_v52_subk(&r->c[i], &a->c[i], &b->c[i], k, c);
}

ZKA_IFMA_TARGET static inline void MV(csub)(MV(v) *r, const MV(v) *a, const __m512i *m,
                                            const zka_v52c *c) {
    for (int i = 0; i < V52_D; i++) zka_v52_csub(&r->c[i], &a->c[i], m, c);
}

ZKA_IFMA_TARGET static inline void MV(blend)(MV(v) *r, __mmask8 m, const MV(v) *a,
                                             const MV(v) *b) {
    for (int i = 0; i < V52_D; i++) zka_v52_blend(&r->c[i], m, &a->c[i], &b->c[i]);
}

/* lanes where a (< 4p componentwise) is 0 */
ZKA_IFMA_TARGET static inline __mmask8 MV(zero_mask)(const MV(v) *a, const zka_v52c *c) {
    __mmask8 m = 0xff;
    for (int i = 0; i < V52_D; i++) m &= zka_v52_zero_mask(&a->c[i], c);
    return m;
}

ZKA_IFMA_TARGET static inline void MV(set_one)(MV(v) *r, const zka_v52c *c) {
    for (int l = 0; l < 5; l++) r->c[0].l[l] = c->one[l];
    for (int i = 1; i < V52_D; i++)
        for (int l = 0; l < 5; l++) r->c[i].l[l] = _mm512_setzero_si512();
}

ZKA_IFMA_TARGET static inline void MV(mul)(MV(v) *r, const MV(v) *a, const MV(v) *b,
                                           const zka_v52c *c) {
#if V52_D == 1
    zka_v52_mul(&r->c[0], &a->c[0], &b->c[0], c);
#else
    /* Karatsuba, u^2 = -1: m0 = a0 b0, m1 = a1 b1 (< 1.2p), s = (a0 + a1)(b0 + b1)
       with sums < 8p, so s < p + (8p)^2 / 2^260 < 1.8p;
       c0 = m0 - m1 + 2p in (0.8p, 3.2p) -> < 2p by one conditional 2p;
       c1 = s - (m0 + m1) + 3p in (0.6p, 4.8p) -> < 2p by 4p then 2p. */
    zka_v52 m0, m1, sa, sb, s, t;
    zka_v52_mul(&m0, &a->c[0], &b->c[0], c);
    zka_v52_mul(&m1, &a->c[1], &b->c[1], c);
    zka_v52_add(&sa, &a->c[0], &a->c[1], c);
    zka_v52_add(&sb, &b->c[0], &b->c[1], c);
    zka_v52_mul(&s, &sa, &sb, c);
    zka_v52_add(&t, &m0, &m1, c);
    zka_v52_subk(&r->c[1], &s, &t, c->p3, c);
    zka_v52_csub(&r->c[1], &r->c[1], c->p4, c);
    zka_v52_csub(&r->c[1], &r->c[1], c->p2, c);
    zka_v52_subk(&r->c[0], &m0, &m1, c->p2, c);
    zka_v52_csub(&r->c[0], &r->c[0], c->p2, c);
#endif
}

/* element at byte offsets off[lane] from base (component i at base + 5i) */
ZKA_IFMA_TARGET static inline void MV(gather)(MV(v) *r, const uint64_t *base, __m512i off) {
    for (int i = 0; i < V52_D; i++) zka_v52_gather(&r->c[i], base + 5 * i, off);
}

ZKA_IFMA_TARGET static inline void MV(scatter)(uint64_t *base, __mmask8 m, __m512i off,
                                               const MV(v) *v) {
    for (int i = 0; i < V52_D; i++) zka_v52_scatter(base + 5 * i, m, off, &v->c[i]);
}

ZKA_IFMA_TARGET static inline void MV(load)(MV(v) *r, const uint64_t *p) {
    for (int i = 0; i < V52_D; i++) zka_v52_load(&r->c[i], p + 40 * i);
}

ZKA_IFMA_TARGET static inline void MV(store)(uint64_t *p, const MV(v) *v) {
    for (int i = 0; i < V52_D; i++) zka_v52_store(p + 40 * i, &v->c[i]);
}

/* lane l of v (< 2^256 per component) as a canonical core element */
ZKA_IFMA_TARGET static void MV(get_lane)(V52_FE *o, const MV(v) *v, int l,
                                         const zka_msm_f52 *f) {
    uint64_t lanes[40 * V52_D], x[V52_L];
    MV(store)(lanes, v);
    for (int i = 0; i < V52_D; i++)
        for (int j = 0; j < 5; j++) x[5 * i + j] = lanes[40 * i + 8 * j + l];
    MV(tofe_lazy)(o, x, f);
}

ZKA_IFMA_TARGET static void MV(set_lane)(MV(v) *v, int l, const V52_FE *a,
                                         const zka_msm_f52 *f) {
    uint64_t lanes[40 * V52_D], x[V52_L];
    MV(store)(lanes, v);
    MV(to52)(x, a, f);
    for (int i = 0; i < V52_D; i++)
        for (int j = 0; j < 5; j++) lanes[40 * i + 8 * j + l] = x[5 * i + j];
    MV(load)(v, lanes);
}

/* the 8 lanes of v (< 2p, all non-zero) replaced by their inverses */
ZKA_IFMA_TARGET static void MV(inv_lanes)(MV(v) *v, const zka_v52c *c, const zka_msm_f52 *f) {
    V52_FE e[8], scr[8];
    MV(csub)(v, v, c->p, c);
    for (int l = 0; l < 8; l++) MV(get_lane)(&e[l], v, l, f);
    ZKA_MSM_CAT(V52_F, _batch_inv)(e, e, 8, scr);
    for (int l = 0; l < 8; l++) MV(set_lane)(v, l, &e[l], f);
}

/* lane offsets and masks of the 8 entries from e0 (k entries in all) */
ZKA_IFMA_TARGET static inline void MV(lanes)(__m512i *offb, __m512i *offp, __mmask8 *neg,
                                             __mmask8 *live, const uint32_t *bi,
                                             const int64_t *pi, const uint8_t *bn, size_t e0,
                                             size_t k) {
    int64_t ob[8], op[8];
    unsigned ng = 0, lv = 0;
    for (int l = 0; l < 8; l++) {
        size_t e = e0 + (size_t)l < k ? e0 + (size_t)l : e0; /* pad with a live entry */
        ob[l] = (int64_t)bi[e] * (int64_t)sizeof(MV(pt));
        op[l] = pi[e] * (int64_t)sizeof(MV(pt));
        if (e0 + (size_t)l < k) {
            lv |= 1u << l;
            if (bn[e]) ng |= 1u << l;
        }
    }
    *offb = _mm512_loadu_si512((const void *)ob);
    *offp = _mm512_loadu_si512((const void *)op);
    *neg = (__mmask8)ng;
    *live = (__mmask8)lv;
}

/* B_b <- B_b + (+-P) for the k batch entries (bucket bi[e], point pi[e],
   negated if bn[e]); the buckets are distinct and x_P != x_B.  Bounds (mul
   outputs < 2p): den = x_P - x_B + p (x_B - x_P + p for -P) in (0, 2p);
   numerator y_P - y_B + p (y_P + y_B for -P) in (0, 2p); x3 = lam^2 + 2p -
   x_B - x_P in (0, 4p) -> canonical by conditional 2p then p; t = x_B - x3 + p
   in (0, 2p); y3 = lam t + p - y_B in (0, 3p) -> canonical by two conditional
   p.  Montgomery's trick runs on 4 x 8 interleaved chains; vden keeps per 8
   entries den, x_B, x_P and vpre the prefix products. */
ZKA_IFMA_TARGET static void MV(flush)(MV(pt) *bk, const MV(pt) *pts, const uint32_t *bi,
                                      const int64_t *pi, const uint8_t *bn, size_t k,
                                      uint64_t *vden, uint64_t *vpre, const zka_msm_f52 *f) {
    enum { E = 40 * V52_D }; /* uint64_t per stored element vector */
    zka_v52c c;
    MV(v) acc[4], den, t, u, xb, xp, yb, yp, lam, one;
    const size_t G = (k + 7) / 8;
    zka_v52c_init(&c, f);
    MV(set_one)(&one, &c);
    for (int h = 0; h < 4; h++) acc[h] = one;
    for (size_t g = 0; g < G; g++) {
        __m512i ob, op;
        __mmask8 neg, live;
        MV(lanes)(&ob, &op, &neg, &live, bi, pi, bn, 8 * g, k);
        MV(gather)(&xb, bk[0].x, ob);
        MV(gather)(&xp, pts[0].x, op);
        MV(subk)(&t, &xp, &xb, c.p, &c);
        MV(subk)(&u, &xb, &xp, c.p, &c);
        MV(blend)(&den, neg, &t, &u);
        MV(blend)(&den, live, &one, &den);
        MV(store)(vden + 3 * E * g, &den);
        MV(store)(vden + 3 * E * g + E, &xb);
        MV(store)(vden + 3 * E * g + 2 * E, &xp);
        MV(store)(vpre + E * g, &acc[g & 3]);
        MV(mul)(&acc[g & 3], &acc[g & 3], &den, &c);
    }
    /* invert the 4 chains: T = a0 a1 a2 a3, then 1/a0 = (1/T) a1 a2 a3 ... */
    {
        MV(v) ab, cd, tot, iab, icd, a0 = acc[0], a2 = acc[2];
        MV(mul)(&ab, &acc[0], &acc[1], &c);
        MV(mul)(&cd, &acc[2], &acc[3], &c);
        MV(mul)(&tot, &ab, &cd, &c);
        MV(inv_lanes)(&tot, &c, f);
        MV(mul)(&iab, &tot, &cd, &c);
        MV(mul)(&icd, &tot, &ab, &c);
        MV(mul)(&acc[0], &iab, &acc[1], &c);
        MV(mul)(&acc[1], &iab, &a0, &c);
        MV(mul)(&acc[2], &icd, &acc[3], &c);
        MV(mul)(&acc[3], &icd, &a2, &c);
    }
    for (size_t g = G; g-- > 0;) {
        __m512i ob, op;
        __mmask8 neg, live;
        MV(v) d;
        MV(load)(&den, vden + 3 * E * g);
        MV(load)(&t, vpre + E * g);
        MV(mul)(&d, &acc[g & 3], &t, &c);             /* 1 / den */
        MV(mul)(&acc[g & 3], &acc[g & 3], &den, &c);
        MV(lanes)(&ob, &op, &neg, &live, bi, pi, bn, 8 * g, k);
        MV(load)(&xb, vden + 3 * E * g + E);
        MV(load)(&xp, vden + 3 * E * g + 2 * E);
        MV(gather)(&yb, bk[0].y, ob);
        MV(gather)(&yp, pts[0].y, op);
        MV(subk)(&t, &yp, &yb, c.p, &c);
        MV(add)(&u, &yp, &yb, &c);
        MV(blend)(&lam, neg, &t, &u);
        MV(mul)(&lam, &lam, &d, &c);
        /* x3 */
        MV(mul)(&t, &lam, &lam, &c);
        MV(add)(&u, &xb, &xp, &c);
        MV(subk)(&t, &t, &u, c.p2, &c);
        MV(csub)(&t, &t, c.p2, &c);
        MV(csub)(&t, &t, c.p, &c);
        /* y3 */
        MV(subk)(&u, &xb, &t, c.p, &c);
        MV(mul)(&u, &lam, &u, &c);
        MV(subk)(&u, &u, &yb, c.p, &c);
        MV(csub)(&u, &u, c.p, &c);
        MV(csub)(&u, &u, c.p, &c);
        MV(scatter)(bk[0].x, live, ob, &t);
        MV(scatter)(bk[0].y, live, ob, &u);
    }
}

/* ---- vector XYZZ for the bucket reduction ----
 * Coordinates kept < 2p (mul outputs < 2p, multiplicands < 4p).  Infinity is
 * tracked by lane masks; a lane whose addition is exceptional (equal x:
 * doubling or inverse) is redone by the scalar code.
 * madd: U2 = x2 ZZ1, S2 = y2 ZZZ1; P = U2 - X1 + 2p, R = S2 - Y1 + 2p in
 * (0, 4p); X3 = R^2 - (PPP + 2Q) + 6p in (0, 8p) -> < 2p by conditional 4p
 * and 2p; Y3 = R (Q - X3 + 2p) - Y1 PPP + 2p in (0, 4p) -> < 2p by
 * conditional 2p.  add likewise with U1 = X1 ZZ2, S1 = Y1 ZZZ2. */
ZKA_IFMA_TARGET static inline void MV(vxyzz_finish)(MV(vxyzz) *r, const MV(v) *R,
                                                    const MV(v) *PPP, const MV(v) *Q,
                                                    const MV(v) *S1, const zka_v52c *c) {
    MV(v) t, x3, y3;
    MV(mul)(&x3, R, R, c);
    MV(add)(&t, Q, Q, c);
    MV(add)(&t, &t, PPP, c);
    MV(subk)(&x3, &x3, &t, c->p6, c);
    MV(csub)(&x3, &x3, c->p4, c);
    MV(csub)(&x3, &x3, c->p2, c);
    MV(subk)(&t, Q, &x3, c->p2, c);
    MV(mul)(&y3, R, &t, c);
    MV(mul)(&t, S1, PPP, c);
    MV(subk)(&y3, &y3, &t, c->p2, c);
    MV(csub)(&y3, &y3, c->p2, c);
    r->X = x3;
    r->Y = y3;
}

/* r = p + (x2, y2) on all lanes; *exc = lanes with equal x.  Finite inputs. */
ZKA_IFMA_TARGET static inline void MV(vxyzz_madd)(MV(vxyzz) *r, __mmask8 *exc,
                                                  const MV(vxyzz) *p, const MV(v) *x2,
                                                  const MV(v) *y2, const zka_v52c *c) {
    MV(v) U2, S2, P, R, PP, PPP, Q, zz, zzz;
    MV(mul)(&U2, x2, &p->ZZ, c);
    MV(mul)(&S2, y2, &p->ZZZ, c);
    MV(subk)(&P, &U2, &p->X, c->p2, c);
    MV(subk)(&R, &S2, &p->Y, c->p2, c);
    *exc = MV(zero_mask)(&P, c);
    MV(mul)(&PP, &P, &P, c);
    MV(mul)(&PPP, &P, &PP, c);
    MV(mul)(&Q, &p->X, &PP, c);
    MV(mul)(&zz, &p->ZZ, &PP, c);
    MV(mul)(&zzz, &p->ZZZ, &PPP, c);
    MV(vxyzz_finish)(r, &R, &PPP, &Q, &p->Y, c);
    r->ZZ = zz;
    r->ZZZ = zzz;
}

/* r = p + q on all lanes; *exc = lanes with equal x.  Finite inputs. */
ZKA_IFMA_TARGET static inline void MV(vxyzz_add)(MV(vxyzz) *r, __mmask8 *exc,
                                                 const MV(vxyzz) *p, const MV(vxyzz) *q,
                                                 const zka_v52c *c) {
    MV(v) U1, U2, S1, S2, P, R, PP, PPP, Q, zz, zzz;
    MV(mul)(&U1, &p->X, &q->ZZ, c);
    MV(mul)(&U2, &q->X, &p->ZZ, c);
    MV(mul)(&S1, &p->Y, &q->ZZZ, c);
    MV(mul)(&S2, &q->Y, &p->ZZZ, c);
    MV(subk)(&P, &U2, &U1, c->p2, c);
    MV(subk)(&R, &S2, &S1, c->p2, c);
    *exc = MV(zero_mask)(&P, c);
    MV(mul)(&PP, &P, &P, c);
    MV(mul)(&PPP, &P, &PP, c);
    MV(mul)(&Q, &U1, &PP, c);
    MV(mul)(&zz, &p->ZZ, &q->ZZ, c);
    MV(mul)(&zz, &zz, &PP, c);
    MV(mul)(&zzz, &p->ZZZ, &q->ZZZ, c);
    MV(mul)(&zzz, &zzz, &PPP, c);
    MV(vxyzz_finish)(r, &R, &PPP, &Q, &S1, c);
    r->ZZ = zz;
    r->ZZZ = zzz;
}

ZKA_IFMA_TARGET static inline void MV(vxyzz_blend)(MV(vxyzz) *r, __mmask8 m,
                                                   const MV(vxyzz) *a, const MV(vxyzz) *b) {
    MV(blend)(&r->X, m, &a->X, &b->X);
    MV(blend)(&r->Y, m, &a->Y, &b->Y);
    MV(blend)(&r->ZZ, m, &a->ZZ, &b->ZZ);
    MV(blend)(&r->ZZZ, m, &a->ZZZ, &b->ZZZ);
}

#undef MV
#undef V52_L

#elif !defined(ZKA_MSM_IMPL_H)
/* ======================================================================== */
#define ZKA_MSM_IMPL_H
#include <stdlib.h>
#include <string.h>

#define ZKA_MSM_CAT_(a, b) a##b
#define ZKA_MSM_CAT(a, b) ZKA_MSM_CAT_(a, b)

/* bucket states */
#define ZKA_MSM_FULL 1u     /* the affine bucket holds a point */
#define ZKA_MSM_INBATCH 2u  /* the bucket is the target of a pending batch entry */
#define ZKA_MSM_OVF 4u      /* the overflow accumulator is in use */

#define ZKA_MSM_PREFETCH 8      /* points ahead to prefetch the bucket of */
#define ZKA_MSM_MIN_UNITS 4096  /* (window, point) pairs worth a thread */
#define ZKA_MSM_MAX_C 16        /* digits fit int16_t */
#define ZKA_MSM_MAX_W 160       /* windows for c >= 2 */
#define ZKA_MSM_MIN_BATCH 64    /* smaller batches do not repay an inversion */
#define ZKA_MSM_CHUNK ((size_t)1 << 19) /* input points per run (bounds memory) */
#define ZKA_MSM_BATCH_DIV 2     /* batch size K = nb / 2 ... */
#define ZKA_MSM_BATCH_MAX 4096  /* ... at most this */

/* Wipe that the optimiser cannot drop (memset + compiler barrier); fast on
   the large digit arrays. */
static void zka_msm_wipe(void *p, size_t n) {
    memset(p, 0, n);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

/* [lo, hi) = the t-th of T near-equal contiguous slices of [0, total). */
static void zka_msm_split(size_t *lo, size_t *hi, size_t total, uint32_t t, uint32_t T) {
    size_t q = total / T, rem = total % T;
    *lo = q * t + (t < rem ? t : rem);
    *hi = *lo + q + (t < rem ? 1 : 0);
}

/* Bias B = sum_{j<w} 2^(c-1) 2^(jc) for the least w with kmax + B < 2^(wc)
   (kmax bounds the scalars: r for plain scalars, zka_msm_glv_bound for GLV halves). */
static void zka_msm_bias(uint64_t B[5], uint32_t *w_out, uint32_t c, const uint64_t kmax[4]) {
    uint32_t w = 1;
    for (;;) {
        uint64_t s[5] = {0, 0, 0, 0, 0}, carry = 0;
        memset(B, 0, 5 * sizeof(uint64_t));
        for (uint32_t j = 0; j < w; j++) {
            uint32_t bit = j * c + c - 1;
            B[bit >> 6] |= UINT64_C(1) << (bit & 63);
        }
        for (int i = 0; i < 5; i++) {
            unsigned __int128 a = (unsigned __int128)B[i] + (i < 4 ? kmax[i] : 0) + carry;
            s[i] = (uint64_t)a;
            carry = (uint64_t)(a >> 64);
        }
        /* s < 2^(wc)?  (wc <= 256 + c - 1 < 320; carry is 0 here) */
        uint32_t top = w * c;
        int ok = 1;
        for (uint32_t bit = top; bit < 320 && ok; bit++)
            if ((s[bit >> 6] >> (bit & 63)) & 1) ok = 0;
        if (ok && carry == 0) {
            *w_out = w;
            return;
        }
        w++;
    }
}

/* Number of distinct digit values window j can take for scalars <= kmax:
   ((kmax + B) >> jc) - (B >> jc) + 1, capped at 2^c. */
static uint64_t zka_msm_span(const uint64_t kmax[4], const uint64_t B[5], uint32_t j, uint32_t c) {
    uint64_t s[5], carry = 0, hi = 0, lo = 0;
    for (int i = 0; i < 5; i++) {
        unsigned __int128 a = (unsigned __int128)B[i] + (i < 4 ? kmax[i] : 0) + carry;
        s[i] = (uint64_t)a;
        carry = (uint64_t)(a >> 64);
    }
    /* the values >> jc, saturated at 2^40 */
    uint32_t sh = j * c;
    for (uint32_t bit = sh + 40; bit < 320; bit++)
        if ((s[bit >> 6] >> (bit & 63)) & 1) return (uint64_t)1 << c;
    for (uint32_t bit = sh; bit < sh + 40 && bit < 320; bit++) {
        hi |= ((s[bit >> 6] >> (bit & 63)) & 1) << (bit - sh);
        lo |= ((B[bit >> 6] >> (bit & 63)) & 1) << (bit - sh);
    }
    uint64_t span = hi - lo + 1;
    return span > ((uint64_t)1 << c) ? (uint64_t)1 << c : span;
}

/* Signed digits of k (plain limbs, k <= kmax) into dst[j * stride], j < w;
   nz[j] counts the non-zero digits of window j. */
static void zka_msm_recode(int16_t *dst, size_t stride, uint64_t *nz, const uint64_t k[4],
                           int zero, const uint64_t B[5], uint32_t c, uint32_t w, uint32_t half,
                           uint32_t mask) {
    if (zero || (k[0] | k[1] | k[2] | k[3]) == 0) {
        for (uint32_t j = 0; j < w; j++) dst[(size_t)j * stride] = 0;
        return;
    }
    uint64_t s[5];
    unsigned __int128 carry = 0;
    for (int i = 0; i < 5; i++) {
        carry += (unsigned __int128)B[i] + (i < 4 ? k[i] : 0);
        s[i] = (uint64_t)carry;
        carry >>= 64;
    }
    for (uint32_t j = 0; j < w; j++) {
        uint32_t off = j * c, li = off >> 6, sh = off & 63;
        uint64_t v = s[li] >> sh;
        if (sh + c > 64 && li + 1 < 5) v |= s[li + 1] << (64 - sh);
        int32_t d = (int32_t)(v & mask) - (int32_t)half;
        dst[(size_t)j * stride] = (int16_t)d;
        nz[j] += d != 0;
    }
    zka_msm_wipe(s, sizeof s);
}

/* Batch size for nb buckets: large batches amortise the inversion (~300
   multiplications by Fermat); a point whose bucket is already in the batch
   waits in the deferred list, which stays short while K <= nb/2. */
static uint32_t zka_msm_batch(uint32_t nb) {
    uint32_t K = nb / ZKA_MSM_BATCH_DIV;
    if (K > ZKA_MSM_BATCH_MAX) K = ZKA_MSM_BATCH_MAX;
    if (K < 1) K = 1;
    return K;
}

/* Window size for n points whose scalars are at most kmax: the c in
   [2, ZKA_MSM_MAX_C] minimising the estimated cost, per window that holds
   bits of the scalars (the windows above only catch a rare carry: about
   ceil(bits / c) of them) n batch-affine additions plus 2^(c-1) buckets to
   reduce.  Scalar path, in field multiplications: ~6 + 300/K per addition,
   ~24 per bucket (two XYZZ additions).  IFMA path (vector reduction),
   measured on Zen 4: a bucket costs ~0.8 of an addition. */
static uint32_t zka_msm_window_for(size_t n, const uint64_t kmax[4], int ifma) {
    uint32_t best = 2, bits = 0;
    double best_cost = 0;
    for (int i = 3; i >= 0 && !bits; i--)
        if (kmax[i]) bits = 64 * (uint32_t)i + 64 - (uint32_t)__builtin_clzll(kmax[i]);
    for (uint32_t c = 2; c <= ZKA_MSM_MAX_C; c++) {
        uint32_t nb = 1u << (c - 1);
        double w = (double)((bits + c - 1) / c);
        double cost = ifma ? w * ((double)n + 0.8 * nb)
                           : w * ((double)n * (6.0 + 300.0 / zka_msm_batch(nb)) + 24.0 * nb);
        if (c == 2 || cost < best_cost) {
            best = c;
            best_cost = cost;
        }
    }
    return best;
}

/* ---- GLV for G1 -------------------------------------------------------
 * phi(x, y) = (beta x, y) = [lambda](x, y) on G1, where, in terms of the BN
 * parameter x (BN_X),
 *   beta   = 18x^3 + 18x^2 + 9x + 1   a primitive cube root of unity mod p,
 *   lambda = 36x^3 + 18x^2 + 6x + 1   a primitive cube root of unity mod r.
 * A short basis of the lattice {(a, b) : a + b lambda = 0 (mod r)} is
 *   v1 = (2x + 1, -(6x^2 + 2x)),   v2 = (6x^2 + 4x + 1, 2x + 1),   det = r.
 * Writing (k, 0) = t1 v1 + t2 v2 over Q gives t1 = k (2x+1) / r and
 * t2 = k (6x^2+2x) / r, both >= 0.  With g1 = floor(2^256 (2x+1) / r),
 * g2 = floor(2^256 (6x^2+2x) / r) and k < r < 2^254, c_i = floor(k g_i / 2^256)
 * satisfies 0 <= t_i - c_i < 1 + 1/4, so (k1, k2) = (t1 - c1) v1 + (t2 - c2) v2:
 *   k1 = k - c1 (2x+1) - c2 (6x^2+4x+1),   k2 = c1 (6x^2+2x) - c2 (2x+1),
 * k = k1 + k2 lambda (mod r); since |v1|, |v2| components sum to at most
 * a1 + a2 = 6x^2 + 6x + 2, |k1|, |k2| < 1.25 (6x^2 + 6x + 2) < 2^127.2
 * (zka_msm_glv_bound; the digits are sized by it).
 * Everything is derived here from BN_X and FR_MODULUS (constants.h);
 * tests/native/test_msm.py re-derives these facts with Python integers and
 * checks the MSM against the reference on extreme scalars. */
/* |k1|, |k2| <= m + m/4 + 1 with m = 6x^2 + 6x + 2 (the bound is < 2^127.2) */
static void zka_msm_glv_bound(uint64_t kmax[4]) {
    unsigned __int128 X = BN_X, m = 6 * X * X + 6 * X + 2, b = m + (m >> 2) + 1;
    kmax[0] = (uint64_t)b;
    kmax[1] = (uint64_t)(b >> 64);
    kmax[2] = kmax[3] = 0;
}

typedef struct {
    fe beta;                  /* Montgomery form */
    uint64_t g1[2], g2[3];    /* rounding constants */
    uint64_t a1[2], a2[2], b1[2]; /* 2x+1, 6x^2+4x+1, 6x^2+2x */
} zka_msm_glv;

/* r[0..na+nb) = a * b */
static void zka_msm_mp_mul(uint64_t *r, const uint64_t *a, int na, const uint64_t *b, int nb) {
    for (int i = 0; i < na + nb; i++) r[i] = 0;
    for (int i = 0; i < na; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < nb; j++) {
            unsigned __int128 t = (unsigned __int128)a[i] * b[j] + r[i + j] + carry;
            r[i + j] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        r[i + nb] = carry;
    }
}

/* r = a - b (mod 2^(64 n)) */
static void zka_msm_mp_sub(uint64_t *r, const uint64_t *a, const uint64_t *b, int n) {
    uint64_t borrow = 0;
    for (int i = 0; i < n; i++) {
        unsigned __int128 t = (unsigned __int128)a[i] - b[i] - borrow;
        r[i] = (uint64_t)t;
        borrow = (uint64_t)(t >> 64) & 1;
    }
}

/* r = a + b (mod 2^(64 n)) */
static void zka_msm_mp_add(uint64_t *r, const uint64_t *a, const uint64_t *b, int n) {
    uint64_t carry = 0;
    for (int i = 0; i < n; i++) {
        unsigned __int128 t = (unsigned __int128)a[i] + b[i] + carry;
        r[i] = (uint64_t)t;
        carry = (uint64_t)(t >> 64);
    }
}

/* q = floor(b 2^256 / r), b < 2^128, q < 2^192 (bitwise long division) */
static void zka_msm_glv_round_const(uint64_t q[3], const uint64_t b[2]) {
    uint64_t rem[5] = {0, 0, 0, 0, 0};
    q[0] = q[1] = q[2] = 0;
    for (int bit = 383; bit >= 0; bit--) {
        uint64_t in = bit >= 256 ? (b[(bit - 256) >> 6] >> (bit & 63)) & 1 : 0;
        for (int i = 4; i > 0; i--) rem[i] = (rem[i] << 1) | (rem[i - 1] >> 63);
        rem[0] = (rem[0] << 1) | in;
        /* rem >= r ? */
        int ge = rem[4] != 0;
        if (!ge) {
            ge = 1;
            for (int i = 3; i >= 0; i--)
                if (rem[i] != FR_MODULUS[i]) {
                    ge = rem[i] > FR_MODULUS[i];
                    break;
                }
        }
        if (ge) {
            uint64_t m5[5] = {FR_MODULUS[0], FR_MODULUS[1], FR_MODULUS[2], FR_MODULUS[3], 0};
            zka_msm_mp_sub(rem, rem, m5, 5);
            if (bit < 192) q[bit >> 6] |= UINT64_C(1) << (bit & 63);
        }
    }
}

static void zka_msm_glv_init(zka_msm_glv *g) {
    const uint64_t x = BN_X;
    uint64_t x1[1] = {x}, x2[2], x3[3], t[4], acc[4], s[4] = {1, 0, 0, 0};
    const uint64_t c18[1] = {18}, c9[1] = {9};
    zka_msm_mp_mul(x2, x1, 1, x1, 1);
    zka_msm_mp_mul(x3, x2, 2, x1, 1);
    /* beta = 18x^3 + 18x^2 + 9x + 1 (< p) */
    zka_msm_mp_mul(acc, x3, 3, c18, 1);
    zka_msm_mp_add(acc, acc, s, 4);
    zka_msm_mp_mul(t, x2, 2, c18, 1);
    t[3] = 0;
    zka_msm_mp_add(acc, acc, t, 4);
    zka_msm_mp_mul(t, x1, 1, c9, 1);
    t[2] = t[3] = 0;
    zka_msm_mp_add(acc, acc, t, 4);
    fq_from_limbs(&g->beta, acc);
    /* a1 = 2x + 1, b1 = 6x^2 + 2x, a2 = 6x^2 + 4x + 1 (all < 2^128) */
    unsigned __int128 X = x, X2 = X * X;
    unsigned __int128 a1 = 2 * X + 1, b1 = 6 * X2 + 2 * X, a2 = 6 * X2 + 4 * X + 1;
    g->a1[0] = (uint64_t)a1; g->a1[1] = (uint64_t)(a1 >> 64);
    g->b1[0] = (uint64_t)b1; g->b1[1] = (uint64_t)(b1 >> 64);
    g->a2[0] = (uint64_t)a2; g->a2[1] = (uint64_t)(a2 >> 64);
    uint64_t q[3];
    zka_msm_glv_round_const(q, g->a1);
    g->g1[0] = q[0]; g->g1[1] = q[1]; /* < 2^67: q[2] = 0 */
    zka_msm_glv_round_const(g->g2, g->b1);
}

/* |k1|, |k2| (4 limbs, <= zka_msm_glv_bound) and their signs for 0 <= k < r. */
static void zka_msm_glv_split(uint64_t ks[2][4], int neg[2], const uint64_t k[4],
                              const zka_msm_glv *g) {
    uint64_t p6[6], p7[7], c1[1], c2[2], t[4], u[4], v[4];
    zka_msm_mp_mul(p6, k, 4, g->g1, 2);
    c1[0] = p6[4];                          /* c1 < 2^64 */
    zka_msm_mp_mul(p7, k, 4, g->g2, 3);
    c2[0] = p7[4]; c2[1] = p7[5];           /* c2 < 2^127 */
    /* k1 = k - c1 a1 - c2 a2  (mod 2^256) */
    zka_msm_mp_mul(t, c1, 1, g->a1, 2); t[3] = 0;
    zka_msm_mp_mul(u, c2, 2, g->a2, 2);
    zka_msm_mp_sub(v, k, t, 4);
    zka_msm_mp_sub(ks[0], v, u, 4);
    /* k2 = c1 b1 - c2 a1  (mod 2^256) */
    zka_msm_mp_mul(t, c1, 1, g->b1, 2); t[3] = 0;
    zka_msm_mp_mul(u, c2, 2, g->a1, 2);
    zka_msm_mp_sub(ks[1], t, u, 4);
    for (int h = 0; h < 2; h++) {
        neg[h] = (int)(ks[h][3] >> 63);
        if (neg[h]) {
            uint64_t z[4] = {0, 0, 0, 0};
            zka_msm_mp_sub(ks[h], z, ks[h], 4);
        }
    }
    zka_wipe(p6, sizeof p6);
    zka_wipe(p7, sizeof p7);
    zka_wipe(c1, sizeof c1);
    zka_wipe(c2, sizeof c2);
}

/* ---- AVX-512 IFMA arithmetic ---------------------------------------------
 * On CPUs with AVX-512 IFMA (vpmadd52luq/huq) the batch-affine additions
 * (about 85% of the work) and the bucket reductions run 8 at a time, for G1
 * and G2.  Inside the MSM, points and buckets are then kept in radix 2^52
 * (5 limbs of 52 bits per Fq component) in Montgomery form with R' = 2^260,
 * canonical (< p).  Conversions to and from the core's fe (R = 2^256) are one
 * multiplication: x R' = fq_mul(x R, 16 R) and x R = fq_mul(x R', 2^-4 R).
 * The 8-lane Montgomery product zka_v52_mul (operand scanning, one 52-bit
 * reduction digit per round) returns (a b + q p) / 2^260 < p + a b / 2^260:
 * < 1.2p for multiplicands < 4p, which is the bound every formula of the
 * second template keeps.  Chosen at run time (zka_cap has AVX512IFMA, the
 * CPU has AVX512F and the OS saves the ZMM state); ZKATTEST_NO_ASM=1 turns it
 * off like every other accelerated path. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ZKA_MSM_HAVE_IFMA 1
#include <immintrin.h>
#include <cpuid.h>
#define ZKA_IFMA_TARGET __attribute__((target("avx512f,avx512ifma")))
#else
#define ZKA_MSM_HAVE_IFMA 0
#endif

#if ZKA_MSM_HAVE_IFMA
#define ZKA_M52 UINT64_C(0xfffffffffffff)
#define ZKA_MSM_IFMA_MIN_N 64   /* below this, the scalar path */
#define ZKA_MSM_VREDUCE_MIN_NB 64 /* vector bucket reduction from 8 segments of 8 */

typedef struct {
    uint64_t p[5], p2[5], p3[5], p4[5], p6[5]; /* multiples of p in radix 2^52 */
    uint64_t pinv;            /* -p^-1 mod 2^52 */
    uint64_t one[5];          /* R' mod p (1 in Montgomery form) */
    fe mont16, inv16;         /* 16 and 2^-4 in the core's Montgomery form */
    fe beta16;                /* 16 beta (GLV): fq_mul(x R, beta16) = beta x R' */
} zka_msm_f52;

static void zka_msm_pack52(uint64_t o[5], const uint64_t a[4]) {
    o[0] = a[0] & ZKA_M52;
    o[1] = ((a[0] >> 52) | (a[1] << 12)) & ZKA_M52;
    o[2] = ((a[1] >> 40) | (a[2] << 24)) & ZKA_M52;
    o[3] = ((a[2] >> 28) | (a[3] << 36)) & ZKA_M52;
    o[4] = a[3] >> 16;
}

static void zka_msm_unpack52(uint64_t o[4], const uint64_t a[5]) {
    o[0] = a[0] | (a[1] << 52);
    o[1] = (a[1] >> 12) | (a[2] << 40);
    o[2] = (a[2] >> 24) | (a[3] << 28);
    o[3] = (a[3] >> 36) | (a[4] << 16);
}

/* x R (core form, canonical) -> x R' in radix 2^52 (canonical) */
static void zka_msm_fe_to52(uint64_t o[5], const fe *a, const zka_msm_f52 *f) {
    fe t;
    fq_mul(&t, a, &f->mont16);
    zka_msm_pack52(o, t.v);
}

/* x R' in radix 2^52 (canonical) -> x R */
static void zka_msm_52_tofe(fe *o, const uint64_t a[5], const zka_msm_f52 *f) {
    fe t;
    zka_msm_unpack52(t.v, a);
    fq_mul(o, &t, &f->inv16);
}

static void zka_msm_f52_init(zka_msm_f52 *f) {
    uint64_t t[4], c = 0, inv = 1;
    fe one;
    zka_msm_pack52(f->p, FQ_MODULUS);
    for (int i = 0; i < 4; i++) { /* 2p < 2^255 */
        t[i] = (FQ_MODULUS[i] << 1) | c;
        c = FQ_MODULUS[i] >> 63;
    }
    zka_msm_pack52(f->p2, t);
    for (int i = 0; i < 5; i++) { /* limbwise sums, then carries (all < 2^256) */
        f->p3[i] = f->p2[i] + f->p[i];
        f->p4[i] = f->p2[i] << 1;
        f->p6[i] = f->p3[i] << 1;
    }
    for (int i = 0; i < 4; i++) {
        f->p3[i + 1] += f->p3[i] >> 52;
        f->p3[i] &= ZKA_M52;
        f->p4[i + 1] += f->p4[i] >> 52;
        f->p4[i] &= ZKA_M52;
    }
    for (int i = 0; i < 4; i++) {
        f->p6[i + 1] += f->p6[i] >> 52;
        f->p6[i] &= ZKA_M52;
    }
    for (int i = 0; i < 6; i++) inv *= 2 - FQ_MODULUS[0] * inv; /* p^-1 mod 2^64 */
    f->pinv = (0 - inv) & ZKA_M52;
    fq_from_u64(&f->mont16, 16);
    fq_inv(&f->inv16, &f->mont16);
    fq_set_one(&one);
    zka_msm_fe_to52(f->one, &one, f);
}

/* o = -a mod p for canonical a */
static void zka_msm_neg52(uint64_t o[5], const uint64_t a[5], const zka_msm_f52 *f) {
    int64_t borrow = 0;
    if ((a[0] | a[1] | a[2] | a[3] | a[4]) == 0) {
        memset(o, 0, 5 * sizeof(uint64_t));
        return;
    }
    for (int i = 0; i < 5; i++) {
        int64_t d = (int64_t)f->p[i] - (int64_t)a[i] + borrow;
        borrow = d >> 52;              /* arithmetic: -1 or 0 */
        o[i] = (uint64_t)d & ZKA_M52;
    }
}

static int zka_msm_ifma_usable(void) {
    unsigned a, b, c, d;
    uint32_t lo, hi;
    if (!(zka_cap & ZKA_CPU_AVX512IFMA)) return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if (!(b & (1u << 16)) || !(b & (1u << 21))) return 0;               /* AVX512F, IFMA */
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & 0xe6) == 0xe6; /* XMM, YMM, opmask, ZMM0-15 upper, ZMM16-31 */
}

typedef struct { __m512i l[5]; } zka_v52;
typedef struct { __m512i p[5], p2[5], p3[5], p4[5], p6[5], one[5], pinv, mask; } zka_v52c;

ZKA_IFMA_TARGET static void zka_v52c_init(zka_v52c *c, const zka_msm_f52 *f) {
    for (int i = 0; i < 5; i++) {
        c->p[i] = _mm512_set1_epi64((long long)f->p[i]);
        c->p2[i] = _mm512_set1_epi64((long long)f->p2[i]);
        c->p3[i] = _mm512_set1_epi64((long long)f->p3[i]);
        c->p4[i] = _mm512_set1_epi64((long long)f->p4[i]);
        c->p6[i] = _mm512_set1_epi64((long long)f->p6[i]);
        c->one[i] = _mm512_set1_epi64((long long)f->one[i]);
    }
    c->pinv = _mm512_set1_epi64((long long)f->pinv);
    c->mask = _mm512_set1_epi64((long long)ZKA_M52);
}

/* r = a b / 2^260 mod p (< p + a b / 2^260), 8 lanes; limbs of a, b < 2^52.
   r may alias a or b. */
ZKA_IFMA_TARGET static inline void zka_v52_mul(zka_v52 *r, const zka_v52 *a, const zka_v52 *b,
                                               const zka_v52c *c) {
    const __m512i zero = _mm512_setzero_si512();
    __m512i t0 = zero, t1 = zero, t2 = zero, t3 = zero, t4 = zero, t5;
    const __m512i a0 = a->l[0], a1 = a->l[1], a2 = a->l[2], a3 = a->l[3], a4 = a->l[4];
    for (int i = 0; i < 5; i++) {
        const __m512i bi = b->l[i];
        t5 = zero;
        t0 = _mm512_madd52lo_epu64(t0, a0, bi);
        t1 = _mm512_madd52lo_epu64(t1, a1, bi);
        t2 = _mm512_madd52lo_epu64(t2, a2, bi);
        t3 = _mm512_madd52lo_epu64(t3, a3, bi);
        t4 = _mm512_madd52lo_epu64(t4, a4, bi);
        t1 = _mm512_madd52hi_epu64(t1, a0, bi);
        t2 = _mm512_madd52hi_epu64(t2, a1, bi);
        t3 = _mm512_madd52hi_epu64(t3, a2, bi);
        t4 = _mm512_madd52hi_epu64(t4, a3, bi);
        t5 = _mm512_madd52hi_epu64(t5, a4, bi);
        /* q = t0 * (-p^-1) mod 2^52; t += q p, which clears t0's low 52 bits */
        const __m512i q = _mm512_madd52lo_epu64(zero, t0, c->pinv);
        t0 = _mm512_madd52lo_epu64(t0, c->p[0], q);
        t1 = _mm512_madd52lo_epu64(t1, c->p[1], q);
        t2 = _mm512_madd52lo_epu64(t2, c->p[2], q);
        t3 = _mm512_madd52lo_epu64(t3, c->p[3], q);
        t4 = _mm512_madd52lo_epu64(t4, c->p[4], q);
        t1 = _mm512_madd52hi_epu64(t1, c->p[0], q);
        t2 = _mm512_madd52hi_epu64(t2, c->p[1], q);
        t3 = _mm512_madd52hi_epu64(t3, c->p[2], q);
        t4 = _mm512_madd52hi_epu64(t4, c->p[3], q);
        t5 = _mm512_madd52hi_epu64(t5, c->p[4], q);
        /* divide by 2^52 */
        t0 = _mm512_add_epi64(t1, _mm512_srli_epi64(t0, 52));
        t1 = t2;
        t2 = t3;
        t3 = t4;
        t4 = t5;
    }
    t1 = _mm512_add_epi64(t1, _mm512_srli_epi64(t0, 52));
    t2 = _mm512_add_epi64(t2, _mm512_srli_epi64(t1, 52));
    t3 = _mm512_add_epi64(t3, _mm512_srli_epi64(t2, 52));
    t4 = _mm512_add_epi64(t4, _mm512_srli_epi64(t3, 52));
    r->l[0] = _mm512_and_si512(t0, c->mask);
    r->l[1] = _mm512_and_si512(t1, c->mask);
    r->l[2] = _mm512_and_si512(t2, c->mask);
    r->l[3] = _mm512_and_si512(t3, c->mask);
    r->l[4] = t4;
}

/* propagate signed limb carries (the value must be >= 0) */
ZKA_IFMA_TARGET static inline void zka_v52_norm(zka_v52 *r, const zka_v52c *c) {
    for (int i = 0; i < 4; i++) {
        r->l[i + 1] = _mm512_add_epi64(r->l[i + 1], _mm512_srai_epi64(r->l[i], 52));
        r->l[i] = _mm512_and_si512(r->l[i], c->mask);
    }
}

/* r = a - b + k (k a multiple of p with k > b), normalised */
ZKA_IFMA_TARGET static inline void zka_v52_subk(zka_v52 *r, const zka_v52 *a, const zka_v52 *b,
                                                const __m512i *k, const zka_v52c *c) {
    for (int i = 0; i < 5; i++)
        r->l[i] = _mm512_add_epi64(_mm512_sub_epi64(a->l[i], b->l[i]), k[i]);
    zka_v52_norm(r, c);
}

/* r = a + b, normalised */
ZKA_IFMA_TARGET static inline void zka_v52_add(zka_v52 *r, const zka_v52 *a, const zka_v52 *b,
                                               const zka_v52c *c) {
    for (int i = 0; i < 5; i++) r->l[i] = _mm512_add_epi64(a->l[i], b->l[i]);
    zka_v52_norm(r, c);
}

/* r = a - m if a >= m else a (a normalised) */
ZKA_IFMA_TARGET static inline void zka_v52_csub(zka_v52 *r, const zka_v52 *a, const __m512i *m,
                                                const zka_v52c *c) {
    zka_v52 d;
    for (int i = 0; i < 5; i++) d.l[i] = _mm512_sub_epi64(a->l[i], m[i]);
    zka_v52_norm(&d, c);
    __mmask8 keep = _mm512_cmplt_epi64_mask(d.l[4], _mm512_setzero_si512());
    for (int i = 0; i < 5; i++) r->l[i] = _mm512_mask_blend_epi64(keep, d.l[i], a->l[i]);
}

ZKA_IFMA_TARGET static inline void zka_v52_blend(zka_v52 *r, __mmask8 m, const zka_v52 *a,
                                                 const zka_v52 *b) {
    for (int i = 0; i < 5; i++) r->l[i] = _mm512_mask_blend_epi64(m, a->l[i], b->l[i]);
}

/* 5 limbs at byte offsets off[lane] + base */
ZKA_IFMA_TARGET static inline void zka_v52_gather(zka_v52 *r, const uint64_t *base, __m512i off) {
    for (int i = 0; i < 5; i++) r->l[i] = _mm512_i64gather_epi64(off, (const void *)(base + i), 1);
}

ZKA_IFMA_TARGET static inline void zka_v52_scatter(uint64_t *base, __mmask8 m, __m512i off,
                                                   const zka_v52 *v) {
    for (int i = 0; i < 5; i++) _mm512_mask_i64scatter_epi64((void *)(base + i), m, off, v->l[i], 1);
}

ZKA_IFMA_TARGET static inline void zka_v52_load(zka_v52 *r, const uint64_t *p) {
    for (int i = 0; i < 5; i++) r->l[i] = _mm512_loadu_si512((const void *)(p + 8 * i));
}

ZKA_IFMA_TARGET static inline void zka_v52_store(uint64_t *p, const zka_v52 *v) {
    for (int i = 0; i < 5; i++) _mm512_storeu_si512((void *)(p + 8 * i), v->l[i]);
}

/* mask of lanes where a (< 4p) is 0 mod p */
ZKA_IFMA_TARGET static inline __mmask8 zka_v52_zero_mask(const zka_v52 *a, const zka_v52c *c) {
    zka_v52 t;
    zka_v52_csub(&t, a, c->p2, c);
    zka_v52_csub(&t, &t, c->p, c);
    __m512i o = _mm512_or_si512(_mm512_or_si512(t.l[0], t.l[1]),
                                _mm512_or_si512(_mm512_or_si512(t.l[2], t.l[3]), t.l[4]));
    return _mm512_cmpeq_epi64_mask(o, _mm512_setzero_si512());
}

/* x (< 2^256 in radix 2^52, any multiple of p above) -> canonical x R */
static void zka_msm_52lazy_tofe(fe *o, const uint64_t a[5], const zka_msm_f52 *f) {
    fe t;
    zka_msm_unpack52(t.v, a);
    while (!zka_limbs_lt(t.v, FQ_MODULUS)) {
        uint64_t borrow = 0;
        for (int i = 0; i < 4; i++) {
            unsigned __int128 d = (unsigned __int128)t.v[i] - FQ_MODULUS[i] - borrow;
            t.v[i] = (uint64_t)d;
            borrow = (uint64_t)(d >> 64) & 1;
        }
    }
    fq_mul(o, &t, &f->inv16);
}

#endif /* ZKA_MSM_HAVE_IFMA */

/* ---- instantiate ----------------------------------------------------- */
#if ZKA_MSM_HAVE_IFMA
#define ZKA_MSM_V52_TEMPLATE 1
#define V52_N zka_e1
#define V52_D 1
#define V52_FE fe
#define V52_F fq
#define V52_C(a, i) (a)
#include "msm_impl.h"
#undef V52_N
#undef V52_D
#undef V52_FE
#undef V52_F
#undef V52_C
#define V52_N zka_e2
#define V52_D 2
#define V52_FE fq2
#define V52_F fq2
#define V52_C(a, i) ((i) ? &(a)->c1 : &(a)->c0)
#include "msm_impl.h"
#undef V52_N
#undef V52_D
#undef V52_FE
#undef V52_F
#undef V52_C
#undef ZKA_MSM_V52_TEMPLATE
#endif

static int zka_msm_g1_load(g1_aff *r, const uint8_t *in) { return g1_aff_from_bytes(r, in); }
static int zka_msm_g2_load(g2_aff *r, const uint8_t *in) {
    return g2_aff_from_bytes_unchecked_subgroup(r, in);
}

#define ZKA_MSM_TEMPLATE 1
#define MSM_G g1
#define MSM_F fq
#define MSM_E fe
#define MSM_A g1_aff
#define MSM_J g1_jac
#define MSM_ZT zka_g1
#define MSM_LOAD zka_msm_g1_load
#define MSM_GLV 1
#define MSM_IFMA ZKA_MSM_HAVE_IFMA
#define MSM_V52 zka_e1
#define MSM_VD 1
#include "msm_impl.h"
#undef MSM_G
#undef MSM_F
#undef MSM_E
#undef MSM_A
#undef MSM_J
#undef MSM_ZT
#undef MSM_LOAD
#undef MSM_GLV
#undef MSM_IFMA
#undef MSM_V52
#undef MSM_VD

#define MSM_G g2
#define MSM_F fq2
#define MSM_E fq2
#define MSM_A g2_aff
#define MSM_J g2_jac
#define MSM_ZT zka_g2
#define MSM_LOAD zka_msm_g2_load
#define MSM_GLV 0
#define MSM_IFMA ZKA_MSM_HAVE_IFMA
#define MSM_V52 zka_e2
#define MSM_VD 2
#include "msm_impl.h"
#undef MSM_G
#undef MSM_F
#undef MSM_E
#undef MSM_A
#undef MSM_J
#undef MSM_ZT
#undef MSM_LOAD
#undef MSM_GLV
#undef MSM_IFMA
#undef MSM_V52
#undef MSM_VD
#undef ZKA_MSM_TEMPLATE

/* ---- exported ---------------------------------------------------------- */

/* All scalars canonical (< r)?  Checked before any other work. */
static int zka_msm_check_scalars(const zka_fr *scalars, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t k[4];
        zka_load_limbs(k, scalars[i].b);
        int lt = 0;
        for (int j = 3; j >= 0; j--)
            if (k[j] != FR_MODULUS[j]) {
                lt = k[j] < FR_MODULUS[j];
                break;
            }
        if (!lt) return ZKA_ERR_NONCANONICAL;
    }
    return ZKA_OK;
}

uint32_t zka_msm_window(size_t n) {
    /* the G1 choice (G1 runs 2n points of 128-bit scalars with GLV) */
    size_t m = n > SIZE_MAX / 2 ? SIZE_MAX : 2 * n;
    uint64_t kmax[4];
    zka_msm_glv_bound(kmax);
#if ZKA_MSM_HAVE_IFMA
    return zka_msm_window_for(m, kmax, m >= ZKA_MSM_IFMA_MIN_N && zka_msm_ifma_usable());
#else
    return zka_msm_window_for(m, kmax, 0);
#endif
}

#define ZKA_MSM_EXPORTS(G, A, ZT)                                                   \
zka_status zka_##G##s_msm(ZT *out, const ZT *points, const zka_fr *scalars, size_t n, \
                          uint32_t nthreads) {                                      \
    A r;                                                                            \
    int st;                                                                         \
    if (!out || (n > 0 && (!points || !scalars))) return ZKA_ERR_NULL;              \
    st = zka_msm_check_scalars(scalars, n);                                         \
    if (st != ZKA_OK) return (zka_status)st;                                        \
    if (n == 0) {                                                                   \
        memset(out->b, 0, sizeof out->b);                                           \
        return ZKA_OK;                                                              \
    }                                                                               \
    st = G##_msm_run(&r, points, scalars, n, nthreads);                             \
    if (st != ZKA_OK) return (zka_status)st;                                        \
    G##_aff_to_bytes(out->b, &r);                                                   \
    return ZKA_OK;                                                                  \
}                                                                                   \
zka_status zka_##G##s_msm_naive(ZT *out, const ZT *points, const zka_fr *scalars,   \
                                size_t n) {                                         \
    A r;                                                                            \
    int st;                                                                         \
    if (!out || (n > 0 && (!points || !scalars))) return ZKA_ERR_NULL;              \
    st = zka_msm_check_scalars(scalars, n);                                         \
    if (st != ZKA_OK) return (zka_status)st;                                        \
    st = G##_msm_naive(&r, points, scalars, n);                                     \
    if (st != ZKA_OK) return (zka_status)st;                                        \
    G##_aff_to_bytes(out->b, &r);                                                   \
    return ZKA_OK;                                                                  \
}

ZKA_MSM_EXPORTS(g1, g1_aff, zka_g1)
ZKA_MSM_EXPORTS(g2, g2_aff, zka_g2)

#endif /* ZKA_MSM_IMPL_H */
