"""Properties: decide() over wide random inputs, a plain-Python model of the default
policies as a cross-check, and risk_score."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from zkattest.errors import InvalidParameter
from zkattest.policy import (
    DEFAULT_DENY,
    EVALUATION_ERROR,
    PolicyDecision,
    PolicyEngine,
    PolicyInput,
    Principal,
    risk_score,
)

# ids over every code point (lone surrogates aside) plus pieces of Cedar's own syntax
_SYNTAX = st.sampled_from(['"', "\\", ";", "::", "\n", "\x00", "}", "//", "?principal", "\u202e"])
_NO_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
_PIECE = st.one_of(st.characters(exclude_categories=_NO_SURROGATES), _SYNTAX)
TEXT = st.lists(_PIECE, max_size=12).map("".join)
ID = st.lists(_PIECE, min_size=1, max_size=12).map("".join)
LONG = st.integers(0, 2**63 - 1)


@st.composite
def wide_valid_inputs(draw: st.DrawFn) -> PolicyInput:
    """Well-formed inputs: any ids, any Cedar Long, the documented stage rules."""
    name = st.one_of(ID, st.sampled_from(["age_gte", "step_up", "predicate"]))
    p = Principal(
        client_id=draw(ID),
        name=draw(TEXT),
        kind=draw(TEXT),
        predicates=draw(st.frozensets(name, max_size=3)),
        audiences=draw(st.frozensets(ID, max_size=3)),
    )
    stage = draw(st.sampled_from(["request", "provision", "exchange"]))
    fields: dict[str, Any] = {
        "principal": p,
        "audience": draw(st.one_of(ID, st.sampled_from(sorted(p.audiences) or ["a"]))),
        "stage": stage,
        "chain": tuple(draw(st.lists(ID, max_size=3))),
        "depth": draw(st.one_of(st.integers(0, 4), LONG)),
        "rate": draw(LONG),
        "risk": draw(st.integers(0, 100)),
        "approved": draw(st.booleans()),
        "subject": draw(st.one_of(st.none(), TEXT)),
    }
    if stage == "exchange":
        fields.update(action="delegate", subject=draw(ID))
    else:
        params = st.dictionaries(st.one_of(ID, st.just("min_age")), LONG, max_size=2)
        fields.update(
            action=draw(st.one_of(st.just("age_gte"), ID.filter(lambda s: s != "step_up"))),
            params=draw(params),
            mode=draw(st.sampled_from(["proof", "delegated"])) if stage == "provision" else "",
        )
    return PolicyInput(**fields)


@settings(max_examples=150)
@given(inp=wide_valid_inputs())
def test_valid_inputs_always_get_a_decision(engine: PolicyEngine, inp: PolicyInput) -> None:
    d = engine.decide(inp)
    event(d.outcome)
    assert d.outcome in ("allow", "deny", "step_up")
    assert d.policy_ids
    known = inp.action in ("age_gte", "delegate") and set(inp.params) <= {"min_age"}
    # nothing fails in Cedar for what the schema declares; anything else fails closed
    assert (d.errors == ()) == known
    if inp.action == "delegate":
        assert d == model(inp)


# wild values for any field: wrong types, out of range, lone surrogates, empty
WILD_STR = st.one_of(
    st.lists(st.one_of(st.characters(exclude_categories=()), _SYNTAX), max_size=8).map("".join),
    st.just(""),
    st.just("x" * 5000),
    st.none(),
    st.integers(),
    st.binary(max_size=4),
)
WILD_INT = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([-1, 101, 2**63 - 1, 2**63]),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.none(),
)
WILD: dict[str, st.SearchStrategy[Any]] = {
    "client_id": WILD_STR,
    "name": WILD_STR,
    "kind": WILD_STR,
    "predicates": st.one_of(st.frozensets(WILD_STR, max_size=3), st.lists(ID, max_size=2)),
    "audiences": st.one_of(st.frozensets(WILD_STR, max_size=3), st.sets(ID, max_size=2)),
    "action": st.one_of(WILD_STR, st.sampled_from(["step_up", "delegate", "age_gte"])),
    "audience": WILD_STR,
    "stage": st.one_of(WILD_STR, st.sampled_from(["request", "provision", "exchange"])),
    "subject": WILD_STR,
    "chain": st.one_of(st.tuples(WILD_STR), st.lists(ID, max_size=2), WILD_STR),
    "depth": WILD_INT,
    "params": st.one_of(
        st.dictionaries(WILD_STR, WILD_INT, max_size=2), st.lists(st.integers(), max_size=2)
    ),
    "rate": WILD_INT,
    "risk": WILD_INT,
    "mode": st.one_of(WILD_STR, st.sampled_from(["", "proof", "delegated"])),
    "approved": st.one_of(st.booleans(), WILD_INT),
}


@st.composite
def wide_inputs(draw: st.DrawFn) -> PolicyInput:
    """A well-formed input with up to two fields replaced by wild values."""
    inp = draw(wide_valid_inputs())
    principal_fields = {f: getattr(inp.principal, f) for f in Principal.__slots__}
    fields = {f: getattr(inp, f) for f in PolicyInput.__slots__ if f != "principal"}
    for name in draw(st.lists(st.sampled_from(sorted(WILD)), max_size=2, unique=True)):
        target = principal_fields if name in principal_fields else fields
        target[name] = draw(WILD[name])
    return PolicyInput(principal=Principal(**principal_fields), **fields)


@settings(max_examples=150)
@given(inp=wide_inputs())
def test_decide_returns_a_decision_or_invalid_parameter(
    engine: PolicyEngine, inp: PolicyInput
) -> None:
    try:
        d = engine.decide(inp)
    except InvalidParameter as exc:
        assert str(exc).startswith("policy input: ")
        event("refused")
        return
    event(f"decided: {d.outcome}" + (" (error)" if d.errors else ""))
    assert isinstance(d, PolicyDecision)
    assert d.outcome in ("allow", "deny", "step_up")
    assert d.policy_ids
    assert set(d.policy_ids) <= {*engine.policy_ids, DEFAULT_DENY, EVALUATION_ERROR}
    assert all(isinstance(e, str) and e for e in d.errors)
    if d.errors:
        assert d.outcome == "deny"
        assert d.policy_ids[0] == EVALUATION_ERROR
    if d.outcome == "step_up":
        assert inp.stage == "request" and not inp.approved


# ------------------------------------------------------ model of the default policies

POOL = ("https://shop.example", "https://bar.example", 'https://q"uote\\d.example/ü')


def model(inp: PolicyInput) -> PolicyDecision:
    """The shipped default policies, written out in plain Python."""
    p = inp.principal
    if inp.action == "delegate":
        if inp.depth <= 2:
            return PolicyDecision("allow", ("delegate-max-depth",))
        return PolicyDecision("deny", (DEFAULT_DENY,))
    forbids = []
    if inp.stage == "provision" and inp.mode == "delegated" and inp.depth >= 2:
        forbids.append("no-delegated-mode-deep-chain")
    min_age = inp.params.get("min_age")
    if min_age is None or not 13 <= min_age <= 125:
        forbids.append("min-age-range")
    if inp.stage == "request" and inp.rate > 600:
        forbids.append("rate-limit")
    if forbids:
        return PolicyDecision("deny", tuple(forbids))
    if "age_gte" not in p.predicates or inp.audience not in p.audiences:
        return PolicyDecision("deny", (DEFAULT_DENY,))
    if inp.stage == "request" and not inp.approved:
        steps = []
        if inp.depth >= 2:
            steps.append("step-up-delegation-depth")
        if inp.risk >= 70:
            steps.append("step-up-high-risk")
        if steps:
            return PolicyDecision("step_up", tuple(steps))
    return PolicyDecision("allow", ("registered-age-gte",))


def _edge(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Mostly around a policy's bounds, sometimes anywhere in Cedar's Long."""
    return st.one_of(st.integers(lo, hi), st.integers(lo, hi), st.integers(lo, hi), LONG)


@st.composite
def valid_inputs(draw: st.DrawFn) -> PolicyInput:
    registered = st.frozensets(st.sampled_from(["age_gte", "other"]), min_size=1)
    p = Principal(
        client_id=draw(st.sampled_from(["shop", "bar", 'we"ird\\id'])),
        name="n",
        kind=draw(st.sampled_from(["agent", "person"])),
        predicates=draw(st.one_of(st.just(frozenset({"age_gte"})), registered)),
        audiences=draw(st.frozensets(st.sampled_from(POOL), min_size=1)),
    )
    stage = draw(st.sampled_from(["request", "request", "provision", "exchange"]))
    fields: dict[str, Any] = {
        "principal": p,
        "audience": draw(st.one_of(st.sampled_from(sorted(p.audiences)), st.sampled_from(POOL))),
        "stage": stage,
        "depth": draw(_edge(0, 4)),
        "rate": draw(st.one_of(st.integers(0, 599), _edge(595, 605))),
        "risk": draw(st.one_of(st.integers(0, 100), st.integers(65, 75))),
        "approved": draw(st.booleans()),
        "chain": tuple(draw(st.lists(st.sampled_from(["a", "b"]), max_size=3))),
    }
    if stage == "exchange":
        fields.update(action="delegate", subject=draw(st.sampled_from(["alice", "bob"])))
    else:
        age = st.one_of(st.integers(13, 125), _edge(10, 130))
        with_age = st.builds(lambda a: {"min_age": a}, age)
        params = st.one_of(with_age, with_age, with_age, st.just({}))
        fields.update(
            action="age_gte",
            subject=draw(st.sampled_from([None, "", "alice"])),
            params=draw(params),
            mode=draw(st.sampled_from(["proof", "delegated"])) if stage == "provision" else "",
        )
    return PolicyInput(**fields)


@settings(max_examples=250)
@given(inp=valid_inputs())
def test_decide_agrees_with_the_model(engine: PolicyEngine, inp: PolicyInput) -> None:
    want = model(inp)
    event(f"{want.outcome} {' '.join(want.policy_ids)}")
    assert engine.decide(inp) == want


def test_model_is_not_trivial() -> None:
    # the cross-check above means something only if the model separates the cases
    p = Principal("shop", "n", "agent", frozenset({"age_gte"}), frozenset(POOL))
    base: dict[str, Any] = {
        "principal": p,
        "action": "age_gte",
        "audience": POOL[0],
        "stage": "request",
    }
    outcomes = {
        model(PolicyInput(**base, params={"min_age": 18})).outcome,
        model(PolicyInput(**base, params={"min_age": 18}, depth=2)).outcome,
        model(PolicyInput(**base, params={"min_age": 12})).outcome,
    }
    assert outcomes == {"allow", "step_up", "deny"}


# ------------------------------------------------------------------------ risk_score


@pytest.mark.parametrize(
    ("kwargs", "score"),
    [
        ({"depth": 0, "rate": 0}, 0),
        ({"depth": 1, "rate": 0}, 20),
        ({"depth": 2, "rate": 60}, 40),
        ({"depth": 9, "rate": 0}, 60),
        ({"depth": 0, "rate": 61}, 10),
        ({"depth": 0, "rate": 120}, 10),
        ({"depth": 0, "rate": 121}, 20),
        ({"depth": 0, "rate": 10**9}, 50),
        ({"depth": 0, "rate": 11, "rate_soft_limit": 10}, 10),
        ({"depth": 1, "rate": 0, "delegated": True}, 40),
        ({"depth": 1, "rate": 200, "delegated": True}, 70),
        ({"depth": 3, "rate": 10**6, "delegated": True}, 100),
        ({"depth": 3, "rate": 10**6, "delegated": True, "approved": True}, 80),
        ({"depth": 1, "rate": 0, "approved": True}, 0),
    ],
)
def test_risk_score_examples(kwargs: dict[str, Any], score: int) -> None:
    assert risk_score(**kwargs) == score


@given(
    depth=st.integers(0, 2**63 - 2),
    rate=st.integers(0, 2**63 - 2),
    soft=st.integers(1, 10**6),
    delegated=st.booleans(),
    approved=st.booleans(),
)
def test_risk_score_is_bounded_and_monotone(
    depth: int, rate: int, soft: int, delegated: bool, approved: bool
) -> None:
    kw: dict[str, Any] = {"rate_soft_limit": soft, "delegated": delegated, "approved": approved}
    score = risk_score(depth=depth, rate=rate, **kw)
    assert 0 <= score <= 100
    assert risk_score(depth=depth + 1, rate=rate, **kw) >= score
    assert risk_score(depth=depth, rate=rate + 1, **kw) >= score
    assert risk_score(depth=depth, rate=rate, rate_soft_limit=soft, approved=approved) <= (
        risk_score(depth=depth, rate=rate, rate_soft_limit=soft, delegated=True, approved=approved)
    )
    assert (
        risk_score(depth=depth, rate=rate, rate_soft_limit=soft, delegated=delegated, approved=True)
        <= score
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"depth": -1, "rate": 0},
        {"depth": 0, "rate": -1},
        {"depth": True, "rate": 0},
        {"depth": 0, "rate": 1.5},
        {"depth": 0, "rate": 0, "rate_soft_limit": 0},
        {"depth": 0, "rate": 0, "delegated": 1},
        {"depth": 0, "rate": 0, "approved": "yes"},
        {"depth": 2**63, "rate": 0},
    ],
)
def test_risk_score_rejects_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter):
        risk_score(**kwargs)
