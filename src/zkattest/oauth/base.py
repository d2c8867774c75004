"""What the OAuth layer needs from outside it: a replay cache and client records."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from ..identity.jwk import Jwks

__all__ = ["Client", "ClientLookup", "ReplayCache"]


class ReplayCache(Protocol):
    """One-use keys (the store implements it): ``True`` the first time ``(namespace,
    key)`` is used while an earlier use is unexpired, ``False`` for a replay."""

    async def use_once(self, namespace: str, key: str, expires_at: float, now: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class Client:
    """A registered OAuth client (an RP, an agent, or a person's device).

    ``predicates``: predicate ids it may ask (scopes ``verify:<predicate>``);
    ``audiences``: RP audiences its verifications may name; ``delegates``: client ids
    that may act on its behalf (RFC 8693 ``may_act``); ``approvers``: client ids that
    may approve a step-up of its own (non-delegated) requests; ``approver``: it may
    hold the ``approve`` scope (a person, an operator); ``admin``: it may hold the
    ``audit`` scope (read the audit trail).
    """

    client_id: str
    name: str
    jwks: Jwks
    kind: Literal["agent", "person"] = "agent"
    predicates: frozenset[str] = frozenset()
    audiences: frozenset[str] = frozenset()
    delegates: frozenset[str] = frozenset()
    approvers: frozenset[str] = frozenset()
    approver: bool = False
    admin: bool = False

    def scopes(self) -> frozenset[str]:
        """Every scope this client may be granted."""
        s = {f"verify:{p}" for p in self.predicates}
        if self.approver:
            s.add("approve")
        if self.admin:
            s.add("audit")
        return frozenset(s)


#: ``lookup(client_id) -> Client | None`` (the registry; may reload its file)
ClientLookup = Callable[[str], Client | None]
#: async variant, if a registry ever lives in the store
AsyncClientLookup = Callable[[str], Awaitable[Client | None]]
