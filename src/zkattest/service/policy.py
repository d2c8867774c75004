"""The service's side of policy-as-code: the Cedar inputs for each decision point.

Decision points: a verification is requested (action = the predicate, stage
``request``; then ``step_up``), an agent is provisioned for it (stage ``provision``,
with the mode), and a token exchange (action ``delegate``).  principal = the OAuth
client, resource = the audience, context = parameters, delegation (subject, chain,
depth), this client's request rate over the last minute (from the store, so it
counts across replicas) and a risk score.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry.util.types import AttributeValue

from ..agents import Authorizer, subject_of
from ..oauth.base import Client
from ..policy import PolicyDecision, PolicyInput, Principal, risk_score
from ..store import VerificationRecord
from .tracing import span

if TYPE_CHECKING:
    from .state import Services

__all__ = [
    "chain_of",
    "decide",
    "principal_of",
    "provision_authorizer",
    "request_rate",
    "revoked_chain",
]

log = logging.getLogger("zkattest.service")
RATE_WINDOW = 60.0


def principal_of(client: Client) -> Principal:
    return Principal(
        client_id=client.client_id,
        name=client.name,
        kind=client.kind,
        predicates=client.predicates,
        audiences=client.audiences,
    )


def decide(svc: Services, inp: PolicyInput) -> PolicyDecision:
    attrs: dict[str, AttributeValue] = {
        "zkattest.client.id": inp.principal.client_id,
        "zkattest.policy.action": inp.action,
        "zkattest.policy.stage": inp.stage,
        "zkattest.audience": inp.audience,
        "zkattest.delegation.depth": inp.depth,
        "zkattest.policy.risk": inp.risk,
    }
    if inp.mode:
        attrs["zkattest.mode"] = inp.mode
    with span(svc.tracer, "policy.decide", attrs) as sp:
        d = svc.res.policy.decide(inp)
        sp.set_attribute("zkattest.outcome", d.outcome)
        sp.set_attribute("zkattest.policy.ids", list(d.policy_ids))
        if d.errors:
            sp.set_attribute("zkattest.policy.errors", len(d.errors))
    svc.metrics.policy(inp.action, inp.stage, d.outcome)
    log.info(
        "policy decision",
        extra={
            "client": inp.principal.client_id,
            "action": inp.action,
            "stage": inp.stage,
            "outcome": d.outcome,
            "policy_ids": list(d.policy_ids),
        },
    )
    return d


async def request_rate(svc: Services, client_id: str, now: float) -> int:
    return await svc.store.recent_count(client_id, now - RATE_WINDOW)


def chain_of(act: object) -> tuple[str, ...]:
    out: list[str] = []
    while isinstance(act, dict):
        out.append(str(act.get("sub")))
        act = act.get("act")
    return tuple(out)


def revoked_chain(svc: Services, parties: Sequence[str]) -> bool:
    """Whether the registry no longer grants a hop of a delegation chain ``parties``
    (subject, first actor, ..., current actor): each grantor must still be registered
    and list the next party among its ``delegates``.  A revoked hop anywhere revokes
    everything built on it."""
    for grantor_id, next_id in itertools.pairwise(parties):
        grantor = svc.res.clients.get(grantor_id)
        if grantor is None or next_id not in grantor.delegates:
            return True
    return False


def provision_authorizer(svc: Services) -> Authorizer:
    """The check made when an agent is about to be provisioned for a verification."""

    async def authorize(v: VerificationRecord, mode: str) -> str | None:
        if v.client_id is None:  # the service runs without auth: no principal, no policy
            return None
        client = svc.res.clients.get(v.client_id)
        if client is None:
            return "client_unknown"
        chain = chain_of(v.act)
        if v.subject is not None and revoked_chain(svc, (v.subject, *reversed(chain))):
            return "delegation_revoked"
        now = svc.clock()
        rate = await request_rate(svc, v.client_id, now)
        approved = v.approved_by is not None
        d = decide(
            svc,
            PolicyInput(
                principal=principal_of(client),
                action=v.predicate,
                audience=v.audience,
                stage="provision",
                subject=v.subject,
                chain=chain,
                depth=len(chain),
                params=dict(v.params),
                rate=rate,
                risk=risk_score(
                    depth=len(chain),
                    rate=rate,
                    rate_soft_limit=svc.config.rate_soft_limit,
                    delegated=mode == "delegated",
                    approved=approved,
                ),
                mode=mode,
                approved=approved,
            ),
        )
        decided = await svc.audit.append(
            "policy.decided",
            actor=client.client_id,
            outcome=d.outcome,
            subject=subject_of(v),
            act=v.act,
            refs={
                "verification_id": v.id,
                "client_id": client.client_id,
                "policy_ids": list(d.policy_ids),
                "predicate": v.predicate,
                "audience": v.audience,
                "min_age": int(v.params["min_age"]),
                "task": "provision",
            },
            links=svc.audit.follows(v.id),
        )
        # the agent's first event follows this decision
        svc.audit.note(v.id, decided, until=v.expires_at + 60)
        return None if d.outcome == "allow" else "policy_denied"

    return authorize
