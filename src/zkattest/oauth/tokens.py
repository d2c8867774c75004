"""Access tokens: RFC 9068 JWTs signed by the service (ES256).

A token is a compact JWS with header ``{"alg": "ES256", "kid": <our kid>, "typ":
"at+jwt"}`` and the claims RFC 9068 §2.2 requires (``iss``, ``exp``, ``aud``,
``sub``, ``client_id``, ``iat``, ``jti``), plus:

- ``scope``: the granted scopes, space-separated (RFC 9068 §2.2.3, RFC 6749 §3.3);
  absent when nothing was granted;
- ``cnf``: ``{"jkt": <thumbprint>}`` for a DPoP-bound token (RFC 9449 §6.1);
- ``act``: the delegation chain (RFC 8693 §4.1): ``{"sub": <current actor>, "act":
  <the previous actor's act>...}``, outermost = the party acting now;
- ``may_act``: who may act for ``sub`` with this token (RFC 8693 §4.4),
  ``{"sub": <client id>, "iss": <issuer>}``.

:meth:`TokenIssuer.validate` follows RFC 9068 §4, strictly, because the only tokens
it accepts are ours: the header has exactly ``alg``/``kid``/``typ``; ``alg`` ES256
(so ``none`` and HMAC forgeries are refused before any key is used); ``typ``
"at+jwt" or "application/at+jwt" (media types compare case-insensitively, RFC 7515
§4.1.9; anything else, "JWT" included, is refused: explicit typing, RFC 8725 §3.11);
``kid`` ours; the signature; ``iss`` ours; ``aud`` one audience (a string or a
one-element array); integer ``iat``/``exp`` with ``iat <= now + leeway`` and
``now < exp + leeway``; ``act``/``may_act``/``cnf`` of the shapes above, nothing
more.  Every failure is :class:`~zkattest.oauth.errors.OAuthError`
``invalid_token`` (status 401, a ``WWW-Authenticate`` challenge, RFC 6750 §3.1)
with a ``reason``; descriptions never contain the token.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from .. import errors
from ..identity.jose import (
    EcKey,
    EcPublicKey,
    JoseError,
    decode_unverified,
    sign_compact,
    verify_jws,
)
from .errors import OAuthError

__all__ = [
    "AT_TYP",
    "MAX_CHAIN",
    "AccessToken",
    "TokenIssuer",
    "check_act",
    "check_may_act",
]

#: the ``typ`` header of an access token (RFC 9068 §2.1)
AT_TYP: Final = "at+jwt"
#: longest delegation chain (nested ``act`` levels) a token may carry
MAX_CHAIN: Final = 8
#: ``typ`` values accepted on validation, lowercased (RFC 9068 §4)
_TYPES: Final = frozenset({AT_TYP, "application/at+jwt"})
_HEADER_MEMBERS: Final = frozenset({"alg", "kid", "typ"})
_REQUIRED: Final = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
#: RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
#: an RFC 7638 SHA-256 thumbprint: 32 bytes of base64url
_JKT: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_MAX_JTI: Final = 256
_ACT_MEMBERS: Final = frozenset({"sub", "iss", "act"})
_MAY_ACT_MEMBERS: Final = frozenset({"sub", "iss"})


class _Shape(Exception):
    """Internal: a claim has the wrong shape (turned into the caller's error type)."""


def _nonempty_str(v: object) -> bool:
    return isinstance(v, str) and v != ""


def check_act(act: object) -> int:
    """Check an ``act`` claim value and return its depth (nested levels, >= 1).

    Each level is an object with ``sub`` (a non-empty string), optionally ``iss``
    (a non-empty string) and ``act`` (the next level); no other member.  At most
    :data:`MAX_CHAIN` levels.  Raises :class:`~zkattest.errors.InvalidParameter`.
    """
    try:
        return _act_depth(act)
    except _Shape as e:
        raise errors.InvalidParameter(f"act: {e}") from None


def check_may_act(may_act: object) -> None:
    """Check a ``may_act`` claim value: ``{"sub": str, "iss"?: str}``, nothing else.
    Raises :class:`~zkattest.errors.InvalidParameter`."""
    try:
        _may_act_shape(may_act)
    except _Shape as e:
        raise errors.InvalidParameter(f"may_act: {e}") from None


def _act_depth(act: object) -> int:
    depth = 0
    level = act
    while True:
        depth += 1
        if depth > MAX_CHAIN:
            raise _Shape(f"delegation chain longer than {MAX_CHAIN}")
        if type(level) is not dict:
            raise _Shape("each level must be an object")
        if not _ACT_MEMBERS.issuperset(level):
            raise _Shape("each level has only sub, iss and act")
        if not _nonempty_str(level.get("sub")):
            raise _Shape("each level needs sub, a non-empty string")
        if "iss" in level and not _nonempty_str(level["iss"]):
            raise _Shape("iss must be a non-empty string")
        if "act" not in level:
            return depth
        level = level["act"]


def _may_act_shape(may_act: object) -> None:
    if type(may_act) is not dict:
        raise _Shape("must be an object")
    if not _MAY_ACT_MEMBERS.issuperset(may_act):
        raise _Shape("has only sub and iss")
    if not _nonempty_str(may_act.get("sub")):
        raise _Shape("needs sub, a non-empty string")
    if "iss" in may_act and not _nonempty_str(may_act["iss"]):
        raise _Shape("iss must be a non-empty string")


def _copy_json(obj: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    """A deep copy of a nested act/may_act object (mappings become dicts)."""
    if depth > MAX_CHAIN:
        raise errors.InvalidParameter(f"nested deeper than {MAX_CHAIN} levels")
    return {k: _copy_json(v, depth + 1) if isinstance(v, Mapping) else v for k, v in obj.items()}


def _claim_copy(value: Mapping[str, Any] | None, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise errors.InvalidParameter(f"{name} must be a mapping")
    return _copy_json(value)


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A validated (or freshly minted) access token and its claims."""

    raw: str
    iss: str
    sub: str
    client_id: str
    aud: str
    scope: frozenset[str]
    iat: int
    exp: int
    jti: str
    jkt: str | None
    act: dict[str, Any] | None
    may_act: dict[str, Any] | None

    @property
    def depth(self) -> int:
        """Nested ``act`` levels: 0 for a token used by its own subject."""
        n, level = 0, self.act
        while level is not None:
            n += 1
            level = level.get("act")
        return n

    @property
    def chain(self) -> tuple[str, ...]:
        """The actors' ``sub``, outermost (the party acting now) first."""
        subs: list[str] = []
        level = self.act
        while level is not None:
            subs.append(level["sub"])
            level = level.get("act")
        return tuple(subs)

    def __repr__(self) -> str:
        # never print the token itself
        return (
            f"AccessToken(sub={self.sub!r}, client_id={self.client_id!r}, aud={self.aud!r}, "
            f"scope={sorted(self.scope)!r}, exp={self.exp}, depth={self.depth})"
        )


class TokenIssuer:
    """Mints and validates the service's access tokens (one ES256 key, one ``kid``)."""

    __slots__ = ("_issuer", "_key", "_kid", "_public", "_scheme", "_ttl")

    def __init__(
        self, key: EcKey, kid: str, issuer: str, *, ttl: int = 300, scheme: str = "DPoP"
    ) -> None:
        """``scheme``: the ``WWW-Authenticate`` scheme of validation errors ("DPoP"
        or "Bearer", RFC 9449 §7.1 / RFC 6750 §3)."""
        if not isinstance(key, EcKey):
            raise errors.InvalidParameter("key must be an EcKey")
        if not _nonempty_str(kid):
            raise errors.InvalidParameter("kid must be a non-empty string")
        if not _nonempty_str(issuer):
            raise errors.InvalidParameter("issuer must be a non-empty string")
        if type(ttl) is not int or ttl <= 0:
            raise errors.InvalidParameter("ttl must be a positive integer (seconds)")
        if scheme not in ("DPoP", "Bearer"):
            raise errors.InvalidParameter('scheme must be "DPoP" or "Bearer"')
        self._key = key
        self._public: EcPublicKey = key.public()
        self._kid = kid
        self._issuer = issuer
        self._ttl = ttl
        self._scheme = scheme

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def ttl(self) -> int:
        return self._ttl

    def jwks(self) -> dict[str, Any]:
        """The JWKS to publish: our public key with ``kid``, ``use`` "sig", ``alg`` ES256."""
        jwk: dict[str, Any] = self._public.jwk()
        jwk.update(kid=self._kid, use="sig", alg="ES256")
        return {"keys": [jwk]}

    # ------------------------------------------------------------------ mint
    def mint(
        self,
        *,
        sub: str,
        client_id: str,
        aud: str,
        scope: Iterable[str],
        jkt: str | None,
        now: int,
        act: Mapping[str, Any] | None = None,
        may_act: Mapping[str, Any] | None = None,
    ) -> AccessToken:
        """A fresh token (random ``jti``, ``exp = now + ttl``).  Arguments are checked
        as :meth:`validate` would check the claims; bad ones raise
        :class:`~zkattest.errors.InvalidParameter`."""
        for name, value in (("sub", sub), ("client_id", client_id), ("aud", aud)):
            if not _nonempty_str(value):
                raise errors.InvalidParameter(f"{name} must be a non-empty string")
        if isinstance(scope, str):
            raise errors.InvalidParameter("scope is an iterable of scope tokens, not a string")
        scopes = frozenset(scope)
        for s in scopes:
            if not isinstance(s, str) or _SCOPE_TOKEN.fullmatch(s) is None:
                raise errors.InvalidParameter("a scope token is printable ASCII without space")
        if jkt is not None and (not isinstance(jkt, str) or _JKT.fullmatch(jkt) is None):
            raise errors.InvalidParameter("jkt must be a SHA-256 JWK thumbprint (base64url)")
        if type(now) is not int or now < 0:
            raise errors.InvalidParameter("now must be a non-negative integer (epoch seconds)")
        act_d = _claim_copy(act, "act")
        may_d = _claim_copy(may_act, "may_act")
        if act_d is not None:
            check_act(act_d)
        if may_d is not None:
            check_may_act(may_d)
        exp = now + self._ttl
        jti = secrets.token_urlsafe(18)
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": sub,
            "aud": aud,
            "client_id": client_id,
            "iat": now,
            "exp": exp,
            "jti": jti,
        }
        if scopes:
            claims["scope"] = " ".join(sorted(scopes))
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        if act_d is not None:
            claims["act"] = act_d
        if may_d is not None:
            claims["may_act"] = may_d
        raw = sign_compact(claims, self._key, typ=AT_TYP, kid=self._kid)
        return AccessToken(
            raw, self._issuer, sub, client_id, aud, scopes, now, exp, jti, jkt, act_d, may_d
        )

    # ------------------------------------------------------------------ validate
    def _fail(self, reason: str, description: str) -> NoReturn:
        challenge = f'{self._scheme} error="invalid_token", error_description="{description}"'
        raise OAuthError(
            "invalid_token",
            description,
            reason=reason,
            status=401,
            headers={"WWW-Authenticate": challenge},
        )

    def _resolve(self, header: dict[str, Any]) -> EcPublicKey:
        if header.get("kid") != self._kid:
            raise JoseError("unknown_kid", "kid is not the issuer's key")
        return self._public

    def validate(
        self, token: str, *, now: float, audience: str | None, leeway: int = 5
    ) -> AccessToken:
        """Validate one of our access tokens at time ``now`` (epoch seconds).

        ``audience``: the resource's identifier, which ``aud`` must equal (``None``
        accepts any single audience).  ``leeway`` (seconds, 0..300) widens the
        ``iat``/``exp`` checks for clock skew between replicas.  Raises
        :class:`OAuthError` ``invalid_token``; reasons: ``oversize``, ``malformed``,
        ``bad_header``, ``bad_alg``, ``bad_typ``, ``unknown_kid``, ``bad_signature``,
        ``bad_issuer``, ``bad_audience``, ``bad_claims`` (a claim missing or of the
        wrong type; the description names it), ``expired``, ``future_iat``,
        ``bad_scope``, ``bad_cnf``, ``bad_act``, ``bad_may_act``.
        """
        if type(leeway) is not int or not 0 <= leeway <= 300:
            raise errors.InvalidParameter("leeway must be an integer in 0..300")
        if isinstance(now, bool) or not isinstance(now, int | float):
            raise errors.InvalidParameter("now must be a number (epoch seconds)")
        try:
            jws = decode_unverified(token)
        except JoseError as e:
            self._fail(e.reason, "not a compact JWS")
        header = jws.header
        # cheap header checks first, in a fixed order; no key is touched before them
        if header.get("alg") != "ES256":
            self._fail("bad_alg", "alg must be ES256")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in _TYPES:
            self._fail("bad_typ", "typ must be at+jwt")
        if not _HEADER_MEMBERS.issuperset(header):
            self._fail("bad_header", "the header has only alg, kid and typ")
        try:
            verify_jws(jws, self._resolve, typ=None)
        except JoseError as e:
            self._fail(e.reason, "signature or key check failed")
        return self._claims(token, jws.claims, now=now, audience=audience, leeway=leeway)

    def _claims(
        self, token: str, claims: dict[str, Any], *, now: float, audience: str | None, leeway: int
    ) -> AccessToken:
        for name in _REQUIRED:
            if name not in claims:
                self._fail("bad_claims", f"claim {name} is missing")
        iss, sub, client_id, jti = (claims[n] for n in ("iss", "sub", "client_id", "jti"))
        for name, value in (("iss", iss), ("sub", sub), ("client_id", client_id), ("jti", jti)):
            if not _nonempty_str(value):
                self._fail("bad_claims", f"claim {name} is not a non-empty string")
        if len(jti) > _MAX_JTI:
            self._fail("bad_claims", f"claim jti is longer than {_MAX_JTI} characters")
        if iss != self._issuer:
            self._fail("bad_issuer", "iss is not this issuer")

        aud = claims["aud"]
        if type(aud) is list and len(aud) == 1:
            aud = aud[0]
        if not _nonempty_str(aud):
            self._fail("bad_audience", "aud must be one audience")
        if audience is not None and aud != audience:
            self._fail("bad_audience", "aud is not this resource")

        iat, exp = claims["iat"], claims["exp"]
        if type(iat) is not int or type(exp) is not int:
            self._fail("bad_claims", "claims iat and exp must be integers")
        if iat > now + leeway:
            self._fail("future_iat", "iat is in the future")
        if now >= exp + leeway:
            self._fail("expired", "the token has expired")
        if "nbf" in claims:
            nbf = claims["nbf"]
            if type(nbf) is not int:
                self._fail("bad_claims", "claim nbf must be an integer")
            if nbf > now + leeway:
                self._fail("future_iat", "nbf is in the future")

        scope: frozenset[str] = frozenset()
        if "scope" in claims:
            raw_scope = claims["scope"]
            if not isinstance(raw_scope, str):
                self._fail("bad_scope", "scope must be a string")
            parts = raw_scope.split(" ")
            if not all(_SCOPE_TOKEN.fullmatch(p) for p in parts):
                self._fail("bad_scope", "scope must be space-separated scope tokens")
            scope = frozenset(parts)

        jkt: str | None = None
        if "cnf" in claims:
            cnf = claims["cnf"]
            if type(cnf) is not dict or set(cnf) != {"jkt"}:
                self._fail("bad_cnf", "cnf must be an object with only jkt")
            jkt = cnf["jkt"]
            if not isinstance(jkt, str) or _JKT.fullmatch(jkt) is None:
                self._fail("bad_cnf", "cnf.jkt must be a SHA-256 JWK thumbprint")

        act: dict[str, Any] | None = None
        if "act" in claims:
            try:
                _act_depth(claims["act"])
            except _Shape as e:
                self._fail("bad_act", f"act: {e}")
            act = claims["act"]
        may_act: dict[str, Any] | None = None
        if "may_act" in claims:
            try:
                _may_act_shape(claims["may_act"])
            except _Shape as e:
                self._fail("bad_may_act", f"may_act: {e}")
            may_act = claims["may_act"]
        return AccessToken(token, iss, sub, client_id, aud, scope, iat, exp, jti, jkt, act, may_act)
