"""Service fixtures: one bootstrap per session (trust-domain key, dev issuer, circuit
keys from the test key store), a fresh SQLite database per app, session-scoped
holders and credentials, and helpers that drive the HTTP flow.

Store and app calls are async; tests drive them with ``asyncio.run`` (no asyncio
plugin), Litestar's sync ``TestClient``, or :func:`async_client` for requests that
must really run concurrently on one event loop.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from zkattest.credentials import Credential, Holder, Issuer, Presentation, Request, to_field
from zkattest.oauth.clients import ClientRegistry, client_from_json
from zkattest.service import Config, Resources, bootstrap, create_app, dev_issuer_path
from zkattest.service.state import Services

from .stock_rp import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE, StockRP

RP = "https://shop.example"
OTHER_RP = "https://other.example"
LEAP_BIRTHDATE = 20000229
PROBLEM = "application/problem+json"


# -- time -------------------------------------------------------------------------------------


def today_int(now: float | None = None) -> int:
    d = _dt.datetime.fromtimestamp(
        _dt.datetime.now(_dt.UTC).timestamp() if now is None else now, _dt.UTC
    ).date()
    return d.year * 10000 + d.month * 100 + d.day


def years_before(today: int, years: int, *, plus_days: int = 0) -> int:
    """The YYYYMMDD ``years`` before ``today`` (28 Feb when that day does not exist),
    shifted by ``plus_days`` calendar days."""
    y, m, d = today // 10000 - years, today // 100 % 100, today % 100
    try:
        day = _dt.date(y, m, d)
    except ValueError:  # 29 Feb in a common year
        day = _dt.date(y, m, 28)
    day += _dt.timedelta(days=plus_days)
    return day.year * 10000 + day.month * 100 + day.day


def in_years(years: int) -> int:
    return years_before(today_int(), -years)


# -- PKCE, paths ------------------------------------------------------------------------------


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def path_of(uri: str) -> str:
    """The path of a URI the service built from its public base URL (the test client
    talks to the app directly)."""
    return urlsplit(uri).path


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(r: httpx.Response, status: int, reason: str | None = None) -> dict[str, Any]:
    """``r`` is an RFC 9457 problem with ``status`` (and ``reason`` when given)."""
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].split(";")[0] == PROBLEM, r.headers
    body = r.json()
    assert isinstance(body, dict)
    assert isinstance(body.get("type"), str)
    assert body["type"].startswith("urn:zkattest:problem:"), body
    assert len(body["type"]) > len("urn:zkattest:problem:")
    assert isinstance(body.get("title"), str) and body["title"]
    assert body["status"] == status
    if reason is not None:
        assert body.get("reason") == reason, body
    return body


# -- session resources ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def resources(tmp_path_factory: pytest.TempPathFactory) -> Resources:
    """One bootstrap: trust-domain key and dev issuer in a session data dir, circuit
    keys in the test key store ($ZKATTEST_KEY_DIR, set by tests/conftest.py).

    The verification-flow tests run without OAuth (``require_auth=False``); the OAuth,
    policy and approval tests (test_oauth_*.py) turn it on with their own clients."""
    data = tmp_path_factory.mktemp("service-data")
    return bootstrap(
        Config(data_dir=str(data), key_dir=os.environ["ZKATTEST_KEY_DIR"], require_auth=False),
        progress=False,
    )


def with_db(res: Resources, db_dir: Path, **config: Any) -> Resources:
    """``res`` with its own SQLite file in ``db_dir`` (and other config overrides)."""
    db_dir.mkdir(parents=True, exist_ok=True)
    cfg = msgspec.structs.replace(
        res.config, database_url=f"sqlite:///{(db_dir / 'zkattest.db').resolve()}", **config
    )
    return dataclasses.replace(res, config=cfg)


@pytest.fixture
def res(resources: Resources, tmp_path: Path) -> Resources:
    """The session's resources with a fresh database for this test."""
    return with_db(resources, tmp_path / "db")


@pytest.fixture
def client(res: Resources) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(resources=res)) as c:
        yield c


@contextlib.asynccontextmanager
async def async_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An in-loop client: the app's lifespan and every request run on the caller's
    event loop, so ``asyncio.gather`` really interleaves requests.  (Litestar's
    AsyncTestClient does not: its transport blocks the loop on a portal thread
    for each request, so gathered requests run one after the other.)"""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c,
    ):
        yield c


def services(app: Litestar) -> Services:
    svc = app.state.zk
    assert isinstance(svc, Services)
    return svc


@pytest.fixture(scope="session")
def issuer(resources: Resources) -> Issuer:
    """The server's DEVELOPMENT issuer (trusted)."""
    return Issuer.load(dev_issuer_path(resources.config))


@pytest.fixture(scope="session")
def holder() -> Holder:
    return Holder()


@pytest.fixture(scope="session")
def creds(issuer: Issuer, holder: Holder) -> Callable[[int], Credential]:
    """Credentials of ``holder`` by birthdate, issued once per session."""
    cache: dict[int, Credential] = {}

    def get(birthdate: int) -> Credential:
        if birthdate not in cache:
            cache[birthdate] = issuer.issue(
                {"birthdate": birthdate}, holder.commitment, expires=in_years(5)
            )
        return cache[birthdate]

    return get


@pytest.fixture(scope="session")
def leap_cred(creds: Callable[[int], Credential]) -> Credential:
    return creds(LEAP_BIRTHDATE)


# -- the flow ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Created:
    body: dict[str, Any]
    verifier: str

    @property
    def id(self) -> str:
        return str(self.body["id"])

    @property
    def request_path(self) -> str:
        return path_of(self.body["request_uri"])

    @property
    def read_path(self) -> str:
        return f"/v1/verifications/{self.id}"

    @property
    def read_params(self) -> dict[str, str]:
        return {"code_verifier": self.verifier}


def create_body(
    verifier: str, *, min_age: int = 18, audience: str = RP, **extra: Any
) -> dict[str, Any]:
    return {
        "predicate": "age_gte",
        "params": {"min_age": min_age},
        "audience": audience,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        **extra,
    }


def check_created(r: httpx.Response, verifier: str) -> Created:
    assert r.status_code == 201, r.text
    return Created(r.json(), verifier)


def create(c: TestClient[Litestar], *, min_age: int = 18, audience: str = RP) -> Created:
    verifier = secrets.token_urlsafe(48)
    r = c.post("/v1/verifications", json=create_body(verifier, min_age=min_age, audience=audience))
    return check_created(r, verifier)


def fetch(c: TestClient[Litestar], created: Created) -> dict[str, Any]:
    r = c.get(created.request_path)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def read(c: TestClient[Litestar], created: Created) -> dict[str, Any]:
    r = c.get(created.read_path, params=created.read_params)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def request_of(hreq: dict[str, Any], **override: Any) -> Request:
    """The holder's Request from a fetched request (fields overridable: nonce,
    rp_scope, today, min_age as ints)."""
    req = Request.from_json(json.dumps(hreq["request"]))
    return msgspec.structs.replace(req, **override) if override else req


def prove(
    res: Resources, holder: Holder, cred: Credential, hreq: dict[str, Any], **override: Any
) -> dict[str, Any]:
    """Holder-side proving: the Presentation v1 JSON object for the fetched request."""
    pres: Presentation = holder.present(cred, request_of(hreq, **override), keys=res.keys)
    out: dict[str, Any] = json.loads(pres.to_json())
    return out


def proof_body(presentation: dict[str, Any]) -> dict[str, Any]:
    return {"mode": "proof", "presentation": presentation}


def delegated_body(cred: Credential, secret: int) -> dict[str, Any]:
    return {
        "mode": "delegated",
        "credential": json.loads(cred.to_json()),
        "holder_secret": str(secret),
    }


def present(
    c: TestClient[Litestar], hreq: dict[str, Any], body: Any, *, token: str | None = None
) -> httpx.Response:
    return c.post(
        path_of(hreq["presentation_uri"]),
        json=body,
        headers=bearer(token or hreq["presentation_token"]),
    )


def scope_of(audience: str) -> int:
    return to_field(audience, "rp_scope")


# -- OAuth: registered clients made with stock JOSE (tests/service/stock_rp.py) -------------

BASE = "http://127.0.0.1:8080"  # the default config's base URL: issuer, htu, resource


@dataclasses.dataclass
class Party:
    """The registered clients of an OAuth test app, each a :class:`StockRP`:
    ``shop`` (an RP: age_gte for RP), ``other`` (another RP, for OTHER_RP), ``alice``
    (a person: age_gte, approve; lets ``assistant`` act for her), ``assistant`` (an
    agent acting for alice; lets ``shop`` act after it), ``bob`` (a person, approver of
    ``shop``'s own requests)."""

    shop: StockRP
    other: StockRP
    alice: StockRP
    assistant: StockRP
    bob: StockRP


@pytest.fixture(scope="session")
def party() -> Party:
    return Party(
        shop=StockRP("shop"),
        other=StockRP("other", alg="ES384"),
        alice=StockRP("alice", alg="EdDSA"),
        assistant=StockRP("assistant", alg="PS256"),
        bob=StockRP("bob", alg="RS256"),
    )


def register(res: Resources, party: Party) -> None:
    reg = ClientRegistry(res.config.clients_path)
    entries: list[dict[str, Any]] = [
        {
            "client_id": "shop",
            "name": "Shop",
            "jwks": party.shop.jwks(),
            "predicates": ["age_gte"],
            "audiences": [RP],
            "approvers": ["bob"],
        },
        {
            "client_id": "other",
            "name": "Other RP",
            "jwks": party.other.jwks(),
            "predicates": ["age_gte"],
            "audiences": [OTHER_RP],
        },
        {
            "client_id": "alice",
            "name": "Alice",
            "kind": "person",
            "jwks": party.alice.jwks(),
            "predicates": ["age_gte"],
            "audiences": [RP],
            "delegates": ["assistant"],
            "approver": True,
        },
        {
            "client_id": "assistant",
            "name": "Alice's assistant",
            "jwks": party.assistant.jwks(),
            "predicates": ["age_gte"],
            "audiences": [RP],
            "delegates": ["shop"],
        },
        {
            "client_id": "bob",
            "name": "Bob (operator)",
            "kind": "person",
            "jwks": party.bob.jwks(),
            "approver": True,
        },
    ]
    for e in entries:
        reg.add(client_from_json(e), replace=True)


@pytest.fixture
def auth_res(resources: Resources, tmp_path: Path, party: Party) -> Resources:
    """Resources with OAuth on (``require_auth``), a fresh database and a fresh client
    registry holding :class:`Party`'s clients."""
    r = with_db(
        resources, tmp_path / "db", require_auth=True, clients_file=str(tmp_path / "clients.json")
    )
    register(r, party)
    return dataclasses.replace(r, clients=ClientRegistry(r.config.clients_path))


@pytest.fixture
def auth_client(auth_res: Resources) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(resources=auth_res)) as c:
        yield c


def exchange_form(
    subject_token: str, actor_token: str | None = None, **extra: str
) -> dict[str, str]:
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        **extra,
    }
    if actor_token is not None:
        form["actor_token"] = actor_token
        form["actor_token_type"] = ACCESS_TOKEN_TYPE
    return form
