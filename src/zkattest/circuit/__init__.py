"""A small, exact R1CS DSL over BN254 Fr (circom conventions, Python syntax).

Building a circuit
------------------
::

    from zkattest.circuit import Circuit, template, LC

    c = Circuit("demo")                      # root scope "demo"
    x = c.public_input("x")                  # Signal (an LC that is one wire)
    ys = c.private_inputs("ys", 3)           # list[Signal]: ys[0..2]
    s = ys[0] + 2 * ys[1] - 5                # LC arithmetic: free, no constraint
    p = c.mul(s, ys[2])                      # a*b: ONE constraint, returns a new wire
    c.assert_equal(p, x)                     # linear constraint p - x = 0
    c.assert_bool(ys[0])                     # ys0 * (ys0 - 1) = 0
    c.output("out", p + 1)                   # public output (1 linear constraint, or
                                             # free if the value is exactly a fresh wire)
    compiled = c.compile()

Values are LCs (:class:`LC`: ``{wire: coeff}`` mod R, wire 0 = constant 1) or plain
ints (constants).  ``+ - *const`` fold without constraints; ``lc * lc`` raises; use
``c.mul``.  Constraint primitives on :class:`Circuit`:

- ``mul(a, b) -> LC``, ``square(a)``: one constraint (none if a side is constant);
- ``constrain(a, b, c)``: raw ``a * b = c``;
- ``assert_equal(a, b)``, ``assert_zero(a)``, ``assert_bool(a)``;
- ``wire(lc)``: materialize an LC as a wire (one linear constraint);
- ``inv(a)`` (also asserts a != 0), ``div(num, den)`` (``den * q = num``): hint + one
  constraint each.

Witness hints compute values outside the constraints; their outputs are fresh
internal wires that the caller MUST constrain::

    bits = c.hint(lambda v: [(v[0] >> i) & 1 for i in range(8)], [x], 8, name="bits")
    sig = c.hint1(lambda v: pow(v[0], -1, R), [x], name="inv")

A hint is ``Callable[[list[int]], Sequence[int]]``: it receives the values (in
``[0, R)``) of its input LCs and returns ``n_out`` ints (reduced mod R).

Facts gadgets share
-------------------
``c.note_bits(x, n)`` records that constraints already force ``x < 2^n`` (Num2Bits and
``assert_bool`` do it); ``c.max_value(lc)`` and ``c.is_boolean(lc)`` use those records
so comparators and muxes skip redundant range/boolean checks.
``c.assume_determined(wires, reason)`` tells :func:`analyze` about wires its rules
cannot prove determined (e.g. an alias-checked 254-bit decomposition); the report
lists them as assumptions.

Names and templates
-------------------
Every constraint and wire records the scope it was created in.  ``with
c.scope("sig"):`` opens a named scope; ``@template`` (or ``@template("Name")``) makes a
function ``f(c, ...)`` a reusable template whose every call runs in a numbered scope
``Name[k]``, e.g. ``age_gte.sig.mulAny[3]``.  :func:`check` reports the first violated
constraint as ``#index scope.path: label``.

Compiled circuit, R1CS, witnesses
---------------------------------
``c.compile()`` returns a :class:`CompiledCircuit`:

- ``.r1cs`` (:class:`R1CS`): rows ``(A, B, C)`` of ``(wire, coeff)`` pairs, wires in
  circom order: 0 = one, public outputs, public inputs, private inputs, internal
  (each group in declaration / creation order); ``.constraint_names``;
- ``.solve({"x": 5, "ys": [1, 2, 3]})`` -> ``list[int]`` full witness (inputs as in
  circom's input.json: int or decimal string, lists for arrays); raises
  :class:`~zkattest.errors.ConstraintUnsatisfied` if an assertion fails (pass
  ``check=False`` to get the witness anyway; ``overrides={wire: value}`` forces
  values during solving to build cheating witnesses in tests);
- ``.public_signals(w)`` (snarkjs public.json order), ``.output_values(w)``,
  ``.wire(name)``, ``.wire_names``, ``.signals``, ``.write_r1cs(path)``,
  ``.write_sym(path)``, ``.analyze()``, ``.prepare_solver()`` (compile the generated
  solver now rather than on the first solve).

:func:`check` ``(r1cs, witness)`` raises naming the first unsatisfied constraint;
:func:`find_unsatisfied` returns its index.  :mod:`.formats` reads and writes the
iden3 ``.r1cs`` and ``.wtns`` files (:func:`read_r1cs`, :func:`write_r1cs`,
:func:`read_wtns`, :func:`write_wtns`).  :func:`analyze` checks that every public
input is used and every wire is determined by the inputs.

Gadgets live in :mod:`zkattest.circuit.gadgets` (bits, compare, mux; poseidon,
babyjub, eddsa).
"""

from __future__ import annotations

from .analysis import AnalysisReport, analyze
from .builder import Circuit, Hint, WireKind, template
from .compiled import CompiledCircuit, InputValue, SignalInfo
from .formats import (
    dump_r1cs,
    dump_wtns,
    load_r1cs,
    load_wtns,
    read_r1cs,
    read_wtns,
    write_r1cs,
    write_wtns,
)
from .lc import LC, LCLike, R, Signal, as_lc, sum_lcs
from .r1cs import R1CS, Row, check, find_unsatisfied

__all__ = [
    "LC",
    "R1CS",
    "AnalysisReport",
    "Circuit",
    "CompiledCircuit",
    "Hint",
    "InputValue",
    "LCLike",
    "R",
    "Row",
    "Signal",
    "SignalInfo",
    "WireKind",
    "analyze",
    "as_lc",
    "check",
    "dump_r1cs",
    "dump_wtns",
    "find_unsatisfied",
    "load_r1cs",
    "load_wtns",
    "read_r1cs",
    "read_wtns",
    "sum_lcs",
    "template",
    "write_r1cs",
    "write_wtns",
]
