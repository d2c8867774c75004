"""Policy-as-code with Cedar: may this client ask for this predicate, now, like this?

The service asks the engine at three points:

- stage ``"request"``: a relying party asks for a verification.  The predicate action
  (``Action::"age_gte"``) decides allow or deny; when it allows and no human has
  approved the request yet, ``Action::"step_up"`` is evaluated in the same Cedar batch,
  and a permit turns the outcome into ``"step_up"`` (a human must approve first);
- stage ``"provision"``: a micro-agent is about to be provisioned for that verification
  (``mode`` says whether the holder proves or the service proves for them);
- stage ``"exchange"``: an OAuth token exchange (RFC 8693), ``Action::"delegate"``:
  may this client act for ``subject`` at delegation depth ``depth``?

The Cedar model: principal ``Client::"<client_id>"`` (attributes ``name``, ``kind``,
``predicates``, ``audiences``), resource ``Audience::"<uri>"``, and a context record
with ``stage``, ``subject``, ``chain``, ``depth``, ``params``, ``rate``, ``risk``,
``mode``, ``approved`` -- see ``default/zkattest.cedarschema``.  Every value travels
to Cedar as JSON data (entity uids in their ``{"type", "id"}`` form); nothing from a
request is ever spliced into policy text.

Parsing happens once, in :meth:`PolicyEngine.load`: the policy set, the schema and,
per principal, the entity set are cached Cedar handles.  Deciding fails closed: any
error Cedar reports while evaluating (an overflow, a request that does not fit the
schema) gives ``"deny"`` with the errors listed.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import cedarpy

from zkattest.errors import InvalidParameter
from zkattest.policy.loader import (
    DEFAULT_DENY,
    EVALUATION_ERROR,
    LoadedPolicies,
    PolicyError,
    load_directory,
)

__all__ = [
    "DEFAULT_DENY",
    "DEFAULT_POLICY_DIR",
    "DELEGATE",
    "EVALUATION_ERROR",
    "STEP_UP",
    "PolicyDecision",
    "PolicyEngine",
    "PolicyError",
    "PolicyInput",
    "Principal",
    "risk_score",
]

#: the policies and schema shipped with zkattest (``zkattest policy init`` copies them)
DEFAULT_POLICY_DIR: Final = Path(__file__).resolve().parent / "default"

STEP_UP: Final = "step_up"
DELEGATE: Final = "delegate"
STAGES: Final = frozenset({"request", "provision", "exchange"})
MODES: Final = frozenset({"", "proof", "delegated"})
#: the predicate actions the engine checks the schema for at load time, with probe
#: parameters (the schema must accept exactly what the service sends for them)
KNOWN_PREDICATES: Final[Mapping[str, Mapping[str, int]]] = MappingProxyType(
    {"age_gte": MappingProxyType({"min_age": 18})}
)

#: Cedar's Long is a signed 64-bit integer
LONG_MAX: Final = (1 << 63) - 1
MAX_STRING: Final = 4096
MAX_ITEMS: Final = 256
MAX_RISK: Final = 100
#: principals whose Cedar entity set is kept parsed
ENTITY_CACHE_SIZE: Final = 1024

_CLIENT: Final = "Client"
_AUDIENCE: Final = "Audience"
_ACTION: Final = "Action"


def _no_params() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Principal:
    """The client asking: its registry entry as the policies see it."""

    client_id: str
    name: str
    kind: str
    predicates: frozenset[str]
    audiences: frozenset[str]


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """One question to the engine (see the module docstring for the stages).

    ``action`` is the predicate id (``"age_gte"``) at stages request and provision,
    ``"delegate"`` at stage exchange.  ``params`` are the predicate's parameters
    (``{"min_age": 18}``; empty for delegate).  ``depth`` is the delegation depth (0 =
    not delegated; for delegate, the depth the exchanged token would have), ``chain``
    the actors' client ids, ``rate`` this client's verification requests in the last
    60 s, ``risk`` 0..100 (:func:`risk_score`), ``mode`` ``""`` except at provision
    (``"proof"`` or ``"delegated"``), ``approved`` whether a human approved a step-up.
    """

    principal: Principal
    action: str
    audience: str
    stage: Literal["request", "provision", "exchange"]
    subject: str | None = None
    chain: tuple[str, ...] = ()
    depth: int = 0
    params: Mapping[str, int] = field(default_factory=_no_params)
    rate: int = 0
    risk: int = 0
    mode: str = ""
    approved: bool = False


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The answer: ``policy_ids`` are the ``@id`` of the policies that decided it.

    allow: the permits that matched; step_up: the step_up permits that matched; deny:
    the forbids that matched, ``("default-deny",)`` when no permit matched, or
    ``("evaluation-error", <forbids>...)`` when Cedar reported ``errors``.
    """

    outcome: Literal["allow", "deny", "step_up"]
    policy_ids: tuple[str, ...]
    errors: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- input


def _bad(what: str, why: str) -> InvalidParameter:
    return InvalidParameter(f"policy input: {what} {why}")


def _check_str(value: object, what: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise _bad(what, f"must be a str, not {type(value).__name__}")
    if not empty and not value:
        raise _bad(what, "must not be empty")
    if len(value) > MAX_STRING:
        raise _bad(what, f"is longer than {MAX_STRING} characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _bad(what, "is not valid Unicode (lone surrogate)") from None
    return value


def _check_int(value: object, what: str, top: int = LONG_MAX) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(what, f"must be an int, not {type(value).__name__}")
    if not 0 <= value <= top:
        raise _bad(what, f"must be within 0..{top}")
    return value


def _check_strs(values: object, what: str, kind: type[tuple[Any, ...] | frozenset[Any]]) -> None:
    if not isinstance(values, tuple | frozenset) or not isinstance(values, kind):
        raise _bad(what, f"must be a {kind.__name__}")
    if len(values) > MAX_ITEMS:
        raise _bad(what, f"has more than {MAX_ITEMS} items")
    for v in values:
        _check_str(v, f"{what} item", empty=False)


def _check_principal(p: object) -> Principal:
    if not isinstance(p, Principal):
        raise _bad("principal", "must be a Principal")
    _check_str(p.client_id, "principal.client_id", empty=False)
    _check_str(p.name, "principal.name")
    _check_str(p.kind, "principal.kind")
    _check_strs(p.predicates, "principal.predicates", frozenset)
    _check_strs(p.audiences, "principal.audiences", frozenset)
    return p


def _check_input(inp: object) -> PolicyInput:
    if not isinstance(inp, PolicyInput):
        raise _bad("input", "must be a PolicyInput")
    _check_str(inp.action, "action", empty=False)
    _check_str(inp.audience, "audience", empty=False)
    if not isinstance(inp.stage, str) or inp.stage not in STAGES:
        raise _bad("stage", f"must be one of {sorted(STAGES)}")
    if inp.action == STEP_UP:
        raise _bad("action", f"{STEP_UP!r} is evaluated by the engine itself, not asked for")
    if (inp.action == DELEGATE) != (inp.stage == "exchange"):
        raise _bad("stage", f"'exchange' goes with action {DELEGATE!r}, and only with it")
    if inp.subject is not None:
        _check_str(inp.subject, "subject")
    if inp.action == DELEGATE and not inp.subject:
        raise _bad("subject", f"is required for {DELEGATE!r}")
    _check_strs(inp.chain, "chain", tuple)
    _check_int(inp.depth, "depth")
    _check_int(inp.rate, "rate")
    _check_int(inp.risk, "risk", MAX_RISK)
    if not isinstance(inp.mode, str) or inp.mode not in MODES:
        raise _bad("mode", "must be '', 'proof' or 'delegated'")
    if (inp.mode != "") != (inp.stage == "provision"):
        raise _bad("mode", "is 'proof' or 'delegated' at stage provision, '' otherwise")
    if not isinstance(inp.approved, bool):
        raise _bad("approved", "must be a bool")
    if not isinstance(inp.params, Mapping):
        raise _bad("params", "must be a mapping")
    if len(inp.params) > MAX_ITEMS:
        raise _bad("params", f"has more than {MAX_ITEMS} items")
    for key, value in inp.params.items():
        _check_str(key, "params key", empty=False)
        _check_int(value, f"params[{key[:40]!r}]")
    _check_principal(inp.principal)
    return inp


# ---------------------------------------------------------------------------- risk


def risk_score(
    *,
    depth: int,
    rate: int,
    rate_soft_limit: int = 60,
    delegated: bool = False,
    approved: bool = False,
) -> int:
    """A request's risk, 0..100, for ``PolicyInput.risk`` (default step-up: >= 70).

    The sum of, then clamped to 0..100:

    - delegation: +20 per hop, counting at most 3 hops (depth 1: 20, 2: 40, 3+: 60);
    - rate: +10 for each started block of ``rate_soft_limit`` requests above
      ``rate_soft_limit`` in the last minute, at most +50 (limit 60: 61..120 -> 10,
      121..180 -> 20, 361 and more -> 50);
    - delegated proving (the holder's secret travels to the service): +20;
    - a human approved the request: -50.

    So depth 1 with delegated proving at a normal rate is 40; the same at 200
    requests/min (+30) reaches 70.  All arguments are keyword-only; bad values
    raise :class:`zkattest.errors.InvalidParameter`.
    """
    _check_int(depth, "depth")
    _check_int(rate, "rate")
    _check_int(rate_soft_limit, "rate_soft_limit")
    if rate_soft_limit < 1:
        raise _bad("rate_soft_limit", "must be at least 1")
    if not isinstance(delegated, bool) or not isinstance(approved, bool):
        raise _bad("delegated/approved", "must be bools")
    score = 20 * min(depth, 3)
    excess = rate - rate_soft_limit
    if excess > 0:
        score += min(50, 10 * (1 + (excess - 1) // rate_soft_limit))
    if delegated:
        score += 20
    if approved:
        score -= 50
    return max(0, min(MAX_RISK, score))


# -------------------------------------------------------------------------- engine


class PolicyEngine:
    """Cedar policies loaded from one directory, ready to decide.

    Build it with :meth:`load`.  :meth:`decide` is safe to call from several threads.
    """

    __slots__ = (
        "_cache",
        "_index",
        "_lock",
        "_policies",
        "_schema",
        "locations",
        "policy_ids",
        "schema_file",
        "source",
    )

    def __init__(self, loaded: LoadedPolicies) -> None:
        self._policies = loaded.policy_set
        self._schema = loaded.schema
        self._index = {pid: i for i, pid in enumerate(loaded.ids)}
        self._cache: OrderedDict[Principal, cedarpy.Entities | str] = OrderedDict()
        self._lock = threading.Lock()
        #: policy ids in load order
        self.policy_ids: tuple[str, ...] = loaded.ids
        #: the directory the policies came from
        self.source: str = str(loaded.directory)
        #: the schema file's name
        self.schema_file: str = loaded.schema_file
        #: policy id -> "file:line"
        self.locations: Mapping[str, str] = MappingProxyType(dict(loaded.locations))

    @classmethod
    def load(cls, directory: Path | None = None) -> PolicyEngine:
        """Load, parse and validate a policy directory (``None``: the shipped defaults).

        Raises :class:`PolicyError` with a message naming the file and policy.
        """
        path = DEFAULT_POLICY_DIR if directory is None else Path(directory)
        engine = cls(load_directory(path.resolve()))
        engine._self_check()
        return engine

    def __repr__(self) -> str:
        return f"PolicyEngine({self.source!r}, {len(self.policy_ids)} policies)"

    # -- building Cedar's inputs

    def _entities(self, principal: Principal) -> cedarpy.Entities | str:
        """The principal's parsed entity set (cached), or Cedar's error as a string."""
        with self._lock:
            hit = self._cache.get(principal)
            if hit is not None:
                self._cache.move_to_end(principal)
                return hit
        doc = [
            {
                "uid": {"type": _CLIENT, "id": principal.client_id},
                "attrs": {
                    "name": principal.name,
                    "kind": principal.kind,
                    "predicates": sorted(principal.predicates),
                    "audiences": [
                        {"__entity": {"type": _AUDIENCE, "id": a}}
                        for a in sorted(principal.audiences)
                    ],
                },
                "parents": [],
            }
        ]
        made: cedarpy.Entities | str
        try:
            made = cedarpy.Entities.from_json_str(json.dumps(doc), self._schema)
        except ValueError as exc:
            made = f"principal does not fit the schema: {exc}"
        with self._lock:
            self._cache[principal] = made
            if len(self._cache) > ENTITY_CACHE_SIZE:
                self._cache.popitem(last=False)
        return made

    @staticmethod
    def _context(inp: PolicyInput) -> str:
        return json.dumps(
            {
                "stage": inp.stage,
                "subject": inp.subject or "",
                "chain": list(inp.chain),
                "depth": inp.depth,
                "params": dict(inp.params),
                "rate": inp.rate,
                "risk": inp.risk,
                "mode": inp.mode,
                "approved": inp.approved,
            }
        )

    def _ordered(self, ids: list[str]) -> tuple[str, ...]:
        return tuple(sorted(ids, key=lambda pid: self._index.get(pid, len(self._index))))

    def _evaluate(
        self, inp: PolicyInput, actions: tuple[str, ...]
    ) -> list[cedarpy.AuthzResult] | str:
        entities = self._entities(inp.principal)
        if isinstance(entities, str):
            return entities
        context = self._context(inp)
        principal = {"type": _CLIENT, "id": inp.principal.client_id}
        resource = {"type": _AUDIENCE, "id": inp.audience}
        requests: list[dict[str, Any]] = [
            {
                "principal": principal,
                "action": {"type": _ACTION, "id": action},
                "resource": resource,
                "context": context,
            }
            for action in actions
        ]
        try:
            return cedarpy.is_authorized_batch(
                requests, self._policies, entities, schema=self._schema
            )
        except Exception as exc:  # fail closed on anything the binding raises
            return f"{type(exc).__name__}: {exc}"

    # -- deciding

    def decide(self, inp: PolicyInput) -> PolicyDecision:
        """Decide one :class:`PolicyInput` (see the module docstring).

        Raises :class:`zkattest.errors.InvalidParameter` for an ill-formed input;
        every other problem is a ``"deny"`` decision.
        """
        _check_input(inp)
        with_step_up = inp.stage == "request" and not inp.approved
        actions = (inp.action, STEP_UP) if with_step_up else (inp.action,)
        results = self._evaluate(inp, actions)
        if isinstance(results, str):
            return PolicyDecision("deny", (EVALUATION_ERROR,), (results,))
        main = results[0]
        # the step_up request repeats a bad context's error: list each once
        errors = tuple(dict.fromkeys(e for r in results for e in r.diagnostics.errors))
        if errors:
            forbids = self._ordered(main.diagnostics.reasons) if not main.allowed else ()
            return PolicyDecision("deny", (EVALUATION_ERROR, *forbids), errors)
        if not main.allowed:
            return PolicyDecision(
                "deny", self._ordered(main.diagnostics.reasons) or (DEFAULT_DENY,)
            )
        if with_step_up and results[1].allowed:
            return PolicyDecision("step_up", self._ordered(results[1].diagnostics.reasons))
        return PolicyDecision("allow", self._ordered(main.diagnostics.reasons))

    def _self_check(self) -> None:
        """Refuse a schema that does not accept what the service sends."""
        probe = Principal(
            client_id="zkattest-probe",
            name="probe",
            kind="agent",
            predicates=frozenset(KNOWN_PREDICATES),
            audiences=frozenset({"https://probe.invalid/"}),
        )
        entities = self._entities(probe)
        if isinstance(entities, str):
            raise PolicyError(
                f"{self.schema_file}: the Client entity zkattest sends (name, kind, "
                f"predicates, audiences) does not fit it: {entities}",
                file=self.schema_file,
            )
        probes = [
            PolicyInput(probe, name, "https://probe.invalid/", "request", params=params)
            for name, params in KNOWN_PREDICATES.items()
        ]
        probes.append(
            PolicyInput(probe, DELEGATE, "https://probe.invalid/", "exchange", subject="s")
        )
        problems: list[str] = []
        for inp in probes:
            actions = (inp.action, STEP_UP) if inp.stage == "request" else (inp.action,)
            results = self._evaluate(inp, actions)
            if isinstance(results, str):
                problems.append(results)
                continue
            for action, result in zip(actions, results, strict=True):
                if result.decision is cedarpy.Decision.NoDecision:
                    problems += [f"{action}: {e}" for e in result.diagnostics.errors]
        with self._lock:
            self._cache.clear()
        if problems:
            raise PolicyError(
                f"{self.schema_file}: does not accept the requests zkattest sends:\n  "
                + "\n  ".join(problems),
                file=self.schema_file,
            )
