"""Credential v1, Request, Presentation and Decision, with their canonical JSON.

Canonical JSON (what :meth:`Credential.to_json` writes and every ``from_json``
reads): UTF-8, no insignificant whitespace, object keys in sorted order (the field
order of the wire structs below), field elements as decimal strings without sign or
leading zeros (``"0"``, ``"123"``, each ``< r``), dates (YYYYMMDD) and small counts
as JSON integers.  Decoding is strict: unknown or missing fields, wrong types,
non-canonical numbers, points off Baby Jubjub or outside its prime-order subgroup,
impossible dates all raise :class:`MalformedCredential` (a
:class:`zkattest.errors.MalformedFile`) naming the field; nothing is silently fixed.

A credential (DESIGN.md, "The statement")::

    {"attrs": ["1514864641", "20080229", "0", ...8 slots],
     "expires": 20300101,
     "holder_commitment": "<Poseidon(holder_secret)>",
     "issuer": {"Ax": "...", "Ay": "..."},
     "salt": "...",
     "signature": {"R8x": "...", "R8y": "...", "S": "..."},
     "v": 1}

``h = Poseidon(attrs[0..7], expires, holder_commitment, salt)`` is what the issuer
signs (EdDSA-Poseidon, circomlib's equation); ``attrs[0]`` is the schema id.

Strings as field elements (:func:`to_field`): a relying party's nonce or scope may
be an int in ``[0, r)`` (used as is) or a ``str``, mapped to
``int.from_bytes(sha256(tag || utf8(s)), "big") mod r`` with ``tag`` =
``b"zkattest/nonce/v1\\x00"`` or ``b"zkattest/rp_scope/v1\\x00"``; the bias of the
reduction (< 2^-2) is irrelevant for a challenge or a scope label.
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from .. import errors
from ..babyjub import SUBGROUP_ORDER, Point, Signature
from ..field import R

__all__ = [
    "N_ATTRS",
    "Credential",
    "CredentialError",
    "Decision",
    "ExpiredCredential",
    "InvalidRequest",
    "InvalidSignature",
    "IssuerKey",
    "MalformedCredential",
    "Presentation",
    "Reason",
    "Request",
    "WrongHolder",
    "check_date",
    "to_field",
]

N_ATTRS = 8


# ------------------------------------------------------------------ errors
class CredentialError(errors.InvalidInput):
    """A credential, request or presentation cannot be used."""


class MalformedCredential(CredentialError, errors.MalformedFile):
    """Credential / request / presentation JSON that does not decode strictly."""


class InvalidSignature(CredentialError):
    """The issuer's signature on the credential does not verify."""


class ExpiredCredential(CredentialError):
    """The credential expired before the request's ``today``."""


class WrongHolder(CredentialError):
    """The credential is bound to another holder's commitment."""


class InvalidRequest(CredentialError, errors.InvalidParameter):
    """The request is malformed (unknown predicate, out-of-range value)."""


# ------------------------------------------------------------------ values
_DEC = re.compile(r"0|[1-9][0-9]{0,77}")
_NONCE_TAG = b"zkattest/nonce/v1\x00"
_SCOPE_TAG = b"zkattest/rp_scope/v1\x00"


def _dec(s: str, what: str, bound: int = R) -> int:
    if not _DEC.fullmatch(s):
        raise MalformedCredential(f"{what}: expected a canonical decimal string")
    v = int(s)
    if v >= bound:
        raise MalformedCredential(f"{what}: not below the field modulus")
    return v


def _fe(v: object, what: str, exc: type[Exception] = errors.InvalidInput) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise exc(f"{what}: expected an int field element")
    if not 0 <= v < R:
        raise exc(f"{what}: not in [0, r)")
    return v


def check_date(v: object, what: str, exc: type[Exception] = errors.InvalidInput) -> int:
    """``v`` as a YYYYMMDD int naming a real calendar date (years 0001-9999)."""
    if not isinstance(v, int) or isinstance(v, bool):
        raise exc(f"{what}: expected a YYYYMMDD int")
    try:
        _dt.date(v // 10000, v // 100 % 100, v % 100)
    except ValueError:
        raise exc(f"{what}: not a calendar date in YYYYMMDD form") from None
    if not 10000101 <= v <= 99991231:
        raise exc(f"{what}: not a calendar date in YYYYMMDD form")
    return v


def to_field(value: str | int, kind: Literal["nonce", "rp_scope"]) -> int:
    """A nonce or relying-party scope as a field element (see the module docstring)."""
    if isinstance(value, str):
        tag = _NONCE_TAG if kind == "nonce" else _SCOPE_TAG
        digest = hashlib.sha256(tag + value.encode("utf-8")).digest()
        return int.from_bytes(digest, "big") % R
    return _fe(value, kind, InvalidRequest)


def _decode(data: bytes | str, typ: type[Any], what: str) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview | str):
        raise MalformedCredential(f"{what}: expected JSON text or bytes")
    try:
        return msgspec.json.decode(data, type=typ, strict=True)
    except msgspec.ValidationError as e:
        raise MalformedCredential(f"{what}: {e}") from None
    except msgspec.DecodeError as e:
        raise MalformedCredential(f"{what}: not valid JSON ({e})") from None


# ------------------------------------------------------------------ wire structs
class _KeyJSON(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    Ax: str
    Ay: str


class _SigJSON(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    R8x: str
    R8y: str
    S: str


class _CredJSON(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    # fields in sorted order: the encoding is canonical as written
    attrs: list[str]
    expires: int
    holder_commitment: str
    issuer: _KeyJSON
    salt: str
    signature: _SigJSON
    v: int


class _RequestJSON(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    min_age: int
    nonce: str
    predicate: str
    rp_scope: str
    schema: str
    today: int
    v: int


class _PresentationJSON(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    circuit_id: str
    proof: dict[str, Any]
    public: list[str]
    v: int


# ------------------------------------------------------------------ domain types
class IssuerKey(msgspec.Struct, frozen=True):
    """An issuer's public key ``A = (Ax, Ay)`` on Baby Jubjub (checked: on the
    curve, in the prime-order subgroup)."""

    Ax: int
    Ay: int

    def __post_init__(self) -> None:
        Point.from_xy(self.Ax, self.Ay)

    def point(self) -> Point:
        return Point(self.Ax, self.Ay)

    def to_dict(self) -> dict[str, str]:
        return {"Ax": str(self.Ax), "Ay": str(self.Ay)}


class Credential(msgspec.Struct, frozen=True):
    """Credential v1 (DESIGN.md "The statement").  Field elements are ints;
    construction checks ranges and the issuer key, not the signature (use
    :func:`zkattest.credentials.verify_credential`)."""

    attrs: tuple[int, ...]
    expires: int
    holder_commitment: int
    salt: int
    issuer: IssuerKey
    signature: Signature

    def __post_init__(self) -> None:
        if not isinstance(self.attrs, tuple) or len(self.attrs) != N_ATTRS:
            raise errors.InvalidInput(f"attrs: a tuple of the {N_ATTRS} attribute slots")
        for i, a in enumerate(self.attrs):
            _fe(a, f"attrs[{i}]")
        check_date(self.expires, "expires")
        _fe(self.holder_commitment, "holder_commitment")
        _fe(self.salt, "salt")
        if not isinstance(self.issuer, IssuerKey) or not isinstance(self.signature, Signature):
            raise errors.InvalidInput("issuer must be an IssuerKey, signature a Signature")

    def __repr__(self) -> str:
        # attribute values and the salt are private to the holder: never shown
        return (
            f"Credential(schema={self.attrs[0]}, expires={self.expires}, "
            f"issuer={self.issuer!r}, attrs=<{N_ATTRS} private slots>)"
        )

    @property
    def schema(self) -> int:
        """The schema id (slot 0)."""
        return self.attrs[0]

    def message(self) -> int:
        """``h = Poseidon(attrs, expires, holder_commitment, salt)``: what is signed."""
        from ..poseidon import poseidon

        return poseidon([*self.attrs, self.expires, self.holder_commitment, self.salt])

    def to_json(self) -> bytes:
        """The canonical JSON encoding (module docstring)."""
        sig = self.signature
        wire = _CredJSON(
            attrs=[str(a) for a in self.attrs],
            expires=self.expires,
            holder_commitment=str(self.holder_commitment),
            issuer=_KeyJSON(str(self.issuer.Ax), str(self.issuer.Ay)),
            salt=str(self.salt),
            signature=_SigJSON(str(sig.r8.x), str(sig.r8.y), str(sig.s)),
            v=1,
        )
        return msgspec.json.encode(wire)

    @classmethod
    def from_json(cls, data: bytes | str) -> Credential:
        """Strictly decode :meth:`to_json` output (raises :class:`MalformedCredential`)."""
        w: _CredJSON = _decode(data, _CredJSON, "credential")
        if w.v != 1:
            raise MalformedCredential(f"credential: unsupported version {w.v}")
        if len(w.attrs) != N_ATTRS:
            raise MalformedCredential(f"credential: attrs must have {N_ATTRS} slots")
        attrs = tuple(_dec(a, f"credential.attrs[{i}]") for i, a in enumerate(w.attrs))
        expires = check_date(w.expires, "credential.expires", MalformedCredential)
        try:
            issuer = IssuerKey(_dec(w.issuer.Ax, "issuer.Ax"), _dec(w.issuer.Ay, "issuer.Ay"))
            r8 = Point.from_xy(
                _dec(w.signature.R8x, "signature.R8x"), _dec(w.signature.R8y, "signature.R8y")
            )
        except MalformedCredential:
            raise
        except errors.InvalidInput as e:
            raise MalformedCredential(f"credential: bad point ({e})") from None
        s = _dec(w.signature.S, "signature.S", SUBGROUP_ORDER)
        return cls(
            attrs=attrs,
            expires=expires,
            holder_commitment=_dec(w.holder_commitment, "credential.holder_commitment"),
            salt=_dec(w.salt, "credential.salt"),
            issuer=issuer,
            signature=Signature(r8, s),
        )


class Request(msgspec.Struct, frozen=True):
    """What a relying party asks: ``predicate`` (only ``"age_gte"`` today),
    ``min_age`` (0-255), ``nonce`` and ``rp_scope`` (field elements; build with
    :meth:`age_gte` to map strings, see :func:`to_field`), ``today`` (YYYYMMDD), and
    the credential ``schema`` it accepts."""

    predicate: str
    min_age: int
    nonce: int
    rp_scope: int
    today: int
    schema: int

    def __post_init__(self) -> None:
        if self.predicate != "age_gte":
            raise InvalidRequest(f"unknown predicate {self.predicate!r} (known: age_gte)")
        if (
            not isinstance(self.min_age, int)
            or isinstance(self.min_age, bool)
            or not 0 <= self.min_age <= 255
        ):
            raise InvalidRequest("min_age must be an int in 0..255")
        _fe(self.nonce, "nonce", InvalidRequest)
        _fe(self.rp_scope, "rp_scope", InvalidRequest)
        _fe(self.schema, "schema", InvalidRequest)
        check_date(self.today, "today", InvalidRequest)

    @classmethod
    def age_gte(
        cls,
        min_age: int,
        *,
        nonce: str | int,
        rp_scope: str | int,
        today: int | _dt.date | None = None,
        schema: int | None = None,
    ) -> Request:
        """A request "at least ``min_age`` years old on ``today``" (default: today's
        UTC date; the person schema unless ``schema`` is given)."""
        from .schemas import PERSON

        if today is None:
            today = _dt.datetime.now(_dt.UTC).date()
        if isinstance(today, _dt.date):
            today = today.year * 10000 + today.month * 100 + today.day
        return cls(
            predicate="age_gte",
            min_age=min_age,
            nonce=to_field(nonce, "nonce"),
            rp_scope=to_field(rp_scope, "rp_scope"),
            today=today,
            schema=PERSON.id if schema is None else schema,
        )

    def to_json(self) -> bytes:
        return msgspec.json.encode(
            _RequestJSON(
                min_age=self.min_age,
                nonce=str(self.nonce),
                predicate=self.predicate,
                rp_scope=str(self.rp_scope),
                schema=str(self.schema),
                today=self.today,
                v=1,
            )
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Request:
        w: _RequestJSON = _decode(data, _RequestJSON, "request")
        if w.v != 1:
            raise MalformedCredential(f"request: unsupported version {w.v}")
        return cls(
            predicate=w.predicate,
            min_age=w.min_age,
            nonce=_dec(w.nonce, "request.nonce"),
            rp_scope=_dec(w.rp_scope, "request.rp_scope"),
            today=w.today,
            schema=_dec(w.schema, "request.schema"),
        )


class Presentation(msgspec.Struct, frozen=True):
    """A holder's answer: a Groth16 proof, its public signals (snarkjs order:
    ``result, nullifier, Ax, Ay, schema, today, min_age, nonce, rp_scope``) and the
    circuit id of the key it was made with."""

    proof: Any  # zkattest.groth16.Proof (kept loose so msgspec need not know it)
    public: tuple[int, ...]
    circuit_id: str

    @property
    def result(self) -> int:
        """The ``result`` signal as claimed (trust it only after a Verifier check)."""
        return self.public[0]

    @property
    def nullifier(self) -> int:
        """The RP-scoped pseudonym ``Poseidon(holder_secret, rp_scope)``."""
        return self.public[1]

    def to_json(self) -> bytes:
        from ..groth16 import dump_proof

        return msgspec.json.encode(
            _PresentationJSON(
                circuit_id=self.circuit_id,
                proof=dump_proof(self.proof),
                public=[str(x) for x in self.public],
                v=1,
            )
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Presentation:
        from ..groth16 import load_proof

        w: _PresentationJSON = _decode(data, _PresentationJSON, "presentation")
        if w.v != 1:
            raise MalformedCredential(f"presentation: unsupported version {w.v}")
        public = tuple(_dec(x, f"presentation.public[{i}]") for i, x in enumerate(w.public))
        try:
            proof = load_proof(w.proof)
        except errors.InvalidInput as e:
            raise MalformedCredential(f"presentation.proof: {e}") from None
        return cls(proof=proof, public=public, circuit_id=w.circuit_id)


class Reason(enum.StrEnum):
    """Why a presentation is invalid."""

    UNKNOWN_CIRCUIT = "unknown_circuit"
    UNTRUSTED_ISSUER = "untrusted_issuer"
    STALE_TODAY = "stale_today"
    NONCE_MISMATCH = "nonce_mismatch"
    SCOPE_MISMATCH = "scope_mismatch"
    SCHEMA_MISMATCH = "schema_mismatch"
    MIN_AGE_MISMATCH = "min_age_mismatch"
    INVALID_PROOF = "invalid_proof"


@dataclass(frozen=True, slots=True)
class Decision:
    """A verifier's decision.  ``valid``: the presentation is a correct answer to
    the request; then ``result`` is the predicate's yes/no (a valid "no" is a
    decision, not an error) and ``nullifier`` the holder's pseudonym for this RP.
    Otherwise ``result`` is None and ``reason`` says why."""

    valid: bool
    result: bool | None = None
    reason: Reason | None = None
    nullifier: int | None = None

    @classmethod
    def invalid(cls, reason: Reason) -> Decision:
        return cls(False, None, reason, None)
