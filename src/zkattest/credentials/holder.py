"""The holder: a secret, its commitment for the issuer, and proofs from credentials.

The holder secret is a field element in ``[1, r)``; the issuer binds credentials to
``commitment = Poseidon(secret)``.  The caller stores the secret (:attr:`Holder.secret`,
or :meth:`Holder.to_json` / :meth:`Holder.from_json`); ``repr``, logs and error
messages never show it, nor the credential's attributes.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

import msgspec

from .. import errors
from ..field import R
from .credential import (
    Credential,
    ExpiredCredential,
    InvalidRequest,
    InvalidSignature,
    Presentation,
    Request,
    WrongHolder,
)
from .issuer import verify_credential
from .keystore import KeyStore, builtin_circuit_id

__all__ = ["Holder"]

log = logging.getLogger("zkattest.credentials")
_KTY = "zkattest-holder-secret"
_DEC = re.compile(r"0|[1-9][0-9]{0,77}")
CIRCUIT = "age_gte"


def _builtin_id() -> str:
    return builtin_circuit_id(CIRCUIT)


class Holder:
    """A holder secret.  ``Holder()`` draws a fresh one; ``Holder(secret)`` uses
    the given int in ``[1, r)``."""

    __slots__ = ("_commitment", "_secret")

    def __init__(self, secret: int | None = None) -> None:
        if secret is None:
            secret = secrets.randbelow(R - 1) + 1
        if not isinstance(secret, int) or isinstance(secret, bool) or not 0 < secret < R:
            raise errors.InvalidInput("a holder secret is an int in [1, r)")
        from ..poseidon import poseidon

        self._secret = secret
        self._commitment = poseidon([secret])

    def __repr__(self) -> str:
        return f"Holder(commitment={self._commitment})"

    def __reduce__(self) -> Any:
        raise TypeError("a Holder (it holds a secret) is not picklable")

    @property
    def secret(self) -> int:
        """The holder secret (for the caller to store; never log it)."""
        return self._secret

    @property
    def commitment(self) -> int:
        """``Poseidon(secret)``: what the issuer binds the credential to."""
        return self._commitment

    def nullifier(self, rp_scope: int) -> int:
        """``Poseidon(secret, rp_scope)``: this holder's pseudonym at one relying party."""
        from ..poseidon import poseidon

        return poseidon([self._secret, rp_scope])

    def to_json(self) -> bytes:
        """``{"kty": "zkattest-holder-secret", "secret": "<decimal>", "v": 1}`` (secret!)."""
        return msgspec.json.encode({"kty": _KTY, "secret": str(self._secret), "v": 1})

    @classmethod
    def from_json(cls, data: bytes | str) -> Holder:
        try:
            obj = msgspec.json.decode(data)
        except msgspec.DecodeError:
            raise errors.MalformedFile("holder: not JSON") from None
        if (
            not isinstance(obj, dict)
            or set(obj) != {"kty", "secret", "v"}
            or obj["kty"] != _KTY
            or obj["v"] != 1
            or not isinstance(obj["secret"], str)
            or not _DEC.fullmatch(obj["secret"])
        ):
            raise errors.MalformedFile(f"holder: not a {_KTY} v1 file")
        return cls(int(obj["secret"]))

    def present(
        self,
        credential: Credential,
        request: Request,
        *,
        keys: KeyStore | None = None,
        nthreads: int | None = None,
    ) -> Presentation:
        """Prove the request's predicate over ``credential`` (Groth16, ``age_gte``).

        Refuses (raises a :class:`~zkattest.credentials.CredentialError`) when the
        request is malformed (:class:`InvalidRequest`), the credential's signature does
        not verify (:class:`InvalidSignature`), it belongs to another holder
        (:class:`WrongHolder`), its schema is not the requested one, or it expired
        before ``request.today`` (:class:`ExpiredCredential`).  An unmet predicate is
        not refused: the presentation proves ``result = 0``.  ``nthreads``: the
        prover's threads (default: all cores).
        """
        from ..circuits import age_gte
        from ..groth16 import prove

        if not isinstance(request, Request):
            raise InvalidRequest("expected a Request")
        if not isinstance(credential, Credential):
            raise errors.InvalidInput("expected a Credential")
        if request.predicate != CIRCUIT:
            raise InvalidRequest(f"unsupported predicate {request.predicate!r}")
        if credential.holder_commitment != self._commitment:
            raise WrongHolder("the credential is bound to another holder")
        if credential.schema != request.schema:
            raise InvalidRequest("the credential's schema is not the requested schema")
        if credential.expires < request.today:
            raise ExpiredCredential(
                f"the credential expired on {credential.expires}, before {request.today}"
            )
        if not verify_credential(credential):
            raise InvalidSignature("the issuer's signature on the credential does not verify")
        store = keys if keys is not None else KeyStore()
        pk = store.proving_key(CIRCUIT)
        cid = store.circuit_id(CIRCUIT)
        if cid != _builtin_id():
            raise errors.MalformedFile(
                f"the key store's {CIRCUIT} keys ({cid}) are not for this version's circuit"
            )
        sig = credential.signature
        t0 = time.perf_counter()
        cc = age_gte.compiled()
        witness = cc.solve(
            age_gte.make_inputs(
                issuer_key=(credential.issuer.Ax, credential.issuer.Ay),
                signature=(sig.r8.x, sig.r8.y, sig.s),
                attrs=credential.attrs,
                expires=credential.expires,
                holder_secret=self._secret,
                salt=credential.salt,
                today=request.today,
                min_age=request.min_age,
                nonce=request.nonce,
                rp_scope=request.rp_scope,
            )
        )
        proof, public = prove(pk, witness, nthreads=nthreads)
        witness[:] = []
        log.debug("age_gte presentation proved in %.1f ms", (time.perf_counter() - t0) * 1000)
        return Presentation(proof=proof, public=tuple(public), circuit_id=cid)
