"""RFC 8693 token-exchange rules: every branch of delegate() and may_act_for()."""

from __future__ import annotations

from typing import Any

import pytest

from zkattest import errors
from zkattest.identity.jose import EcKey
from zkattest.identity.jwk import Jwks
from zkattest.oauth.base import Client
from zkattest.oauth.errors import OAuthError
from zkattest.oauth.exchange import Delegation, delegate, may_act_for
from zkattest.oauth.tokens import MAX_CHAIN, AccessToken, TokenIssuer

ISS = "https://zk.example"
AUD = "https://zk.example/verifications"
NOW = 1_760_000_000
AGE = "verify:age_gte"


@pytest.fixture(scope="module")
def tokens() -> TokenIssuer:
    k = EcKey.generate()
    return TokenIssuer(k, k.public().thumbprint(), ISS)


@pytest.fixture(scope="module")
def jwks() -> Jwks:
    return Jwks.from_json({"keys": [EcKey.generate().public().jwk()]})


def client(jwks: Jwks, cid: str, **kw: Any) -> Client:
    kw.setdefault("predicates", frozenset({"age_gte"}))
    return Client(client_id=cid, name=cid, jwks=jwks, **kw)


def mint(tokens: TokenIssuer, **kw: Any) -> AccessToken:
    args: dict[str, Any] = {
        "sub": "alice",
        "client_id": "wallet",
        "aud": AUD,
        "scope": {AGE, "approve"},
        "jkt": None,
        "now": NOW,
        "may_act": {"sub": "agent", "iss": ISS},
    }
    args.update(kw)
    return tokens.mint(**args)


def run(
    subject: AccessToken,
    actor: Client,
    *,
    actor_token: AccessToken | None = None,
    scope: frozenset[str] | None = None,
    max_depth: int = 3,
) -> Delegation:
    return delegate(
        subject, actor=actor, actor_token=actor_token, requested_scope=scope, max_depth=max_depth
    )


def refused(subject: AccessToken, actor: Client, **kw: Any) -> OAuthError:
    with pytest.raises(OAuthError) as e:
        run(subject, actor, **kw)
    assert e.value.status == 400
    return e.value


# --------------------------------------------------------------------------- good


def test_one_hop(tokens: TokenIssuer, jwks: Jwks) -> None:
    d = run(mint(tokens), client(jwks, "agent"))
    assert d == Delegation("alice", "agent", {"sub": "agent"}, 1, frozenset({AGE}))


def test_may_act_without_iss(tokens: TokenIssuer, jwks: Jwks) -> None:
    d = run(mint(tokens, may_act={"sub": "agent"}), client(jwks, "agent"))
    assert d.client_id == "agent"


def test_approver_actor_keeps_approve(tokens: TokenIssuer, jwks: Jwks) -> None:
    d = run(mint(tokens), client(jwks, "agent", approver=True))
    assert d.scope == {AGE, "approve"}


def test_result_does_not_alias_subject(tokens: TokenIssuer, jwks: Jwks) -> None:
    subject = mint(tokens, act={"sub": "first"})
    d = run(subject, client(jwks, "agent"))
    d.act["act"]["sub"] = "changed"
    assert subject.chain == ("first",)


# --------------------------------------------------------------------------- may_act


def test_may_act_missing(tokens: TokenIssuer, jwks: Jwks) -> None:
    err = refused(mint(tokens, may_act=None), client(jwks, "agent"))
    assert (err.error, err.reason) == ("invalid_grant", "may_act")


@pytest.mark.parametrize("other", ["agent2", "Agent", "agent ", "wallet", "alice"])
def test_may_act_names_another_client(tokens: TokenIssuer, jwks: Jwks, other: str) -> None:
    err = refused(mint(tokens, may_act={"sub": other, "iss": ISS}), client(jwks, "agent"))
    assert (err.error, err.reason) == ("invalid_grant", "may_act")


@pytest.mark.parametrize("iss", ["https://evil.example", ISS + "/", "agent"])
def test_may_act_foreign_issuer(tokens: TokenIssuer, jwks: Jwks, iss: str) -> None:
    err = refused(mint(tokens, may_act={"sub": "agent", "iss": iss}), client(jwks, "agent"))
    assert (err.error, err.reason) == ("invalid_grant", "may_act")


# --------------------------------------------------------------------------- actor token


def test_actor_token_of_the_actor(tokens: TokenIssuer, jwks: Jwks) -> None:
    agent = client(jwks, "agent")
    own = mint(tokens, sub="agent", client_id="agent", may_act=None)
    assert run(mint(tokens), agent, actor_token=own) == run(mint(tokens), agent)


@pytest.mark.parametrize(
    ("sub", "cid"), [("other", "other"), ("agent", "other"), ("other", "agent")]
)
def test_actor_token_of_another_client(tokens: TokenIssuer, jwks: Jwks, sub: str, cid: str) -> None:
    foreign = mint(tokens, sub=sub, client_id=cid, may_act=None)
    err = refused(mint(tokens), client(jwks, "agent"), actor_token=foreign)
    assert (err.error, err.reason) == ("invalid_grant", "actor_mismatch")


def test_actor_tokens_chain_not_merged(tokens: TokenIssuer, jwks: Jwks) -> None:
    own = mint(tokens, sub="agent", client_id="agent", act={"sub": "x", "act": {"sub": "y"}})
    d = run(mint(tokens), client(jwks, "agent"), actor_token=own)
    assert d.act == {"sub": "agent"} and d.depth == 1


def _outcome(subject: AccessToken, actor: Client, actor_token: AccessToken | None) -> object:
    try:
        return run(subject, actor, actor_token=actor_token, max_depth=2)
    except OAuthError as e:
        return (e.error, e.reason)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"may_act": None},
        {"may_act": {"sub": "other"}},
        {"may_act": {"sub": "agent", "iss": "https://evil.example"}},
        {"act": {"sub": "a", "act": {"sub": "b"}}},
        {"act": {"sub": "a"}},
        {"scope": {"approve"}},
        {"scope": ()},
    ],
)
def test_actor_token_presence_does_not_decide(
    tokens: TokenIssuer, jwks: Jwks, kw: dict[str, Any]
) -> None:
    agent = client(jwks, "agent")
    subject = mint(tokens, **kw)
    own = mint(tokens, sub="agent", client_id="agent", may_act=None, scope={AGE})
    without = _outcome(subject, agent, None)
    assert _outcome(subject, agent, own) == without


# --------------------------------------------------------------------------- depth


def chain_of(n: int) -> dict[str, Any] | None:
    act: dict[str, Any] | None = None
    for i in range(n):
        act = {"sub": f"a{i}"} if act is None else {"sub": f"a{i}", "act": act}
    return act


@pytest.mark.parametrize("max_depth", [1, 2, 5, MAX_CHAIN])
def test_depth_limit(tokens: TokenIssuer, jwks: Jwks, max_depth: int) -> None:
    agent = client(jwks, "agent")
    at_edge = mint(tokens, act=chain_of(max_depth - 1))
    d = run(at_edge, agent, max_depth=max_depth)
    assert d.depth == max_depth
    over = mint(tokens, act=chain_of(max_depth))
    err = refused(over, agent, max_depth=max_depth)
    assert (err.error, err.reason) == ("invalid_grant", "depth")


def test_depth_zero_forbids_delegation(tokens: TokenIssuer, jwks: Jwks) -> None:
    err = refused(mint(tokens), client(jwks, "agent"), max_depth=0)
    assert err.reason == "depth"


@pytest.mark.parametrize("max_depth", [-1, MAX_CHAIN + 1, 1.0, True, None])
def test_bad_max_depth(tokens: TokenIssuer, jwks: Jwks, max_depth: Any) -> None:
    with pytest.raises(errors.InvalidParameter):
        run(mint(tokens), client(jwks, "agent"), max_depth=max_depth)


def test_bad_arguments(tokens: TokenIssuer, jwks: Jwks) -> None:
    with pytest.raises(errors.InvalidParameter):
        delegate(
            "token",  # type: ignore[arg-type]
            actor=client(jwks, "agent"),
            actor_token=None,
            requested_scope=None,
            max_depth=1,
        )


# --------------------------------------------------------------------------- scope


def test_scope_intersection(tokens: TokenIssuer, jwks: Jwks) -> None:
    subject = mint(tokens, scope={AGE, "verify:age_lte", "approve"})
    actor = client(jwks, "agent", predicates=frozenset({"age_gte", "residency"}))
    assert run(subject, actor).scope == {AGE}


def test_scope_narrowing(tokens: TokenIssuer, jwks: Jwks) -> None:
    subject = mint(tokens, scope={AGE, "verify:residency"})
    actor = client(jwks, "agent", predicates=frozenset({"age_gte", "residency"}))
    assert run(subject, actor).scope == {AGE, "verify:residency"}
    assert run(subject, actor, scope=frozenset({AGE})).scope == {AGE}


@pytest.mark.parametrize(
    "requested",
    [
        {"verify:residency"},  # not in the subject token
        {"approve"},  # in the subject token, not allowed to the actor
        {AGE, "approve"},
        {"verify:anything"},
    ],
)
def test_scope_widening_refused(tokens: TokenIssuer, jwks: Jwks, requested: set[str]) -> None:
    err = refused(mint(tokens), client(jwks, "agent"), scope=frozenset(requested))
    assert (err.error, err.reason) == ("invalid_scope", "scope_not_granted")


def test_scope_empty(tokens: TokenIssuer, jwks: Jwks) -> None:
    agent = client(jwks, "agent")
    err = refused(mint(tokens), agent, scope=frozenset())
    assert (err.error, err.reason) == ("invalid_scope", "empty_scope")
    err = refused(mint(tokens, scope={"approve"}), agent)
    assert (err.error, err.reason) == ("invalid_scope", "empty_scope")
    err = refused(mint(tokens), client(jwks, "agent", predicates=frozenset()))
    assert (err.error, err.reason) == ("invalid_scope", "empty_scope")


# --------------------------------------------------------------------------- chains


def test_three_hops(tokens: TokenIssuer, jwks: Jwks) -> None:
    """person -> A -> B -> C: each hop's token is minted, then validated again."""
    person = client(jwks, "wallet", kind="person", delegates=frozenset({"A"}))
    hops = {
        "A": client(jwks, "A", delegates=frozenset({"B"})),
        "B": client(jwks, "B", delegates=frozenset({"C"})),
        "C": client(jwks, "C"),
    }
    tok = tokens.mint(
        sub="alice",
        client_id=person.client_id,
        aud=AUD,
        scope=person.scopes(),
        jkt=None,
        now=NOW,
        may_act=may_act_for(person, None, issuer=ISS),
    )
    for name, actor in hops.items():
        subject = tokens.validate(tok.raw, now=NOW, audience=AUD)
        d = run(subject, actor, max_depth=3)
        tok = tokens.mint(
            sub=d.sub,
            client_id=d.client_id,
            aud=AUD,
            scope=d.scope,
            jkt=None,
            now=NOW,
            act=d.act,
            may_act=may_act_for(actor, None, issuer=ISS),
        )
        assert d.act["sub"] == name
    final = tokens.validate(tok.raw, now=NOW, audience=AUD)
    assert final.act == {"sub": "C", "act": {"sub": "B", "act": {"sub": "A"}}}
    assert final.chain == ("C", "B", "A") and final.depth == 3
    assert final.sub == "alice" and final.client_id == "C" and final.scope == {AGE}
    assert final.may_act is None  # C has no delegate: the chain ends here
    # a fourth hop past max_depth 3 is refused even when may_act would allow it
    again = tokens.mint(
        sub="alice",
        client_id="C",
        aud=AUD,
        scope={AGE},
        jkt=None,
        now=NOW,
        act=final.act,
        may_act={"sub": "D", "iss": ISS},
    )
    assert refused(again, client(jwks, "D"), max_depth=3).reason == "depth"


def test_hop_skipping_refused(tokens: TokenIssuer, jwks: Jwks) -> None:
    """B cannot use the person's token that names A."""
    subject = mint(tokens, may_act={"sub": "A", "iss": ISS})
    assert refused(subject, client(jwks, "B")).reason == "may_act"


# --------------------------------------------------------------------------- may_act_for


def test_may_act_for(jwks: Jwks) -> None:
    one = client(jwks, "w", delegates=frozenset({"agent"}))
    two = client(jwks, "w", delegates=frozenset({"agent", "agent2"}))
    none = client(jwks, "w")
    assert may_act_for(one, None, issuer=ISS) == {"sub": "agent", "iss": ISS}
    assert may_act_for(one, "agent", issuer=ISS) == {"sub": "agent", "iss": ISS}
    assert may_act_for(two, None, issuer=ISS) is None
    assert may_act_for(two, "agent2", issuer=ISS) == {"sub": "agent2", "iss": ISS}
    assert may_act_for(none, None, issuer=ISS) is None


@pytest.mark.parametrize("requested", ["other", "", "w", "AGENT", 1])
@pytest.mark.parametrize("delegates", [frozenset(), frozenset({"agent"}), frozenset({"a", "b"})])
def test_may_act_for_not_a_delegate(jwks: Jwks, requested: Any, delegates: frozenset[str]) -> None:
    with pytest.raises(OAuthError) as e:
        may_act_for(client(jwks, "w", delegates=delegates), requested, issuer=ISS)
    assert (e.value.error, e.value.reason) == ("invalid_request", "may_act_not_delegate")


def test_may_act_for_without_issuer(jwks: Jwks) -> None:
    one = client(jwks, "w", delegates=frozenset({"agent"}))
    assert may_act_for(one, None) == {"sub": "agent"}
    assert may_act_for(one, "agent") == {"sub": "agent"}
    assert may_act_for(client(jwks, "w"), None) is None


@pytest.mark.parametrize("issuer", ["", 1])
def test_may_act_for_bad_issuer(jwks: Jwks, issuer: Any) -> None:
    with pytest.raises(errors.InvalidParameter):
        may_act_for(client(jwks, "w", delegates=frozenset({"a"})), None, issuer=issuer)


def test_may_act_for_output_validates(tokens: TokenIssuer, jwks: Jwks) -> None:
    m = may_act_for(client(jwks, "w", delegates=frozenset({"agent"})), None, issuer=ISS)
    t = mint(tokens, may_act=m)
    assert tokens.validate(t.raw, now=NOW, audience=AUD).may_act == m
    assert run(t, client(jwks, "agent")).client_id == "agent"
