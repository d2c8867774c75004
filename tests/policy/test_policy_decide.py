"""decide(): malformed inputs, failing closed on evaluation errors, caching, threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import cedarpy
import pytest

from zkattest.errors import InvalidParameter
from zkattest.policy import (
    DEFAULT_DENY,
    EVALUATION_ERROR,
    PolicyDecision,
    PolicyEngine,
    PolicyError,
    PolicyInput,
)
from zkattest.policy import engine as engine_module

from .conftest import exchange, principal, provision, request

MakeDir = Callable[..., Path]
ALLOW = PolicyDecision("allow", ("registered-age-gte",))


# ------------------------------------------------------------------ malformed input


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda: request(principal=principal(client_id="")), "principal.client_id must not be"),
        (lambda: request(principal=principal(client_id=7)), "principal.client_id must be a str"),
        (lambda: request(principal=principal(name=None)), "principal.name must be a str"),
        (lambda: request(principal=principal(kind=b"agent")), "principal.kind must be a str"),
        (lambda: request(principal=principal(predicates={"age_gte"})), "must be a frozenset"),
        (lambda: request(principal=principal(predicates=["age_gte"])), "must be a frozenset"),
        (lambda: request(principal=principal(audiences=frozenset({""}))), "audiences item"),
        (lambda: request(principal=principal(audiences=frozenset({1}))), "audiences item"),
        (lambda: request(principal="shop"), "principal must be a Principal"),
        (lambda: request(action=""), "action must not be empty"),
        (lambda: request(action=None), "action must be a str"),
        (lambda: request(action="step_up"), "evaluated by the engine itself"),
        (lambda: request(action="delegate"), "'exchange' goes with action"),
        (lambda: exchange(action="age_gte"), "'exchange' goes with action"),
        (lambda: exchange(subject=None), "subject is required"),
        (lambda: exchange(subject=""), "subject is required"),
        (lambda: request(subject=3), "subject must be a str"),
        (lambda: request(audience=""), "audience must not be empty"),
        (lambda: request(audience="https://x/\ud800"), "lone surrogate"),
        (lambda: request(audience="x" * 4097), "longer than 4096"),
        (lambda: request(stage="approve"), "stage must be one of"),
        (lambda: request(stage=None), "stage must be one of"),
        (lambda: request(chain=["a"]), "chain must be a tuple"),
        (lambda: request(chain=("a", "")), "chain item must not be empty"),
        (lambda: request(chain=("a",) * 257), "more than 256 items"),
        (lambda: request(depth=-1), "depth must be within"),
        (lambda: request(depth=2**63), "depth must be within"),
        (lambda: request(depth=True), "depth must be an int"),
        (lambda: request(depth=1.0), "depth must be an int"),
        (lambda: request(rate=-5), "rate must be within"),
        (lambda: request(rate="5"), "rate must be an int"),
        (lambda: request(risk=101), "risk must be within 0..100"),
        (lambda: request(risk=-1), "risk must be within 0..100"),
        (lambda: request(mode="proof"), "mode is 'proof' or 'delegated' at stage provision"),
        (lambda: provision(mode=""), "mode is 'proof' or 'delegated' at stage provision"),
        (lambda: provision(mode="remote"), "mode must be"),
        (lambda: request(approved=1), "approved must be a bool"),
        (lambda: request(params=[("min_age", 18)]), "params must be a mapping"),
        (lambda: request(params={"min_age": "18"}), "params['min_age'] must be an int"),
        (lambda: request(params={"min_age": True}), "params['min_age'] must be an int"),
        (lambda: request(params={"min_age": -18}), "params['min_age'] must be within"),
        (lambda: request(params={"min_age": 2**64}), "params['min_age'] must be within"),
        (lambda: request(params={"": 1}), "params key must not be empty"),
        (lambda: request(params={1: 1}), "params key must be a str"),
    ],
)
def test_malformed_input_raises_invalid_parameter(
    engine: PolicyEngine, build: Callable[[], PolicyInput], needle: str
) -> None:
    with pytest.raises(InvalidParameter) as info:
        engine.decide(build())
    assert needle in str(info.value)
    assert str(info.value).startswith("policy input: ")
    assert not isinstance(info.value, PolicyError)


def test_not_a_policy_input(engine: PolicyEngine) -> None:
    with pytest.raises(InvalidParameter, match="input must be a PolicyInput"):
        engine.decide({"action": "age_gte"})  # type: ignore[arg-type]


def test_params_default_is_empty_and_read_only() -> None:
    inp = PolicyInput(principal(), "age_gte", "https://a", "request")
    assert dict(inp.params) == {}
    assert isinstance(inp.params, MappingProxyType)


def test_mapping_params_are_accepted(engine: PolicyEngine) -> None:
    assert engine.decide(request(params=MappingProxyType({"min_age": 18}))) == ALLOW


# --------------------------------------------------------------------- fail closed


def test_unknown_predicate_fails_closed(engine: PolicyEngine) -> None:
    d = engine.decide(request(action="age_lte"))
    assert d.outcome == "deny"
    assert d.policy_ids == (EVALUATION_ERROR,)
    assert len(d.errors) == 1
    assert 'action `Action::"age_lte"` does not exist' in d.errors[0]


def test_group_action_is_not_a_predicate(engine: PolicyEngine) -> None:
    d = engine.decide(request(action="predicate"))
    assert (d.outcome, d.policy_ids) == ("deny", (EVALUATION_ERROR,))


def test_unknown_parameter_fails_closed_and_is_listed_once(engine: PolicyEngine) -> None:
    d = engine.decide(request(params={"min_age": 18, "max_age": 30}))
    assert (d.outcome, d.policy_ids) == ("deny", (EVALUATION_ERROR,))
    assert len(d.errors) == 1
    assert "`max_age` should not exist" in d.errors[0]


def test_overflowing_forbid_fails_closed(policy_dir: MakeDir) -> None:
    # Cedar skips a policy whose evaluation errors; for a forbid that would allow
    d = policy_dir(
        {
            "overflow.cedar": """
@id("burst-guard")
forbid (principal, action in Action::"predicate", resource)
when { context.rate * 1000000000000 < 0 };
"""
        }
    )
    engine = PolicyEngine.load(d)
    assert engine.decide(request(rate=500)) == ALLOW
    # as Cedar alone decides it: allowed, with an error on the side
    decision = engine.decide(request(rate=10_000_000, stage="provision", mode="proof"))
    assert decision.outcome == "deny"
    assert decision.policy_ids == (EVALUATION_ERROR,)
    assert decision.errors == (
        "error while evaluating policy `burst-guard`: integer overflow while attempting to "
        "multiply the values `10000000` and `1000000000000`",
    )


def test_error_next_to_a_forbid_names_both(policy_dir: MakeDir) -> None:
    d = policy_dir(
        {
            "overflow.cedar": """
@id("burst-guard")
forbid (principal, action in Action::"predicate", resource)
when { context.rate * 1000000000000 < 0 };
"""
        }
    )
    engine = PolicyEngine.load(d)
    decision = engine.decide(request(rate=10_000_000))
    assert decision.outcome == "deny"
    assert decision.policy_ids == (EVALUATION_ERROR, "rate-limit")


def test_overflowing_step_up_fails_closed(policy_dir: MakeDir) -> None:
    d = policy_dir(
        {
            "z.cedar": """
@id("odd-step-up")
permit (principal, action == Action::"step_up", resource)
when { context.depth * 4611686018427387904 > 5 };
"""
        }
    )
    engine = PolicyEngine.load(d)
    assert engine.decide(request(depth=0)) == ALLOW
    decision = engine.decide(request(depth=1, risk=0))
    # depth 1: 4611686018427387904 > 5, a step-up
    assert decision == PolicyDecision("step_up", ("odd-step-up",))
    decision = engine.decide(request(depth=2))
    assert (decision.outcome, decision.policy_ids) == ("deny", (EVALUATION_ERROR,))
    assert "odd-step-up" in decision.errors[0]
    # approved: step_up is not evaluated, nothing overflows
    assert engine.decide(request(depth=2, approved=True)) == ALLOW


def test_binding_failure_fails_closed(
    engine: PolicyEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("binding exploded")

    monkeypatch.setattr(cedarpy, "is_authorized_batch", broken)
    d = engine.decide(request())
    assert d == PolicyDecision("deny", (EVALUATION_ERROR,), ("RuntimeError: binding exploded",))


def test_principal_that_does_not_fit_fails_closed(
    engine: PolicyEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("attribute `kind` has the wrong type")

    monkeypatch.setattr(cedarpy.Entities, "from_json_str", refuse)
    d = engine.decide(request(principal=principal(client_id="never-seen-before")))
    assert d.outcome == "deny"
    assert d.policy_ids == (EVALUATION_ERROR,)
    assert d.errors == ("principal does not fit the schema: attribute `kind` has the wrong type",)


# --------------------------------------------------------------- cache and threads


def test_entity_cache_is_bounded(policy_dir: MakeDir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "ENTITY_CACHE_SIZE", 4)
    engine = PolicyEngine.load(policy_dir())
    clients = [principal(client_id=f"c{i}") for i in range(10)]
    for _ in range(2):
        for p in clients:
            assert engine.decide(request(principal=p)) == ALLOW
            assert len(engine._cache) <= 4
    assert list(engine._cache) == clients[-4:]


def test_concurrent_decisions_agree(engine: PolicyEngine) -> None:
    cases = [
        (request(), ALLOW),
        (request(rate=601), PolicyDecision("deny", ("rate-limit",))),
        (request(risk=80), PolicyDecision("step_up", ("step-up-high-risk",))),
        (exchange(depth=3), PolicyDecision("deny", (DEFAULT_DENY,))),
    ]
    wrong: list[object] = []

    def work(k: int) -> None:
        for i in range(200):
            inp, want = cases[(i + k) % len(cases)]
            p = principal(client_id=f"t{(i * 7 + k) % 50}")
            got = engine.decide(PolicyInput(**{**_fields(inp), "principal": p}))
            if got != want:
                wrong.append((inp, got))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def _fields(inp: PolicyInput) -> dict[str, Any]:
    return {name: getattr(inp, name) for name in PolicyInput.__slots__}
