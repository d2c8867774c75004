"""Generic soundness analyses that run on any R1CS.

* every public input appears in at least one constraint (otherwise a proof says
  nothing about it: the verifier would accept any value);
* every other wire appears in a constraint;
* every public output and internal wire is *determined*: fixed by the inputs (public
  and private).  A wire that is not determined is a degree of freedom for a cheating
  prover.  The analysis propagates knowledge from the inputs:

  - a constraint with exactly one unknown wire that occurs linearly with a nonzero
    constant coefficient determines it;
  - if the coefficient is a known but non-constant linear combination (``q * den =
    num``), the wire is determined *if that factor is nonzero*: reported separately
    as *conditional*, with the constraint;
  - a linear relation ``sum k*2^e_i * b_i + known = 0`` whose unknowns are all
    boolean-constrained, with distinct ``e_i <= 252``, determines every ``b_i``
    (binary decomposition below r is unique);
  - the zero-test pattern ``x * u = 0`` with ``x * (v) = c*u + known`` (IsZero)
    determines ``u`` (``v`` stays conditional on ``x != 0``).

  Wires a gadget declares determined (:meth:`Circuit.assume_determined`, e.g. the
  alias-checked 254-bit decomposition) are taken as known and listed as *assumed*.

  Wires no rule can prove determined are reported as *undetermined*; that is not a
  proof that they are free, only that this analysis could not show otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .lc import R
from .r1cs import R1CS, Row

__all__ = ["AnalysisReport", "analyze"]


@dataclass
class AnalysisReport:
    """Findings; wire indices in the R1CS numbering."""

    unused_public_inputs: list[int] = field(default_factory=list)
    unconstrained: list[int] = field(default_factory=list)
    undetermined: list[int] = field(default_factory=list)
    #: wire -> constraint whose other factor must be nonzero for the wire to be fixed
    conditional: dict[int, int] = field(default_factory=dict)
    #: wire -> reason, for wires taken as determined on a gadget's word
    assumed: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No unused public input, no unconstrained or undetermined wire."""
        return not (self.unused_public_inputs or self.unconstrained or self.undetermined)

    def describe(self, wire_names: Sequence[str] | None = None) -> str:
        def nm(w: int) -> str:
            return f"{w} ({wire_names[w]})" if wire_names is not None else str(w)

        lines = []
        for title, ws in (
            ("public inputs in no constraint", self.unused_public_inputs),
            ("wires in no constraint", self.unconstrained),
            ("wires not proven determined", self.undetermined),
        ):
            if ws:
                lines.append(f"{title}: " + ", ".join(nm(w) for w in ws))
        if self.assumed:
            lines.append(f"{len(self.assumed)} wire(s) assumed determined by their gadget")
        if self.conditional:
            lines.append(f"{len(self.conditional)} wire(s) determined only if a divisor is nonzero")
        return "\n".join(lines) if lines else "ok"


def _is_boolean_constraint(a: Row, b: Row, c: Row) -> int | None:
    """If the constraint is ``(al*u + a0)(bl*u + b0) = c0`` with roots exactly {0, 1},
    return u."""
    wires = {w for row in (a, b, c) for w, _ in row if w != 0}
    if len(wires) != 1:
        return None
    (u,) = wires
    if any(w == u for w, _ in c):
        return None
    da, db, dc = dict(a), dict(b), dict(c)
    al, a0 = da.get(u, 0), da.get(0, 0)
    bl, b0 = db.get(u, 0), db.get(0, 0)
    c0 = dc.get(0, 0)
    if al == 0 or bl == 0:
        return None
    # p(u) = al*bl*u^2 + (al*b0 + a0*bl)*u + a0*b0 - c0 : p(0) = 0 and p(1) = 0
    if (a0 * b0 - c0) % R:
        return None
    if (al * bl + al * b0 + a0 * bl) % R:
        return None
    return u


def _pow2_exponent(x: int) -> int | None:
    return x.bit_length() - 1 if x > 0 and x & (x - 1) == 0 else None


def analyze(r1cs: R1CS, assumed: Mapping[int, str] | None = None) -> AnalysisReport:
    """Run the analyses described in the module docstring.  ``assumed`` maps wires to
    the reason a gadget gives for them being determined."""
    n = r1cs.n_wires
    cons = r1cs.constraints
    first_pub = 1 + r1cs.n_pub_out
    first_prv = first_pub + r1cs.n_pub_in
    first_int = first_prv + r1cs.n_prv_in

    occ: list[list[int]] = [[] for _ in range(n)]
    for k, (a, b, c) in enumerate(cons):
        seen = set()
        for row in (a, b, c):
            for w, _ in row:
                if w not in seen:
                    seen.add(w)
                    occ[w].append(k)
    rep = AnalysisReport()
    rep.unused_public_inputs = [w for w in range(first_pub, first_prv) if not occ[w]]
    rep.unconstrained = [
        w for w in list(range(1, first_pub)) + list(range(first_prv, n)) if not occ[w]
    ]

    boolean: set[int] = set()
    for a, b, c in cons:
        u = _is_boolean_constraint(a, b, c)
        if u is not None:
            boolean.add(u)

    known = bytearray(n)
    for w in range(0, first_int):
        if w == 0 or w >= first_pub:
            known[w] = 1
    rep.assumed = dict(assumed or {})
    for w in rep.assumed:
        known[w] = 1

    def unknowns(k: int) -> list[int]:
        a, b, c = cons[k]
        out: list[int] = []
        for row in (a, b, c):
            for w, _ in row:
                if not known[w] and w not in out:
                    out.append(w)
        return out

    def const_row(row: Row) -> int | None:
        """The value of a row without wires (None if it has a wire)."""
        v = 0
        for w, x in row:
            if w != 0:
                return None
            v = x
        return v

    conditional: dict[int, int] = {}
    zero_tests: dict[int, list[int]] = {}  # u -> constraints "X * u = 0"

    def single(k: int, u: int) -> int:
        """0: not determined, 1: determined, 2: conditional."""
        a, b, c = cons[k]
        da, db, dc = dict(a), dict(b), dict(c)
        ina, inb, inc = u in da, u in db, u in dc
        if ina and inb:
            return 0
        if ina or inb:
            lin_row, other = (da, b) if ina else (db, a)
            ov = const_row(other)
            if ov is None:
                if u in dc:
                    return 2
                # X * (coef*u + ...) = known, X known non-constant: fixed iff X != 0
                if not c:
                    zero_tests.setdefault(u, []).append(k)
                return 2
            coef = (lin_row[u] * ov - dc.get(u, 0)) % R
            return 1 if coef else 0
        if inc:
            return 1  # A, B known; u linear in C with nonzero coefficient
        return 0

    def bits_rule(k: int, us: list[int]) -> bool:
        a, b, c = cons[k]
        if any(w in us for row in (a, b) for w, _ in row):
            return False
        if any(u not in boolean for u in us):
            return False
        dc = dict(c)
        coeffs = [dc[u] for u in us]
        # every coeff must be base * 2^e_i (distinct e_i, spread <= 252) for one base;
        # the base is the smallest-exponent coefficient (up to sign): try likely ones first
        candidates = sorted(set(coeffs), key=lambda x: min(x, R - x))
        for base in candidates:
            inv = pow(base, -1, R)
            for sign in (1, R - 1):
                exps: set[int] = set()
                for x in coeffs:
                    e = _pow2_exponent(x * inv * sign % R)
                    if e is None or e in exps or e > 252:
                        break
                    exps.add(e)
                else:
                    return True
        return False

    work = list(range(len(cons)))
    inq = bytearray(len(cons))
    for k in work:
        inq[k] = 1

    def mark(u: int) -> None:
        if known[u]:
            return
        known[u] = 1
        for k2 in occ[u]:
            if not inq[k2]:
                inq[k2] = 1
                work.append(k2)

    # Definite rules run to a fixpoint first; only then is ONE wire accepted as
    # conditional (lowest index), and the definite rules resume from there.
    pending: dict[int, int] = {}
    while True:
        while work:
            k = work.pop()
            inq[k] = 0
            us = unknowns(k)
            if len(us) == 1:
                res = single(k, us[0])
                if res == 1:
                    mark(us[0])
                elif res == 2:
                    pending.setdefault(us[0], k)
            elif len(us) >= 2 and bits_rule(k, us):
                for u in us:
                    mark(u)
        live = [u for u in pending if not known[u]]
        if not live:
            break
        u = min(live)
        conditional[u] = pending.pop(u)
        mark(u)

    # zero-test pattern: u fixed by "X*u = 0" (u = 0 if X != 0) together with
    # "X * (...) = c*u + known" (u = -known/c if X == 0)
    for u, ks in zero_tests.items():
        if u not in conditional:
            continue
        xs = [cons[k][0] if any(w == u for w, _ in cons[k][1]) else cons[k][1] for k in ks]
        for k2 in occ[u]:
            a, b, c = cons[k2]
            if not any(w == u for w, _ in c) or any(w == u for w, _ in a + b):
                continue
            if any(w not in (0, u) for w, _ in c):
                continue
            if not (a in xs or b in xs):
                continue
            if all(known[w] for row in (a, b, c) for w, _ in row):
                del conditional[u]
                break

    rep.conditional = conditional
    rep.undetermined = [w for w in range(1, n) if not known[w] and occ[w]]
    return rep
