"""The reliability battery: real ``zkattest serve`` processes on loopback, driven over
HTTP by an asyncio client, with the state inspected through the Store protocol.

Helpers here:

- :class:`Server`: one ``python -m zkattest.cli serve`` process on a free port with a
  data directory, configured by ``ZKATTEST_*`` environment variables, ready once
  ``/readyz`` answers 200; ``kill()`` (SIGKILL), ``stop()`` (SIGTERM), ``rss_kib()``.
- :func:`prepare_data_dir`: a data directory holding the session's development
  issuer (so credentials are issued once per session) and, with ``raise_rate_limit``,
  a copy of the shipped Cedar policies whose per-client rate limit is out of reach.
- :class:`AsyncRP`: a relying party registered in the server's client registry,
  getting a DPoP-bound token (private_key_jwt, the server's DPoP nonce) and signing
  a fresh DPoP proof for every request (the library's client helpers).
- :class:`Flow` and the async steps of one verification (create, fetch, present,
  read), keeping what each step saw.
- ``database``: SQLite (a file in the test's directory) and PostgreSQL (a fresh
  schema in ``$ZKATTEST_TEST_DATABASE_URL``, dropped afterwards; skipped when unset).

Each test is bounded in time by its own deadlines (a request timeout, bounded waits);
nothing asserts how fast anything is.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from zkattest.client.oauth import client_assertion, dpop_proof
from zkattest.credentials import Credential, Holder, Issuer, KeyStore, Request
from zkattest.groth16 import VerifyingKey
from zkattest.identity.jose import EcKey
from zkattest.identity.jwk import Jwks
from zkattest.oauth.base import Client
from zkattest.oauth.clients import ClientRegistry
from zkattest.policy import DEFAULT_POLICY_DIR
from zkattest.service import Config, bootstrap

KEY_DIR = os.environ["ZKATTEST_KEY_DIR"]
PG_ENV = "ZKATTEST_TEST_DATABASE_URL"
RP = "https://shop.example"
MIN_AGE = 18
PROBLEM = "application/problem+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: the shipped per-client rate limit (limits.cedar); load tests raise it out of reach
RATE_LIMIT_RULE = "context.rate > 600"


# -- processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_env(config: Mapping[str, object]) -> dict[str, str]:
    """This process's environment without any ``ZKATTEST_*`` variable, plus the test
    key store and ``config`` as ``ZKATTEST_<FIELD>`` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZKATTEST_")}
    env["ZKATTEST_KEY_DIR"] = KEY_DIR
    env["PYTHONUNBUFFERED"] = "1"
    for k, v in config.items():
        env[f"ZKATTEST_{k.upper()}"] = str(v).lower() if isinstance(v, bool) else str(v)
    return env


class Server:
    """One ``zkattest serve`` process (see the module docstring)."""

    def __init__(
        self, data: Path, log: Path, config: Mapping[str, object], port: int | None = None
    ) -> None:
        self.data = data
        self.log = log
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = dict(config)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, ready_within: float = 90.0) -> None:
        cmd = [
            sys.executable,
            "-m",
            "zkattest.cli",
            "serve",
            "--data-dir",
            str(self.data),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=server_env(self.config)
            )
        deadline = time.monotonic() + ready_within
        while True:
            assert self.proc.poll() is None, f"the server exited:\n{self.tail()}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"never ready:\n{self.tail()}"
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        """SIGTERM and wait (SIGKILL after 30 s); the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the server did not stop on SIGTERM") from None

    def rss_kib(self) -> int:
        """The server's resident set (VmRSS, KiB) from /proc."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS line")

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def failures(self) -> list[str]:
        """Log records (JSON lines) of errors with a traceback: what an unhandled
        exception leaves.  (Expected refusals, such as "store unavailable", are logged
        without one; a library's own warnings with a traceback are not errors.)"""
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                if "Traceback" in line:
                    out.append(line[:2000])
                continue
            if rec.get("level") in ("ERROR", "CRITICAL") and (
                "exc" in rec or "Traceback" in str(rec.get("message"))
            ):
                out.append(line[:2000])
        return out


@contextlib.contextmanager
def serve(
    data: Path, log: Path, config: Mapping[str, object], port: int | None = None
) -> Iterator[Server]:
    """A started :class:`Server`; stopped (if still alive) on exit."""
    srv = Server(data, log, config, port)
    try:
        srv.start()
        yield srv
    finally:
        if srv.alive():
            srv.stop()


# -- data directory, issuer, holders ---------------------------------------------------------------


@pytest.fixture(scope="session")
def keys() -> tuple[KeyStore, VerifyingKey, str]:
    """The circuit keys in the session's test key store (made once), its verifying
    key and circuit id."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="zkattest-rel-boot-") as d:
        res = bootstrap(Config(data_dir=d, key_dir=KEY_DIR, require_auth=False), progress=False)
        return res.keys, res.vk, res.circuit_id


@pytest.fixture(scope="session")
def issuer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rel-issuer") / "dev-issuer.json"
    Issuer.generate().save(path, private=True)
    return path


@pytest.fixture(scope="session")
def issuer(issuer_file: Path) -> Issuer:
    return Issuer.load(issuer_file)


def ymd(d: _dt.date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def expected_result(birthdate: int, today: int, min_age: int = MIN_AGE) -> bool:
    return birthdate + min_age * 10000 <= today  # DESIGN.md, "The statement"


@dataclasses.dataclass
class Wallet:
    holder: Holder
    cred: Credential
    birthdate: int

    def delegated_body(self) -> dict[str, Any]:
        return {
            "mode": "delegated",
            "credential": json.loads(self.cred.to_json()),
            "holder_secret": str(self.holder.secret),
        }

    def proof_body(self, hreq: Mapping[str, Any], keys: KeyStore) -> dict[str, Any]:
        """Holder-side proving for a fetched request (blocking: seconds of CPU under load)."""
        req = Request.from_json(json.dumps(hreq["request"]))
        pres = self.holder.present(self.cred, req, keys=keys)
        return {"mode": "proof", "presentation": json.loads(pres.to_json())}


#: holder ages in years, well away from the 18-year boundary: half yes, half no
AGES = (30.5, 10.3, 45.2, 16.6)


@pytest.fixture(scope="session")
def wallets(issuer: Issuer) -> list[Wallet]:
    today = _dt.datetime.now(_dt.UTC).date()
    expires = ymd(today.replace(year=today.year + 5, day=min(today.day, 28)))
    out = []
    for age in AGES:
        bd = ymd(today - _dt.timedelta(days=round(age * 365.25)))
        h = Holder()
        out.append(Wallet(h, issuer.issue({"birthdate": bd}, h.commitment, expires=expires), bd))
    return out


def prepare_data_dir(path: Path, issuer_file: Path, *, raise_rate_limit: bool = False) -> Path:
    """A data directory with the session's development issuer; with
    ``raise_rate_limit``, ``path/policies`` holds the shipped policies with the
    per-client rate limit raised out of reach (pass it as ``policy_dir``)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copy(issuer_file, path / "dev-issuer.json")
    os.chmod(path / "dev-issuer.json", 0o600)
    if raise_rate_limit:
        dst = path / "policies"
        dst.mkdir()
        found = 0
        for f in sorted(DEFAULT_POLICY_DIR.iterdir()):
            if f.suffix in (".cedar", ".cedarschema"):
                text = f.read_text()
                found += text.count(RATE_LIMIT_RULE)
                (dst / f.name).write_text(
                    text.replace(RATE_LIMIT_RULE, "context.rate > 1000000000")
                )
        assert found == 1, f"{RATE_LIMIT_RULE!r} not found once in the shipped policies"
    return path


# -- databases -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Database:
    kind: str
    url: str


def pg_url_with(base: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(base)
    q = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    q = [(k, v) for k, v in q if k not in params] + list(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))


async def drop_schema(base: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg_url_with(base), timeout=10)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def pg_base() -> str:
    base = os.environ.get(PG_ENV, "")
    if not base:
        pytest.skip(f"PostgreSQL variant: set {PG_ENV}=postgresql://user@host:port/db")
    return base


@contextlib.contextmanager
def pg_schema() -> Iterator[tuple[str, str]]:
    """(base URL, a fresh schema name) for one test; the schema is dropped afterwards."""
    base = pg_base()
    schema = f"zkrel_{secrets.token_hex(6)}"
    try:
        yield base, schema
    finally:
        asyncio.run(drop_schema(base, schema))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = tmp_path / "db"
        db.mkdir()
        yield Database("sqlite", f"sqlite:///{(db / 'zkattest.db').resolve()}")
        return
    with pg_schema() as (base, schema):
        yield Database("postgresql", pg_url_with(base, schema=schema))


# -- OAuth -----------------------------------------------------------------------------------------


def register_client(
    clients_path: Path, client_id: str, key: EcKey, audiences: tuple[str, ...] = (RP,)
) -> None:
    """Add (or replace) a client with one ES256 key; a running server picks it up."""
    pub = key.public()
    ClientRegistry(clients_path).add(
        Client(
            client_id=client_id,
            name=f"reliability {client_id}",
            jwks=Jwks.from_json({"keys": [{**pub.jwk(), "kid": pub.thumbprint()}]}),
            kind="agent",
            predicates=frozenset({"age_gte"}),
            audiences=frozenset(audiences),
        ),
        replace=True,
    )


class AsyncRP:
    """A registered relying party: a DPoP-bound access token, a fresh proof per request."""

    def __init__(self, base_url: str, client_id: str = "rel-shop") -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.key = EcKey.generate()
        self.dpop_key = EcKey.generate()
        self.nonce: str | None = None
        self.token: str | None = None

    def register(self, data: Path) -> None:
        register_client(data / "clients.json", self.client_id, self.key)

    async def token_request(self, http: httpx.AsyncClient) -> httpx.Response:
        url = f"{self.base_url}/oauth/token"
        for _ in range(3):
            now = int(time.time())
            form = {
                "grant_type": "client_credentials",
                "resource": self.base_url,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": client_assertion(
                    self.key, self.client_id, self.base_url, now=now
                ),
            }
            proof = dpop_proof(self.dpop_key, "POST", url, now=now, nonce=self.nonce)
            r = await http.post(url, data=form, headers={"DPoP": proof})
            self.nonce = r.headers.get("dpop-nonce", self.nonce)
            if r.status_code == 400 and _json(r).get("error") == "use_dpop_nonce":
                continue
            return r
        return r

    async def get_token(self, http: httpx.AsyncClient) -> None:
        r = await self.token_request(http)
        assert r.status_code == 200, r.text[:500]
        self.token = str(r.json()["access_token"])

    def auth(self, method: str, path: str) -> dict[str, str]:
        assert self.token is not None
        proof = dpop_proof(
            self.dpop_key,
            method,
            self.base_url + path,
            now=int(time.time()),
            access_token=self.token,
        )
        return {"Authorization": f"DPoP {self.token}", "DPoP": proof}


def _json(r: httpx.Response) -> dict[str, Any]:
    try:
        out = r.json()
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


# -- one verification ------------------------------------------------------------------------------


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def path_of(uri: str) -> str:
    return urllib.parse.urlsplit(uri).path


@dataclasses.dataclass
class Flow:
    """One verification as the client saw it."""

    wallet: int
    mode: str
    verifier: str = dataclasses.field(default_factory=lambda: secrets.token_urlsafe(48))
    vid: str = ""
    nonce: str = ""
    request_path: str = ""
    hreq: dict[str, Any] | None = None
    expected: bool | None = None
    body: dict[str, Any] | None = None
    #: the furthest step sent: create, fetch, present, read
    sent: str = ""
    #: status codes answered, by step
    answers: dict[str, int] = dataclasses.field(default_factory=dict)
    presented: dict[str, Any] | None = None
    status: dict[str, Any] | None = None


def create_body(verifier: str, min_age: int = MIN_AGE) -> dict[str, Any]:
    return {
        "predicate": "age_gte",
        "params": {"min_age": min_age},
        "audience": RP,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }


async def step_create(http: httpx.AsyncClient, rp: AsyncRP | None, flow: Flow) -> httpx.Response:
    flow.sent = "create"
    headers = rp.auth("POST", "/v1/verifications") if rp else {}
    r = await http.post("/v1/verifications", json=create_body(flow.verifier), headers=headers)
    flow.answers["create"] = r.status_code
    if r.status_code == 201:
        body = r.json()
        flow.vid, flow.nonce = body["id"], body["nonce"]
        flow.request_path = path_of(body["request_uri"])
    return r


async def step_fetch(http: httpx.AsyncClient, flow: Flow, wallets: list[Wallet]) -> httpx.Response:
    flow.sent = "fetch"
    r = await http.get(flow.request_path)
    flow.answers["fetch"] = r.status_code
    if r.status_code == 200:
        flow.hreq = r.json()
        assert flow.hreq is not None
        flow.expected = expected_result(
            wallets[flow.wallet].birthdate, int(flow.hreq["request"]["today"])
        )
    return r


async def step_present(http: httpx.AsyncClient, flow: Flow) -> httpx.Response:
    assert flow.hreq is not None and flow.body is not None
    flow.sent = "present"
    r = await http.post(
        path_of(flow.hreq["presentation_uri"]),
        json=flow.body,
        headers={"Authorization": f"Bearer {flow.hreq['presentation_token']}"},
    )
    flow.answers["present"] = r.status_code
    if r.status_code == 200:
        flow.presented = r.json()
    return r


async def step_read(http: httpx.AsyncClient, rp: AsyncRP | None, flow: Flow) -> httpx.Response:
    flow.sent = "read"
    path = f"/v1/verifications/{flow.vid}"
    headers = rp.auth("GET", path) if rp else {}
    r = await http.get(path, params={"code_verifier": flow.verifier}, headers=headers)
    flow.answers["read"] = r.status_code
    if r.status_code == 200:
        flow.status = r.json()
    return r


def assert_problem(r: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """``r`` is an RFC 9457 problem (with ``status`` when given)."""
    if status is not None:
        assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers.get("content-type", "").split(";")[0] == PROBLEM, (r.status_code, r.headers)
    body = r.json()
    assert isinstance(body, dict), body
    assert body.get("status") == r.status_code, body
    assert isinstance(body.get("type"), str) and body["type"].startswith("urn:zkattest:problem:")
    assert isinstance(body.get("title"), str) and body["title"]
    return body
