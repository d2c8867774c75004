"""A compiled circuit: the R1CS, names for every wire and constraint, and the
witness solver (generated Python code, with a plain interpreter as reference)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from ..errors import CircuitError, ConstraintUnsatisfied, WitnessError
from .analysis import AnalysisReport, analyze
from .builder import HintStep, LinStep, MulStep, Step, Terms, WireKind
from .lc import R
from .r1cs import R1CS, Row
from .solver import Solver

if TYPE_CHECKING:
    from .builder import Circuit

__all__ = ["CompiledCircuit", "InputValue", "SignalInfo", "compile_circuit"]

#: A named input's value, as in circom's input.json: an int (or a decimal string), or a
#: list of them for an array signal.
InputValue: TypeAlias = int | str | Sequence[int | str]


@dataclass(frozen=True, slots=True)
class SignalInfo:
    """A named input or output: its kind and its wire indices (final numbering)."""

    name: str
    kind: WireKind
    wires: tuple[int, ...]
    is_array: bool


class CompiledCircuit:
    """An R1CS plus everything needed to use it: names and the witness solver."""

    def __init__(
        self,
        name: str,
        r1cs: R1CS,
        wire_names: list[str],
        signals: dict[str, SignalInfo],
        steps: list[Step],
        check_constraints: list[int],
        assumed: dict[int, str] | None = None,
    ) -> None:
        self.name = name
        self.r1cs = r1cs
        self.wire_names = wire_names
        self.signals = signals
        self._steps = steps
        #: wires a gadget declared determined (see Circuit.assume_determined)
        self.assumed: dict[int, str] = assumed or {}
        self._solver = Solver(r1cs, steps, check_constraints)

    # --------------------------------------------------------------- queries
    @property
    def n_constraints(self) -> int:
        return self.r1cs.n_constraints

    @property
    def n_wires(self) -> int:
        return self.r1cs.n_wires

    @property
    def constraint_names(self) -> tuple[str, ...]:
        names = self.r1cs.constraint_names
        assert names is not None
        return names

    def inputs(self) -> list[SignalInfo]:
        """Input signals, public first, each in declaration order."""
        return sorted(
            (s for s in self.signals.values() if s.kind != WireKind.PUBLIC_OUTPUT),
            key=lambda s: s.wires[0],
        )

    def outputs(self) -> list[SignalInfo]:
        return sorted(
            (s for s in self.signals.values() if s.kind == WireKind.PUBLIC_OUTPUT),
            key=lambda s: s.wires[0],
        )

    def wire(self, name: str) -> int:
        """The index of a named wire (``"result"``, ``"attrs[1]"``, or a full internal
        name as in :attr:`wire_names`)."""
        base, _, rest = name.partition("[")
        info = self.signals.get(base)
        if info is not None:
            if not rest:
                if info.is_array:
                    raise CircuitError(f"{name!r} is an array; name one element")
                return info.wires[0]
            try:
                k = int(rest.rstrip("]"))
                return info.wires[k]
            except (ValueError, IndexError):
                raise CircuitError(f"no signal {name!r}") from None
        try:
            return self.wire_names.index(name)
        except ValueError:
            raise CircuitError(f"no signal {name!r}") from None

    def wires_in_scope(self, prefix: str) -> list[int]:
        """Indices of wires whose full name starts with ``prefix``."""
        return [i for i, n in enumerate(self.wire_names) if n.startswith(prefix)]

    # ---------------------------------------------------------------- solving
    def prepare_solver(self) -> None:
        """Compile the generated witness solver now (otherwise on the first solve)."""
        self._solver.prepare()

    def _initial(self, inputs: Mapping[str, InputValue]) -> list[int]:
        w = [0] * self.r1cs.n_wires
        w[0] = 1
        expected = {s.name for s in self.signals.values() if s.kind != WireKind.PUBLIC_OUTPUT}
        extra = sorted(set(inputs) - expected)
        if extra:
            raise WitnessError(f"unknown input(s): {', '.join(extra)}")
        missing = sorted(expected - set(inputs))
        if missing:
            raise WitnessError(f"missing input(s): {', '.join(missing)}")
        for name in expected:
            info = self.signals[name]
            v = inputs[name]
            if info.is_array:
                if isinstance(v, int | str) or not isinstance(v, Sequence):
                    raise WitnessError(f"input {name!r} must be a list of {len(info.wires)}")
                if len(v) != len(info.wires):
                    raise WitnessError(
                        f"input {name!r} has {len(v)} values, expected {len(info.wires)}"
                    )
                for wi, x in zip(info.wires, v, strict=True):
                    w[wi] = _field(name, x)
            else:
                if not isinstance(v, int | str):
                    raise WitnessError(f"input {name!r} must be a single value")
                w[info.wires[0]] = _field(name, v)
        return w

    def solve(
        self,
        inputs: Mapping[str, InputValue],
        *,
        check: bool = True,
        overrides: Mapping[int, int] | None = None,
    ) -> list[int]:
        """Compute the full witness from named inputs (as circom's input.json).

        With ``check`` (default) the constraints that do not hold by construction
        (assertions, hint checks) are verified and the first violated one raises
        :class:`~zkattest.errors.ConstraintUnsatisfied` naming it.

        ``overrides`` (testing: building cheating witnesses) forces wire values right
        after the step that computes them, so later steps see the forced value; it
        uses the slower reference interpreter.
        """
        w = self._initial(inputs)
        if overrides:
            self._solver.interpret(w, overrides)
        else:
            self._solver.run(w)
        if check:
            k = self._solver.first_failed_check(w)
            if k is not None:
                raise ConstraintUnsatisfied(
                    f"constraint {self.r1cs.constraint_name(k)} is not satisfied"
                )
        return w

    def solve_reference(self, inputs: Mapping[str, InputValue]) -> list[int]:
        """Solve with the plain interpreter (no generated code); for cross-checks."""
        w = self._initial(inputs)
        self._solver.interpret(w, {})
        return w

    def public_signals(self, witness: Sequence[int]) -> list[int]:
        """snarkjs ``public.json`` order: outputs, then public inputs."""
        return self.r1cs.public_signals(witness)

    def output_values(self, witness: Sequence[int]) -> dict[str, int]:
        return {s.name: witness[s.wires[0]] for s in self.outputs()}

    def analyze(self) -> AnalysisReport:
        """Run :func:`~zkattest.circuit.analyze` with this circuit's assumptions."""
        return analyze(self.r1cs, self.assumed)

    def check(self, witness: Sequence[int]) -> None:
        """Check every constraint (see :func:`zkattest.circuit.check`)."""
        from .r1cs import check

        check(self.r1cs, witness)

    # ------------------------------------------------------------------ files
    def write_r1cs(self, path: str | Path) -> None:
        from .formats import write_r1cs

        write_r1cs(path, self.r1cs)

    def write_sym(self, path: str | Path) -> None:
        """circom's ``.sym``: ``label,wire,component,name`` per wire."""
        lines = [
            f"{i},{i},-1,{self.name}.{n}" if i else f"0,0,-1,{self.name}.one"
            for i, n in enumerate(self.wire_names)
        ]
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _field(name: str, x: object) -> int:
    if isinstance(x, bool):
        raise WitnessError(f"input {name!r}: booleans are not field elements")
    if isinstance(x, str):
        s = x.strip()
        try:
            v = int(s, 16) if s.lower().startswith("0x") else int(s, 10)
        except ValueError:
            raise WitnessError(f"input {name!r}: {x!r} is not an integer") from None
    elif isinstance(x, int):
        v = x
    else:
        raise WitnessError(f"input {name!r}: expected an integer, got {type(x).__name__}")
    if not 0 <= v < R:
        raise WitnessError(f"input {name!r}: value is not in [0, r)")
    return v


def _remap(terms: Terms, perm: list[int]) -> Row:
    return tuple(sorted((perm[w], c) for w, c in terms.items()))


def compile_circuit(c: Circuit) -> CompiledCircuit:
    kinds = c._kind
    n = len(kinds)
    order: list[int] = [0]
    for kind in (WireKind.PUBLIC_OUTPUT, WireKind.PUBLIC_INPUT, WireKind.PRIVATE_INPUT):
        # inputs/outputs in declaration order of their names
        for k2, ws, _arr in c._io.values():
            if k2 == kind:
                order.extend(ws)
    order.extend(w for w in range(1, n) if kinds[w] == WireKind.INTERNAL)
    if len(order) != n:  # pragma: no cover - internal invariant
        raise CircuitError("internal error: wire renumbering lost wires")
    perm = [0] * n
    for new, old in enumerate(order):
        perm[old] = new
    counts = {k: 0 for k in WireKind}
    for k in kinds:
        counts[k] += 1

    names_by_scope = c._scopes
    labels = c._clabel
    cscope = c._cscope
    constraints = tuple(
        (_remap(a, perm), _remap(b, perm), _remap(cc, perm))
        for a, b, cc in zip(c._a, c._b, c._c, strict=True)
    )
    cnames = tuple(f"{names_by_scope[s]}: {lab}" for s, lab in zip(cscope, labels, strict=True))
    r1cs = R1CS(
        n_wires=n,
        n_pub_out=counts[WireKind.PUBLIC_OUTPUT],
        n_pub_in=counts[WireKind.PUBLIC_INPUT],
        n_prv_in=counts[WireKind.PRIVATE_INPUT],
        constraints=constraints,
        constraint_names=cnames,
    )
    wire_names = [""] * n
    for old in range(n):
        nm = c._wname[old]
        kind = kinds[old]
        if kind in (
            WireKind.ONE,
            WireKind.PUBLIC_OUTPUT,
            WireKind.PUBLIC_INPUT,
            WireKind.PRIVATE_INPUT,
        ):
            wire_names[perm[old]] = nm or f"_{perm[old]}"
        else:
            scope = names_by_scope[c._wscope[old]]
            wire_names[perm[old]] = f"{scope}.{nm}" if nm else f"{scope}._{perm[old]}"
    signals = {
        name: SignalInfo(name, kind, tuple(perm[w] for w in ws), arr)
        for name, (kind, ws, arr) in c._io.items()
    }

    def rt(t: Terms) -> Terms:
        return {perm[w]: x for w, x in t.items()}

    steps: list[Step] = []
    for st in c._steps:
        if isinstance(st, MulStep):
            steps.append(MulStep(perm[st.out], rt(st.a), rt(st.b)))
        elif isinstance(st, LinStep):
            steps.append(LinStep(perm[st.out], rt(st.lc)))
        else:
            steps.append(
                HintStep(
                    tuple(perm[o] for o in st.outs), st.fn, tuple(rt(t) for t in st.ins), st.name
                )
            )
    checks = [i for i in range(len(constraints)) if i not in c._defining]
    assumed = {perm[w]: why for w, why in c._assumed.items()}
    return CompiledCircuit(c.name, r1cs, wire_names, signals, steps, checks, assumed)
