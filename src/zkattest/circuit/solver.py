"""Witness solving.

The steps recorded by the builder (products, linear definitions, hints) are turned
into one straight-line Python function (``w[7] = (w[3] + 5) * w[4] % R`` ...), which is
what makes solving a few thousand constraints take milliseconds.  A plain interpreter
over the same steps is the reference (and supports forcing wire values, used by the
soundness tests to build cheating witnesses).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import WitnessError
from .lc import R

if TYPE_CHECKING:
    from .builder import Hint, Step
    from .r1cs import R1CS

__all__ = ["Solver"]

_HALF = R // 2


def _term(w: int, c: int) -> tuple[bool, str]:
    """(negative?, text) for ``c * w[w]``."""
    neg = c > _HALF
    k = R - c if neg else c
    if w == 0:
        return neg, str(k)
    return neg, (f"w[{w}]" if k == 1 else f"{k}*w[{w}]")


def _expr(items: Sequence[tuple[int, int]] | Mapping[int, int]) -> str:
    pairs = items.items() if isinstance(items, Mapping) else items
    out: list[str] = []
    for w, c in pairs:
        neg, t = _term(w, c)
        if not out:
            out.append(f"-{t}" if neg else t)
        else:
            out.append(f" - {t}" if neg else f" + {t}")
    return "".join(out) if out else "0"


def _paren(e: str) -> str:
    return e if e.startswith("w[") and e.endswith("]") and "w[" not in e[2:] else f"({e})"


def _eval(t: Mapping[int, int], w: Sequence[int]) -> int:
    s = 0
    for i, c in t.items():
        s += c * w[i]
    return s % R


def _wrap_hint(fn: Hint, n: int, name: str) -> Callable[[list[int]], list[int]]:
    ints = {int}

    def run(vals: list[int]) -> list[int]:
        try:
            out = fn(vals)
        except WitnessError:
            raise
        except Exception as e:  # hint code is user code: name it
            raise WitnessError(f"hint {name} failed: {type(e).__name__}: {e}") from e
        if len(out) != n:
            raise WitnessError(f"hint {name} returned {len(out)} values, expected {n}")
        if not set(map(type, out)) <= ints:  # exact ints only (not bool, not float)
            raise WitnessError(f"hint {name} returned a non-integer")
        return [v % R for v in out]

    return run


#: linear combinations with at least this many terms are evaluated by a C-level
#: ``sum(map(...))`` over coefficient/index tuples kept out of the source text
_BIG = 8


class _Gen:
    """Emits Python source for linear combinations, sharing repeated ones."""

    def __init__(self, ns: dict[str, object], counts: dict[tuple[tuple[int, int], ...], int]):
        self.ns = ns
        self.counts = counts
        self.temps: dict[tuple[tuple[int, int], ...], str] = {}
        self.lines: list[str] = []
        self.n_tables = 0

    def raw(self, items: tuple[tuple[int, int], ...]) -> str:
        """An expression for the (unreduced) value of the LC."""
        if len(items) >= _BIG:
            k = self.n_tables
            self.n_tables += 1
            self.ns[f"I{k}"] = tuple(wi for wi, _ in items)
            self.ns[f"C{k}"] = tuple(c for _, c in items)
            return f"sum(map(_mul, C{k}, map(_g, I{k})))"
        return _paren(_expr(items))

    def value(self, terms: Mapping[int, int]) -> str:
        """An expression for the LC; repeated LCs are computed once into a temp."""
        key = tuple(sorted(terms.items()))
        name = self.temps.get(key)
        if name is not None:
            return name
        code = self.raw(key)
        if self.counts.get(key, 0) >= 2:
            name = f"t{len(self.temps)}"
            self.temps[key] = name
            self.lines.append(f" {name} = {code} % R")
            return name
        return code


class Solver:
    """Runs the builder's steps on a witness vector whose inputs are already set."""

    def __init__(self, r1cs: R1CS, steps: list[Step], checks: list[int]) -> None:
        from operator import mul

        from .builder import HintStep, LinStep, MulStep

        self._steps = steps
        self._checks = checks
        self._r1cs = r1cs
        hints: list[Callable[[list[int]], list[int]]] = []
        ns: dict[str, object] = {"R": R, "_mul": mul}
        counts: dict[tuple[tuple[int, int], ...], int] = {}
        for st in steps:
            if isinstance(st, MulStep):
                lcs: tuple[Mapping[int, int], ...] = (st.a, st.b)
            elif isinstance(st, LinStep):
                lcs = (st.lc,)
            else:
                lcs = st.ins
            for t in lcs:
                if len(t) > 1:
                    key = tuple(sorted(t.items()))
                    counts[key] = counts.get(key, 0) + 1
        g = _Gen(ns, counts)
        g.lines.append("def _solve(w):")
        g.lines.append(" _g = w.__getitem__")
        for st in steps:
            if isinstance(st, MulStep):
                a = g.value(st.a)
                b = g.value(st.b)
                g.lines.append(f" w[{st.out}] = {a} * {b} % R")
            elif isinstance(st, LinStep):
                g.lines.append(f" w[{st.out}] = {g.value(st.lc)} % R")
            elif isinstance(st, HintStep):
                k = len(hints)
                hints.append(_wrap_hint(st.fn, len(st.outs), st.name))
                args = ", ".join(f"{g.value(t)} % R" for t in st.ins)
                outs = st.outs
                if outs == tuple(range(outs[0], outs[0] + len(outs))):
                    g.lines.append(f" w[{outs[0]}:{outs[-1] + 1}] = H[{k}]([{args}])")
                else:
                    g.lines.append(f" _t = H[{k}]([{args}])")
                    g.lines.extend(f" w[{o}] = _t[{j}]" for j, o in enumerate(outs))
        g.lines.append(" return")
        g.lines.append("def _check(w):")
        g.lines.append(" _g = w.__getitem__")
        for i in checks:
            a_row, b_row, c_row = r1cs.constraints[i]
            if b_row and a_row:
                g.lines.append(
                    f" if ({g.raw(a_row)} * {g.raw(b_row)} - {g.raw(c_row)}) % R: return {i}"
                )
            else:
                g.lines.append(f" if {g.raw(c_row)} % R: return {i}")
        g.lines.append(" return None")
        ns["H"] = hints
        self._ns = ns
        self._source = "\n".join(g.lines) + "\n"
        self._hints = hints
        self._fns: tuple[Callable[[list[int]], None], Callable[[list[int]], int | None]] | None = (
            None
        )

    def _compiled(
        self,
    ) -> tuple[Callable[[list[int]], None], Callable[[list[int]], int | None]]:
        if self._fns is None:
            ns = self._ns
            exec(compile(self._source, "<zkattest-solver>", "exec"), ns)
            self._fns = (ns["_solve"], ns["_check"])  # type: ignore[assignment]
        assert self._fns is not None
        return self._fns

    def prepare(self) -> None:
        """Compile the generated code now (otherwise on first use)."""
        self._compiled()

    def run(self, w: list[int]) -> None:
        """Fill every non-input wire of ``w`` (inputs set, ``w[0] == 1``)."""
        self._compiled()[0](w)

    def first_failed_check(self, w: list[int]) -> int | None:
        """First constraint that does not hold by construction and is violated."""
        return self._compiled()[1](w)

    def interpret(self, w: list[int], overrides: Mapping[int, int]) -> None:
        """Reference solver: same result as :meth:`run`, one step at a time; forces
        ``w[i] = overrides[i]`` right after wire ``i`` is computed."""
        from .builder import HintStep, LinStep, MulStep

        hints = iter(self._hints)
        for st in self._steps:
            if isinstance(st, MulStep):
                w[st.out] = _eval(st.a, w) * _eval(st.b, w) % R
                outs: tuple[int, ...] = (st.out,)
            elif isinstance(st, LinStep):
                w[st.out] = _eval(st.lc, w)
                outs = (st.out,)
            else:
                assert isinstance(st, HintStep)
                fn = next(hints)
                vals = fn([_eval(t, w) for t in st.ins])
                for o, v in zip(st.outs, vals, strict=True):
                    w[o] = v
                outs = st.outs
            for o in outs:
                if o in overrides:
                    w[o] = overrides[o] % R
