"""``age_gte``: "this holder's valid, issuer-signed credential says they are at least
``min_age`` years old on ``today``" -- the statement of DESIGN.md, "The statement".

Credential v1: ``attrs[0..7]`` (slot 0 schema id, slot 1 birthdate YYYYMMDD, others
per schema, unused = 0), ``expires`` (YYYYMMDD), ``holder_commitment =
Poseidon(holder_secret)``, ``salt``; ``h = Poseidon(attrs[0..7], expires,
holder_commitment, salt)`` (11 inputs, t = 12), signed by the issuer with
EdDSA-Poseidon on Baby Jubjub (circomlib's equation).

Public inputs: ``Ax, Ay`` (issuer key), ``schema``, ``today``, ``min_age``, ``nonce``,
``rp_scope``.  Public outputs: ``result = [birthdate + min_age*10000 <= today]`` and
``nullifier = Poseidon(holder_secret, rp_scope)``.  Private inputs: ``attrs``,
``expires``, ``holder_secret``, ``salt``, and the signature ``R8x, R8y, S``.

Hard constraints: the signature verifies under (Ax, Ay); ``schema == attrs[0]``;
``expires >= today``; every comparator input is range-checked (``today`` and the
birthdate to 27 bits, since YYYYMMDD < 10^8 < 2^27; ``min_age`` to 8 bits;
``expires - today`` to 27 bits, which bounds ``expires`` too), so nothing wraps
around the field; every public input appears in a constraint (``nonce`` through
``nonce^2``, binding the proof to the relying party's challenge).

Cost: 4,132 constraints: EdDSA-Poseidon 3,088; holder commitment and credential
hash 213 + 465; nullifier 240; dates 123 (range checks 28 + 28 + 9, expiry 28, the
age comparison 30, whose top bit is the ``result`` wire itself); schema equality,
nullifier output and ``nonce^2`` 1 each.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from zkattest.circuit import Circuit, CompiledCircuit, InputValue
from zkattest.circuit.gadgets.bits import range_check
from zkattest.circuit.gadgets.compare import assert_greater_eq, less_eq_than
from zkattest.circuit.gadgets.eddsa import eddsa_poseidon_verify
from zkattest.circuit.gadgets.poseidon import poseidon
from zkattest.errors import InvalidInput

__all__ = [
    "DATE_BITS",
    "MIN_AGE_BITS",
    "N_ATTRS",
    "PUBLIC_INPUTS",
    "PUBLIC_OUTPUTS",
    "build",
    "compiled",
    "make_inputs",
]

NAME = "age_gte"
N_ATTRS = 8
SLOT_SCHEMA = 0
SLOT_BIRTHDATE = 1
#: YYYYMMDD <= 99991231 < 2^27
DATE_BITS = 27
#: min_age <= 255
MIN_AGE_BITS = 8
#: public signal order (snarkjs public.json): outputs, then inputs
PUBLIC_OUTPUTS = ("result", "nullifier")
PUBLIC_INPUTS = ("Ax", "Ay", "schema", "today", "min_age", "nonce", "rp_scope")


def build() -> Circuit:
    """Build (not compile) the circuit; see the module docstring."""
    c = Circuit(NAME)
    # public inputs, in DESIGN.md's order
    ax = c.public_input("Ax")
    ay = c.public_input("Ay")
    schema = c.public_input("schema")
    today = c.public_input("today")
    min_age = c.public_input("min_age")
    nonce = c.public_input("nonce")
    rp_scope = c.public_input("rp_scope")
    # private inputs
    attrs = c.private_inputs("attrs", N_ATTRS)
    expires = c.private_input("expires")
    holder_secret = c.private_input("holder_secret")
    salt = c.private_input("salt")
    r8x = c.private_input("R8x")
    r8y = c.private_input("R8y")
    s = c.private_input("S")

    # the credential and the issuer's signature on it
    with c.scope("cred"):
        holder_commitment = poseidon(c, [holder_secret])
        h = poseidon(c, [*attrs, expires, holder_commitment, salt])
    with c.scope("sig"):
        eddsa_poseidon_verify(c, ax, ay, s, r8x, r8y, h)
    c.assert_equal(attrs[SLOT_SCHEMA], schema, "schema")

    # dates: range checks first, so every comparison below is on small integers
    birthdate = attrs[SLOT_BIRTHDATE]
    with c.scope("range"):
        for v in (today, birthdate):
            range_check(c, v, DATE_BITS)
        range_check(c, min_age, MIN_AGE_BITS)
    with c.scope("expiry"):
        # expires - today in 27 bits with today < 2^27: expires = today + d cannot
        # wrap, so this also bounds expires (< 2^28) without a range check of its own
        assert_greater_eq(c, expires, today, DATE_BITS)
    with c.scope("age"):
        # birthdate + min_age*10000 < 2^27 + 255*10000 < 2^28: LessEqThan(28) sees
        # range-checked operands and does not re-check them
        ok = less_eq_than(c, birthdate + min_age * 10000, today, DATE_BITS + 1)
    c.output("result", ok)

    with c.scope("nullifier"):
        nullifier = poseidon(c, [holder_secret, rp_scope])
    c.output("nullifier", nullifier)
    # the RP's challenge: bound to the proof through a constraint of its own
    c.mul(nonce, nonce, "nonce_squared")
    return c


@lru_cache(maxsize=1)
def compiled() -> CompiledCircuit:
    """The compiled circuit (built once per process)."""
    return build().compile()


def make_inputs(
    *,
    issuer_key: tuple[int, int],
    signature: tuple[int, int, int],
    attrs: Sequence[int],
    expires: int,
    holder_secret: int,
    salt: int,
    today: int,
    min_age: int,
    nonce: int,
    rp_scope: int,
) -> dict[str, InputValue]:
    """The named inputs of :func:`compiled` ``.solve`` from credential values.

    ``signature`` is ``(R8x, R8y, S)``; the schema public input is ``attrs[0]``.
    """
    if len(attrs) != N_ATTRS:
        raise InvalidInput(f"a v1 credential has {N_ATTRS} attribute slots")
    r8x, r8y, s = signature
    return {
        "Ax": issuer_key[0],
        "Ay": issuer_key[1],
        "schema": attrs[SLOT_SCHEMA],
        "today": today,
        "min_age": min_age,
        "nonce": nonce,
        "rp_scope": rp_scope,
        "attrs": list(attrs),
        "expires": expires,
        "holder_secret": holder_secret,
        "salt": salt,
        "R8x": r8x,
        "R8y": r8y,
        "S": s,
    }


def example_inputs(
    *,
    birthdate: int = 20000229,
    today: int = 20250101,
    min_age: int = 18,
    nonce: int = 4242,
    rp_scope: int = 77,
    issuer_seed: bytes = bytes(range(1, 33)),
    holder_secret: int = 0xC0FFEE,
) -> dict[str, InputValue]:
    """Inputs for a credential signed by a fixed, PUBLIC example issuer key.

    For tests, benchmarks and demos only: the issuer seed and holder secret are
    published constants, so nothing proved with them means anything.
    """
    from zkattest import babyjub
    from zkattest.poseidon import poseidon as poseidon_hash

    key = babyjub.private_to_public(issuer_seed)
    attrs = [0x5A4B0001, birthdate, 1, 2, 0, 0, 0, 0]
    salt, expires = 987654321, 20300101
    h = poseidon_hash([*attrs, expires, poseidon_hash([holder_secret]), salt])
    sig = babyjub.sign_poseidon(issuer_seed, h)
    return make_inputs(
        issuer_key=(key.x, key.y),
        signature=(sig.r8.x, sig.r8.y, sig.s),
        attrs=attrs,
        expires=expires,
        holder_secret=holder_secret,
        salt=salt,
        today=today,
        min_age=min_age,
        nonce=nonce,
        rp_scope=rp_scope,
    )
