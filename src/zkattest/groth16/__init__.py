"""Groth16 over BN254, interoperable with snarkjs (split by role, as arkworks/gnark).

- :mod:`.keys`: :class:`ProvingKey` (everything a ``.zkey`` holds; ``.native`` is the
  C handle, parsed once), :class:`VerifyingKey` (``.prepared()`` caches the prepared
  pairing inputs), :class:`Proof` (``a: G1, b: G2, c: G1``).
- :mod:`.setup`: :func:`dev_setup` -- a single-party setup for DEVELOPMENT only.
- :mod:`.prove`: :func:`prove` ``(pk, witness) -> (proof, public_signals)``.
- :mod:`.verify`: :func:`verify` ``(vk, public_signals, proof) -> bool`` and
  :func:`verify_batch` ``(vk, [(public_signals, proof), ...]) -> BatchResult``.
- :mod:`.formats`: ``.zkey`` read/write (iden3 binary, groth16 sections 1-10 exactly as
  snarkjs writes them), snarkjs ``verification_key.json``, ``proof.json`` and
  ``public.json`` read/write.
- :func:`circuit_id` ``(r1cs_bytes) -> "sha256:<hex>"``: the circuit identity a
  verifying key records and a verifier may check.

Typical use::

    from zkattest import groth16
    from zkattest.circuits import age_gte

    cc = age_gte.compiled()
    pk, vk = groth16.dev_setup(cc.r1cs)           # development keys only
    proof, public = groth16.prove(pk, cc.solve(inputs))
    assert groth16.verify(vk, public, proof)
    groth16.write_zkey("circuit.zkey", pk)
    groth16.write_verification_key("verification_key.json", vk)

Error policy of the verifiers: a proof that is invalid for any reason -- wrong
equation, a point off the curve or outside the subgroup, a point at infinity, a
non-canonical coordinate, a public signal >= r -- gives ``False``.  Calling them
wrongly (wrong number of public signals, values that are not ints, objects of the
wrong type) raises :class:`zkattest.errors.InvalidInput`.  File readers raise
:class:`zkattest.errors.MalformedFile` naming what is wrong.
"""

from __future__ import annotations

from .formats import (
    dump_proof,
    dump_public,
    dump_verification_key,
    dump_zkey,
    load_proof,
    load_public,
    load_verification_key,
    load_zkey,
    read_proof,
    read_public,
    read_verification_key,
    read_zkey,
    write_proof,
    write_public,
    write_verification_key,
    write_zkey,
)
from .keys import PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey, circuit_id
from .prove import prove
from .setup import dev_setup
from .verify import BatchResult, verify, verify_batch

__all__ = [
    "BatchResult",
    "PreparedVerifyingKey",
    "Proof",
    "ProvingKey",
    "VerifyingKey",
    "circuit_id",
    "dev_setup",
    "dump_proof",
    "dump_public",
    "dump_verification_key",
    "dump_zkey",
    "load_proof",
    "load_public",
    "load_verification_key",
    "load_zkey",
    "prove",
    "read_proof",
    "read_public",
    "read_verification_key",
    "read_zkey",
    "verify",
    "verify_batch",
    "write_proof",
    "write_public",
    "write_verification_key",
    "write_zkey",
]
