"""Gadget library: reusable templates built with :mod:`zkattest.circuit`.

- :mod:`.bits`: Num2Bits / range checks, strict 254-bit decomposition, comparison of
  bits with a constant, boolean logic;
- :mod:`.compare`: LessThan, LessEqThan, GreaterThan, GreaterEqThan (sound: they
  range-check their inputs), hard ``a <= b`` assertions, IsZero, IsEqual;
- :mod:`.mux`: Mux1 and a 2^k-way selector;
- :mod:`.poseidon`, :mod:`.babyjub`, :mod:`.eddsa`: Poseidon (circomlib parameters),
  Baby Jubjub arithmetic, EdDSA-Poseidon verification.

Import the submodules directly (``from zkattest.circuit.gadgets.compare import
less_eq_than``).
"""
