"""The shipped Cedar policies (src/zkattest/policy/default/*.cedar), each of their
allow / deny / step-up paths reached through HTTP; custom policy directories (copied
with ``zkattest policy init`` and edited, as an operator would) for the limits the
defaults set high; broken directories refused at start-up; and the anonymous mode
(``require_auth = false``), where no policy is evaluated.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from zkattest.credentials import Credential, Holder
from zkattest.oauth.clients import ClientRegistry, client_from_json
from zkattest.policy import commands
from zkattest.service import ConfigError, Resources, bootstrap, create_app

from .conftest import (
    BASE,
    OTHER_RP,
    RP,
    Party,
    assert_problem,
    check_created,
    create_body,
    delegated_body,
    exchange_form,
    proof_body,
    prove,
    services,
)
from .test_oauth_flow import (
    adult,
    chain_token,
    holder_fetch,
    holder_present,
    rp_create,
    rp_created,
    rp_read,
)

# -- custom policy directories ----------------------------------------------------------------


def policy_dir(root: Path, edits: dict[str, tuple[str, str]] | None = None) -> Path:
    """The shipped policies copied by ``zkattest policy init`` into ``root/policy``,
    then edited: file name -> (text to find, its replacement)."""
    d = root / "policy"
    out, err = io.StringIO(), io.StringIO()
    assert commands.init(d, out=out, err=err) == 0, err.getvalue()
    for name, (old, new) in (edits or {}).items():
        f = d / name
        text = f.read_text()
        assert text.count(old) == 1, (name, old)
        f.write_text(text.replace(old, new))
    return d


def with_policy(res: Resources, directory: Path, **config: Any) -> Resources:
    """``res`` bootstrapped again with ``policy_dir`` (and other config overrides)."""
    cfg = msgspec.structs.replace(res.config, policy_dir=str(directory), **config)
    return bootstrap(cfg, progress=False)


@pytest.fixture
def app_of() -> Iterator[Callable[[Resources], TestClient[Litestar]]]:
    opened: list[TestClient[Litestar]] = []

    def make(res: Resources) -> TestClient[Litestar]:
        c = TestClient(create_app(resources=res))
        c.__enter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def denied(r: Any, policy_id: str) -> None:
    body = assert_problem(r, 403, "policy_denied")
    assert body["type"] == "urn:zkattest:problem:policy-denied"
    assert policy_id in body["detail"], body


def count(c: TestClient[Litestar]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = c.blocking_portal.call(services(c.app).store.counts)
    return out


# -- access.cedar: registered-age-gte; default-deny -------------------------------------------


def test_registered_predicate_and_audience_allowed(
    auth_client: TestClient[Litestar], party: Party
) -> None:
    c = auth_client
    party.shop.get_token(c, BASE)
    created = rp_created(c, party.shop)
    assert created.body["policy"] == {"outcome": "allow", "policy_ids": ["registered-age-gte"]}
    party.other.get_token(c, BASE)
    created = rp_created(c, party.other, audience=OTHER_RP)
    assert created.body["policy"]["outcome"] == "allow"
    assert created.body["status"] == "pending"


def test_unregistered_audience_is_denied_by_default(
    auth_client: TestClient[Litestar], party: Party
) -> None:
    """No permit matches an audience the client was not registered for: default-deny,
    and nothing is created."""
    c = auth_client
    party.shop.get_token(c, BASE)
    r, _ = rp_create(c, party.shop, audience=OTHER_RP)
    denied(r, "default-deny")
    party.other.get_token(c, BASE)
    r, _ = rp_create(c, party.other, audience=RP)
    denied(r, "default-deny")
    assert sum(count(c)["verifications"].values()) == 0


def test_unregistered_predicate_has_no_scope(
    auth_client: TestClient[Litestar], party: Party
) -> None:
    """bob is registered for no predicate: his token cannot carry verify:age_gte, and
    asking for it is refused at the token endpoint."""
    c, bob = auth_client, party.bob
    tok = bob.get_token(c, BASE)
    assert tok["scope"] == "approve"
    r, _ = rp_create(c, bob)
    body = assert_problem(r, 403, "insufficient_scope")
    assert "verify:age_gte" in r.headers["www-authenticate"], body
    r = bob.token_request(c, BASE, {"grant_type": "client_credentials", "scope": "verify:age_gte"})
    if r.status_code == 400 and r.json()["error"] == "use_dpop_nonce":
        r = bob.token_request(
            c, BASE, {"grant_type": "client_credentials", "scope": "verify:age_gte"}
        )
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text


# -- limits.cedar: min-age-range, rate-limit ---------------------------------------------------


@pytest.mark.parametrize(
    ("min_age", "allowed"), [(12, False), (13, True), (125, True), (126, False)]
)
def test_min_age_window(
    min_age: int, allowed: bool, auth_client: TestClient[Litestar], party: Party
) -> None:
    c = auth_client
    party.shop.get_token(c, BASE)
    r, verifier = rp_create(c, party.shop, min_age=min_age)
    if allowed:
        created = check_created(r, verifier)
        assert created.body["policy"]["policy_ids"] == ["registered-age-gte"]
    else:
        denied(r, "min-age-range")
        assert sum(count(c)["verifications"].values()) == 0


def test_rate_limit(
    auth_res: Resources, tmp_path: Path, party: Party, app_of: Callable[..., Any]
) -> None:
    """The operator lowers the limit to 2 a minute: the third request is refused (and,
    refused, it is not counted: the limit holds, it does not ratchet)."""
    d = policy_dir(tmp_path, {"limits.cedar": ("context.rate > 600", "context.rate > 2")})
    c = app_of(with_policy(auth_res, d))
    shop = party.shop
    shop.get_token(c, BASE)
    for _ in range(2):
        rp_created(c, shop)
    for _ in range(2):
        r, _ = rp_create(c, shop)
        denied(r, "rate-limit")
    assert count(c)["verifications"]["pending"] == 2
    # the limit is per client: another client is not affected
    party.other.get_token(c, BASE)
    rp_created(c, party.other, audience=OTHER_RP)


def test_default_rate_limit_is_not_reached_by_a_few(
    auth_client: TestClient[Litestar], party: Party
) -> None:
    c = auth_client
    party.shop.get_token(c, BASE)
    for _ in range(5):
        assert rp_created(c, party.shop).body["policy"]["outcome"] == "allow"


# -- step_up.cedar: step-up-high-risk, step-up-delegation-depth -------------------------------


def test_high_risk_steps_up(
    auth_res: Resources, tmp_path: Path, party: Party, app_of: Callable[..., Any]
) -> None:
    """rate_soft_limit = 1: risk = 20 per delegation hop + 10 per request above one a
    minute (at most 50).  The shop on its own never reaches 70; the assistant acting
    for alice (20) reaches it with its 6th request (20 + 50)."""
    c = app_of(with_policy(auth_res, policy_dir(tmp_path), rate_soft_limit=1))
    party.shop.get_token(c, BASE)
    for _ in range(8):
        assert rp_created(c, party.shop).body["status"] == "pending"
    chain_token(c, party, 1)
    outcomes = [rp_created(c, party.assistant).body for _ in range(6)]
    assert [b["status"] for b in outcomes] == ["pending"] * 5 + ["awaiting_approval"]
    assert outcomes[-1]["policy"] == {"outcome": "step_up", "policy_ids": ["step-up-high-risk"]}


def test_depth_two_steps_up(auth_client: TestClient[Litestar], party: Party) -> None:
    c = auth_client
    chain_token(c, party, 2)
    created = rp_created(c, party.shop)
    assert created.body["status"] == "awaiting_approval"
    assert created.body["policy"]["policy_ids"] == ["step-up-delegation-depth"]
    # a denied request is denied, not stepped up: deny wins over step-up
    r, _ = rp_create(c, party.shop, min_age=12)
    denied(r, "min-age-range")


def test_step_up_without_any_approver_is_denied(
    auth_res: Resources, tmp_path: Path, party: Party, app_of: Callable[..., Any]
) -> None:
    """A step-up nobody could approve (a direct request of a client without
    approvers) is refused at once instead of parked to expire."""
    d = policy_dir(tmp_path, {"step_up.cedar": ("context.risk >= 70", "context.risk >= 0")})
    c = app_of(with_policy(auth_res, d))
    party.other.get_token(c, BASE)  # "other" lists no approvers
    r, _ = rp_create(c, party.other, audience=OTHER_RP)
    denied(r, "no-approver")
    party.shop.get_token(c, BASE)  # the shop lists bob
    assert rp_created(c, party.shop).body["status"] == "awaiting_approval"


# -- delegation.cedar: no-delegated-mode-deep-chain (stage provision) -------------------------


@pytest.mark.parametrize("mode", ["delegated", "proof"])
def test_deep_chain_provisioning(
    mode: str,
    auth_client: TestClient[Litestar],
    auth_res: Resources,
    party: Party,
    holder: Holder,
    creds: Callable[[int], Credential],
) -> None:
    """Two hops, approved by alice: delegated proving is still forbidden when the
    agent would be provisioned (the verification fails, no agent exists); the holder
    proving on their own device passes."""
    c = auth_client
    chain_token(c, party, 2)
    created = rp_created(c, party.shop)
    party.alice.get_token(c, BASE)
    path = f"/v1/approvals/{created.id}"
    r = c.post(path, json={"decision": "approve"}, headers=party.alice.auth("POST", BASE + path))
    assert r.status_code == 200, r.text
    hreq = holder_fetch(c, created)
    cred = adult(creds)
    if mode == "delegated":
        r = holder_present(c, hreq, delegated_body(cred, holder.secret))
        body = assert_problem(r, 403, "policy_denied")
        assert body["type"] == "urn:zkattest:problem:presentation-refused"
        st = rp_read(c, party.shop, created).json()
        assert st["status"] == "failed" and st["reason"] == "policy_denied"
        assert st["agent_id"] is None and st["attestation"] is None
        assert sum(count(c)["agents"].values()) == 0
        # the presentation token was used up: no second try in proof mode
        r = holder_present(c, hreq, proof_body(prove(auth_res, holder, cred, hreq)))
        assert_problem(r, 409, "replay")
    else:
        r = holder_present(c, hreq, proof_body(prove(auth_res, holder, cred, hreq)))
        assert r.status_code == 200, r.text
        st = rp_read(c, party.shop, created).json()
        assert st["status"] == "completed" and st["result"] is True
        assert count(c)["agents"]["retired"] == 1


def test_provision_rechecks_the_registry(
    auth_client: TestClient[Litestar],
    auth_res: Resources,
    party: Party,
    holder: Holder,
    creds: Callable[[int], Credential],
) -> None:
    """The policy is asked again when the agent is provisioned, with the registry as it
    is then: a client whose audience was withdrawn meanwhile gets no agent."""
    c = auth_client
    party.shop.get_token(c, BASE)
    created = rp_created(c, party.shop)
    reg = ClientRegistry(auth_res.config.clients_path)
    reg.add(
        client_from_json(
            {
                "client_id": "shop",
                "name": "Shop",
                "jwks": party.shop.jwks(),
                "predicates": ["age_gte"],
                "audiences": ["https://elsewhere.example"],
            }
        ),
        replace=True,
    )
    hreq = holder_fetch(c, created)
    r = holder_present(c, hreq, delegated_body(adult(creds), holder.secret))
    assert_problem(r, 403, "policy_denied")
    assert sum(count(c)["agents"].values()) == 0


# -- delegation.cedar: delegate-max-depth (token exchange) ------------------------------------


def _exchange(c: TestClient[Litestar], rp: Any, subject: str) -> Any:
    form = exchange_form(subject)
    r = rp.token_request(c, BASE, form)
    if r.status_code == 400 and r.json()["error"] == "use_dpop_nonce":
        r = rp.token_request(c, BASE, form)
    return r


def test_exchange_beyond_policy_depth(
    auth_res: Resources, tmp_path: Path, party: Party, app_of: Callable[..., Any]
) -> None:
    """The operator allows no delegation (depth <= 0): the first exchange is refused
    by policy (invalid_grant naming the decision); the client's own tokens still work."""
    d = policy_dir(tmp_path, {"delegation.cedar": ("context.depth <= 2", "context.depth <= 0")})
    c = app_of(with_policy(auth_res, d))
    alice = party.alice.get_token(c, BASE)
    r = _exchange(c, party.assistant, alice["access_token"])
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_grant"
    assert "policy" in body["error_description"]
    assert "default-deny" in body["error_description"]
    assert r.headers["cache-control"] == "no-store"
    party.assistant.get_token(c, BASE)  # client_credentials: no delegation, no policy


def test_default_policy_stops_a_third_hop(
    auth_client: TestClient[Litestar], auth_res: Resources, party: Party
) -> None:
    """Default policy: at most 2 hops.  Let the shop pass alice's chain on to "other":
    the third hop is refused by policy (the service's own cap is 4)."""
    c = auth_client
    reg = ClientRegistry(auth_res.config.clients_path)
    reg.add(
        client_from_json(
            {
                "client_id": "shop",
                "name": "Shop",
                "jwks": party.shop.jwks(),
                "predicates": ["age_gte"],
                "audiences": [RP],
                "delegates": ["other"],
            }
        ),
        replace=True,
    )
    chain_token(c, party, 2)
    assert party.shop.token is not None
    r = _exchange(c, party.other, party.shop.token)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_grant"
    assert "policy" in r.json()["error_description"], r.json()


def test_service_cap_is_below_the_policy(
    auth_res: Resources, tmp_path: Path, party: Party, app_of: Callable[..., Any]
) -> None:
    """max_delegation_depth = 1 caps what the policy would allow (2)."""
    c = app_of(with_policy(auth_res, policy_dir(tmp_path), max_delegation_depth=1))
    chain_token(c, party, 1)
    assert party.assistant.token is not None
    r = _exchange(c, party.shop, party.assistant.token)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_grant"
    assert "policy" not in r.json()["error_description"]


# -- broken policy directories ----------------------------------------------------------------


BROKEN: list[tuple[str, str, tuple[str, str], tuple[str, ...]]] = [
    # (case, file, (old, new), what the message must name)
    (
        "syntax",
        "access.cedar",
        ("principal.audiences.contains(resource)", "principal.audiences.contains(resource"),
        ("access.cedar", "syntax"),
    ),
    (
        "unknown-attribute",
        "limits.cedar",
        ("context.rate > 600", "context.rates > 600"),
        ("limits.cedar", "rate-limit"),
    ),
    (
        "type-error",
        "step_up.cedar",
        ("context.risk >= 70", 'context.risk >= "high"'),
        ("step_up.cedar", "step-up-high-risk"),
    ),
    (
        "missing-id",
        "delegation.cedar",
        ('@id("delegate-max-depth")\n', ""),
        ("delegation.cedar", "@id"),
    ),
    (
        "duplicate-id",
        "step_up.cedar",
        ('@id("step-up-high-risk")', '@id("step-up-delegation-depth")'),
        ("step-up-delegation-depth",),
    ),
    (
        "schema-syntax",
        "zkattest.cedarschema",
        ("entity Audience;", "entity Audience"),
        ("zkattest.cedarschema",),
    ),
    (
        "schema-drops-a-field",
        "zkattest.cedarschema",
        ("  approved: Bool,\n", ""),
        ("zkattest.cedarschema",),
    ),
]


@pytest.mark.parametrize(
    ("file", "edit", "names"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_broken_policy_dir_stops_bootstrap(
    file: str,
    edit: tuple[str, str],
    names: tuple[str, ...],
    resources: Resources,
    tmp_path: Path,
) -> None:
    d = policy_dir(tmp_path, {file: edit})
    cfg = msgspec.structs.replace(resources.config, policy_dir=str(d))
    with pytest.raises(ConfigError) as e:
        bootstrap(cfg, progress=False)
    msg = str(e.value)
    assert msg.startswith("policy_dir: "), msg
    for name in names:
        assert name in msg, (name, msg)


def test_unedited_copy_loads(resources: Resources, tmp_path: Path) -> None:
    """The control for the cases above: the copy itself is fine."""
    res = with_policy(resources, policy_dir(tmp_path))
    assert "rate-limit" in res.policy.policy_ids


# -- require_auth = false: the anonymous flow, no policy ---------------------------------------


def test_anonymous_mode_skips_policy(
    client: TestClient[Litestar], holder: Holder, creds: Callable[[int], Credential]
) -> None:
    """min_age 12 is outside the default policy's window, but without OAuth there is
    no principal and no policy: the old flow works and says nothing about clients."""
    c = client
    verifier = secrets.token_urlsafe(48)
    created = check_created(
        c.post("/v1/verifications", json=create_body(verifier, min_age=12)), verifier
    )
    for absent in ("policy", "client_id", "subject", "act", "poll_interval"):
        assert absent not in created.body
    hreq = holder_fetch(c, created)
    r = holder_present(c, hreq, delegated_body(adult(creds), holder.secret))
    assert r.status_code == 200, r.text
    r = c.get(created.read_path, params=created.read_params)
    assert r.status_code == 200, r.text
    st = r.json()
    assert st["status"] == "completed" and st["result"] is True
    claims = jwt.decode(st["attestation"], options={"verify_signature": False})
    svid = jwt.decode(claims["svid"], options={"verify_signature": False})
    for name in ("client_id", "obo", "act"):
        assert name not in claims and name not in svid
