"""The audit trail of a running service, read back over HTTP and from the database.

One module-scoped scenario drives every kind of flow through one OAuth-protected app
(holder-side proving, delegated proving for a delegating person, a two-hop chain
stepped up and approved, a step-up denied, a delegated presentation refused at
provisioning, a policy denial, a refused token request), then an administrator pages
through ``GET /v1/audit`` and, after shutdown, ``zkattest audit export`` writes the
trail.  The tests check that the trail verifies against ``GET /v1/audit/key`` alone,
that every expected event is there with the right actor, subject, delegation chain and
outcome, that each agent's events link back to the decisions that allowed it, that
nothing secret is in it, and that a tampered line is caught.  Other tests: the
endpoint's refusals, a restart continuing the chain, two writers with one chain id,
with ``ZKATTEST_TEST_DATABASE_URL`` set, the scenario, the restart and the two writers
run on PostgreSQL too (each in a schema of its own, dropped afterwards).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import os
import secrets
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from zkattest import cli
from zkattest.audit import (
    AuditEvent,
    Checkpoint,
    MalformedRecord,
    decode_record,
    iter_jsonl,
    public_jwk,
    verify_trail,
)
from zkattest.credentials import Credential, Holder
from zkattest.identity.jose import EcKey, EcPublicKey
from zkattest.oauth.clients import ClientRegistry, client_from_json
from zkattest.service import Resources, create_app

from .conftest import (
    BASE,
    RP,
    Created,
    Party,
    assert_problem,
    check_created,
    create_body,
    delegated_body,
    exchange_form,
    proof_body,
    prove,
    register,
    services,
    with_db,
)
from .stock_rp import StockRP
from .test_oauth_flow import adult, holder_fetch, holder_present, rp_create, rp_created, rp_read

CHAIN2 = {"sub": "shop", "act": {"sub": "assistant"}}
PG_URL = os.environ.get("ZKATTEST_TEST_DATABASE_URL", "")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(not PG_URL, reason="ZKATTEST_TEST_DATABASE_URL is not set"),
    ),
]


@contextlib.contextmanager
def database(backend: str) -> Iterator[dict[str, str]]:
    """Config overrides for a fresh database of ``backend`` (none: SQLite in the test's
    directory; PostgreSQL: a new schema, dropped afterwards)."""
    if backend == "sqlite":
        yield {}
        return
    schema = f"zk_audit_{secrets.token_hex(6)}"
    parts = urllib.parse.urlsplit(PG_URL)
    query = dict(urllib.parse.parse_qsl(parts.query), schema=schema)
    url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    try:
        yield {"database_url": url}
    finally:
        asyncio.run(_drop_schema(schema))


async def _drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


# -- helpers ---------------------------------------------------------------------------------


def admin_res(res: Resources, auditor: StockRP) -> Resources:
    """``res`` with ``auditor`` registered as an administrator (scope ``audit``)."""
    reg = ClientRegistry(res.config.clients_path)
    reg.add(
        client_from_json({"client_id": auditor.client_id, "jwks": auditor.jwks(), "admin": True}),
        replace=True,
    )
    return dataclasses.replace(res, clients=ClientRegistry(res.config.clients_path))


def fresh_res(
    resources: Resources, root: Path, party: Party, auditor: StockRP, **config: Any
) -> Resources:
    """The session's resources with their own database and client registry in
    ``root``: the party's clients and the auditor."""
    config.setdefault("sweep_interval", 3600.0)  # no periodic checkpoint unless asked
    url = config.pop("database_url", None)
    r = with_db(resources, root / "db", clients_file=str(root / "clients.json"), **config)
    if url is not None:
        r = dataclasses.replace(r, config=msgspec.structs.replace(r.config, database_url=url))
    register(r, party)
    return admin_res(r, auditor)


def audit_get(c: TestClient[Litestar], auditor: StockRP, **params: str) -> Any:  # httpx.Response
    return c.get("/v1/audit", params=params, headers=auditor.auth("GET", f"{BASE}/v1/audit"))


def page_through(c: TestClient[Litestar], auditor: StockRP, limit: int) -> list[bytes]:
    """Every record via GET /v1/audit, ``limit`` at a time, as trail lines; checks that
    each page's records are, byte for byte, in the response body."""
    lines: list[bytes] = []
    after: str | None = None
    cursors: set[str] = set()
    while True:
        params = {"limit": str(limit)} if after is None else {"limit": str(limit), "after": after}
        r = audit_get(c, auditor, **params)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        assert set(body) == {"records", "next"}
        assert len(body["records"]) <= limit
        for rec in body["records"]:
            line = json.dumps(rec, separators=(",", ":")).encode()
            assert line in r.content  # the exact bytes, not a re-encoding
            lines.append(line)
        if body["next"] is None:
            return lines
        assert isinstance(body["next"], str) and body["next"] not in cursors
        cursors.add(body["next"])
        after = body["next"]


def records(lines: list[bytes]) -> list[AuditEvent | Checkpoint | MalformedRecord]:
    return list(iter_jsonl(io.BytesIO(b"".join(line + b"\n" for line in lines))))


def events(lines: list[bytes]) -> list[AuditEvent]:
    return [r for r in records(lines) if isinstance(r, AuditEvent)]


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(list(argv))
    return code, out.getvalue()


def refs(ev: AuditEvent) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(ev.refs)
    return out


def act(ev: AuditEvent) -> Any:
    return None if ev.act is None else msgspec.to_builtins(ev.act)


class Graph:
    """The events of a trail by (chain, seq), for following links."""

    def __init__(self, evs: list[AuditEvent]) -> None:
        self.evs = evs
        self.at = {(e.chain_id, e.seq): e for e in evs}

    def of(self, kind: str, **want: Any) -> list[AuditEvent]:
        return [
            e
            for e in self.evs
            if e.kind == kind and all(refs(e).get(k) == v for k, v in want.items())
        ]

    def one(self, kind: str, **want: Any) -> AuditEvent:
        found = self.of(kind, **want)
        assert len(found) == 1, (kind, want, found)
        return found[0]

    def back(self, ev: AuditEvent) -> list[AuditEvent]:
        """``ev`` and the events reached by following each one's single link back."""
        path = [ev]
        while path[-1].links:
            (link,) = path[-1].links
            target = self.at[(link.chain_id, link.seq)]
            assert target.hash == link.hash
            path.append(target)
        return path


# -- the scenario ----------------------------------------------------------------------------


@dataclasses.dataclass
class Scenario:
    res: Resources
    chain_id: str
    key_jwk: dict[str, str]
    lines: list[bytes]  # GET /v1/audit, 7 records a page, while the app ran
    lines_one_page: list[bytes]  # the same, 1000 a page
    export: Path  # zkattest audit export, after shutdown
    ids: dict[str, str]
    secrets: dict[str, str]
    spiffe: dict[str, str]


@pytest.fixture(scope="session")
def auditor() -> StockRP:
    return StockRP("auditor")


@pytest.fixture(scope="module", params=BACKENDS)
def scenario(
    request: pytest.FixtureRequest,
    resources: Resources,
    tmp_path_factory: pytest.TempPathFactory,
    party: Party,
    auditor: StockRP,
    holder: Holder,
    creds: Callable[[int], Credential],
) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("audit-scenario")
    with database(request.param) as db:
        yield _run_scenario(
            fresh_res(resources, root, party, auditor, require_auth=True, **db),
            root,
            party,
            auditor,
            holder,
            creds,
        )


def _run_scenario(
    res: Resources,
    root: Path,
    party: Party,
    auditor: StockRP,
    holder: Holder,
    creds: Callable[[int], Credential],
) -> Scenario:
    cred = adult(creds)
    ids: dict[str, str] = {}
    spiffe: dict[str, str] = {}
    tokens: list[str] = []
    verifiers: list[str] = []
    handles: list[str] = []
    proofs: list[str] = []

    def keep(created: Created) -> Created:
        verifiers.append(created.verifier)
        handles.append(created.request_path.rsplit("/", 1)[-1])
        return created

    def token(rp: StockRP, form: dict[str, str] | None = None) -> None:
        rp.get_token(c, BASE, form)
        assert rp.token is not None
        tokens.append(rp.token)

    def finish(created: Created, rp: StockRP, key: str) -> None:
        st = rp_read(c, rp, created).json()
        assert st["status"] == "completed" and st["result"] is True, st
        tokens.append(st["attestation"])
        ids[key] = created.id
        spiffe[key] = c.get(f"/v1/agents/{st['agent_id']}").json()["spiffe_id"]

    with TestClient(create_app(resources=res)) as c:
        # 1. the shop for itself, the holder proves on their device
        token(party.shop)
        created = keep(rp_created(c, party.shop))
        hreq = holder_fetch(c, created)
        handles.append(hreq["presentation_token"])
        pres = prove(res, holder, cred, hreq)
        proofs.append(str(pres["proof"]["pi_a"][0]))
        assert holder_present(c, hreq, proof_body(pres)).status_code == 200
        finish(created, party.shop, "direct")

        # 2. the assistant for alice (one hop); a micro-agent proves (delegated)
        token(party.alice)
        alice_token = party.alice.token
        assert alice_token is not None
        token(party.assistant, exchange_form(alice_token))
        created = keep(rp_created(c, party.assistant))
        hreq = holder_fetch(c, created)
        handles.append(hreq["presentation_token"])
        r = holder_present(c, hreq, delegated_body(cred, holder.secret))
        assert r.status_code == 200, r.text
        finish(created, party.assistant, "delegated")

        # 3. the shop for alice through her assistant (two hops): stepped up; alice
        # approves; the holder proves
        asst_token = party.assistant.token
        assert asst_token is not None
        token(party.shop, exchange_form(asst_token))
        created = keep(rp_created(c, party.shop))
        assert created.body["status"] == "awaiting_approval"
        party.alice.token = alice_token
        path = f"/v1/approvals/{created.id}"
        r = c.post(
            path, json={"decision": "approve"}, headers=party.alice.auth("POST", BASE + path)
        )
        assert r.status_code == 200, r.text
        hreq = holder_fetch(c, created)
        handles.append(hreq["presentation_token"])
        pres = prove(res, holder, cred, hreq)
        proofs.append(str(pres["proof"]["pi_a"][0]))
        assert holder_present(c, hreq, proof_body(pres)).status_code == 200
        finish(created, party.shop, "chain")

        # 4. the same chain again: alice denies
        created = keep(rp_created(c, party.shop))
        path = f"/v1/approvals/{created.id}"
        r = c.post(path, json={"decision": "deny"}, headers=party.alice.auth("POST", BASE + path))
        assert r.status_code == 200, r.text
        ids["denied_approval"] = created.id

        # 5. and again, approved, but delegated proving this deep is refused when the
        # agent would be provisioned
        created = keep(rp_created(c, party.shop))
        path = f"/v1/approvals/{created.id}"
        r = c.post(
            path, json={"decision": "approve"}, headers=party.alice.auth("POST", BASE + path)
        )
        assert r.status_code == 200, r.text
        hreq = holder_fetch(c, created)
        handles.append(hreq["presentation_token"])
        assert_problem(
            holder_present(c, hreq, delegated_body(cred, holder.secret)), 403, "policy_denied"
        )
        ids["refused_provision"] = created.id

        # 6. a policy denial (an audience the other RP is not registered for)
        token(party.other)
        r, verifier = rp_create(c, party.other, audience=RP)
        assert_problem(r, 403, "policy_denied")
        verifiers.append(verifier)

        # 7. a refused token request (a scope the shop may not have)
        form = {"grant_type": "client_credentials", "scope": "approve"}
        r = party.shop.token_request(c, BASE, form)
        assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text

        # the administrator reads the trail
        token(auditor)
        key_jwk = c.get("/v1/audit/key").json()
        lines = page_through(c, auditor, 7)
        lines_one_page = page_through(c, auditor, 1000)
        chain_id = services(c.app).audit.chain_id

    export = root / "trail.jsonl"
    code, _ = run_cli("audit", "export", "--database-url", res.config.db_url, "--out", str(export))
    assert code == 0
    leaked = {
        "holder_secret": str(holder.secret),
        "birthdate": str(cred.attrs[1]),
        "holder_commitment": str(cred.holder_commitment),
        "salt": str(cred.salt),
        "signature_s": str(cred.signature.s),
    }
    for i, t in enumerate(tokens):
        leaked[f"token{i}"] = t
    for i, v in enumerate(verifiers):
        leaked[f"code_verifier{i}"] = v
    for i, h in enumerate(handles):
        leaked[f"handle{i}"] = h
    for i, p in enumerate(proofs):
        leaked[f"proof{i}"] = p
    return Scenario(res, chain_id, key_jwk, lines, lines_one_page, export, ids, leaked, spiffe)


# -- the trail verifies --------------------------------------------------------------------


def test_trail_verifies_against_the_published_key(scenario: Scenario) -> None:
    key = EcPublicKey.from_jwk(scenario.key_jwk)
    assert scenario.key_jwk == public_jwk(scenario.res.audit_key)
    report = verify_trail(records(scenario.lines), key)
    assert report.ok, report.first_error
    assert report.malformed == 0
    assert [ch.chain_id for ch in report.chains] == [scenario.chain_id]
    assert report.events == len(events(scenario.lines)) > 30


def test_paging_returns_every_record_once(scenario: Scenario) -> None:
    assert scenario.lines == scenario.lines_one_page
    assert len(set(scenario.lines)) == len(scenario.lines)
    evs = events(scenario.lines)
    assert [e.seq for e in evs] == list(range(len(evs)))  # no gap, no repeat


def test_export_is_the_trail_file_and_verifies_signed(scenario: Scenario) -> None:
    data = scenario.export.read_bytes()
    assert data.endswith(b"\n")
    exported = data.split(b"\n")[:-1]
    # what the app served while running is all there, byte for byte; shutdown added
    # the final checkpoint (and the last events of the administrator's reads)
    assert set(scenario.lines) <= set(exported)
    assert isinstance(decode_record(exported[-1]), Checkpoint)
    key_file = scenario.export.parent / "audit-key.json"
    key_file.write_text(json.dumps(scenario.key_jwk))
    code, out = run_cli(
        "audit", "verify", str(scenario.export), "--key", str(key_file), "--require-signed"
    )
    assert code == 0, out
    assert "OK" in out
    code, out = run_cli("audit", "verify", str(scenario.export), "--key", str(key_file), "--json")
    doc = json.loads(out)
    assert doc["ok"] is True and doc["unsigned"] == 0 and doc["exit"] == 0
    # the checkpoints are the audit key's: another key does not verify them
    key_file.write_text(json.dumps(public_jwk(EcKey.generate())))
    code, out = run_cli("audit", "verify", str(scenario.export), "--key", str(key_file))
    assert code == 1 and "bad checkpoint signature" in out, out


@pytest.mark.parametrize("what", ["outcome", "drop", "swap"])
def test_a_tampered_export_names_the_broken_link(
    scenario: Scenario, tmp_path: Path, what: str
) -> None:
    lines = scenario.export.read_bytes().split(b"\n")[:-1]
    recs = [decode_record(x) for x in lines]
    # a completion followed by another event (not by a checkpoint)
    i = next(
        i
        for i, e in enumerate(recs[:-1])
        if isinstance(e, AuditEvent)
        and e.kind == "verification.completed"
        and isinstance(recs[i + 1], AuditEvent)
    )
    ev = recs[i]
    assert isinstance(ev, AuditEvent)
    if what == "outcome":  # a "yes" becomes a "no": its hash no longer matches
        assert lines[i].count(b'"outcome":"yes"') == 1
        lines[i] = lines[i].replace(b'"outcome":"yes"', b'"outcome":"no"')
        broken_seq = ev.seq
    elif what == "drop":  # an event removed: the next one's seq has a gap
        del lines[i]
        broken_seq = ev.seq + 1
    else:  # two events swapped: the later one comes first, a gap
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
        broken_seq = ev.seq + 1
    bad = tmp_path / "tampered.jsonl"
    bad.write_bytes(b"".join(x + b"\n" for x in lines))
    # the key as `zkattest audit key` prints it (PEM) from the server's data directory
    code, pem = run_cli("audit", "key", "--data-dir", str(scenario.res.config.data_path))
    assert code == 0 and pem.startswith("-----BEGIN PUBLIC KEY-----")
    key_file = tmp_path / "audit.pem"
    key_file.write_text(pem)
    code, text = run_cli("audit", "verify", str(bad), "--key", str(key_file))
    assert code == 1, text
    assert f"chain {scenario.chain_id}, seq {broken_seq}" in text, text
    assert "BROKEN" in text


def test_no_secret_in_the_trail(scenario: Scenario) -> None:
    blob = scenario.export.read_bytes()
    for name, value in scenario.secrets.items():
        assert len(value) >= 8, name
        assert value.encode() not in blob, name
    # no JWS-shaped value (a token, an SVID, an attestation, a DPoP proof) in an event:
    # the only JWS in a trail are its checkpoints
    for line in blob.split(b"\n")[:-1]:
        if line.startswith(b'{"event":'):
            assert b"eyJ" not in line


# -- the events ----------------------------------------------------------------------------


def test_tokens_are_audited(scenario: Scenario, party: Party) -> None:
    g = Graph(events(scenario.lines))
    shop_cc = [e for e in g.of("token.issued", client_id="shop") if e.act is None]
    assert shop_cc, "the shop's client_credentials token"
    ev = shop_cc[0]
    assert (ev.actor, ev.subject, ev.outcome) == ("shop", "shop", "ok")
    assert refs(ev)["task"] == "client_credentials"
    assert refs(ev)["scope"] == "verify:age_gte"
    assert refs(ev)["jkt"] == party.shop.jkt
    assert refs(ev)["audience"] == BASE

    (two_hops,) = [e for e in g.of("token.issued", client_id="shop") if e.act is not None]
    assert (two_hops.actor, two_hops.subject) == ("shop", "alice")
    assert act(two_hops) == CHAIN2
    assert refs(two_hops)["task"] == "token_exchange"
    # the exchange was decided by policy first, and the token links to that decision
    (decided,) = g.back(two_hops)[1:]
    assert decided.kind == "policy.decided" and decided.outcome == "allow"
    assert refs(decided)["task"] == "exchange" and refs(decided)["predicate"] == "delegate"
    assert act(decided) == CHAIN2 and decided.subject == "alice"

    one_hop = g.one("token.issued", client_id="assistant")
    assert (one_hop.subject, act(one_hop)) == ("alice", {"sub": "assistant"})

    refused = g.one("token.refused", client_id="shop")
    assert (refused.actor, refused.outcome) == ("shop", "invalid_scope")
    assert refs(refused)["task"] == "client_credentials"
    admin = g.one("token.issued", client_id="auditor")
    assert refs(admin)["scope"] == "audit"


def test_policy_denial_is_audited_and_creates_nothing(scenario: Scenario) -> None:
    g = Graph(events(scenario.lines))
    denied = [e for e in g.of("policy.decided", client_id="other") if e.outcome == "deny"]
    assert len(denied) == 1
    ev = denied[0]
    assert ev.actor == "other" and ev.subject == "other" and ev.act is None
    assert "default-deny" in refs(ev)["policy_ids"]
    assert refs(ev)["audience"] == RP and refs(ev)["task"] == "request"
    assert refs(ev)["predicate"] == "age_gte" and refs(ev)["min_age"] == 18
    assert not g.of("verification.created", client_id="other")


@pytest.mark.parametrize(
    ("key", "check", "actor", "subject", "chain"),
    [
        ("direct", "agent.verified", "shop", "shop", None),
        ("delegated", "agent.proved", "assistant", "alice", {"sub": "assistant"}),
        ("chain", "agent.verified", "shop", "alice", CHAIN2),
    ],
)
def test_each_agent_links_back_to_the_decisions(
    scenario: Scenario, key: str, check: str, actor: str, subject: str, chain: Any
) -> None:
    g = Graph(events(scenario.lines))
    vid = scenario.ids[key]
    done = g.one("verification.completed", verification_id=vid)
    assert (done.actor, done.outcome, done.subject) == ("service", "yes", subject)
    agent_id = refs(done)["agent_id"]
    retired = g.one("agent.retired", agent_id=agent_id)
    path = g.back(retired)
    kinds = [e.kind for e in path]
    approval = ["approval.decided", "approval.requested"] if key == "chain" else []
    assert kinds == [
        "agent.retired",
        "agent.attested",
        check,
        "agent.running",
        "agent.provisioned",
        "policy.decided",
        *approval,
        "verification.created",
        "policy.decided",
    ]
    retired_, attested, checked, running, provisioned, provision = path[:6]
    created, requested = path[-2], path[-1]
    # the completion follows the attestation too
    assert g.back(done)[1] == attested
    # every event of this verification names it and its delegation
    for ev in path:
        assert refs(ev).get("verification_id", vid) == vid
        assert act(ev) == (None if ev.kind == "approval.decided" else chain), ev.kind
        assert ev.subject == subject, ev.kind
    # who acted
    spiffe = scenario.spiffe[key]
    assert [e.actor for e in (attested, checked, running)] == [spiffe] * 3
    assert retired_.actor == provisioned.actor == "service"
    assert provision.actor == created.actor == requested.actor == actor
    # outcomes and references
    assert checked.outcome == "valid" and refs(checked)["circuit_id"].startswith("sha256:")
    assert refs(attested)["circuit_id"] == refs(checked)["circuit_id"]
    for ev in (retired_, attested, checked, running, provisioned):
        assert refs(ev)["agent_id"] == agent_id
    assert refs(provisioned)["task"] == check.replace("agent.verified", "verify-age_gte").replace(
        "agent.proved", "prove-age_gte"
    )
    assert refs(provisioned)["audience"] == RP and len(refs(provisioned)["jkt"]) == 43
    assert (provision.outcome, refs(provision)["task"]) == ("allow", "provision")
    assert created.outcome == "pending" or key == "chain"
    assert refs(requested)["task"] == "request"
    if key == "chain":
        assert requested.outcome == "step_up"
        assert created.outcome == "awaiting_approval"
        decided, asked = path[6], path[7]
        assert (decided.actor, decided.outcome) == ("alice", "approved")
        assert (asked.actor, asked.outcome) == ("shop", "pending")
    else:
        assert requested.outcome == "allow"


def test_denied_step_up_and_refused_provisioning(scenario: Scenario) -> None:
    g = Graph(events(scenario.lines))
    vid = scenario.ids["denied_approval"]
    failed = g.one("verification.failed", verification_id=vid)
    assert refs(failed)["reason"] == "approval_denied"
    kinds = [e.kind for e in g.back(failed)]
    assert kinds == [
        "verification.failed",
        "approval.decided",
        "approval.requested",
        "verification.created",
        "policy.decided",
    ]
    assert g.back(failed)[1].outcome == "denied"

    vid = scenario.ids["refused_provision"]
    failed = g.one("verification.failed", verification_id=vid)
    assert refs(failed)["reason"] == "policy_denied"
    path = g.back(failed)
    assert [e.kind for e in path][:3] == [
        "verification.failed",
        "policy.decided",
        "approval.decided",
    ]
    assert path[1].outcome != "allow" and refs(path[1])["task"] == "provision"
    assert not g.of("agent.provisioned", verification_id=vid)


def test_every_kind_but_expiry_and_failure_appears(scenario: Scenario) -> None:
    kinds = {e.kind for e in events(scenario.lines)}
    assert kinds == {
        "agent.attested",
        "agent.proved",
        "agent.provisioned",
        "agent.retired",
        "agent.running",
        "agent.verified",
        "approval.decided",
        "approval.requested",
        "policy.decided",
        "token.issued",
        "token.refused",
        "verification.completed",
        "verification.created",
        "verification.failed",
    }


# -- the endpoint ----------------------------------------------------------------------------


@pytest.fixture
def admin_client(
    resources: Resources, tmp_path: Path, party: Party, auditor: StockRP
) -> Iterator[TestClient[Litestar]]:
    res = fresh_res(resources, tmp_path, party, auditor, require_auth=True)
    with TestClient(create_app(resources=res)) as c:
        yield c


def test_audit_needs_an_admin_token(
    admin_client: TestClient[Litestar], party: Party, auditor: StockRP
) -> None:
    c = admin_client
    r = c.get("/v1/audit")
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].startswith("DPoP")
    party.shop.get_token(c, BASE)
    r = audit_get(c, party.shop)
    assert_problem(r, 403, "insufficient_scope")
    # only a client registered as an administrator may have the scope
    r = party.shop.token_request(c, BASE, {"grant_type": "client_credentials", "scope": "audit"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    auditor.get_token(c, BASE)
    r = audit_get(c, auditor)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    meta = c.get("/.well-known/oauth-authorization-server").json()
    assert "audit" in meta["scopes_supported"]


@pytest.mark.parametrize(
    "params",
    [
        {"after": "nonsense"},
        {"after": "chain/1"},
        {"after": "a b/1/e"},
        {"after": "x/01/e"},
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
    ],
)
def test_bad_page_parameters(
    admin_client: TestClient[Litestar], auditor: StockRP, params: dict[str, str]
) -> None:
    auditor.get_token(admin_client, BASE)
    r = audit_get(admin_client, auditor, **params)
    body = assert_problem(r, 400)
    if "after" in params:
        assert body["reason"] == "bad_cursor"


def test_audit_key_is_public(admin_client: TestClient[Litestar]) -> None:
    r = admin_client.get("/v1/audit/key")
    assert r.status_code == 200
    jwk = r.json()
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and jwk["alg"] == "ES256"
    assert "d" not in jwk
    assert jwk == public_jwk(services(admin_client.app).audit.key)


# -- lifespans -------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    with database(request.param) as overrides:
        yield overrides


def test_a_restart_continues_the_chain(
    resources: Resources, tmp_path: Path, party: Party, auditor: StockRP, db: dict[str, str]
) -> None:
    res = fresh_res(resources, tmp_path, party, auditor, **db)
    with TestClient(create_app(resources=res)) as c:
        chain_id = services(c.app).audit.chain_id
        party.shop.get_token(c, BASE)
        party.other.get_token(c, BASE)
        first = services(c.app).audit.log.next_seq
    with TestClient(create_app(resources=res)) as c:
        assert services(c.app).audit.chain_id == chain_id
        assert services(c.app).audit.log.next_seq == first  # resumed from the store
        auditor.get_token(c, BASE)
        lines = page_through(c, auditor, 1000)
    evs = events(lines)
    assert [e.seq for e in evs] == list(range(len(evs)))
    assert {e.chain_id for e in evs} == {chain_id}
    assert evs[first].actor == "auditor"  # the second life's first event
    assert evs[first].prev == evs[first - 1].hash
    report = verify_trail(records(lines), res.audit_key.public())
    assert report.ok, report.first_error
    # the first life signed its head when it closed
    (cp,) = [r for r in records(lines) if isinstance(r, Checkpoint)]
    assert cp.seq == first - 1


def test_two_live_writers_with_one_chain_id_make_one_chain(
    resources: Resources, tmp_path: Path, party: Party, auditor: StockRP, db: dict[str, str]
) -> None:
    """A misconfiguration (two replicas, one instance_id): the writer that loses a
    compare-and-append re-reads the head and retries; the chain never forks."""
    res = fresh_res(resources, tmp_path, party, auditor, **db)
    with TestClient(create_app(resources=res)) as a, TestClient(create_app(resources=res)) as b:
        for _ in range(3):
            for c, rp in ((a, party.shop), (b, party.other)):
                rp.get_token(c, BASE)
        assert services(b.app).audit.reopened + services(a.app).audit.reopened >= 3
        auditor.get_token(a, BASE)
        lines = page_through(a, auditor, 1000)
    evs = events(lines)
    assert len(evs) == 7
    assert sorted(e.actor for e in evs) == ["auditor"] + ["other"] * 3 + ["shop"] * 3
    assert verify_trail(records(lines), res.audit_key.public()).ok


def test_instance_id_names_the_chain(
    resources: Resources, tmp_path: Path, party: Party, auditor: StockRP
) -> None:
    res = fresh_res(resources, tmp_path, party, auditor, instance_id="replica-7")
    with TestClient(create_app(resources=res)) as c:
        auditor.get_token(c, BASE)
        (ev,) = events(page_through(c, auditor, 10))
    assert ev.chain_id == "replica-7" and ev.kind == "token.issued"


# -- without OAuth on the relying-party endpoints --------------------------------------------


def test_open_service_audits_anonymous_requests(
    resources: Resources,
    tmp_path: Path,
    party: Party,
    auditor: StockRP,
    holder: Holder,
    creds: Callable[[int], Credential],
) -> None:
    res = fresh_res(resources, tmp_path, party, auditor, require_auth=False)
    with TestClient(create_app(resources=res)) as c:
        verifier = secrets.token_urlsafe(48)
        created = check_created(c.post("/v1/verifications", json=create_body(verifier)), verifier)
        hreq = holder_fetch(c, created)
        body = proof_body(prove(res, holder, adult(creds), hreq))
        assert holder_present(c, hreq, body).status_code == 200
        # the trail still needs an administrator's token
        assert_problem(c.get("/v1/audit"), 401)
        auditor.get_token(c, BASE)
        lines = page_through(c, auditor, 1000)
    g = Graph(events(lines))
    done = g.one("verification.completed", verification_id=created.id)
    assert done.subject is None and done.act is None
    kinds = [e.kind for e in g.back(g.one("agent.retired", agent_id=refs(done)["agent_id"]))]
    assert kinds == [
        "agent.retired",
        "agent.attested",
        "agent.verified",
        "agent.running",
        "agent.provisioned",
        "verification.created",
    ]
    assert g.one("verification.created").actor == "anonymous"
    assert verify_trail(records(lines), res.audit_key.public()).ok
