"""The verifier: checks a presentation against the request it answers.

Order of the checks (the first failure is the reason): the circuit is one it has a
key for (``unknown_circuit``); the presentation has that circuit's number of public
signals and a ``result`` in {0, 1} (else ``invalid_proof``); the issuer key is
trusted (``untrusted_issuer``); ``today`` is the request's and within
``max_skew_days`` of the verifier's clock (``stale_today``); schema, min_age, nonce
and rp_scope are the request's (``schema_mismatch``, ``min_age_mismatch``,
``nonce_mismatch``, ``scope_mismatch``); the Groth16 proof verifies
(``invalid_proof``).  A valid presentation whose ``result`` is 0 is a valid "no".
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable, Iterable, Mapping

from .. import errors
from ..groth16 import VerifyingKey
from .credential import Decision, IssuerKey, Presentation, Reason, Request
from .keystore import KeyStore

__all__ = ["Verifier"]

log = logging.getLogger("zkattest.credentials")
CIRCUIT = "age_gte"
# positions in the public signals (age_gte.PUBLIC_OUTPUTS + PUBLIC_INPUTS)
_RESULT, _NULLIFIER, _AX, _AY, _SCHEMA, _TODAY, _MIN_AGE, _NONCE, _SCOPE = range(9)


def _utc_today() -> _dt.date:
    return _dt.datetime.now(_dt.UTC).date()


def _as_date(v: int) -> _dt.date:
    return _dt.date(v // 10000, v // 100 % 100, v % 100)


class Verifier:
    """Trusts ``trusted_issuers`` and checks proofs with ``circuits`` (verifying keys
    that record their circuit id), or else with the ``age_gte`` key of ``keys``
    (default: the default :class:`KeyStore`), loaded on first use.

    ``max_skew_days``: how far the request's ``today`` may be from the verifier's
    clock (``clock()``, default: today's UTC date).
    """

    def __init__(
        self,
        trusted_issuers: Iterable[IssuerKey],
        *,
        circuits: Iterable[VerifyingKey] | None = None,
        keys: KeyStore | None = None,
        max_skew_days: int = 1,
        clock: Callable[[], _dt.date] | None = None,
    ) -> None:
        self._issuers = frozenset(trusted_issuers)
        if not all(isinstance(k, IssuerKey) for k in self._issuers):
            raise errors.InvalidInput("trusted_issuers must be IssuerKey values")
        # coordinates of the (already validated) trusted keys: a presentation's key is
        # compared by value, so no curve arithmetic runs for an untrusted one
        self._issuer_xy = frozenset((k.Ax, k.Ay) for k in self._issuers)
        self._circuits: dict[str, VerifyingKey] | None = None
        if circuits is not None:
            self._circuits = {}
            for vk in circuits:
                if not isinstance(vk, VerifyingKey) or not vk.circuit_id:
                    raise errors.InvalidInput(
                        "circuit keys must be VerifyingKeys with a circuit_id"
                    )
                self._circuits[vk.circuit_id] = vk
        self._keys = keys
        if not isinstance(max_skew_days, int) or max_skew_days < 0:
            raise errors.InvalidInput("max_skew_days must be a non-negative int")
        self._skew = max_skew_days
        self._clock = clock or _utc_today

    def __repr__(self) -> str:
        return f"Verifier({len(self._issuers)} trusted issuer(s), max_skew_days={self._skew})"

    def trusts(self, issuer: IssuerKey) -> bool:
        """Whether ``issuer`` is one of the trusted issuer keys."""
        return (issuer.Ax, issuer.Ay) in self._issuer_xy

    @property
    def trusted_issuers(self) -> frozenset[IssuerKey]:
        return self._issuers

    def _circuit_keys(self) -> Mapping[str, VerifyingKey]:
        if self._circuits is None:
            vk = (self._keys if self._keys is not None else KeyStore()).verifying_key(CIRCUIT)
            assert vk.circuit_id
            self._circuits = {vk.circuit_id: vk}
        return self._circuits

    def check(self, presentation: Presentation, request: Request) -> Decision:
        """The decision on ``presentation`` as an answer to ``request``."""
        from ..groth16 import verify

        if not isinstance(presentation, Presentation) or not isinstance(request, Request):
            raise errors.InvalidInput("check(presentation: Presentation, request: Request)")
        d = self._check(presentation, request, verify)
        log.debug(
            "checked a presentation: valid=%s result=%s reason=%s", d.valid, d.result, d.reason
        )
        return d

    def check_public(self, presentation: Presentation, request: Request) -> VerifyingKey | Decision:
        """Every check but the proof's: an invalid :class:`Decision`, or the key the
        proof must verify under (then :meth:`decide` with the proof's verdict).
        Lets a caller verify many proofs in one batch (:func:`~zkattest.groth16.verify_batch`)."""
        p, req = presentation, request
        vk = self._circuit_keys().get(p.circuit_id)
        if vk is None:
            return Decision.invalid(Reason.UNKNOWN_CIRCUIT)
        pub = p.public
        if len(pub) != vk.n_public or len(pub) != 9 or pub[_RESULT] not in (0, 1):
            return Decision.invalid(Reason.INVALID_PROOF)
        if (pub[_AX], pub[_AY]) not in self._issuer_xy:
            return Decision.invalid(Reason.UNTRUSTED_ISSUER)
        if pub[_TODAY] != req.today:
            return Decision.invalid(Reason.STALE_TODAY)
        if abs((_as_date(req.today) - self._clock()).days) > self._skew:
            return Decision.invalid(Reason.STALE_TODAY)
        if pub[_SCHEMA] != req.schema:
            return Decision.invalid(Reason.SCHEMA_MISMATCH)
        if pub[_MIN_AGE] != req.min_age:
            return Decision.invalid(Reason.MIN_AGE_MISMATCH)
        if pub[_NONCE] != req.nonce:
            return Decision.invalid(Reason.NONCE_MISMATCH)
        if pub[_SCOPE] != req.rp_scope:
            return Decision.invalid(Reason.SCOPE_MISMATCH)
        return vk

    @staticmethod
    def decide(presentation: Presentation, proof_ok: bool) -> Decision:
        """The decision for a presentation that passed :meth:`check_public`."""
        if not proof_ok:
            return Decision.invalid(Reason.INVALID_PROOF)
        pub = presentation.public
        return Decision(True, pub[_RESULT] == 1, None, pub[_NULLIFIER])

    def _check(self, p: Presentation, req: Request, verify: Callable[..., bool]) -> Decision:
        vk = self.check_public(p, req)
        if isinstance(vk, Decision):
            return vk
        try:
            ok = verify(vk, list(p.public), p.proof, expected_circuit_id=p.circuit_id)
        except errors.InvalidInput:
            ok = False
        return self.decide(p, ok)
