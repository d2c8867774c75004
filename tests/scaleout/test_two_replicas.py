"""Two ``zkattest serve`` processes as replicas of one service: one PostgreSQL schema
(the same ``database_url``) and one data directory (trust-domain key, OAuth signing
key, dev issuer, ``clients.json``; circuit keys in ``$ZKATTEST_KEY_DIR``), two ports.

Why one data directory: the key files are what makes two processes one service
(same SPIFFE trust domain key, same OAuth signing key, same DPoP-nonce key derived
from it, same client registry), and the service creates them atomically, so the two
first starts on an empty directory end with one set (checked below).  Separate
directories with copied key files would work the same; sharing is the simpler way to
keep the registry in step (``zkattest clients add`` writes one file).

Why one ``public_url``: an access token is for one API (``aud``) from one issuer
(``iss``), both the service's base URL, and a DPoP proof names the URL it was made
for (``htu``), which the service compares with its base URL + path.  Two replicas
with their own addresses as base URLs would be two issuers, and a token or proof
for one would be refused by the other; behind a load balancer they share the
public URL.  So both replicas get ``public_url`` = replica A's address; the tests
build every proof's ``htu`` and every client assertion's ``aud`` from it and send
the request to whichever replica's port they mean (as a load balancer would route).

What is proved: every one-use step is decided by the shared database, whichever
replica gets each attempt (a request URI, a presentation token, a DPoP proof's
``jti``, a client assertion's ``jti``: of concurrent attempts spread over both, one
wins; a replay on the other replica is refused), a verification made on one
replica completes on the other, with tokens from either replica good on both, and
the audit trail in the shared database holds one signed hash chain per replica
that ``zkattest audit export`` + ``zkattest audit verify`` accept.

Every race and replay check fails when the store decides nothing across processes:
each replica on a schema of its own, a check-then-write ``claim_request`` or
``use_once``, or no ``jti`` cache at all (each tried while writing these tests).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.stock_rp import StockRP
from zkattest.credentials import Credential, Holder, Issuer, KeyStore, Request

from .conftest import KEY_DIR, Pair, Replica, cli, race, register

RP = "https://shop.example"
BIRTHDATE = 19900101  # of age: the proofs below answer yes
N = 10  # concurrent attempts per race, half through each replica


def _statuses(rs: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in rs)


def _reason(r: httpx.Response) -> Any:
    return r.json().get("reason")


def _challenge() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Party:
    """The relying party and a holder, driving the flow against chosen replicas."""

    def __init__(self, pair: Pair) -> None:
        self.pair = pair
        self.rp = StockRP(f"shop-{secrets.token_hex(3)}")
        register(pair, self.rp.client_id, self.rp.jwks(), RP)
        self.http = {r.name: r.client() for r in pair.both}
        self.tokens: dict[str, str] = {}
        for r in pair.both:  # a token from each replica (the same issuer: pair.public)
            self.rp.get_token(self.http[r.name], pair.public)
            assert self.rp.token is not None
            self.tokens[r.name] = self.rp.token
        self.holder = Holder()
        issuer = Issuer.load(pair.data / "dev-issuer.json")
        self.cred: Credential = issuer.issue(
            {"birthdate": BIRTHDATE}, self.holder.commitment, expires=29991231
        )
        self.keys = KeyStore(KEY_DIR)

    def close(self) -> None:
        for c in self.http.values():
            c.close()

    def auth(self, method: str, path: str, *, token_from: str = "A") -> dict[str, str]:
        """OAuth headers for a request to ``path``: a token from replica ``token_from``
        and a fresh DPoP proof whose ``htu`` is the public URL + path."""
        self.rp.token = self.tokens[token_from]
        return self.rp.auth(method, self.pair.public + path)

    def create(self, on: Replica) -> tuple[dict[str, Any], str]:
        verifier, challenge = _challenge()
        body = {
            "predicate": "age_gte",
            "params": {"min_age": 18},
            "audience": RP,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        r = self.http[on.name].post(
            "/v1/verifications", json=body, headers=self.auth("POST", "/v1/verifications")
        )
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        # URIs are built from the public URL, whichever replica answered
        assert created["request_uri"].startswith(self.pair.public + "/v1/requests/")
        return created, verifier

    def fetch(self, on: Replica, created: dict[str, Any]) -> dict[str, Any]:
        r = self.http[on.name].get(self.pair.via(on, created["request_uri"]))
        assert r.status_code == 200, r.text
        hreq: dict[str, Any] = r.json()
        return hreq

    def proof_body(self, hreq: dict[str, Any]) -> dict[str, Any]:
        req = Request.from_json(json.dumps(hreq["request"]))
        pres = self.holder.present(self.cred, req, keys=self.keys)
        return {"mode": "proof", "presentation": json.loads(pres.to_json())}

    def read(self, on: Replica, vid: str, verifier: str, *, token_from: str) -> httpx.Response:
        path = f"/v1/verifications/{vid}"
        return self.http[on.name].get(
            path,
            params={"code_verifier": verifier},
            headers=self.auth("GET", path, token_from=token_from),
        )


@pytest.fixture(scope="module")
def party(pair: Pair) -> Iterator[Party]:
    p = Party(pair)
    yield p
    p.close()


def test_one_service_from_two_first_starts(pair: Pair) -> None:
    """Both processes started together on an empty data directory and schema: they
    ended with the same keys (one trust domain, one OAuth issuer) and both answer."""
    seen = []
    for r in pair.both:
        with r.client() as c:
            seen.append(
                (
                    c.get("/.well-known/spiffe-bundle").json(),
                    c.get("/oauth/jwks").json(),
                    c.get("/.well-known/oauth-authorization-server").json()["issuer"],
                    c.get("/readyz").json()["store"],
                )
            )
    assert seen[0] == seen[1]
    assert seen[0][2] == pair.public and seen[0][3] == "ok"


def test_request_uri_once_across_replicas(pair: Pair, party: Party) -> None:
    created, _ = party.create(pair.a)

    def fetch(r: Replica, c: httpx.Client) -> httpx.Response:
        return c.get(pair.via(r, created["request_uri"]))

    rs = race(pair, N, fetch)
    assert _statuses(rs) == {200: 1, 410: N - 1}, [r.text for r in rs]
    assert all(_reason(r) == "used" for r in rs if r.status_code == 410)
    # and again later, through each replica
    for r in pair.both:
        late = party.http[r.name].get(pair.via(r, created["request_uri"]))
        assert late.status_code == 410 and _reason(late) == "used"


def test_presentation_once_across_replicas(pair: Pair, party: Party) -> None:
    created, verifier = party.create(pair.b)
    hreq = party.fetch(pair.a, created)
    body = party.proof_body(hreq)
    bearer = {"Authorization": f"Bearer {hreq['presentation_token']}"}

    def present(r: Replica, c: httpx.Client) -> httpx.Response:
        return c.post(pair.via(r, hreq["presentation_uri"]), json=body, headers=bearer)

    rs = race(pair, N, present)
    assert _statuses(rs) == {200: 1, 409: N - 1}, [r.text for r in rs]
    assert all(_reason(r) == "replay" for r in rs if r.status_code == 409)
    won = next(r for r in rs if r.status_code == 200).json()
    assert won["status"] == "completed" and won["result"] is True
    # both replicas report the one outcome
    for r in pair.both:
        st = party.read(r, created["id"], verifier, token_from=r.name)
        assert st.status_code == 200, st.text
        assert st.json()["status"] == "completed" and st.json()["agent_id"] == won["agent_id"]


def test_verification_moves_between_replicas(pair: Pair, party: Party) -> None:
    """Created on A; the holder fetches and presents on B; the RP reads on A with B's
    token and on B with A's token; A verifies the attestation B's agent signed."""
    created, verifier = party.create(pair.a)
    hreq = party.fetch(pair.b, created)
    assert hreq["presentation_uri"].startswith(pair.public + "/")
    r = party.http["B"].post(
        pair.via(pair.b, hreq["presentation_uri"]),
        json=party.proof_body(hreq),
        headers={"Authorization": f"Bearer {hreq['presentation_token']}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["result"] is True
    on_a = party.read(pair.a, created["id"], verifier, token_from="B")
    on_b = party.read(pair.b, created["id"], verifier, token_from="A")
    assert on_a.status_code == on_b.status_code == 200, (on_a.text, on_b.text)
    assert on_a.json() == on_b.json()
    attestation = on_a.json()["attestation"]
    assert on_a.json()["status"] == "completed" and isinstance(attestation, str)
    v = party.http["A"].post(
        "/v1/attestations/verify", json={"attestation": attestation, "audience": RP}
    )
    assert v.status_code == 200 and v.json()["valid"] is True, v.text
    # the PKCE check holds on both: a wrong verifier is refused on either
    wrong = secrets.token_urlsafe(48)
    for rep in pair.both:
        bad = party.read(rep, created["id"], wrong, token_from=rep.name)
        assert bad.status_code == 403 and _reason(bad) == "pkce_mismatch"


def test_dpop_proof_replayed_on_the_other_replica(pair: Pair, party: Party) -> None:
    created, verifier = party.create(pair.a)
    path = f"/v1/verifications/{created['id']}"
    query = {"code_verifier": verifier}
    headers = party.auth("GET", path)
    first = party.http["A"].get(path, params=query, headers=headers)
    assert first.status_code == 200, first.text
    again = party.http["B"].get(path, params=query, headers=headers)
    assert again.status_code == 401 and _reason(again) == "replayed_jti", again.text
    assert again.headers["www-authenticate"].startswith("DPoP")
    # a fresh proof with the same token is fine on B: only the replay was refused
    fresh = party.http["B"].get(path, params=query, headers=party.auth("GET", path))
    assert fresh.status_code == 200, fresh.text
    # one proof sent to both at once, many times: one request gets through
    headers = party.auth("GET", path)

    def read(_: Replica, c: httpx.Client) -> httpx.Response:
        return c.get(path, params=query, headers=headers)

    rs = race(pair, N, read)
    assert _statuses(rs) == {200: 1, 401: N - 1}, [r.text for r in rs]
    assert all(_reason(r) == "replayed_jti" for r in rs if r.status_code == 401)


def _token_request(
    party: Party, http: httpx.Client, assertion: str, dpop: str | None = None
) -> httpx.Response:
    return party.rp.token_request(
        http,
        party.pair.public,
        {"grant_type": "client_credentials"},
        assertion=assertion,
        dpop=dpop or party.rp.dpop("POST", f"{party.pair.public}/oauth/token"),
    )


def test_client_assertion_replayed_on_the_other_replica(pair: Pair, party: Party) -> None:
    rp = party.rp
    assert rp.nonce is not None  # from A or B: the nonce key is shared, either works
    assertion = rp.assertion(pair.public)
    first = _token_request(party, party.http["A"], assertion)
    assert first.status_code == 200, first.text
    again = _token_request(party, party.http["B"], assertion)
    assert again.status_code == 401, again.text
    assert again.json()["error"] == "invalid_client"
    assert "already used" in again.json()["error_description"]
    # the same request with a fresh assertion is fine on B
    fresh = _token_request(party, party.http["B"], rp.assertion(pair.public))
    assert fresh.status_code == 200, fresh.text
    # a DPoP proof used at A's token endpoint is refused at B's
    proof = rp.dpop("POST", f"{pair.public}/oauth/token")
    assert _token_request(party, party.http["A"], rp.assertion(pair.public), proof).is_success
    replayed = _token_request(party, party.http["B"], rp.assertion(pair.public), proof)
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_dpop_proof"
    # one assertion, N token requests (each with its own proof) spread over both at once
    assertion = rp.assertion(pair.public)

    def token(_: Replica, c: httpx.Client) -> httpx.Response:
        return _token_request(party, c, assertion)  # a fresh DPoP proof each

    rs = race(pair, N, token)
    assert _statuses(rs) == {200: 1, 401: N - 1}, [r.text for r in rs]
    assert all(r.json()["error"] == "invalid_client" for r in rs if r.status_code == 401)


def _export_and_verify(pair: Pair, trail: Path, key: Path) -> dict[str, Any]:
    done = cli("audit", "export", "--database-url", pair.db_url, "--out", str(trail))
    assert done.returncode == 0, done.stderr
    checked = cli("audit", "verify", str(trail), "--key", str(key), "--json")
    assert checked.returncode in (0, 1), checked.stderr
    report: dict[str, Any] = json.loads(checked.stdout)
    assert report["exit"] == checked.returncode
    return report


def test_audit_trail_one_chain_per_replica(pair: Pair, party: Party, tmp_path: Path) -> None:
    """The audit trail in the shared database: each replica writes its own hash chain
    (default chain id ``<hostname>-<port>``), signed by the one audit key of the data
    directory; the export of both verifies, and a verification that moved between the
    replicas has its events in both chains.  (Runs last: the other tests' events are
    in the trail too.)"""
    keys = [httpx.get(f"{r.addr}/v1/audit/key", timeout=10) for r in pair.both]
    assert [k.status_code for k in keys] == [200, 200]
    assert keys[0].json() == keys[1].json()
    key = tmp_path / "audit.jwk"
    key.write_text(keys[0].text)
    created, _ = party.create(pair.a)
    hreq = party.fetch(pair.b, created)
    r = party.http["B"].post(
        pair.via(pair.b, hreq["presentation_uri"]),
        json=party.proof_body(hreq),
        headers={"Authorization": f"Bearer {hreq['presentation_token']}"},
    )
    assert r.status_code == 200, r.text
    trail = tmp_path / "trail.jsonl"
    # each replica's sweeper signs its chain's head (every 0.5 s): wait until both are
    deadline = time.monotonic() + 30
    while True:
        report = _export_and_verify(pair, trail, key)
        assert report["ok"], report["first_error"]
        if report["unsigned"] == 0 and len(report["chains"]) == 2:
            break
        assert time.monotonic() < deadline, f"still unsigned: {report['chains']}"
        time.sleep(0.2)
    ports = sorted(rep.port for rep in pair.both)
    chains = sorted(c["chain_id"] for c in report["chains"])
    assert sorted(int(c.rsplit("-", 1)[1]) for c in chains) == ports, chains
    assert all(c["events"] > 0 and c["checkpoints"] > 0 for c in report["chains"])
    records = [json.loads(line) for line in trail.read_text().splitlines()]
    events = [rec["event"] for rec in records if "event" in rec]
    assert len(events) == report["events"]
    moved = {
        e["kind"]: e["chain_id"]
        for e in events
        if e.get("refs", {}).get("verification_id") == created["id"]
    }
    a_chain = next(c for c in chains if c.endswith(f"-{pair.a.port}"))
    b_chain = next(c for c in chains if c != a_chain)
    assert moved["verification.created"] == a_chain
    assert moved["verification.completed"] == b_chain
    # the check can fail: one altered event breaks the trail
    lines = trail.read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if json.loads(line).get("event", {}).get("seq") == 1)
    rec = json.loads(lines[i])
    rec["event"]["ts"] += 1
    lines[i] = json.dumps(rec, separators=(",", ":"))
    trail.write_text("\n".join(lines) + "\n")
    checked = cli("audit", "verify", str(trail), "--key", str(key), "--json")
    assert checked.returncode == 1 and json.loads(checked.stdout)["ok"] is False
