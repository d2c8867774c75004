/* groth16_impl.h - fixed-base batch scalar multiplication and the Groth16
 * prover over snarkjs .zkey proving keys (contract: zkattest.h, the sections
 * "batch scalar multiplication of one base" and "Groth16 proving").
 *
 * ---- Fixed base (zka_g1_muls, zka_g2_muls) --------------------------------
 * A table of the base, T[j][d-1] = d 2^(wj) P for d = 1 .. 2^(w-1) and windows
 * j < ceil(255/w), is built once (threads split the windows; each normalises
 * its window bases, then its part of the table, to affine with one inversion
 * each).  Every scalar is recoded into signed digits
 * d_j in [-2^(w-1), 2^(w-1)] (carry recoding; ceil(255/w) windows suffice for
 * k < r < 2^254), so k P = sum_j sign(d_j) T[j][|d_j|-1]: one mixed addition
 * per non-zero digit and no doubling.  w minimises n * windows * (one mixed
 * addition) + table size * (one addition).  Results are normalised to affine
 * in chunks with one inversion per chunk; scalars are split between threads.
 *
 * ---- .zkey (zka_groth16_pk_from_zkey) -------------------------------------
 * The iden3 binary container as snarkjs (binfileutils) writes it:
 *   "zkey" | version u32 = 1 | nSections u32 | nSections x (type u32, size u64,
 *   size bytes), all little-endian.
 * Groth16 sections (snarkjs zkey_new.js / zkey_utils.js):
 *   1 header         protocol u32 (1 = groth16)
 *   2 groth16 header n8q u32 (32), q (n8q bytes), n8r u32 (32), r (n8r bytes),
 *                    nVars u32, nPublic u32, domainSize u32, then
 *                    alpha1, beta1 (G1), beta2, gamma2 (G2), delta1 (G1), delta2 (G2)
 *   3 IC             nPublic + 1 G1 points
 *   4 coefficients   count u32, then count x {matrix u32 (0 = A, 1 = B),
 *                    constraint u32, signal u32, value (n8r bytes)}
 *   5 A, 6 B1        nVars G1 points each;  7 B2  nVars G2 points
 *   8 C              nVars - nPublic - 1 G1 points (signals nPublic+1 ..)
 *   9 H              domainSize G1 points
 *  10 contributions  (MPC transcript; not needed to prove, not required here)
 * Number encodings (ffjavascript):
 *  - every point coordinate is "LEM": the Montgomery form x 2^256 mod q as a
 *    32-byte little-endian integer (G2: x.c0, x.c1, y.c0, y.c1), the point at
 *    infinity is all zero bytes.  Our internal fe is that very Montgomery form
 *    (R = 2^256), so a coordinate loads with a canonical check and no
 *    multiplication;
 *  - a coefficient value c is stored as c R^2 mod r (R = 2^256 mod r): snarkjs
 *    multiplies by R2r when writing (zkey_utils.js writeFr2, zkey_new.js
 *    writeCoef) and divides by R^2 when reading.  Its prover multiplies the
 *    stored value, as a Montgomery-form element, by the plain witness value:
 *    mont(c R^2, w) = c w R, the Montgomery form of c w.  We do exactly that.
 * The parser bounds-checks everything before it allocates (every allocation
 * is bounded by the file size), accepts the sections in any order, rejects
 * duplicated known sections (1..10), missing ones (1..9), trailing bytes and
 * unknown protocol ids, requires both primes to be BN254's, every matrix in
 * {0, 1}, every constraint < domainSize, every signal < nVars, every
 * coefficient < r, every coordinate < q and every point on its curve.  G2
 * subgroup membership of key points is NOT checked (a proving key is the
 * prover's own trusted input; checking would cost a scalar multiplication per
 * B2 point).  Sections of other types are skipped.  Statuses:
 * ZKA_ERR_ENCODING (container, header values, indices), ZKA_ERR_LENGTH (a
 * section size that disagrees with the header's counts), ZKA_ERR_NONCANONICAL,
 * ZKA_ERR_NOT_ON_CURVE.  domainSize must be a power of two <= 2^27 (the coset
 * generator below is a 2^28-th root of unity).
 *
 * ---- prover (zka_groth16_prove), snarkjs groth16_prove.js semantics -------
 *  1. a_c = sum_{A entries (c, s)} coef w_s, b_c likewise for B, c_c = a_c b_c,
 *     over the domain of size n (rows in CSR order, threads split the rows).
 *     Kept in Montgomery form (mont(coef R^2, w) as above).
 *  2. For each of a, b, c: inverse NTT, multiply coefficient i by g^i with
 *     g = omega_2n = 5^((r-1)/2n) (snarkjs: Fr.w[power+1]), forward NTT: the
 *     values on the odd coset g<omega_n> (zka_ntt_inverse, then
 *     zka_ntt_coset_forward with shift g; see zka_g16_cosets for how the three
 *     chains share the threads).  The NTT is linear with Montgomery twiddles,
 *     so Montgomery data stays Montgomery.
 *  3. h_j = a_j b_j - c_j, written as canonical bytes (the MSM's scalars).
 *  4. Three MSMs with msm_impl.h's run (Pippenger; G1 with GLV) on key points
 *     kept as validated canonical bytes (run's input format):
 *       pi_a = alpha1 + sum_i w_i A_i + r delta1
 *       pi_b = beta2 + sum_i w_i B2_i + s delta2                       (G2)
 *       pi_c = [sum_j h_j H_j + sum_{i > nPublic} w_i C_i + sum_i (r w_i) B1_i]
 *              + s pi_a + r beta1
 *     snarkjs computes pi_c = C + H + s pi_a + r B1 - r s delta1 with
 *     B1 = beta1 + sum_i w_i B1_i + s delta1; expanding r B1 shows the two are
 *     the same point, and one MSM over H, C and B1 together is cheaper than
 *     three (Pippenger's cost per point falls with the number of points).
 *     Wires whose value is 0 and key points at infinity (wires absent from a
 *     matrix) are left out; in the A and B2 sums the points of wires whose
 *     value is 1 are simply added (many wires of a circuit are bits).
 * witness must have nVars canonical elements with witness[0] = 1: a
 * different witness[0] is refused with ZKA_ERR_PARAM (snarkjs does not check;
 * such a witness could never satisfy a circuit whose wire 0 is the constant
 * one).  Variable time in the witness, r and s (DESIGN.md, security model).
 * Every buffer this file allocates for witness-derived data (witness copy,
 * wire lists, polynomial evaluations, gathered points and scalars) is wiped
 * before it is freed; the scratch inside msm_impl.h's run and the NTT is
 * theirs to wipe (run wipes its digits).
 */
#if defined(ZKA_G16_TEMPLATE)
/* ======================================================================== */
/* Template body, included once per group.  Parameters:                     */
/*   G16_G  group prefix (g1, g2)   G16_E  field element type (fe, fq2)      */
/*   G16_A / G16_J  affine / Jacobian   G16_ZT byte type (zka_g1, zka_g2)    */
/*   G16_CB coordinate bytes (32, 64)   G16_COORD_RAW  LEM coordinate loader */

#define GG(name) ZKA_G16_CAT(G16_G, _g16_##name)
#define GM(name) ZKA_G16_CAT(G16_G, _msm_##name)
#define GR(op) ZKA_G16_CAT(G16_G, _##op)

/* ---- fixed base -------------------------------------------------------- */

typedef struct {
    G16_A base;            /* finite */
    G16_J *jt;             /* nwin * half Jacobian entries */
    G16_A *tbl;            /* nwin * half affine entries */
    G16_E *scr;            /* nwin * half field elements (batch inversion) */
    uint32_t wb, nwin, half;
} GG(fbt_ctx);

/* Windows [lo, hi) of the table: the window bases B_j = 2^(wb j) P by
   doublings, normalised together (one inversion), then per window
   T[j][d-1] = d B_j by repeated mixed additions of B_j, and the whole slice
   normalised together (one more inversion). */
static void GG(fbt_task)(void *vctx, uint32_t t, uint32_t T) {
    GG(fbt_ctx) *cx = (GG(fbt_ctx) *)vctx;
    size_t lo, hi;
    zka_g16_split(&lo, &hi, cx->nwin, t, T);
    if (lo >= hi) return;
    const size_t nw = hi - lo;
    G16_J B;
    /* the bases go through the first nw slots of the slice (Jacobian, then
       affine); the affine copies are read before the table overwrites them */
    G16_J *bj = cx->jt + lo * cx->half;
    G16_A *ba = cx->tbl + lo * cx->half;
    GR(jac_from_aff)(&B, &cx->base);
    for (size_t i = 0; i < lo * cx->wb; i++) GR(jac_dbl)(&B, &B);
    for (size_t j = 0; j < nw; j++) {
        bj[j] = B;
        if (j + 1 < nw)
            for (uint32_t i = 0; i < cx->wb; i++) GR(jac_dbl)(&B, &B);
    }
    GR(jac_to_aff_batch)(ba, bj, nw, cx->scr + lo * cx->half);
    for (size_t j = 0; j < nw; j++) {
        G16_A Ba = ba[j];
        G16_J *row = cx->jt + (lo + j) * cx->half;
        GR(jac_from_aff)(&row[0], &Ba);
        for (uint32_t d = 1; d < cx->half; d++) GR(jac_add_mixed)(&row[d], &row[d - 1], &Ba);
    }
    GR(jac_to_aff_batch)(cx->tbl + lo * cx->half, cx->jt + lo * cx->half, nw * cx->half,
                         cx->scr + lo * cx->half);
}

typedef struct {
    const G16_A *tbl;
    const zka_fr *sc;
    G16_ZT *out;
    size_t n;
    uint32_t wb, nwin, half;
    int status[ZKA_MAX_THREADS];
} GG(fbe_ctx);

static void GG(fbe_task)(void *vctx, uint32_t t, uint32_t T) {
    GG(fbe_ctx) *cx = (GG(fbe_ctx) *)vctx;
    size_t lo, hi;
    zka_g16_split(&lo, &hi, cx->n, t, T);
    if (lo >= hi) return;
    G16_J *jb = (G16_J *)malloc(ZKA_G16_FB_CHUNK * sizeof(G16_J));
    G16_A *ab = (G16_A *)malloc(ZKA_G16_FB_CHUNK * sizeof(G16_A));
    G16_E *sb = (G16_E *)malloc(ZKA_G16_FB_CHUNK * sizeof(G16_E));
    int32_t dg[256];
    if (!jb || !ab || !sb) {
        cx->status[t] = ZKA_ERR_NOMEM;
        free(jb);
        free(ab);
        free(sb);
        return;
    }
    for (size_t c0 = lo; c0 < hi; c0 += ZKA_G16_FB_CHUNK) {
        size_t m = hi - c0 < ZKA_G16_FB_CHUNK ? hi - c0 : ZKA_G16_FB_CHUNK;
        for (size_t e = 0; e < m; e++) {
            uint64_t k[4];
            G16_J acc;
            zka_load_limbs(k, cx->sc[c0 + e].b);
            zka_g16_fb_recode(dg, k, cx->wb, cx->nwin);
            GR(jac_set_inf)(&acc);
            for (uint32_t j = 0; j < cx->nwin; j++) {
                int32_t d = dg[j];
                if (d > 0) {
                    GR(jac_add_mixed)(&acc, &acc, &cx->tbl[(size_t)j * cx->half + (uint32_t)d - 1]);
                } else if (d < 0) {
                    G16_A q;
                    GR(aff_neg)(&q, &cx->tbl[(size_t)j * cx->half + (uint32_t)(-d) - 1]);
                    GR(jac_add_mixed)(&acc, &acc, &q);
                }
            }
            jb[e] = acc;
            zka_g16_wipe(k, sizeof k);
        }
        GR(jac_to_aff_batch)(ab, jb, m, sb);
        for (size_t e = 0; e < m; e++) GR(aff_to_bytes)(cx->out[c0 + e].b, &ab[e]);
    }
    zka_g16_wipe(dg, sizeof dg);
    free(jb);
    free(ab);
    free(sb);
}

/* out[i] = scalars[i] * base, base validated, scalars canonical. */
static int GG(muls)(G16_ZT *out, const G16_A *base, const zka_fr *sc, size_t n,
                    uint32_t nthreads) {
    if (n == 0) return ZKA_OK;
    if (GR(aff_is_inf)(base)) {
        for (size_t i = 0; i < n; i++) memset(out[i].b, 0, sizeof out[i].b);
        return ZKA_OK;
    }
    uint32_t wb, nwin, half;
    zka_g16_fb_window(&wb, &nwin, n, sizeof(G16_J));
    half = 1u << (wb - 1);
    size_t cnt = (size_t)nwin * half;
    GG(fbt_ctx) tc;
    tc.base = *base;
    tc.wb = wb;
    tc.nwin = nwin;
    tc.half = half;
    tc.jt = (G16_J *)malloc(cnt * sizeof(G16_J));
    tc.tbl = (G16_A *)malloc(cnt * sizeof(G16_A));
    tc.scr = (G16_E *)malloc(cnt * sizeof(G16_E));
    if (!tc.jt || !tc.tbl || !tc.scr) {
        free(tc.jt);
        free(tc.tbl);
        free(tc.scr);
        return ZKA_ERR_NOMEM;
    }
    uint32_t T = zka_threads_resolve(nthreads);
    uint32_t Tt = T;
    /* a small table is not worth a thread */
    if (cnt < 4096) Tt = 1;
    if (Tt > nwin) Tt = nwin;
    (void)zka_parallel_for(Tt, GG(fbt_task), &tc);
    free(tc.jt);
    free(tc.scr);

    GG(fbe_ctx) *ec = (GG(fbe_ctx) *)calloc(1, sizeof *ec);
    if (!ec) {
        free(tc.tbl);
        return ZKA_ERR_NOMEM;
    }
    ec->tbl = tc.tbl;
    ec->sc = sc;
    ec->out = out;
    ec->n = n;
    ec->wb = wb;
    ec->nwin = nwin;
    ec->half = half;
    uint32_t Te = T;
    if ((size_t)Te > n / 16 + 1) Te = (uint32_t)(n / 16 + 1);
    (void)zka_parallel_for(Te, GG(fbe_task), ec);
    int st = ZKA_OK;
    for (uint32_t t = 0; t < Te; t++)
        if (ec->status[t] != ZKA_OK) st = ec->status[t];
    free(ec);
    free(tc.tbl);
    return st;
}

/* ---- key points: LEM coordinates (Montgomery form, canonical) ---------- */

static int GG(load_lem)(G16_A *r, const uint8_t *in) {
    if (zka_g16_all_zero(in, 2 * (G16_CB))) {
        GR(aff_set_inf)(r);
        return ZKA_OK;
    }
    if (!G16_COORD_RAW(&r->x, in) || !G16_COORD_RAW(&r->y, in + (G16_CB)))
        return ZKA_ERR_NONCANONICAL;
    if (GR(aff_is_inf)(r) || !GR(aff_on_curve)(r)) return ZKA_ERR_NOT_ON_CURVE;
    return ZKA_OK;
}

/* count consecutive LEM points, validated, stored as canonical bytes (the
   input format of msm_impl.h's run); returns the first failing status */
static int GG(load_lem_n)(G16_ZT *r, const uint8_t *in, size_t count) {
    for (size_t i = 0; i < count; i++) {
        G16_A p;
        int st = GG(load_lem)(&p, in + i * 2 * (G16_CB));
        if (st != ZKA_OK) return st;
        if (r) GR(aff_to_bytes)(r[i].b, &p);
    }
    return ZKA_OK;
}

/* ---- witness MSMs ---------------------------------------------------------
 * res = sum over the m wires i = idx[e] of w_i P_i, P_i = src[i] (canonical
 * bytes of key points, already validated), w_i = wit[i]: the points and
 * scalars are gathered into contiguous arrays and handed to msm_impl.h's run
 * (Pippenger; G1 with GLV). */
static int GG(msm_gather)(G16_J *res, const G16_ZT *src, const uint32_t *idx, size_t m,
                          const zka_fr *wit, uint32_t nthreads) {
    G16_A r;
    size_t psz = 0, ssz = 0, k = 0;
    G16_ZT *pts = NULL;
    zka_fr *sc = NULL;
    int st = ZKA_ERR_NOMEM;
    GR(jac_set_inf)(res);
    GR(aff_set_inf)(&r);
    if (m == 0) return ZKA_OK;
    if (!zka_mul_size(&psz, m, sizeof(G16_ZT)) || !zka_mul_size(&ssz, m, sizeof(zka_fr)))
        return ZKA_ERR_NOMEM;
    pts = (G16_ZT *)malloc(psz);
    sc = (zka_fr *)malloc(ssz);
    if (pts && sc) {
        /* points at infinity (wires absent from this matrix) add nothing */
        for (size_t e = 0; e < m; e++) {
            const G16_ZT *p = &src[idx[e]];
            if (zka_g16_all_zero(p->b, sizeof p->b)) continue;
            memcpy(pts[k].b, p->b, sizeof pts[k].b);
            memcpy(sc[k].b, wit[idx[e]].b, sizeof sc[k].b);
            k++;
        }
        st = ZKA_OK;
        if (k > 0) st = GM(run)(&r, pts, sc, k, nthreads);
        if (st == ZKA_OK) GR(jac_from_aff)(res, &r);
    }
    /* which points were gathered tells which wires are not 0/1 */
    zka_g16_wipe(pts, pts ? psz : 0);
    zka_g16_wipe(sc, sc ? ssz : 0);
    zka_g16_wipe(&r, sizeof r);
    free(pts);
    free(sc);
    return st;
}

/* ---- sum of the points whose scalar is 1 -------------------------------- */
typedef struct {
    const G16_ZT *src;
    const uint32_t *idx;
    size_t m;
    G16_J *part;               /* one partial sum per thread */
} GG(sum_ctx);

static void GG(sum_task)(void *vctx, uint32_t t, uint32_t T) {
    GG(sum_ctx) *cx = (GG(sum_ctx) *)vctx;
    size_t lo, hi;
    G16_J acc;
    G16_A P;
    zka_g16_split(&lo, &hi, cx->m, t, T);
    GR(jac_set_inf)(&acc);
    for (size_t e = lo; e < hi; e++) {
        const uint8_t *b = cx->src[cx->idx[e]].b;
        if (zka_g16_all_zero(b, 2 * (G16_CB))) continue;
        /* validated at load: canonical and on the curve */
        (void)GR(coord_from_bytes)(&P.x, b);
        (void)GR(coord_from_bytes)(&P.y, b + (G16_CB));
        GR(jac_add_mixed)(&acc, &acc, &P);
    }
    cx->part[t] = acc;
    zka_g16_wipe(&acc, sizeof acc);
}

static int GG(sum)(G16_J *res, const G16_ZT *src, const uint32_t *idx, size_t m,
                   uint32_t nthreads) {
    GG(sum_ctx) cx;
    uint32_t T = zka_threads_resolve(nthreads);
    if ((size_t)T > m / 512 + 1) T = (uint32_t)(m / 512 + 1);
    cx.src = src;
    cx.idx = idx;
    cx.m = m;
    cx.part = (G16_J *)malloc(T * sizeof(G16_J));
    if (!cx.part) return ZKA_ERR_NOMEM;
    (void)zka_parallel_for(T, GG(sum_task), &cx);
    *res = cx.part[0];
    for (uint32_t t = 1; t < T; t++) GR(jac_add)(res, res, &cx.part[t]);
    zka_g16_wipe(cx.part, T * sizeof(G16_J));
    free(cx.part);
    return ZKA_OK;
}

/* sum_i w_i P_i over the wires of a witness: full = wires with w not in
   {0, 1}, ones = wires with w = 1; P_i = src[i]. */
static int GG(wmsm)(G16_J *res, const G16_ZT *src, const uint32_t *full, size_t nfull,
                    const uint32_t *ones, size_t nones, const zka_fr *wit, uint32_t nthreads) {
    G16_J s1;
    int st = GG(msm_gather)(res, src, full, nfull, wit, nthreads);
    if (st != ZKA_OK) return st;
    if ((st = GG(sum)(&s1, src, ones, nones, nthreads)) != ZKA_OK) return st;
    GR(jac_add)(res, res, &s1);
    zka_g16_wipe(&s1, sizeof s1);
    return ZKA_OK;
}

#undef GG
#undef GM
#undef GR

#elif !defined(ZKA_GROTH16_IMPL_H)
/* ======================================================================== */
#define ZKA_GROTH16_IMPL_H
#include <stdlib.h>
#include <string.h>

#define ZKA_G16_CAT_(a, b) a##b
#define ZKA_G16_CAT(a, b) ZKA_G16_CAT_(a, b)
#define ZKA_G16_FB_CHUNK 256   /* fixed-base results normalised per chunk */

/* Wipe that the optimiser cannot drop (memset + compiler barrier). */
static void zka_g16_wipe(void *p, size_t n) {
    if (!p || !n) return;
    memset(p, 0, n);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

static void zka_g16_split(size_t *lo, size_t *hi, size_t total, uint32_t t, uint32_t T) {
    size_t q = total / T, rem = total % T;
    *lo = q * t + (t < rem ? t : rem);
    *hi = *lo + q + (t < rem ? 1 : 0);
}

static int zka_g16_all_zero(const uint8_t *p, size_t n) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= p[i];
    return acc == 0;
}

static uint32_t zka_g16_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t zka_g16_u64(const uint8_t *p) {
    return (uint64_t)zka_g16_u32(p) | ((uint64_t)zka_g16_u32(p + 4) << 32);
}

/* a raw (Montgomery-form) coordinate: canonical limbs, loaded as they are */
static int zka_g16_fq_raw(fe *r, const uint8_t *in) {
    zka_load_limbs(r->v, in);
    return zka_limbs_lt(r->v, FQ_MODULUS);
}

static int zka_g16_fq2_raw(fq2 *r, const uint8_t *in) {
    return zka_g16_fq_raw(&r->c0, in) & zka_g16_fq_raw(&r->c1, in + 32);
}

/* signed carry recoding of k < 2^254 into nwin digits in [-2^(wb-1), 2^(wb-1)]
   (nwin * wb >= 255, so no carry leaves the top window) */
static void zka_g16_fb_recode(int32_t *d, const uint64_t k[4], uint32_t wb, uint32_t nwin) {
    const uint32_t half = 1u << (wb - 1), mask = (1u << wb) - 1;
    uint32_t carry = 0;
    for (uint32_t j = 0; j < nwin; j++) {
        uint32_t bit = j * wb, li = bit >> 6, sh = bit & 63;
        uint64_t v = 0;
        if (li < 4) {
            v = k[li] >> sh;
            if (sh + wb > 64 && li + 1 < 4) v |= k[li + 1] << (64 - sh);
        }
        uint32_t x = (uint32_t)(v & mask) + carry;
        if (x > half) {
            d[j] = (int32_t)x - (int32_t)(1u << wb);
            carry = 1;
        } else {
            d[j] = (int32_t)x;
            carry = 0;
        }
    }
}

/* Window width for n scalars: minimises n * nwin mixed additions (~11 M) plus
   the table, nwin * 2^(wb-1) additions (~11 M) and its normalisation (~6 M),
   with the Jacobian table kept under 64 MiB. */
static void zka_g16_fb_window(uint32_t *wb_out, uint32_t *nwin_out, size_t n, size_t jsize) {
    uint32_t best = 1;
    double best_cost = 0;
    for (uint32_t wb = 1; wb <= 16; wb++) {
        uint32_t nwin = (255 + wb - 1) / wb;
        double tbl = (double)nwin * (double)(1u << (wb - 1));
        if (tbl * (double)jsize > 64.0 * 1024 * 1024) break;
        double cost = (double)n * nwin * 11.0 + tbl * 17.0;
        if (wb == 1 || cost < best_cost) {
            best = wb;
            best_cost = cost;
        }
    }
    *wb_out = best;
    *nwin_out = (255 + best - 1) / best;
}

#define ZKA_G16_TEMPLATE 1
#define G16_G g1
#define G16_E fe
#define G16_A g1_aff
#define G16_J g1_jac
#define G16_ZT zka_g1
#define G16_CB 32
#define G16_COORD_RAW zka_g16_fq_raw
#include "groth16_impl.h"
#undef G16_G
#undef G16_E
#undef G16_A
#undef G16_J
#undef G16_ZT
#undef G16_CB
#undef G16_COORD_RAW

#define G16_G g2
#define G16_E fq2
#define G16_A g2_aff
#define G16_J g2_jac
#define G16_ZT zka_g2
#define G16_CB 64
#define G16_COORD_RAW zka_g16_fq2_raw
#include "groth16_impl.h"
#undef G16_G
#undef G16_E
#undef G16_A
#undef G16_J
#undef G16_ZT
#undef G16_CB
#undef G16_COORD_RAW
#undef ZKA_G16_TEMPLATE

/* ---- exported: fixed-base batches --------------------------------------- */

#define ZKA_G16_MULS_EXPORT(G, A, ZT, LOAD)                                              \
zka_status zka_##G##_muls(ZT *out, const ZT *base, const zka_fr *scalars, size_t n,       \
                          uint32_t nthreads) {                                           \
    A b;                                                                                 \
    int st;                                                                              \
    if (!base || (n > 0 && (!out || !scalars))) return ZKA_ERR_NULL;                     \
    if ((st = LOAD(&b, base->b)) != ZKA_OK) return (zka_status)st;                       \
    for (size_t i = 0; i < n; i++) {                                                     \
        uint64_t k[4];                                                                   \
        if ((st = zka_group_scalar(k, &scalars[i])) != ZKA_OK) return (zka_status)st;    \
    }                                                                                    \
    return (zka_status)G##_g16_muls(out, &b, scalars, n, nthreads);                      \
}

ZKA_G16_MULS_EXPORT(g1, g1_aff, zka_g1, g1_aff_from_bytes)
ZKA_G16_MULS_EXPORT(g2, g2_aff, zka_g2, g2_aff_from_bytes)

/* ---- the proving key ---------------------------------------------------- */

#define ZKA_G16_NSEC 11        /* section types 1..10 */
#define ZKA_G16_MAX_LOG 27     /* the coset generator needs a 2^(log+1)-th root */
#define ZKA_G16_HDR2_BYTES (4 + 32 + 4 + 32 + 12 + 3 * 64 + 3 * 128)
#define ZKA_G16_COEF_BYTES 44  /* matrix, constraint, signal (u32) + value */

struct zka_groth16_pk {
    uint32_t n_vars, n_public, log_n;
    size_t n;                  /* domain size */
    g1_aff alpha1, beta1, delta1;
    g2_aff beta2, delta2;
    /* key points as canonical bytes (validated), the input of the MSM:
       n_vars, n_vars, n_vars, n_vars - n_public - 1, n */
    zka_g1 *A, *B1, *C, *H;
    zka_g2 *B2;
    /* coefficients of matrix m (0 = A, 1 = B) in CSR order by constraint:
       row c holds entries row[m][c] .. row[m][c+1]-1 */
    uint32_t *row[2];
    uint32_t *sig[2];
    fe *val[2];                /* the stored c R^2 mod r, as limbs */
    zka_ntt_domain *dom;
    zka_fr shift;              /* omega_2n, canonical */
};

void zka_groth16_pk_free(zka_groth16_pk *pk) {
    if (!pk) return;
    free(pk->A);
    free(pk->B1);
    free(pk->B2);
    free(pk->C);
    free(pk->H);
    for (int m = 0; m < 2; m++) {
        free(pk->row[m]);
        free(pk->sig[m]);
        free(pk->val[m]);
    }
    zka_ntt_domain_free(pk->dom);
    free(pk);
}

typedef struct {
    const uint8_t *p;
    uint64_t size;
} zka_g16_sec;

/* The container: magic, version, section table (any order); known types
   (1..10) at most once, 1..9 required, nothing after the last section. */
static int zka_g16_container(zka_g16_sec sec[ZKA_G16_NSEC], const uint8_t *z, size_t len) {
    memset(sec, 0, ZKA_G16_NSEC * sizeof *sec);
    if (!z || len < 12 || memcmp(z, "zkey", 4) != 0) return ZKA_ERR_ENCODING;
    if (zka_g16_u32(z + 4) != 1) return ZKA_ERR_ENCODING;
    uint32_t ns = zka_g16_u32(z + 8);
    size_t pos = 12;
    for (uint32_t i = 0; i < ns; i++) {
        if (len - pos < 12) return ZKA_ERR_ENCODING;
        uint32_t type = zka_g16_u32(z + pos);
        uint64_t size = zka_g16_u64(z + pos + 4);
        pos += 12;
        if (size > (uint64_t)(len - pos)) return ZKA_ERR_ENCODING;
        if (type >= 1 && type < ZKA_G16_NSEC) {
            if (sec[type].p) return ZKA_ERR_ENCODING;
            sec[type].p = z + pos;
            sec[type].size = size;
        }
        pos += (size_t)size;
    }
    if (pos != len) return ZKA_ERR_ENCODING;
    for (int t = 1; t <= 9; t++)
        if (!sec[t].p) return ZKA_ERR_ENCODING;
    return ZKA_OK;
}

/* section t must hold exactly count items of item bytes */
static int zka_g16_sec_size(const zka_g16_sec *s, uint64_t count, uint64_t item) {
    return s->size == count * item ? ZKA_OK : ZKA_ERR_LENGTH;
}

static int zka_g16_limbs_eq(const uint8_t *in, const uint64_t m[4]) {
    uint64_t l[4];
    zka_load_limbs(l, in);
    return l[0] == m[0] && l[1] == m[1] && l[2] == m[2] && l[3] == m[3];
}

static int zka_g16_parse(zka_groth16_pk *pk, const uint8_t *z, size_t len) {
    zka_g16_sec sec[ZKA_G16_NSEC];
    int st;
    if ((st = zka_g16_container(sec, z, len)) != ZKA_OK) return st;

    /* 1: header */
    if (sec[1].size != 4) return ZKA_ERR_LENGTH;
    if (zka_g16_u32(sec[1].p) != 1) return ZKA_ERR_ENCODING;

    /* 2: groth16 header */
    const uint8_t *h = sec[2].p;
    if (sec[2].size < 4) return ZKA_ERR_LENGTH;
    if (zka_g16_u32(h) != 32) return ZKA_ERR_ENCODING;
    if (sec[2].size < 4 + 32 + 4) return ZKA_ERR_LENGTH;
    if (zka_g16_u32(h + 36) != 32) return ZKA_ERR_ENCODING;
    if (sec[2].size != ZKA_G16_HDR2_BYTES) return ZKA_ERR_LENGTH;
    if (!zka_g16_limbs_eq(h + 4, FQ_MODULUS) || !zka_g16_limbs_eq(h + 40, FR_MODULUS))
        return ZKA_ERR_ENCODING;
    uint32_t n_vars = zka_g16_u32(h + 72);
    uint32_t n_pub = zka_g16_u32(h + 76);
    uint32_t dsz = zka_g16_u32(h + 80);
    if (n_vars == 0 || n_pub >= n_vars) return ZKA_ERR_ENCODING;
    if (dsz == 0 || (dsz & (dsz - 1)) != 0) return ZKA_ERR_ENCODING;
    uint32_t log_n = 0;
    while ((1u << log_n) < dsz) log_n++;
    if (log_n > ZKA_G16_MAX_LOG) return ZKA_ERR_ENCODING;
    pk->n_vars = n_vars;
    pk->n_public = n_pub;
    pk->log_n = log_n;
    pk->n = dsz;
    {
        const uint8_t *q = h + 84;
        g2_aff gamma2;
        if ((st = g1_g16_load_lem(&pk->alpha1, q)) != ZKA_OK) return st;
        if ((st = g1_g16_load_lem(&pk->beta1, q + 64)) != ZKA_OK) return st;
        if ((st = g2_g16_load_lem(&pk->beta2, q + 128)) != ZKA_OK) return st;
        if ((st = g2_g16_load_lem(&gamma2, q + 256)) != ZKA_OK) return st;
        if ((st = g1_g16_load_lem(&pk->delta1, q + 384)) != ZKA_OK) return st;
        if ((st = g2_g16_load_lem(&pk->delta2, q + 448)) != ZKA_OK) return st;
    }

    /* sizes of every point section and of the coefficients, before any
       allocation */
    const uint64_t nc = (uint64_t)n_vars - n_pub - 1;
    if ((st = zka_g16_sec_size(&sec[3], (uint64_t)n_pub + 1, 64)) != ZKA_OK) return st;
    if ((st = zka_g16_sec_size(&sec[5], n_vars, 64)) != ZKA_OK) return st;
    if ((st = zka_g16_sec_size(&sec[6], n_vars, 64)) != ZKA_OK) return st;
    if ((st = zka_g16_sec_size(&sec[7], n_vars, 128)) != ZKA_OK) return st;
    if ((st = zka_g16_sec_size(&sec[8], nc, 64)) != ZKA_OK) return st;
    if ((st = zka_g16_sec_size(&sec[9], dsz, 64)) != ZKA_OK) return st;
    if (sec[4].size < 4) return ZKA_ERR_LENGTH;
    const uint32_t ncoef = zka_g16_u32(sec[4].p);
    if (sec[4].size != 4 + (uint64_t)ncoef * ZKA_G16_COEF_BYTES) return ZKA_ERR_LENGTH;

    /* 4: coefficients, validated and counted per (matrix, constraint) */
    for (int m = 0; m < 2; m++) {
        pk->row[m] = (uint32_t *)calloc((size_t)dsz + 1, sizeof(uint32_t));
        if (!pk->row[m]) return ZKA_ERR_NOMEM;
    }
    {
        const uint8_t *e = sec[4].p + 4;
        uint32_t cnt[2] = {0, 0};
        for (uint32_t i = 0; i < ncoef; i++, e += ZKA_G16_COEF_BYTES) {
            uint32_t m = zka_g16_u32(e), c = zka_g16_u32(e + 4), s = zka_g16_u32(e + 8);
            uint64_t v[4];
            if (m > 1 || c >= dsz || s >= n_vars) return ZKA_ERR_ENCODING;
            zka_load_limbs(v, e + 12);
            if (!zka_limbs_lt(v, FR_MODULUS)) return ZKA_ERR_NONCANONICAL;
            pk->row[m][c + 1]++;
            cnt[m]++;
        }
        for (int m = 0; m < 2; m++) {
            for (uint32_t c = 0; c < dsz; c++) pk->row[m][c + 1] += pk->row[m][c];
            pk->sig[m] = (uint32_t *)malloc((cnt[m] ? cnt[m] : 1) * sizeof(uint32_t));
            pk->val[m] = (fe *)malloc((cnt[m] ? cnt[m] : 1) * sizeof(fe));
            if (!pk->sig[m] || !pk->val[m]) return ZKA_ERR_NOMEM;
        }
        uint32_t *fill[2];
        for (int m = 0; m < 2; m++) {
            fill[m] = (uint32_t *)malloc((size_t)dsz * sizeof(uint32_t));
            if (!fill[m]) {
                free(fill[0]);
                return ZKA_ERR_NOMEM;
            }
            memcpy(fill[m], pk->row[m], (size_t)dsz * sizeof(uint32_t));
        }
        e = sec[4].p + 4;
        for (uint32_t i = 0; i < ncoef; i++, e += ZKA_G16_COEF_BYTES) {
            uint32_t m = zka_g16_u32(e), c = zka_g16_u32(e + 4);
            uint32_t at = fill[m][c]++;
            pk->sig[m][at] = zka_g16_u32(e + 8);
            zka_load_limbs(pk->val[m][at].v, e + 12);
        }
        free(fill[0]);
        free(fill[1]);
    }

    /* 3, 5..9: points */
    if ((st = g1_g16_load_lem_n(NULL, sec[3].p, (size_t)n_pub + 1)) != ZKA_OK) return st;
    pk->A = (zka_g1 *)malloc((size_t)n_vars * sizeof(zka_g1));
    pk->B1 = (zka_g1 *)malloc((size_t)n_vars * sizeof(zka_g1));
    pk->B2 = (zka_g2 *)malloc((size_t)n_vars * sizeof(zka_g2));
    pk->C = (zka_g1 *)malloc((nc ? (size_t)nc : 1) * sizeof(zka_g1));
    pk->H = (zka_g1 *)malloc((size_t)dsz * sizeof(zka_g1));
    if (!pk->A || !pk->B1 || !pk->B2 || !pk->C || !pk->H) return ZKA_ERR_NOMEM;
    if ((st = g1_g16_load_lem_n(pk->A, sec[5].p, n_vars)) != ZKA_OK) return st;
    if ((st = g1_g16_load_lem_n(pk->B1, sec[6].p, n_vars)) != ZKA_OK) return st;
    if ((st = g2_g16_load_lem_n(pk->B2, sec[7].p, n_vars)) != ZKA_OK) return st;
    if ((st = g1_g16_load_lem_n(pk->C, sec[8].p, (size_t)nc)) != ZKA_OK) return st;
    if ((st = g1_g16_load_lem_n(pk->H, sec[9].p, dsz)) != ZKA_OK) return st;

    /* the evaluation domain and the coset shift omega_2n = 5^((r-1)/2n) */
    if ((st = zka_ntt_domain_new(&pk->dom, log_n)) != ZKA_OK) return st;
    {
        uint64_t e[4];
        fe g, w;
        const uint32_t sh = log_n + 1;
        memcpy(e, FR_MODULUS, sizeof e);
        e[0] -= 1;
        for (int i = 0; i < 4; i++) e[i] = (e[i] >> sh) | (i < 3 ? e[i + 1] << (64 - sh) : 0);
        fr_from_u64(&g, FR_GENERATOR);
        fr_pow_limbs(&w, &g, e, 4);
        fr_to_bytes(pk->shift.b, &w);
    }
    return ZKA_OK;
}

zka_status zka_groth16_pk_from_zkey(zka_groth16_pk **out, const uint8_t *zkey, size_t zkey_len) {
    if (!out) return ZKA_ERR_NULL;
    *out = NULL;
    if (!zkey && zkey_len > 0) return ZKA_ERR_NULL;
    zka_groth16_pk *pk = (zka_groth16_pk *)calloc(1, sizeof *pk);
    if (!pk) return ZKA_ERR_NOMEM;
    int st = zka_g16_parse(pk, zkey, zkey_len);
    if (st != ZKA_OK) {
        zka_groth16_pk_free(pk);
        return (zka_status)st;
    }
    *out = pk;
    return ZKA_OK;
}

zka_status zka_groth16_pk_info(uint32_t *n_vars, uint32_t *n_public, uint32_t *log_domain,
                               const zka_groth16_pk *pk) {
    if (!n_vars || !n_public || !log_domain || !pk) return ZKA_ERR_NULL;
    *n_vars = pk->n_vars;
    *n_public = pk->n_public;
    *log_domain = pk->log_n;
    return ZKA_OK;
}

/* ---- the prover --------------------------------------------------------- */

typedef struct {
    const zka_groth16_pk *pk;
    const uint64_t (*wl)[4];   /* witness, plain limbs */
    fe *a, *b, *c;
    zka_fr *h;
    int st[3];                 /* status of each NTT chain */
    uint32_t chain_threads;    /* threads for the three chains together */
} zka_g16_abc_ctx;

/* rows [lo, hi): a_c, b_c (Montgomery: mont(coef R^2, w)), c_c = a_c b_c */
static void zka_g16_abc_task(void *vctx, uint32_t t, uint32_t T) {
    zka_g16_abc_ctx *cx = (zka_g16_abc_ctx *)vctx;
    const zka_groth16_pk *pk = cx->pk;
    size_t lo, hi;
    fe acc[2], u, w;
    zka_g16_split(&lo, &hi, pk->n, t, T);
    for (size_t r = lo; r < hi; r++) {
        for (int m = 0; m < 2; m++) {
            fr_set_zero(&acc[m]);
            for (uint32_t e = pk->row[m][r]; e < pk->row[m][r + 1]; e++) {
                const uint64_t *x = cx->wl[pk->sig[m][e]];
                if ((x[0] | x[1] | x[2] | x[3]) == 0) continue;
                memcpy(w.v, x, sizeof w.v);
                fr_mul(&u, &pk->val[m][e], &w);
                fr_add(&acc[m], &acc[m], &u);
            }
        }
        cx->a[r] = acc[0];
        cx->b[r] = acc[1];
        fr_mul(&cx->c[r], &acc[0], &acc[1]);
    }
    zka_g16_wipe(acc, sizeof acc);
    zka_g16_wipe(&u, sizeof u);
    zka_g16_wipe(&w, sizeof w);
}

/* a, b, c: from values on the domain to values on the odd coset (inverse
   NTT, then the coset's forward NTT), three independent chains.  One NTT
   gains little from a second thread below ~2^15 (passes too short to repay a
   fork-join) and ~1.7x above, so with T threads the chains run side by side
   when T >= 3 (chain i on T/3 threads, the remainder spread), and with T = 2
   a and b run side by side on one thread each, then c on both (measured on
   2 cores at 2^12 .. 2^18: never more than 5% slower than the best of "side
   by side" and "one after the other", up to 30% faster than the worse). */
static int zka_g16_chain(zka_g16_abc_ctx *cx, int i, uint32_t nthreads) {
    fe *v = i == 0 ? cx->a : i == 1 ? cx->b : cx->c;
    zka_fr *d = (zka_fr *)(void *)v;
    const zka_groth16_pk *pk = cx->pk;
    int st = zka_ntt_inverse(d, pk->n, pk->dom, nthreads);
    if (st == ZKA_OK) st = zka_ntt_coset_forward(d, pk->n, pk->dom, &pk->shift, nthreads);
    return st;
}

static void zka_g16_chain_task(void *vctx, uint32_t t, uint32_t count) {
    zka_g16_abc_ctx *cx = (zka_g16_abc_ctx *)vctx;
    uint32_t T = cx->chain_threads;
    if (count == 2) { /* T = 2: chains a and b, one thread each */
        cx->st[t] = zka_g16_chain(cx, (int)t, 1);
        return;
    }
    for (uint32_t i = t; i < 3; i += count) cx->st[i] = zka_g16_chain(cx, (int)i, T / 3 + (i < T % 3));
}

static int zka_g16_cosets(zka_g16_abc_ctx *cx, uint32_t T) {
    cx->chain_threads = T;
    cx->st[0] = cx->st[1] = cx->st[2] = ZKA_OK;
    if (T == 1) {
        for (int i = 0; i < 3; i++) cx->st[i] = zka_g16_chain(cx, i, 1);
    } else if (T == 2) {
        (void)zka_parallel_for(2, zka_g16_chain_task, cx);
        cx->st[2] = zka_g16_chain(cx, 2, 2);
    } else {
        (void)zka_parallel_for(3, zka_g16_chain_task, cx);
    }
    for (int i = 0; i < 3; i++)
        if (cx->st[i] != ZKA_OK) return cx->st[i];
    return ZKA_OK;
}

/* h_j = a_j b_j - c_j, canonical bytes (the H MSM's scalars) */
static void zka_g16_h_task(void *vctx, uint32_t t, uint32_t T) {
    zka_g16_abc_ctx *cx = (zka_g16_abc_ctx *)vctx;
    size_t lo, hi;
    fe u;
    zka_g16_split(&lo, &hi, cx->pk->n, t, T);
    for (size_t j = lo; j < hi; j++) {
        fr_mul(&u, &cx->a[j], &cx->b[j]);
        fr_sub(&u, &u, &cx->c[j]);
        fr_to_bytes(cx->h[j].b, &u);
    }
    zka_g16_wipe(&u, sizeof u);
}

/* witness -> plain limbs, canonical check */
typedef struct {
    const zka_fr *w;
    uint64_t (*wl)[4];
    size_t n;
    unsigned char bad[ZKA_MAX_THREADS];
} zka_g16_wit_ctx;

static void zka_g16_wit_task(void *vctx, uint32_t t, uint32_t T) {
    zka_g16_wit_ctx *cx = (zka_g16_wit_ctx *)vctx;
    size_t lo, hi;
    unsigned bad = 0;
    zka_g16_split(&lo, &hi, cx->n, t, T);
    for (size_t i = lo; i < hi; i++) {
        zka_load_limbs(cx->wl[i], cx->w[i].b);
        bad |= (unsigned)!zka_limbs_lt(cx->wl[i], FR_MODULUS);
    }
    cx->bad[t] = (unsigned char)bad;
}

zka_status zka_groth16_prove(zka_g1 *pi_a, zka_g2 *pi_b, zka_g1 *pi_c,
                             const zka_groth16_pk *pk,
                             const zka_fr *witness, size_t n_witness,
                             const zka_fr *r, const zka_fr *s, uint32_t nthreads) {
    if (!pi_a || !pi_b || !pi_c || !pk || !r || !s || !witness) return ZKA_ERR_NULL;
    if (n_witness != pk->n_vars) return ZKA_ERR_LENGTH;
    uint64_t kr[4], ks[4];
    int rc;
    if ((rc = zka_group_scalar(kr, r)) != ZKA_OK) return (zka_status)rc;
    if ((rc = zka_group_scalar(ks, s)) != ZKA_OK) return (zka_status)rc;

    const size_t nv = pk->n_vars, n = pk->n, npub = pk->n_public;
    const size_t mcap = n + 2 * nv; /* H, then C and B1 of the nonzero wires */
    const uint32_t T = zka_threads_resolve(nthreads);
    uint64_t (*wl)[4] = (uint64_t (*)[4])malloc(nv * sizeof *wl);
    uint32_t *full = (uint32_t *)malloc(nv * sizeof(uint32_t));
    uint32_t *ones = (uint32_t *)malloc(nv * sizeof(uint32_t));
    fe *a = (fe *)malloc(n * sizeof(fe));
    fe *b = (fe *)malloc(n * sizeof(fe));
    fe *c = (fe *)malloc(n * sizeof(fe));
    zka_g1 *mp = (zka_g1 *)malloc(mcap * sizeof(zka_g1));
    zka_fr *ms = (zka_fr *)malloc(mcap * sizeof(zka_fr));
    size_t nfull = 0, nones = 0, m = n;
    g1_jac ja, jc, jt;
    g2_jac jb, jt2;
    g1_aff aa;
    g2_aff ab;
    fe rm, u;
    zka_g16_abc_ctx ac;
    rc = ZKA_OK;
    if (!wl || !full || !ones || !a || !b || !c || !mp || !ms) {
        rc = ZKA_ERR_NOMEM;
        goto done;
    }

    /* witness: canonical, wire 0 = 1; wires split into 0 / 1 / other */
    {
        zka_g16_wit_ctx wc;
        const uint64_t one[4] = {1, 0, 0, 0};
        uint32_t Tw = T;
        if ((size_t)Tw > nv / 4096 + 1) Tw = (uint32_t)(nv / 4096 + 1);
        wc.w = witness;
        wc.wl = wl;
        wc.n = nv;
        (void)zka_parallel_for(Tw, zka_g16_wit_task, &wc);
        for (uint32_t t = 0; t < Tw; t++)
            if (wc.bad[t]) rc = ZKA_ERR_NONCANONICAL;
        if (rc != ZKA_OK) goto done;
        if (memcmp(wl[0], one, sizeof one) != 0) {
            rc = ZKA_ERR_PARAM;
            goto done;
        }
        for (size_t i = 0; i < nv; i++) {
            const uint64_t *x = wl[i];
            if ((x[1] | x[2] | x[3]) == 0 && x[0] <= 1) {
                if (x[0] == 1) ones[nones++] = (uint32_t)i;
            } else {
                full[nfull++] = (uint32_t)i;
            }
        }
    }

    /* The terms of pi_c that need no h, gathered after the n H entries:
       w_i C_i (private wires) and (r w_i) B1_i, so that
       C + H + r B1' is one MSM (one MSM of n1 + n2 points is cheaper than
       two).  mont(r R, w) = r w, plain. */
    memcpy(mp, pk->H, n * sizeof(zka_g1));
    (void)fr_from_limbs(&rm, kr);
    for (size_t i = npub + 1; i < nv; i++) {
        const zka_g1 *p = &pk->C[i - npub - 1];
        const uint64_t *x = wl[i];
        if ((x[0] | x[1] | x[2] | x[3]) == 0 || zka_g16_all_zero(p->b, sizeof p->b)) continue;
        mp[m] = *p;
        ms[m++] = witness[i];
    }
    if (!fr_is_zero(&rm)) {
        for (size_t i = 0; i < nv; i++) {
            const zka_g1 *p = &pk->B1[i];
            const uint64_t *x = wl[i];
            if ((x[0] | x[1] | x[2] | x[3]) == 0 || zka_g16_all_zero(p->b, sizeof p->b)) continue;
            memcpy(u.v, x, sizeof u.v);
            fr_mul(&u, &rm, &u);
            mp[m] = *p;
            zka_store_limbs(ms[m++].b, u.v);
        }
    }

    /* a, b, c on the domain, then on the odd coset; h into ms[0 .. n) */
    ac.pk = pk;
    ac.wl = (const uint64_t (*)[4])wl;
    ac.a = a;
    ac.b = b;
    ac.c = c;
    ac.h = ms;
    {
        uint32_t Ta = T;
        if ((size_t)Ta > n / 1024 + 1) Ta = (uint32_t)(n / 1024 + 1);
        (void)zka_parallel_for(Ta, zka_g16_abc_task, &ac);
        if ((rc = zka_g16_cosets(&ac, T)) != ZKA_OK) goto done;
        (void)zka_parallel_for(Ta, zka_g16_h_task, &ac);
    }

    /* the three MSMs */
    if ((rc = g1_msm_run(&aa, mp, ms, m, nthreads)) != ZKA_OK) goto done;
    g1_jac_from_aff(&jc, &aa);
    if ((rc = g1_g16_wmsm(&ja, pk->A, full, nfull, ones, nones, witness, nthreads)) != ZKA_OK)
        goto done;
    if ((rc = g2_g16_wmsm(&jb, pk->B2, full, nfull, ones, nones, witness, nthreads)) != ZKA_OK)
        goto done;

    /* pi_a = alpha1 + A + r delta1 */
    g1_jac_add_mixed(&ja, &ja, &pk->alpha1);
    g1_jac_from_aff(&jt, &pk->delta1);
    g1_jac_mul_var(&jt, &jt, kr);
    g1_jac_add(&ja, &ja, &jt);
    /* pi_b = beta2 + B2 + s delta2 */
    g2_jac_add_mixed(&jb, &jb, &pk->beta2);
    g2_jac_from_aff(&jt2, &pk->delta2);
    g2_jac_mul_var(&jt2, &jt2, ks);
    g2_jac_add(&jb, &jb, &jt2);
    /* pi_c = (C + H + r B1) + s pi_a + r beta1 */
    g1_jac_mul_var(&jt, &ja, ks);
    g1_jac_add(&jc, &jc, &jt);
    g1_jac_from_aff(&jt, &pk->beta1);
    g1_jac_mul_var(&jt, &jt, kr);
    g1_jac_add(&jc, &jc, &jt);

    g1_jac_to_aff(&aa, &ja);
    g1_aff_to_bytes(pi_a->b, &aa);
    g2_jac_to_aff(&ab, &jb);
    g2_aff_to_bytes(pi_b->b, &ab);
    g1_jac_to_aff(&aa, &jc);
    g1_aff_to_bytes(pi_c->b, &aa);

done:
    zka_g16_wipe(wl, wl ? nv * sizeof *wl : 0);
    zka_g16_wipe(full, full ? nv * sizeof(uint32_t) : 0);
    zka_g16_wipe(ones, ones ? nv * sizeof(uint32_t) : 0);
    zka_g16_wipe(a, a ? n * sizeof(fe) : 0);
    zka_g16_wipe(b, b ? n * sizeof(fe) : 0);
    zka_g16_wipe(c, c ? n * sizeof(fe) : 0);
    zka_g16_wipe(mp, mp ? mcap * sizeof(zka_g1) : 0);
    zka_g16_wipe(ms, ms ? mcap * sizeof(zka_fr) : 0);
    free(wl);
    free(full);
    free(ones);
    free(a);
    free(b);
    free(c);
    free(mp);
    free(ms);
    zka_g16_wipe(kr, sizeof kr);
    zka_g16_wipe(ks, sizeof ks);
    zka_g16_wipe(&rm, sizeof rm);
    zka_g16_wipe(&u, sizeof u);
    zka_g16_wipe(&ja, sizeof ja);
    zka_g16_wipe(&jc, sizeof jc);
    zka_g16_wipe(&jt, sizeof jt);
    zka_g16_wipe(&jb, sizeof jb);
    zka_g16_wipe(&jt2, sizeof jt2);
    zka_g16_wipe(&aa, sizeof aa);
    zka_g16_wipe(&ab, sizeof ab);
    return (zka_status)rc;
}

#endif /* ZKA_GROTH16_IMPL_H */
