"""The circuit builder: signals, constraints, hints, scopes and templates.

See the package docstring (:mod:`zkattest.circuit`) for the API tour.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from functools import wraps
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeAlias, TypeVar, overload

from ..errors import CircuitError
from .lc import LC, LCLike, R, Signal, as_lc

if TYPE_CHECKING:
    from .compiled import CompiledCircuit

__all__ = ["Circuit", "Hint", "WireKind", "template"]

#: A witness hint: receives the values of its input LCs, returns its output values.
#: It must be a deterministic function of its inputs; its outputs are unconstrained
#: until the caller constrains them.
Hint: TypeAlias = Callable[[list[int]], Sequence[int]]

Terms: TypeAlias = dict[int, int]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WireKind(IntEnum):
    """Signal kinds, in circom's wire order."""

    ONE = 0
    PUBLIC_OUTPUT = 1
    PUBLIC_INPUT = 2
    PRIVATE_INPUT = 3
    INTERNAL = 4


@dataclass(frozen=True, slots=True)
class MulStep:
    """``out = a * b`` (defines ``out``; its constraint holds by construction)."""

    out: int
    a: Terms
    b: Terms


@dataclass(frozen=True, slots=True)
class LinStep:
    """``out = lc`` (defines ``out``; its constraint holds by construction)."""

    out: int
    lc: Terms


@dataclass(frozen=True, slots=True)
class HintStep:
    """``outs = fn([value(lc) for lc in ins])`` (outputs must then be constrained)."""

    outs: tuple[int, ...]
    fn: Hint
    ins: tuple[Terms, ...]
    name: str


Step: TypeAlias = MulStep | LinStep | HintStep

P = ParamSpec("P")
T = TypeVar("T")


class Circuit:
    """Builds one circuit.  Create signals, combine them, constrain them, then
    :meth:`compile` into an R1CS with a witness solver.

    Wire 0 is the constant 1 (``c.one``).  LCs built from this circuit's signals may
    only be used with this circuit.
    """

    def __init__(self, name: str) -> None:
        if not _NAME.match(name):
            raise CircuitError(f"circuit name {name!r} is not an identifier")
        self.name = name
        # per builder wire: kind, scope id, local name (None -> automatic)
        self._kind: list[WireKind] = [WireKind.ONE]
        self._wscope: list[int] = [0]
        self._wname: list[str | None] = ["one"]
        # named inputs/outputs: name -> (kind, wires, is_array)
        self._io: dict[str, tuple[WireKind, list[int], bool]] = {}
        # constraints (builder wire ids)
        self._a: list[Terms] = []
        self._b: list[Terms] = []
        self._c: list[Terms] = []
        self._cscope: list[int] = []
        self._clabel: list[str] = []
        self._defining: set[int] = set()  # constraints satisfied by construction
        self._steps: list[Step] = []
        # scopes
        self._scopes: list[str] = [name]
        self._scope_ids: dict[str, int] = {name: 0}
        self._scope_stack: list[int] = [0]
        self._instances: dict[tuple[int, str], int] = {}
        self._bits: dict[int, int] = {}  # wire -> n: constraints force value < 2^n
        self._assumed: dict[int, str] = {}  # wire -> why a gadget says it is determined
        self._compiled = False

    # ------------------------------------------------------------ properties
    @property
    def one(self) -> LC:
        """The constant 1 as an LC."""
        return LC.const(1)

    @property
    def num_constraints(self) -> int:
        return len(self._a)

    @property
    def num_wires(self) -> int:
        return len(self._kind)

    @property
    def scope_name(self) -> str:
        """The full hierarchical name of the current scope, e.g. ``age_gte.sig.mulAny[3]``."""
        return self._scopes[self._scope_stack[-1]]

    # --------------------------------------------------------------- signals
    def _new_wire(self, kind: WireKind, name: str | None) -> int:
        if self._compiled:
            raise CircuitError("circuit already compiled; build a new Circuit")
        w = len(self._kind)
        self._kind.append(kind)
        self._wscope.append(self._scope_stack[-1])
        self._wname.append(name)
        return w

    def _declare(self, name: str, kind: WireKind, n: int | None) -> list[int]:
        if not _NAME.match(name):
            raise CircuitError(f"signal name {name!r} is not an identifier")
        if name in self._io:
            raise CircuitError(f"signal {name!r} declared twice")
        if n is None:
            wires = [self._new_wire(kind, name)]
        else:
            if n < 1:
                raise CircuitError(f"signal array {name!r} needs a positive length")
            wires = [self._new_wire(kind, f"{name}[{i}]") for i in range(n)]
        self._io[name] = (kind, wires, n is not None)
        return wires

    def public_input(self, name: str) -> Signal:
        """Declare a public input (a scalar)."""
        return Signal(self._declare(name, WireKind.PUBLIC_INPUT, None)[0])

    def public_inputs(self, name: str, n: int) -> list[Signal]:
        """Declare a public input array ``name[0..n-1]``."""
        return [Signal(w) for w in self._declare(name, WireKind.PUBLIC_INPUT, n)]

    def private_input(self, name: str) -> Signal:
        """Declare a private input (a scalar)."""
        return Signal(self._declare(name, WireKind.PRIVATE_INPUT, None)[0])

    def private_inputs(self, name: str, n: int) -> list[Signal]:
        """Declare a private input array ``name[0..n-1]``."""
        return [Signal(w) for w in self._declare(name, WireKind.PRIVATE_INPUT, n)]

    def output(self, name: str, value: LCLike) -> Signal:
        """Declare a public output equal to ``value``.

        If ``value`` is exactly an unnamed internal wire, that wire becomes the output
        (no constraint); otherwise a new wire and one linear constraint are added.
        """
        if not _NAME.match(name):
            raise CircuitError(f"signal name {name!r} is not an identifier")
        if name in self._io:
            raise CircuitError(f"signal {name!r} declared twice")
        v = as_lc(value)
        w = v.single_wire()
        if w is not None and self._kind[w] == WireKind.INTERNAL and not self._is_promoted(w):
            self._kind[w] = WireKind.PUBLIC_OUTPUT
            self._wname[w] = name
            self._io[name] = (WireKind.PUBLIC_OUTPUT, [w], False)
            return Signal(w)
        out = self._new_wire(WireKind.PUBLIC_OUTPUT, name)
        self._io[name] = (WireKind.PUBLIC_OUTPUT, [out], False)
        self._steps.append(LinStep(out, dict(v.terms)))
        self._add_constraint({}, {}, _sub_terms(v.terms, out), "output " + name, defining=True)
        return Signal(out)

    def _is_promoted(self, w: int) -> bool:
        return any(w in ws for (_k, ws, _a) in self._io.values())

    # ------------------------------------------------------------ constraints
    def _add_constraint(
        self, a: Terms, b: Terms, c: Terms, label: str, *, defining: bool = False
    ) -> int:
        if self._compiled:
            raise CircuitError("circuit already compiled; build a new Circuit")
        idx = len(self._a)
        self._a.append(a)
        self._b.append(b)
        self._c.append(c)
        self._cscope.append(self._scope_stack[-1])
        self._clabel.append(label)
        if defining:
            self._defining.add(idx)
        return idx

    def constrain(self, a: LCLike, b: LCLike, c: LCLike, label: str = "constraint") -> None:
        """Add the raw constraint ``a * b = c`` (no new wire)."""
        la, lb, lc_ = as_lc(a), as_lc(b), as_lc(c)
        if la.is_constant() or lb.is_constant():
            # linear: k*b - c = 0
            lin = (la * lb) - lc_
            self._linear(lin, label)
            return
        self._add_constraint(dict(la.terms), dict(lb.terms), dict(lc_.terms), label)

    def _linear(self, lin: LC, label: str) -> None:
        if lin.is_constant():
            if lin.constant_value() != 0:
                raise CircuitError(f"{self.scope_name}: {label}: constraint is never satisfiable")
            return  # trivially true: no constraint
        self._add_constraint({}, {}, dict(lin.terms), label)

    def mul(self, a: LCLike, b: LCLike, name: str | None = None) -> LC:
        """Return ``a * b``.  One constraint and one new internal wire, unless one side
        is a constant (then it is folded for free)."""
        la, lb = as_lc(a), as_lc(b)
        if la.is_constant():
            return lb * la.constant_value()
        if lb.is_constant():
            return la * lb.constant_value()
        out = self._new_wire(WireKind.INTERNAL, name)
        ta, tb = dict(la.terms), dict(lb.terms)
        self._steps.append(MulStep(out, ta, tb))
        self._add_constraint(ta, tb, {out: 1}, name or "mul", defining=True)
        return Signal(out)

    def square(self, a: LCLike, name: str | None = None) -> LC:
        """``a * a`` (one constraint unless constant)."""
        return self.mul(a, a, name)

    def wire(self, value: LCLike, name: str | None = None) -> Signal:
        """A new internal wire equal to ``value`` (one linear constraint).  Useful to
        keep linear combinations short; a single wire is returned as is."""
        v = as_lc(value)
        w = v.single_wire()
        if w is not None:
            return Signal(w)
        out = self._new_wire(WireKind.INTERNAL, name)
        self._steps.append(LinStep(out, dict(v.terms)))
        self._add_constraint({}, {}, _sub_terms(v.terms, out), name or "wire", defining=True)
        return Signal(out)

    def assert_equal(self, a: LCLike, b: LCLike, label: str = "assert_equal") -> None:
        """Constrain ``a == b`` (one linear constraint, none if trivially true)."""
        self._linear(as_lc(a) - as_lc(b), label)

    def assert_zero(self, a: LCLike, label: str = "assert_zero") -> None:
        """Constrain ``a == 0``."""
        self._linear(as_lc(a), label)

    def assert_bool(self, a: LCLike, label: str = "assert_bool") -> None:
        """Constrain ``a * (a - 1) == 0``, i.e. ``a`` in {0, 1}."""
        la = as_lc(a)
        if la.is_constant():
            if la.constant_value() not in (0, 1):
                raise CircuitError(f"{self.scope_name}: {label}: constant is not boolean")
            return
        self._add_constraint(dict(la.terms), dict((la - 1).terms), {}, label)
        self.note_bits(la, 1)

    def assume_determined(self, xs: Sequence[LCLike], reason: str) -> None:
        """Tell :func:`~zkattest.circuit.analyze` that these wires are determined by
        the constraints for a reason its rules cannot see (e.g. a 254-bit
        decomposition made unique by an alias check).  Reported as assumptions."""
        for x in xs:
            w = as_lc(x).single_wire()
            if w is not None:
                self._assumed[w] = f"{self.scope_name}: {reason}"

    # ---------------------------------------------------------- value bounds
    def note_bits(self, x: LCLike, n: int) -> None:
        """Record that constraints already force ``x < 2^n`` (x a single wire; other
        LCs are ignored).  Gadgets call this after a range check so later gadgets
        (comparators, muxes) can skip re-checking.  Only call it when it is true."""
        w = as_lc(x).single_wire()
        if w is not None:
            old = self._bits.get(w)
            if old is None or n < old:
                self._bits[w] = n

    def max_value(self, x: LCLike) -> int | None:
        """An upper bound on the integer value of ``x`` implied by recorded range
        checks, or None if none is known.  Only LCs whose coefficients are all
        "positive" (below R/2) and whose bound stays below R qualify."""
        total = 0
        half = R // 2
        for w, c in as_lc(x).terms.items():
            if c > half:
                return None
            if w == 0:
                total += c
                continue
            n = self._bits.get(w)
            if n is None:
                return None
            total += c * ((1 << n) - 1)
        return total if total < half else None

    def is_boolean(self, x: LCLike) -> bool:
        """True if recorded constraints already force ``x`` into {0, 1}."""
        m = self.max_value(x)
        if m is not None and m <= 1:
            return True
        m = self.max_value(1 - as_lc(x))  # e.g. 1 - b for a boolean b
        return m is not None and m <= 1

    # ------------------------------------------------------------------ hints
    def hint(
        self, fn: Hint, inputs: Sequence[LCLike], n_out: int, name: str = "hint"
    ) -> list[Signal]:
        """``n_out`` new internal wires computed by ``fn(values of inputs)`` when the
        witness is solved.  They are NOT constrained: the caller must constrain them."""
        if n_out < 1:
            raise CircuitError("a hint needs at least one output")
        ins = tuple(dict(as_lc(x).terms) for x in inputs)
        outs = tuple(
            self._new_wire(WireKind.INTERNAL, f"{name}[{i}]" if n_out > 1 else name)
            for i in range(n_out)
        )
        self._steps.append(HintStep(outs, fn, ins, f"{self.scope_name}.{name}"))
        return [Signal(w) for w in outs]

    def hint1(
        self, fn: Callable[[list[int]], int], inputs: Sequence[LCLike], name: str = "hint"
    ) -> Signal:
        """A hint with one output; ``fn`` returns an int."""
        return self.hint(lambda v: (fn(v),), inputs, 1, name)[0]

    def inv(self, a: LCLike, name: str = "inv") -> LC:
        """``1 / a``; also asserts ``a != 0`` (one constraint)."""
        la = as_lc(a)
        if la.is_constant():
            if la.constant_value() == 0:
                raise CircuitError(f"{self.scope_name}: inverse of constant zero")
            return LC.const(pow(la.constant_value(), -1, R))
        out = self.hint1(_inv_hint, [la], name)
        self._add_constraint(dict(la.terms), {out.wire: 1}, {0: 1}, name)
        return out

    def div(self, num: LCLike, den: LCLike, name: str = "div") -> LC:
        """``num / den`` with one constraint ``den * q = num``.  If ``den == 0`` the
        constraint is satisfiable only when ``num == 0``: only use it where the
        denominator is known to be nonzero."""
        ln, ld = as_lc(num), as_lc(den)
        if ld.is_constant():
            if ld.constant_value() == 0:
                raise CircuitError(f"{self.scope_name}: division by constant zero")
            return ln * pow(ld.constant_value(), -1, R)
        out = self.hint1(_div_hint, [ln, ld], name)
        self._add_constraint(dict(ld.terms), {out.wire: 1}, dict(ln.terms), name)
        return out

    # ----------------------------------------------------------------- scopes
    @contextmanager
    def scope(self, name: str) -> Iterator[None]:
        """Name the constraints and wires created inside: ``with c.scope("sig"): ...``
        gives them the prefix ``<current scope>.sig``."""
        full = f"{self.scope_name}.{name}"
        sid = self._scope_ids.get(full)
        if sid is None:
            sid = len(self._scopes)
            self._scopes.append(full)
            self._scope_ids[full] = sid
        self._scope_stack.append(sid)
        try:
            yield
        finally:
            self._scope_stack.pop()

    @contextmanager
    def instance(self, template_name: str) -> Iterator[None]:
        """Enter a new numbered instance of a template: ``Num2Bits[0]``, ``Num2Bits[1]``..."""
        key = (self._scope_stack[-1], template_name)
        k = self._instances.get(key, 0)
        self._instances[key] = k + 1
        with self.scope(f"{template_name}[{k}]"):
            yield

    # ---------------------------------------------------------------- compile
    def compile(self) -> CompiledCircuit:
        """Freeze the circuit: renumber wires in circom order, build the R1CS, the
        constraint names and the witness solver."""
        from .compiled import compile_circuit

        compiled = compile_circuit(self)
        self._compiled = True
        return compiled


def _sub_terms(terms: Terms, out: int) -> Terms:
    """``terms - 1*out`` as a new dict (``out`` is a fresh wire)."""
    d = dict(terms)
    d[out] = R - 1
    return d


def _inv_hint(v: list[int]) -> int:
    return pow(v[0], -1, R) if v[0] % R else 0


def _div_hint(v: list[int]) -> int:
    return v[0] * pow(v[1], -1, R) % R if v[1] % R else 0


@overload
def template(
    arg: Callable[Concatenate[Circuit, P], T], /
) -> Callable[Concatenate[Circuit, P], T]: ...


@overload
def template(
    arg: str, /
) -> Callable[[Callable[Concatenate[Circuit, P], T]], Callable[Concatenate[Circuit, P], T]]: ...


def template(arg: object, /) -> object:
    """Make a function ``f(c: Circuit, ...)`` a reusable template: every call builds its
    sub-circuit in a new numbered scope ``Name[k]``.

    Use as ``@template`` (the function's name) or ``@template("Num2Bits")``.
    """

    def deco(
        fn: Callable[Concatenate[Circuit, P], T], name: str
    ) -> Callable[Concatenate[Circuit, P], T]:
        @wraps(fn)
        def wrapper(c: Circuit, /, *args: P.args, **kwargs: P.kwargs) -> T:
            with c.instance(name):
                return fn(c, *args, **kwargs)

        wrapper.template_name = name  # type: ignore[attr-defined]
        return wrapper

    if isinstance(arg, str):
        tname = arg
        return lambda fn: deco(fn, tname)
    if callable(arg):
        return deco(arg, getattr(arg, "__name__", "template"))
    raise TypeError("template: expected a function or a name")
