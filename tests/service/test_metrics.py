"""GET /metrics: the Prometheus exposition after real flows (holder-side, delegated,
refused), OAuth and policy counters with the auth fixtures, pool saturation read at
scrape time, one registry per app, and nothing identifying in any label."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from zkattest.agents import Saturated
from zkattest.credentials import Credential, Holder
from zkattest.service import Resources, create_app
from zkattest.service.metrics import Metrics

from .conftest import (
    BASE,
    LEAP_BIRTHDATE,
    RP,
    Party,
    create,
    create_body,
    delegated_body,
    exchange_form,
    fetch,
    present,
    proof_body,
    prove,
    read,
    services,
)
from .test_oauth_flow import rp_created

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
PRESENT = "/v1/verifications/{vid}/presentation"


def scrape(c: TestClient[Litestar]) -> tuple[Samples, str]:
    """Every sample of GET /metrics by (name, sorted labels), and the raw text."""
    r = c.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out, r.text


def val(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when the series does not exist (a counter never incremented)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def requests(samples: Samples, route: str, method: str, status: int) -> float:
    labels = {"route": route, "method": method, "status": str(status)}
    return val(samples, "zkattest_http_requests_total", **labels)


def outcomes(samples: Samples, mode: str, outcome: str, reason: str = "") -> float:
    labels = {"mode": mode, "outcome": outcome, "reason": reason}
    return val(samples, "zkattest_verification_outcomes_total", **labels)


def refusals(samples: Samples, endpoint: str, error: str, reason: str) -> float:
    labels = {"endpoint": endpoint, "error": error, "reason": reason}
    return val(samples, "zkattest_oauth_refusals_total", **labels)


def decisions(samples: Samples, action: str, stage: str, outcome: str) -> float:
    labels = {"action": action, "stage": stage, "outcome": outcome}
    return val(samples, "zkattest_policy_decisions_total", **labels)


def test_flows_are_counted(
    client: TestClient[Litestar], res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    c = client
    hidden: list[str] = [str(LEAP_BIRTHDATE), str(holder.secret)]
    ids: list[str] = []
    # holder-side proving, delegated proving, and a delegated refusal (wrong holder)
    bodies: dict[str, Callable[[dict[str, Any]], Any]] = {
        "proof": lambda hreq: proof_body(prove(res, holder, leap_cred, hreq)),
        "delegated": lambda _h: delegated_body(leap_cred, holder.secret),
        "wrong_holder": lambda _h: delegated_body(leap_cred, Holder().secret),
    }
    for name, make in bodies.items():
        created = create(c)
        hreq = fetch(c, created)
        hidden += [created.verifier, hreq["presentation_token"], created.request_path]
        r = present(c, hreq, make(hreq))
        assert r.status_code == (422 if name == "wrong_holder" else 200), r.text
        ids.append(created.id)
        if name != "wrong_holder":
            ids.append(r.json()["agent_id"])
            hidden.append(read(c, created)["attestation"])
    assert c.get("/no/such/route").status_code == 404

    m, text = scrape(c)
    # HTTP, by route template
    assert requests(m, "/v1/verifications", "POST", 201) == 3
    assert requests(m, PRESENT, "POST", 200) == 2
    assert requests(m, PRESENT, "POST", 422) == 1
    assert requests(m, "/v1/verifications/{vid}", "GET", 200) == 2
    assert requests(m, "<unmatched>", "GET", 404) == 1
    assert val(m, "zkattest_http_request_duration_seconds_count", route=PRESENT) == 3
    assert val(m, "zkattest_http_request_duration_seconds_sum", route=PRESENT) > 0
    # holder-side: one proof, valid, in a batch of one
    assert val(m, "zkattest_proofs_verified_total", verdict="valid") == 1
    assert val(m, "zkattest_proofs_verified_total", verdict="invalid") == 0
    assert val(m, "zkattest_verify_batch_size_count") == 1
    assert val(m, "zkattest_verify_batch_size_sum") == 1
    assert val(m, "zkattest_verify_batch_duration_seconds_count") == 1
    # delegated: one proof made, one refused (the wrong holder secret cannot prove)
    assert val(m, "zkattest_proofs_proved_total", outcome="ok") == 1
    assert val(m, "zkattest_proofs_proved_total", outcome="error") == 1
    assert val(m, "zkattest_prove_duration_seconds_count") == 2
    # outcomes
    assert outcomes(m, "proof", "yes") == 1
    assert outcomes(m, "delegated", "yes") == 1
    assert outcomes(m, "delegated", "failed", "wrong_holder") == 1
    # agents: transitions as they happened, states from the store at scrape time
    transitions = {
        ("none", "provisioned"): 3,
        ("provisioned", "running"): 3,
        ("running", "attested"): 2,
        ("attested", "retired"): 2,
        ("running", "failed"): 1,
    }
    for (frm, to), n in transitions.items():
        assert val(m, "zkattest_agent_transitions_total", **{"from": frm, "to": to}) == n
    assert val(m, "zkattest_agents", state="retired") == 2
    assert val(m, "zkattest_agents", state="failed") == 1
    assert val(m, "zkattest_agents", state="running") == 0
    assert val(m, "zkattest_verifications", status="completed") == 2
    assert val(m, "zkattest_verifications", status="failed") == 1
    # the pool, idle again
    cfg = res.config
    assert val(m, "zkattest_pool_capacity", kind="job") == cfg.n_workers + cfg.queue
    assert val(m, "zkattest_pool_capacity", kind="verify") == cfg.verify_queue
    assert val(m, "zkattest_pool_in_flight", kind="job") == 0
    assert val(m, "zkattest_pool_in_flight", kind="verify") == 0
    assert val(m, "zkattest_pool_rejected_total") == 0
    assert val(m, "zkattest_pool_completed_total") == 3
    assert val(m, "zkattest_verify_batches_total") == 1
    # nothing identifying or secret anywhere in the exposition
    for value in [*hidden, *ids, "/no/such/route"]:
        assert value not in text
    # /metrics is not part of the API document
    assert "/metrics" not in c.get("/schema/openapi.json").json()["paths"]


def test_openmetrics_when_asked(client: TestClient[Litestar]) -> None:
    r = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")


def test_pool_saturation(client: TestClient[Litestar], res: Resources) -> None:
    pool = services(client.app).pool
    held = []
    with pytest.raises(Saturated):  # fill the pool, then one more
        while True:
            held.append(pool.reserve("job"))
    try:
        m, _ = scrape(client)
        assert val(m, "zkattest_pool_in_flight", kind="job") == len(held) == pool.capacity
        assert val(m, "zkattest_pool_rejected_total") == 1
    finally:
        for slot in held:
            slot.release()
    m, _ = scrape(client)
    assert val(m, "zkattest_pool_in_flight", kind="job") == 0
    assert val(m, "zkattest_pool_rejected_total") == 1  # a counter: it stays


def test_one_registry_per_app(res: Resources) -> None:
    with TestClient(create_app(resources=res)) as a, TestClient(create_app(resources=res)) as b:
        for _ in range(3):
            assert a.get("/healthz").status_code == 200
        assert b.get("/healthz").status_code == 200
        ma, _ = scrape(a)
        mb, _ = scrape(b)
    key = {"route": "/healthz", "method": "GET", "status": "200"}
    assert val(ma, "zkattest_http_requests_total", **key) == 3
    assert val(mb, "zkattest_http_requests_total", **key) == 1
    # and none of it in the process-wide default registry
    assert not [n for n in REGISTRY._names_to_collectors if n.startswith("zkattest")]


def test_oauth_and_policy_counters(
    auth_client: TestClient[Litestar],
    party: Party,
    holder: Holder,
    creds: Callable[[int], Credential],
) -> None:
    c = auth_client
    # the first token request has no DPoP nonce: refused with use_dpop_nonce, then issued
    party.shop.nonce = None
    party.shop.get_token(c, BASE)
    # a verification as the shop (policy at request, then at provision)
    created = rp_created(c, party.shop)
    hreq = fetch(c, created)
    assert present(c, hreq, delegated_body(creds(20000101), holder.secret)).status_code == 200
    # delegation: alice -> her assistant (token exchange, policy stage exchange)
    alice = party.alice.get_token(c, BASE)
    party.assistant.get_token(c, BASE, exchange_form(alice["access_token"]))
    # the resource guard refuses a bearer token and a missing one
    bearer = {"Authorization": "Bearer x.y.z"}
    body = create_body(secrets.token_urlsafe(48))
    assert c.post("/v1/verifications", json=body, headers=bearer).status_code == 401
    assert c.get(created.read_path, params=created.read_params).status_code == 401
    # a token request for a grant nobody supports
    r = party.shop.token_request(c, BASE, {"grant_type": "password"})
    assert r.status_code == 400

    m, text = scrape(c)
    assert val(m, "zkattest_oauth_tokens_issued_total", grant="client_credentials") == 2
    assert val(m, "zkattest_oauth_tokens_issued_total", grant="token_exchange") == 1
    assert refusals(m, "token", "use_dpop_nonce", "missing_nonce") >= 1
    assert refusals(m, "token", "unsupported_grant_type", "unsupported_grant_type") == 1
    assert refusals(m, "resource", "invalid_token", "bearer_scheme") == 1
    assert refusals(m, "resource", "invalid_token", "no_token") == 1
    assert decisions(m, "age_gte", "request", "allow") == 1
    assert decisions(m, "age_gte", "provision", "allow") == 1
    assert decisions(m, "delegate", "exchange", "allow") == 1
    # tokens and client ids never become labels
    assert party.shop.token is not None and party.shop.token not in text
    assert "shop" not in text and RP not in text


def test_a_failing_hook_does_not_hold_up_requests(
    res: Resources,
    holder: Holder,
    leap_cred: Credential,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The batch thread calls the metrics hook after the verdicts: a hook that raises
    is logged, the request is answered and the next batch still runs."""

    def boom(self: Metrics, size: int, failed: int, seconds: float) -> None:
        raise RuntimeError("hook")

    monkeypatch.setattr(Metrics, "verify_batch", boom)
    with TestClient(create_app(resources=res)) as c:
        for _ in range(2):
            hreq = fetch(c, create(c))
            r = present(c, hreq, proof_body(prove(res, holder, leap_cred, hreq)))
            assert r.status_code == 200, r.text
            assert r.json()["result"] is True
    failures = [r for r in caplog.records if r.getMessage() == "the verify_batch hook failed"]
    assert len(failures) == 2
