"""Token exchange (RFC 8693) decisions: who may act for whom, with which scopes.

Pure functions over validated tokens and client records: no I/O, no clock.  The token
endpoint validates the ``subject_token`` (and ``actor_token``, if sent) with
:meth:`~zkattest.oauth.tokens.TokenIssuer.validate`, authenticates the calling
client (the actor), then asks :func:`delegate` what the new token says.

The rules:

- The *subject token's* claims decide.  Its ``may_act`` (RFC 8693 §4.4) must name the
  actor (``may_act.sub == actor.client_id``; a ``may_act.iss``, if present, must be
  the subject token's issuer, i.e. us).  Whether an ``actor_token`` is sent changes
  nothing in the outcome; if one is sent it must be the actor's own token
  (``sub`` and ``client_id`` both the actor), and its own ``act`` chain is *not*
  merged: the chain is the subject's.
- The new token's ``act`` is ``{"sub": actor, "act": <subject's act>}`` (RFC 8693
  §4.1: the outermost ``act`` is the current actor, nested ones the earlier
  actors), so its depth is the subject's + 1, at most ``max_depth``.
- Scopes only narrow: subject scopes ∩ scopes the actor may hold ∩ requested;
  requesting a scope outside the first two is ``invalid_scope``, as is an empty result.

:func:`may_act_for` is the other half: the ``may_act`` claim a token issued *to* a
client carries, naming one of the client's registered delegates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, NoReturn

from .. import errors
from .base import Client
from .errors import OAuthError
from .tokens import MAX_CHAIN, AccessToken

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "JWT_TOKEN_TYPE",
    "TOKEN_EXCHANGE",
    "Delegation",
    "delegate",
    "may_act_for",
]

#: the token-exchange grant type (RFC 8693 §2.1)
TOKEN_EXCHANGE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
#: token type identifiers (RFC 8693 §3)
ACCESS_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:jwt"


@dataclass(frozen=True, slots=True)
class Delegation:
    """What a delegated token says: ``sub`` (still the subject), ``client_id`` (the
    actor, to whom it is issued), ``act`` (the new chain), ``depth`` (its length)
    and ``scope`` (never wider than the subject's)."""

    sub: str
    client_id: str
    act: dict[str, Any]
    depth: int
    scope: frozenset[str]


def _grant(reason: str, description: str) -> NoReturn:
    raise OAuthError("invalid_grant", description, reason=reason, status=400)


def _scope(reason: str, description: str) -> NoReturn:
    raise OAuthError("invalid_scope", description, reason=reason, status=400)


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if type(v) is dict else v for k, v in obj.items()}


def delegate(
    subject: AccessToken,
    *,
    actor: Client,
    actor_token: AccessToken | None,
    requested_scope: frozenset[str] | None,
    max_depth: int,
) -> Delegation:
    """Decide a token exchange: may ``actor`` act for ``subject.sub``, and with what?

    ``subject``/``actor_token`` are already validated tokens (signature, expiry,
    audience); ``actor`` the authenticated client making the request;
    ``requested_scope`` the ``scope`` form parameter (``None`` when absent);
    ``max_depth`` (0..:data:`~zkattest.oauth.tokens.MAX_CHAIN`) the longest chain
    allowed.  Raises :class:`OAuthError`: ``invalid_grant`` (reasons ``may_act``,
    ``actor_mismatch``, ``depth``) or ``invalid_scope`` (``scope_not_granted``,
    ``empty_scope``).
    """
    if type(max_depth) is not int or not 0 <= max_depth <= MAX_CHAIN:
        raise errors.InvalidParameter(f"max_depth must be an integer in 0..{MAX_CHAIN}")
    if not isinstance(subject, AccessToken) or not isinstance(actor, Client):
        raise errors.InvalidParameter("subject must be an AccessToken and actor a Client")

    may_act = subject.may_act
    if may_act is None:
        _grant("may_act", "the subject token does not allow delegation")
    if may_act.get("sub") != actor.client_id:
        _grant("may_act", "the subject token does not name this client as its actor")
    if "iss" in may_act and may_act["iss"] != subject.iss:
        _grant("may_act", "the subject token's may_act names another issuer")

    if actor_token is not None and (
        actor_token.sub != actor.client_id or actor_token.client_id != actor.client_id
    ):
        _grant("actor_mismatch", "the actor token is not the authenticated client's")

    depth = subject.depth + 1
    if depth > max_depth:
        _grant("depth", f"the delegation chain would be longer than {max_depth}")

    allowed = subject.scope & actor.scopes()
    if requested_scope is None:
        scope = allowed
    else:
        if not requested_scope <= allowed:
            _scope("scope_not_granted", "a requested scope is not held by subject and actor")
        scope = frozenset(requested_scope)
    if not scope:
        _scope("empty_scope", "no scope left to grant")

    act: dict[str, Any] = {"sub": actor.client_id}
    if subject.act is not None:
        act["act"] = _copy(subject.act)
    return Delegation(subject.sub, actor.client_id, act, depth, scope)


def may_act_for(
    client: Client, requested: str | None, *, issuer: str | None = None
) -> dict[str, Any] | None:
    """The ``may_act`` claim of a token issued to ``client``, or ``None``.

    ``requested`` is the client's choice of delegate (a form parameter): it must be
    one of ``client.delegates`` (else ``invalid_request``, reason
    ``may_act_not_delegate``).  Without one, a client with exactly one delegate
    names it; with none or several, the token carries no ``may_act`` (it cannot be
    exchanged).  The value is ``{"sub": <delegate client id>, "iss": issuer}``
    (``iss`` omitted when ``issuer`` is ``None``; :func:`delegate` then accepts
    the claim from any token we validated, which are all ours).
    """
    if issuer is not None and (not isinstance(issuer, str) or not issuer):
        raise errors.InvalidParameter("issuer must be a non-empty string")
    if requested is not None:
        if not isinstance(requested, str) or requested not in client.delegates:
            raise OAuthError(
                "invalid_request",
                "the requested actor is not a registered delegate of this client",
                reason="may_act_not_delegate",
                status=400,
            )
        chosen = requested
    elif len(client.delegates) == 1:
        (chosen,) = client.delegates
    else:
        return None
    return {"sub": chosen} if issuer is None else {"sub": chosen, "iss": issuer}
