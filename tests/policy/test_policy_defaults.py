"""The shipped default policies: every allow, deny and step-up path, with its ids."""

from __future__ import annotations

import pytest

from zkattest.policy import DEFAULT_DENY, PolicyDecision, PolicyEngine

from .conftest import API, SHOP, exchange, principal, provision, request

ALLOW = PolicyDecision("allow", ("registered-age-gte",))


def test_loads_every_shipped_policy(engine: PolicyEngine) -> None:
    assert engine.policy_ids == (
        "registered-age-gte",
        "delegate-max-depth",
        "no-delegated-mode-deep-chain",
        "min-age-range",
        "rate-limit",
        "step-up-delegation-depth",
        "step-up-high-risk",
    )
    assert engine.schema_file == "zkattest.cedarschema"
    assert engine.locations["rate-limit"].startswith("limits.cedar:")


# ------------------------------------------------------------ registered predicates


def test_registered_client_is_allowed(engine: PolicyEngine) -> None:
    assert engine.decide(request()) == ALLOW
    assert engine.decide(provision()) == ALLOW


def test_unregistered_predicate_is_denied(engine: PolicyEngine) -> None:
    p = principal(predicates=frozenset({"something_else"}))
    assert engine.decide(request(principal=p)) == PolicyDecision("deny", (DEFAULT_DENY,))
    assert engine.decide(provision(principal=p)) == PolicyDecision("deny", (DEFAULT_DENY,))


@pytest.mark.parametrize("audience", ["https://other.example", SHOP + "/", "https://SHOP.example"])
def test_unregistered_audience_is_denied(engine: PolicyEngine, audience: str) -> None:
    assert engine.decide(request(audience=audience)) == PolicyDecision("deny", (DEFAULT_DENY,))


def test_client_without_registrations_is_denied(engine: PolicyEngine) -> None:
    p = principal(predicates=frozenset(), audiences=frozenset())
    assert engine.decide(request(principal=p)).policy_ids == (DEFAULT_DENY,)


# ----------------------------------------------------------------------- min_age


@pytest.mark.parametrize("min_age", [13, 18, 21, 125])
def test_min_age_inside_window(engine: PolicyEngine, min_age: int) -> None:
    assert engine.decide(request(params={"min_age": min_age})) == ALLOW


@pytest.mark.parametrize("min_age", [0, 1, 12, 126, 150, 2**63 - 1])
def test_min_age_outside_window_is_forbidden(engine: PolicyEngine, min_age: int) -> None:
    want = PolicyDecision("deny", ("min-age-range",))
    assert engine.decide(request(params={"min_age": min_age})) == want
    assert engine.decide(provision(params={"min_age": min_age})) == want


def test_missing_min_age_is_forbidden(engine: PolicyEngine) -> None:
    assert engine.decide(request(params={})) == PolicyDecision("deny", ("min-age-range",))


# -------------------------------------------------------------------------- rate


def test_rate_limit(engine: PolicyEngine) -> None:
    assert engine.decide(request(rate=600)) == ALLOW
    assert engine.decide(request(rate=601)) == PolicyDecision("deny", ("rate-limit",))
    # provisioning an already accepted request is not rate limited
    assert engine.decide(provision(rate=10_000)) == ALLOW


def test_all_matching_forbids_are_reported_in_load_order(engine: PolicyEngine) -> None:
    d = engine.decide(request(params={"min_age": 5}, rate=601))
    assert d == PolicyDecision("deny", ("min-age-range", "rate-limit"))


def test_forbid_is_reported_rather_than_default_deny(engine: PolicyEngine) -> None:
    # an unregistered audience and a forbid: the forbid is named
    d = engine.decide(request(audience="https://other.example", rate=700))
    assert d == PolicyDecision("deny", ("rate-limit",))


# ----------------------------------------------------------------------- step-up


def test_step_up_for_deep_delegation(engine: PolicyEngine) -> None:
    assert engine.decide(request(depth=1)) == ALLOW
    want = PolicyDecision("step_up", ("step-up-delegation-depth",))
    assert engine.decide(request(depth=2)) == want
    assert engine.decide(request(depth=7)) == want


def test_step_up_for_high_risk(engine: PolicyEngine) -> None:
    assert engine.decide(request(risk=69)) == ALLOW
    assert engine.decide(request(risk=70)) == PolicyDecision("step_up", ("step-up-high-risk",))
    assert engine.decide(request(risk=100)).outcome == "step_up"


def test_step_up_lists_every_reason(engine: PolicyEngine) -> None:
    d = engine.decide(request(depth=3, risk=90))
    assert d == PolicyDecision("step_up", ("step-up-delegation-depth", "step-up-high-risk"))


def test_approved_request_is_not_stepped_up_again(engine: PolicyEngine) -> None:
    assert engine.decide(request(depth=3, risk=90, approved=True)) == ALLOW


def test_step_up_only_at_stage_request(engine: PolicyEngine) -> None:
    assert engine.decide(provision(depth=2, risk=100)) == ALLOW


def test_denied_request_is_not_stepped_up(engine: PolicyEngine) -> None:
    assert engine.decide(request(depth=2, rate=601)) == PolicyDecision("deny", ("rate-limit",))
    d = engine.decide(request(depth=2, audience="https://other.example"))
    assert d == PolicyDecision("deny", (DEFAULT_DENY,))


# ---------------------------------------------------------------------- delegation


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_delegate_within_depth(engine: PolicyEngine, depth: int) -> None:
    assert engine.decide(exchange(depth=depth)) == PolicyDecision("allow", ("delegate-max-depth",))


@pytest.mark.parametrize("depth", [3, 4, 100])
def test_delegate_too_deep(engine: PolicyEngine, depth: int) -> None:
    assert engine.decide(exchange(depth=depth)) == PolicyDecision("deny", (DEFAULT_DENY,))


def test_delegate_is_not_rate_limited_nor_stepped_up(engine: PolicyEngine) -> None:
    d = engine.decide(exchange(depth=2, rate=10_000, risk=100, audience=API))
    assert d == PolicyDecision("allow", ("delegate-max-depth",))


def test_delegated_mode_forbidden_for_deep_chains(engine: PolicyEngine) -> None:
    assert engine.decide(provision(mode="delegated", depth=1)) == ALLOW
    want = PolicyDecision("deny", ("no-delegated-mode-deep-chain",))
    assert engine.decide(provision(mode="delegated", depth=2)) == want
    assert engine.decide(provision(mode="delegated", depth=9)) == want
    # the holder proving on their own device is fine at any depth
    assert engine.decide(provision(mode="proof", depth=9)) == ALLOW


# ------------------------------------------------------------- ids are data, not code


@pytest.mark.parametrize(
    "weird",
    [
        'a"b',
        "back\\slash",
        'x", action, resource); permit(principal',
        "new\nline",
        "nul\x00byte",
        "ünï☃de 🎫",
        'Client::"shop"',
    ],
)
def test_ids_with_cedar_syntax_are_plain_data(engine: PolicyEngine, weird: str) -> None:
    aud = "https://rp.example/" + weird
    p = principal(client_id=weird, name=weird, audiences=frozenset({aud}))
    assert engine.decide(request(principal=p, audience=aud)) == ALLOW
    # a near miss of the registered audience stays a miss
    d = engine.decide(request(principal=p, audience=aud + "x"))
    assert d == PolicyDecision("deny", (DEFAULT_DENY,))
    d = engine.decide(exchange(principal=p, subject=weird, chain=(weird,)))
    assert d.outcome == "allow"


def test_principal_cache_follows_registry_changes(engine: PolicyEngine) -> None:
    # the same client id with other registrations is another principal
    before = principal(client_id="cache-test")
    after = principal(client_id="cache-test", audiences=frozenset())
    assert engine.decide(request(principal=before)) == ALLOW
    assert engine.decide(request(principal=after)).policy_ids == (DEFAULT_DENY,)
    assert engine.decide(request(principal=before)) == ALLOW
