"""Service load benchmark: complete verifications per second and their latency, against
a running ``zkattest serve``.

    python bench/service_bench.py                 # starts its own server (temp data dir)
    python bench/service_bench.py --quick         # small N, two rates each (< 60 s)
    python bench/service_bench.py --url http://127.0.0.1:8080 --data-dir DIR
    python bench/service_bench.py --no-auth       # the same without OAuth, to compare

Two flows, each at FIXED OFFERED RATES (open loop) and then closed loop:

- **proof** (holder proves locally; targets >= 400 completions/s, p99 <= 50 ms at
  100/s offered).  A *complete verification* is POST presentation (mode "proof") +
  GET /v1/verifications/{id}?code_verifier=... answering ``completed`` with an
  attestation.  A holder's proof needs the server's nonce, so three phases:
  A (untimed for the target; its own rate is reported) creates N verifications and
  fetches each one-time request URI; B (untimed) proves N presentations with the
  library, ``--prove-threads`` Python threads; C (timed) replays them.
- **delegated** (the server proves; target >= 20/s): per item create, fetch, POST
  presentation (mode "delegated": credential + holder secret), GET result.

Open loop: send times are fixed before the run (item i at start + i/rate) and latency
is measured from the *scheduled* send time, so a stalled server or a late generator
is charged to latency instead of silently lowering the offered load (coordinated
omission).  Closed loop: C connections, each sending its next item when the last
one completed; latency from the actual send.  503 + Retry-After (the proof pool is
full, nothing consumed) is counted as *rejected*, apart from errors.

The HTTP client is a small asyncio HTTP/1.1 keep-alive client written here (pooled
connections; status line, headers, Content-Length or chunked bodies), on uvloop when
installed; it is checked against urllib at start.  The generator's own CPU time
(``time.process_time``) and, for a server this script started, the server's CPU time
(``/proc/<pid>/stat``) are reported per run, as cores used.

OAuth (issue 8; off with ``--no-auth``): the bench registers a relying-party client
(one ES256 key) in the server's client registry file (the server reloads it), gets a
DPoP-bound access token from ``/oauth/token`` (client_credentials, private_key_jwt,
repeating the request with the server's ``DPoP-Nonce`` when asked) before each run
when the last one would expire within 2 minutes, and sends ``Authorization: DPoP``
plus a DPoP proof signed just before the send (fresh ``iat`` and ``jti``) on every
create and read; that signing is part of the generator's CPU.  Its own server runs
with the shipped policies except the per-client rate limit (600 a minute), raised
out of reach (``--keep-rate-limit`` keeps it).  At start, a read without a token must
get 401 (auth) or 404 (no auth), and with auth a replayed proof 401.

Correctness: every 2xx body must parse as JSON; every completed verification must
carry the result expected for that holder's birthdate (``birthdate + min_age*10000 <=
today``), both in the answers and in the attestation's claims; after the runs every
attestation is verified (agent SVID against the server's SPIFFE bundle, ES256
signature, nonce).  Any mismatch is printed loudly.  JSON to
bench/results/service.json (machine, commit, config, every run).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import table, write_json
from zkattest.client.oauth import client_assertion, dpop_proof
from zkattest.credentials import Credential, Holder, Issuer, KeyStore, Request
from zkattest.identity.jose import EcKey

TARGETS = {"proof_per_s": 400.0, "proof_p99_ms_at_100": 50.0, "delegated_per_s": 20.0}
AUDIENCE = "https://shop.example"
MIN_AGE = 18
#: holder ages in years, half a year or more from the min_age boundary: 4 yes, 4 no
AGES = (30.5, 45.2, 19.4, 66.0, 10.3, 16.6, 17.5, 5.1)
_dec = msgspec.json.Decoder()
_enc = msgspec.json.Encoder()


# ===================================================================== HTTP client
class HttpError(Exception):
    """The server's bytes were not a valid HTTP/1.1 response."""


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return _dec.decode(self.body)


class Conn:
    """One keep-alive HTTP/1.1 connection (one request at a time)."""

    __slots__ = ("last_used", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.last_used = time.monotonic()

    @classmethod
    async def open(cls, host: str, port: int) -> Conn:
        r, w = await asyncio.open_connection(host, port, limit=1 << 20)
        sock = w.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(r, w)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    async def request(self, data: bytes) -> tuple[Response, bool]:
        """Send one request; returns the response and whether the connection may be reused."""
        self.writer.write(data)
        if self.writer.transport.get_write_buffer_size() > 65536:
            await self.writer.drain()
        rd = self.reader
        head = await rd.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3:
            raise HttpError(f"bad status line {lines[0][:60]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for ln in lines[1:]:
            name, sep, value = ln.partition(b":")
            if not sep or not name or name != name.strip():
                raise HttpError(f"bad header line {ln[:60]!r}")
            key = name.decode("latin-1").lower()
            val = value.strip().decode("latin-1")
            headers[key] = f"{headers[key]}, {val}" if key in headers else val
        keep = parts[0] == b"HTTP/1.1" and "close" not in headers.get("connection", "").lower()
        te = headers.get("transfer-encoding", "").lower()
        if status < 200 or status in (204, 304):
            if status < 200:
                raise HttpError(f"unexpected interim response {status}")
            body = b""
        elif te:
            if te.split(",")[-1].strip() != "chunked":
                raise HttpError(f"unsupported transfer-encoding {te!r}")
            chunks = []
            while True:
                size_line = await rd.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while await rd.readuntil(b"\r\n") != b"\r\n":  # trailers
                        pass
                    break
                chunk = await rd.readexactly(size + 2)
                if chunk[-2:] != b"\r\n":
                    raise HttpError("bad chunk terminator")
                chunks.append(chunk[:-2])
            body = b"".join(chunks)
        elif "content-length" in headers:
            n = int(headers["content-length"])
            body = await rd.readexactly(n) if n else b""
        else:  # delimited by the end of the connection
            body = await rd.read()
            keep = False
        return Response(status, headers, body), keep


class Pool:
    """At most ``size`` connections to one host; requests wait for a free one."""

    def __init__(self, host: str, port: int, size: int, *, idle_max: float = 3.0) -> None:
        self.host, self.port = host, port
        self.hostport = f"{host}:{port}".encode()
        self.size = size
        self.sem = asyncio.Semaphore(size)
        self.idle: list[Conn] = []
        self.idle_max = idle_max  # uvicorn drops idle keep-alive connections after 5 s
        self.opened = 0

    def _take(self) -> Conn | None:
        now = time.monotonic()
        while self.idle:
            c = self.idle.pop()
            if now - c.last_used < self.idle_max and not c.reader.at_eof():
                return c
            c.close()
        return None

    async def warm(self, n: int) -> None:
        """Open up to ``n`` fresh connections now, so a timed run does not pay for them."""
        self.close_idle()
        n = min(n, self.size)
        conns = await asyncio.gather(*(Conn.open(self.host, self.port) for _ in range(n)))
        self.opened += n
        self.idle.extend(conns)

    def close_idle(self) -> None:
        for c in self.idle:
            c.close()
        self.idle.clear()

    def build(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Sequence[str] = (),
        ctype: bytes = b"application/json",
    ) -> bytes:
        h = [f"{method} {path} HTTP/1.1\r\nHost: ".encode(), self.hostport, b"\r\n"]
        for x in headers:
            h.append(x.encode("latin-1") + b"\r\n")
        if body is not None:
            h.append(b"Content-Type: %s\r\nContent-Length: %d\r\n" % (ctype, len(body)))
        h.append(b"\r\n")
        if body is not None:
            h.append(body)
        return b"".join(h)

    async def send(self, data: bytes) -> Response:
        async with self.sem:
            conn = self._take()
            if conn is None:
                conn = await Conn.open(self.host, self.port)
                self.opened += 1
            try:
                resp, keep = await conn.request(data)
            except BaseException:
                conn.close()
                raise
            if keep:
                conn.last_used = time.monotonic()
                self.idle.append(conn)
            else:
                conn.close()
            return resp

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: Sequence[str] = ()
    ) -> Response:
        return await self.send(self.build(method, path, body, headers))


def _urllib(base: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(base + path, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


async def self_check(pool: Pool, base: str) -> dict[str, Any]:
    """Our client and urllib must agree on status and JSON body for a few endpoints."""
    cases = [
        ("GET", "/healthz", None),
        ("GET", "/.well-known/jwks.json", None),
        ("GET", "/.well-known/spiffe-bundle", None),
        ("GET", "/v1/circuits", None),
        ("GET", "/schema", None),
        ("GET", "/v1/verifications/nope?code_verifier=" + "a" * 43, None),
        ("GET", "/v1/requests/" + "x" * 43, None),
        ("POST", "/v1/verifications", b'{"predicate": 1}'),
        ("POST", "/v1/attestations/verify", b'{"attestation": "a.b.c", "audience": "x"}'),
    ]
    checked = []
    for method, path, body in cases:
        ours = await pool.request(method, path, body)
        st, raw = await asyncio.to_thread(_urllib, base, method, path, body)
        ok = ours.status == st and (
            ours.body == raw or json.loads(ours.body or b"null") == json.loads(raw or b"null")
        )
        # bodies that hold fresh values (none of these should) are compared as JSON
        if not ok:
            raise SystemExit(
                f"HTTP client self-check failed on {method} {path}: ours {ours.status} "
                f"{ours.body[:120]!r} vs urllib {st} {raw[:120]!r}"
            )
        checked.append(f"{method} {path.split('?')[0][:40]} -> {st} ({len(raw)} B)")
    return {"agree_with_urllib": checked}


# ===================================================================== server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_cpu(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class OwnServer:
    """``python -m zkattest.cli serve`` on a free port with a temporary data dir."""

    STRIP = (
        "ZKATTEST_CONFIG",
        "ZKATTEST_KEY_DIR",
        "ZKATTEST_DATA_DIR",
        "ZKATTEST_HOST",
        "ZKATTEST_PORT",
        "ZKATTEST_PUBLIC_URL",
        "ZKATTEST_DATABASE_URL",
        "ZKATTEST_REQUIRE_AUTH",
        "ZKATTEST_CLIENTS_FILE",
        "ZKATTEST_POLICY_DIR",
    )

    def __init__(
        self,
        args: argparse.Namespace,
        *,
        auth: bool = True,
        prepare: Callable[[Path], Mapping[str, str]] | None = None,
        prefix: str = "zka-svc-bench-",
        data: Path | None = None,
    ) -> None:
        """``auth``: ZKATTEST_REQUIRE_AUTH; ``prepare(data_dir)``: called before the server
        starts, returns extra environment (e.g. a policy directory it wrote there);
        ``data``: use this data directory (another replica's) instead of a temporary one
        of its own, and leave it in place at :meth:`stop`."""
        self.own_data = data is None
        self.data = Path(tempfile.mkdtemp(prefix=prefix)) if data is None else data
        self.keep = args.keep_data
        self.port = args.port or _free_port()
        env = {k: v for k, v in os.environ.items() if k not in self.STRIP}
        env.update(ZKATTEST_VERIFICATION_TTL="3600", ZKATTEST_LOG_LEVEL="warning")
        env["ZKATTEST_REQUIRE_AUTH"] = "true" if auth else "false"
        if prepare is not None:
            env.update(prepare(self.data))
        if args.workers is not None:
            env["ZKATTEST_WORKERS"] = str(args.workers)
        if args.queue is not None:
            env["ZKATTEST_QUEUE"] = str(args.queue)
        for kv in args.server_env:
            k, _, v = kv.partition("=")
            env[k] = v
        self.env_shown = {k: v for k, v in env.items() if k.startswith("ZKATTEST_")}
        # a replica sharing another's data directory logs to a file of its own
        self.log_path = self.data / ("server.log" if self.own_data else f"server-{self.port}.log")
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        cmd = [sys.executable]
        if args.profile_server:  # main thread only: the event loop, not the proof pool
            cmd += ["-m", "cProfile", "-o", str(Path(args.profile_server).resolve())]
        cmd += ["-m", "zkattest.cli", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--data-dir", str(self.data)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        self.pid: int | None = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if not self.keep and self.own_data:
            shutil.rmtree(self.data, ignore_errors=True)


async def wait_ready(url: str, server: OwnServer | None, timeout: float) -> dict[str, Any]:
    t0 = time.monotonic()
    last = ""
    while time.monotonic() - t0 < timeout:
        if server is not None and not server.alive():
            raise SystemExit(f"the server exited (rc {server.proc.returncode}):\n{server.tail()}")
        try:
            st, raw = await asyncio.to_thread(_urllib, url, "GET", "/readyz")
            if st == 200:
                out: dict[str, Any] = json.loads(raw)
                out["startup_s"] = time.monotonic() - t0
                return out
            last = f"HTTP {st}"
        except OSError as e:
            last = type(e).__name__
        await asyncio.sleep(0.25)
    tail = server.tail() if server else ""
    raise SystemExit(f"no ready server at {url} after {timeout:.0f} s ({last})\n{tail}")


# ===================================================================== OAuth (issue 8)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
FORM = b"application/x-www-form-urlencoded"
#: the shipped per-client rate limit (limits.cedar); the bench raises it (--keep-rate-limit)
RATE_LIMIT_RULE = "context.rate > 600"
RAISED_RATE_LIMIT = "context.rate > 1000000000"


def bench_policies(data: Path) -> Path:
    """A copy of the shipped Cedar policies in ``data/policies`` with the per-client
    rate-limit forbid (600 requests a minute) raised out of reach: the bench sends
    thousands a minute from one client and measures the service, not that limit."""
    from zkattest.policy import DEFAULT_POLICY_DIR

    dst = data / "policies"
    dst.mkdir()
    found = 0
    for f in sorted(DEFAULT_POLICY_DIR.iterdir()):
        if f.suffix not in (".cedar", ".cedarschema"):
            continue
        text = f.read_text()
        found += text.count(RATE_LIMIT_RULE)
        (dst / f.name).write_text(text.replace(RATE_LIMIT_RULE, RAISED_RATE_LIMIT))
    if found != 1:
        raise SystemExit(
            f"cannot raise the rate limit: {RATE_LIMIT_RULE!r} found {found} times in the "
            "shipped policies (update RATE_LIMIT_RULE, or pass --keep-rate-limit)"
        )
    return dst


def register_client(
    registry_file: Path,
    client_id: str,
    key: EcKey,
    *,
    kind: str = "agent",
    audiences: Iterable[str] = (),
    delegates: Iterable[str] = (),
) -> None:
    """Add (or replace) a client with one ES256 key in the registry file; a running
    server picks the change up on its next lookup."""
    from zkattest.identity.jwk import Jwks
    from zkattest.oauth.base import Client
    from zkattest.oauth.clients import ClientRegistry

    pub = key.public()
    client = Client(
        client_id=client_id,
        name=f"bench {client_id}",
        jwks=Jwks.from_json({"keys": [{**pub.jwk(), "kid": pub.thumbprint()}]}),
        kind="person" if kind == "person" else "agent",
        predicates=frozenset({"age_gte"}),
        audiences=frozenset(audiences),
        delegates=frozenset(delegates),
    )
    ClientRegistry(registry_file).add(client, replace=True)


def unregister_client(registry_file: Path, client_id: str) -> None:
    from zkattest.oauth.clients import ClientRegistry

    with contextlib.suppress(Exception):
        ClientRegistry(registry_file).remove(client_id)


def _oauth_error(r: Response) -> str:
    try:
        d = r.json()
    except msgspec.DecodeError:
        return ""
    return str(d.get("error", "")) if isinstance(d, dict) else ""


class OAuthClient:
    """One registered client's OAuth side on the bench's HTTP client.

    Tokens come from ``POST /oauth/token`` (private_key_jwt, RFC 7523, ``aud`` = the
    server's base URL; a DPoP proof, RFC 9449; on ``use_dpop_nonce`` the request is
    repeated with the server's ``DPoP-Nonce``, and every answer's nonce is kept for
    the next request).  Resource requests get ``Authorization: DPoP <token>`` and a
    proof signed when the request is built (its ``iat`` is the send time).  The
    assertion and proof builders are the library's (zkattest.client.oauth).
    """

    def __init__(self, base_url: str, client_id: str, key: EcKey) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = f"{self.base_url}/oauth/token"
        self.client_id = client_id
        self.key = key
        self.dpop_key = EcKey.generate()
        self.nonce: str | None = None
        self.token: str | None = None
        self._authz = ""
        self.expires_at = 0.0
        self.issued = 0
        self.nonce_retries = 0

    def token_request(self, form: Mapping[str, str]) -> tuple[bytes, tuple[str]]:
        """Body and DPoP header of one token request: a fresh assertion and proof."""
        now = int(time.time())
        assertion = client_assertion(self.key, self.client_id, self.base_url, now=now)
        body = urlencode(
            {**form, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
        ).encode()
        proof = dpop_proof(self.dpop_key, "POST", self.token_url, now=now, nonce=self.nonce)
        return body, (f"DPoP: {proof}",)

    async def post_token(self, pool: Pool, form: Mapping[str, str]) -> tuple[Response, int]:
        """One token request, repeated (at most twice) while the server asks for a new
        nonce; returns the last answer and how many repeats it took."""
        retries = 0
        while True:
            body, headers = self.token_request(form)
            r = await pool.send(pool.build("POST", "/oauth/token", body, headers, FORM))
            nonce = r.headers.get("dpop-nonce")
            if nonce:
                self.nonce = nonce
            if r.status == 400 and retries < 2 and _oauth_error(r) == "use_dpop_nonce":
                retries += 1
                self.nonce_retries += 1
                continue
            return r, retries

    def _took(self, r: Response) -> str:
        d = _safe_json(r.body)
        if r.status != 200 or not isinstance(d, dict) or not isinstance(d.get("access_token"), str):
            err = d.get("error") if isinstance(d, dict) else None
            desc = d.get("error_description") if isinstance(d, dict) else None
            raise SystemExit(f"token request for {self.client_id}: HTTP {r.status} {err}: {desc}")
        self.set_token(d["access_token"], float(d.get("expires_in", 0)))
        return str(d["access_token"])

    def set_token(self, token: str, expires_in: float) -> None:
        self.token = token
        self._authz = f"Authorization: DPoP {token}"
        self.expires_at = time.time() + expires_in
        self.issued += 1

    def cc_form(self, **extra: str) -> dict[str, str]:
        return {"grant_type": "client_credentials", "resource": self.base_url, **extra}

    def exchange_form(self, subject_token: str) -> dict[str, str]:
        return {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "resource": self.base_url,
        }

    async def client_credentials(self, pool: Pool, **extra: str) -> str:
        r, _ = await self.post_token(pool, self.cc_form(**extra))
        return self._took(r)

    async def exchange(self, pool: Pool, subject_token: str) -> str:
        r, _ = await self.post_token(pool, self.exchange_form(subject_token))
        return self._took(r)

    async def ensure(self, pool: Pool, margin: float = 120.0) -> None:
        """A token valid for at least ``margin`` more seconds (call it between runs)."""
        if self.token is None or self.expires_at - time.time() < margin:
            await self.client_credentials(pool)

    def headers(self, method: str, path: str) -> tuple[str, str]:
        """``Authorization`` and a fresh ``DPoP`` proof for one resource request (the
        proof's ``htu`` is the URL without its query, RFC 9449 §4.2)."""
        assert self.token is not None
        proof = dpop_proof(
            self.dpop_key,
            method,
            self.base_url + path,
            now=int(time.time()),
            access_token=self.token,
        )
        return (self._authz, f"DPoP: {proof}")


async def auth_check(pool: Pool, auth: OAuthClient | None) -> dict[str, Any]:
    """The server's auth setting is what the bench assumes: without a token a read is
    refused (401) with auth on and answered (404 for an unknown id) with it off; with
    auth on, a read with a token and a proof is answered and the same proof again is
    refused (401, the replay cache)."""
    path = "/v1/verifications/" + "A" * 22
    query = "?code_verifier=" + "a" * 43
    r0 = await pool.request("GET", path + query)
    out: dict[str, Any] = {"no_token": r0.status}
    if auth is None:
        if r0.status != 404:
            raise SystemExit(
                f"--no-auth, but a read without a token got HTTP {r0.status}: "
                "the server requires auth (start it with ZKATTEST_REQUIRE_AUTH=false)"
            )
        return out
    if r0.status != 401:
        raise SystemExit(
            f"a read without a token got HTTP {r0.status}, not 401: the server runs "
            "without auth (pass --no-auth)"
        )
    headers = auth.headers("GET", path)
    r1 = await pool.request("GET", path + query, None, headers)
    r2 = await pool.request("GET", path + query, None, headers)
    out.update(with_token=r1.status, same_proof_again=r2.status)
    if r1.status != 404 or r2.status != 401:
        raise SystemExit(
            f"auth check: a read with a token and proof got HTTP {r1.status} (expected 404 "
            f"for an unknown id), the same proof again {r2.status} (expected 401): "
            f"{r1.body[:200]!r} / {r2.body[:200]!r}"
        )
    return out


# ===================================================================== workload
@dataclass
class Wallet:
    holder: Holder
    cred: Credential
    birthdate: int
    delegated_body: bytes = b""


@dataclass
class Item:
    wallet: int
    verifier: str
    create_body: bytes
    vid: str = ""
    nonce: str = ""
    expected: bool | None = None
    pres_path: str = ""
    auth: str = ""
    request_json: str = ""
    body: bytes = b""


def _ymd(d: _dt.date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def make_wallets(issuer: Issuer, n: int) -> list[Wallet]:
    today = _dt.datetime.now(_dt.UTC).date()
    expires = _ymd(today.replace(year=today.year + 5, day=min(today.day, 28)))
    out = []
    for i in range(n):
        bd = _ymd(today - _dt.timedelta(days=round(AGES[i % len(AGES)] * 365.25)))
        h = Holder()
        cred = issuer.issue({"birthdate": bd}, h.commitment, expires=expires)
        w = Wallet(h, cred, bd)
        w.delegated_body = (
            b'{"mode":"delegated","credential":'
            + cred.to_json()
            + b',"holder_secret":"'
            + str(h.secret).encode()
            + b'"}'
        )
        out.append(w)
    return out


def expected_result(birthdate: int, min_age: int, today: int) -> bool:
    return birthdate + min_age * 10000 <= today  # DESIGN.md, "The statement"


def make_items(n: int, n_wallets: int, audience: str, min_age: int) -> list[Item]:
    items = []
    for i in range(n):
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        body = _enc.encode(
            {
                "predicate": "age_gte",
                "params": {"min_age": min_age},
                "audience": audience,
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            }
        )
        items.append(Item(wallet=i % n_wallets, verifier=verifier, create_body=body))
    return items


# ===================================================================== one run's statistics
def pct(xs: list[float], p: float) -> float | None:
    """Nearest-rank percentile of sorted ``xs`` (None when empty)."""
    if not xs:
        return None
    return xs[min(len(xs) - 1, max(0, math.ceil(p * len(xs)) - 1))]


def _ms(x: float | None) -> float | None:
    return None if x is None else x * 1e3


class Run:
    def __init__(self, flow: str, mode: str, offered: float | None, n: int, conc: int | None):
        self.flow, self.mode, self.offered, self.n, self.conc = flow, mode, offered, n, conc
        self.lat: list[float] = []
        self.errors: Counter[str] = Counter()
        self.rejected = 0
        self.mismatch = 0
        self.lag: list[float] = []  # open loop: actual send - scheduled send
        self.atts: list[tuple[str, bool, str]] = []  # (attestation, expected, nonce)
        self.wall = 0.0
        self.client_cpu = 0.0
        self.server_cpu: float | None = None

    def error(self, step: str, what: str) -> None:
        self.errors[f"{step} {what}"] += 1

    def wrong(self, msg: str) -> None:
        self.mismatch += 1
        if self.mismatch <= 10:
            print(f"!!! RESULT MISMATCH ({self.flow}, {self.mode}): {msg}", flush=True)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.lat)
        lag = sorted(self.lag)
        return {
            "flow": self.flow,
            "mode": self.mode,
            "offered_per_s": self.offered,
            "concurrency": self.conc,
            "n": self.n,
            "completed": len(lat),
            "achieved_per_s": len(lat) / self.wall if self.wall else 0.0,
            "wall_s": self.wall,
            "p50_ms": _ms(pct(lat, 0.50)),
            "p90_ms": _ms(pct(lat, 0.90)),
            "p99_ms": _ms(pct(lat, 0.99)),
            "max_ms": _ms(lat[-1] if lat else None),
            "mean_ms": _ms(sum(lat) / len(lat) if lat else None),
            "errors": dict(self.errors),
            "rejected_503": self.rejected,
            "result_mismatches": self.mismatch,
            "send_lag_p99_ms": _ms(pct(lag, 0.99)),
            "send_lag_max_ms": _ms(lag[-1] if lag else None),
            "client_cpu_s": self.client_cpu,
            "client_cores": self.client_cpu / self.wall if self.wall else None,
            "server_cpu_s": self.server_cpu,
            "server_cores": (
                self.server_cpu / self.wall if self.wall and self.server_cpu is not None else None
            ),
        }


Flow = Callable[[Item, float, Run], Awaitable[None]]
#: every duration and schedule in this file: perf_counter (uvloop's loop.time() has
#: millisecond resolution and is cached per loop iteration)
clock = time.perf_counter


# ===================================================================== the flows
def _path(url: str) -> str:
    u = urlsplit(url)
    return u.path + (f"?{u.query}" if u.query else "")


def _json(r: Response, run: Run, step: str) -> Any:
    try:
        return r.json()
    except msgspec.DecodeError:
        run.error(step, "bad_json")
        return None


class Bench:
    def __init__(
        self,
        pool: Pool,
        wallets: list[Wallet],
        min_age: int,
        timeout: float,
        auth: OAuthClient | None = None,
    ) -> None:
        self.pool = pool
        self.wallets = wallets
        self.min_age = min_age
        self.timeout = timeout
        self.auth = auth

    def _auth(self, method: str, path: str) -> tuple[str, ...]:
        """The relying party's OAuth headers (a proof signed now), or none (--no-auth)."""
        return () if self.auth is None else self.auth.headers(method, path)

    def _fail(self, r: Response, run: Run, step: str) -> None:
        if r.status == 503:
            run.rejected += 1
            if "retry-after" not in r.headers:
                run.error(step, "503_without_retry_after")
        else:  # problem details carry a machine-readable reason: keep it
            try:
                why = r.json().get("reason")
            except (msgspec.DecodeError, AttributeError):
                why = None
            run.error(step, f"{r.status}:{why}" if isinstance(why, str) else str(r.status))

    async def prepare(self, it: Item, run: Run) -> bool:
        """Create a verification and fetch its request URI (phase A / delegated steps 1-2)."""
        p = self.pool
        create = "/v1/verifications"
        r = await p.send(p.build("POST", create, it.create_body, self._auth("POST", create)))
        if r.status != 201:
            self._fail(r, run, "create")
            return False
        c = _json(r, run, "create")
        if not isinstance(c, dict) or c.get("status") != "pending":
            run.error("create", "bad_body")
            return False
        r = await p.request("GET", _path(c["request_uri"]))
        if r.status != 200:
            self._fail(r, run, "fetch")
            return False
        h = _json(r, run, "fetch")
        if not isinstance(h, dict) or h.get("verification_id") != c["id"]:
            run.error("fetch", "bad_body")
            return False
        it.vid, it.nonce = c["id"], c["nonce"]
        it.pres_path = _path(h["presentation_uri"])
        it.auth = f"Authorization: Bearer {h['presentation_token']}"
        it.request_json = json.dumps(h["request"])
        today = int(h["request"]["today"])
        it.expected = expected_result(self.wallets[it.wallet].birthdate, self.min_age, today)
        return True

    async def finish(self, it: Item, body: bytes, run: Run, t0: float) -> None:
        """POST the presentation, GET the result; record the latency from ``t0``."""
        p = self.pool
        r = await p.send(p.build("POST", it.pres_path, body, (it.auth,)))
        if r.status != 200:
            self._fail(r, run, "present")
            return
        d = _json(r, run, "present")
        if not isinstance(d, dict) or d.get("status") != "completed":
            run.error("present", "bad_body")
            return
        if d.get("result") is not it.expected:
            run.wrong(f"{it.vid}: presentation answered {d.get('result')}, expected {it.expected}")
        read = f"/v1/verifications/{it.vid}"
        r = await p.send(
            p.build("GET", f"{read}?code_verifier={it.verifier}", None, self._auth("GET", read))
        )
        if r.status != 200:
            self._fail(r, run, "read")
            return
        s = _json(r, run, "read")
        if not isinstance(s, dict) or s.get("status") != "completed":
            run.error("read", "not_completed")
            return
        att = s.get("attestation")
        if not isinstance(att, str):
            run.error("read", "no_attestation")
            return
        run.lat.append(clock() - t0)
        if s.get("result") is not it.expected:
            run.wrong(f"{it.vid}: status says {s.get('result')}, expected {it.expected}")
        assert it.expected is not None
        run.atts.append((att, it.expected, it.nonce))

    async def _guard(self, coro: Awaitable[None], run: Run) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await coro
        except TimeoutError:
            run.error("any", "timeout")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            run.error("any", f"conn:{type(e).__name__}")
        except (HttpError, ValueError, KeyError, TypeError) as e:
            run.error("any", f"protocol:{type(e).__name__}")

    async def prep_flow(self, it: Item, t0: float, run: Run) -> None:
        if await self.prepare(it, run):
            run.lat.append(clock() - t0)

    async def proof_flow(self, it: Item, t0: float, run: Run) -> None:
        await self.finish(it, it.body, run, t0)

    async def delegated_flow(self, it: Item, t0: float, run: Run) -> None:
        if await self.prepare(it, run):
            await self.finish(it, self.wallets[it.wallet].delegated_body, run, t0)

    # ----------------------------------------------------------------- drivers
    async def open_loop(self, items: list[Item], rate: float, fn: Flow, run: Run) -> None:
        if self.auth is not None:  # a token that outlives the run, fetched before it
            await self.auth.ensure(self.pool)
        await self.pool.warm(min(self.pool.size, max(8, int(rate * 0.05))))
        tasks = []
        cpu0, srv0 = time.process_time(), _proc_cpu(SERVER_PID)
        start = clock() + 0.02
        for i, it in enumerate(items):
            t_s = start + i / rate
            delay = t_s - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            run.lag.append(max(0.0, clock() - t_s))
            tasks.append(asyncio.create_task(self._guard(fn(it, t_s, run), run)))
        await asyncio.gather(*tasks)
        self._close(run, start, cpu0, srv0)

    async def closed_loop(self, items: list[Item], conc: int, fn: Flow, run: Run) -> None:
        if self.auth is not None:
            await self.auth.ensure(self.pool)
        await self.pool.warm(conc)
        todo = iter(items)

        async def worker() -> None:
            for it in todo:  # shared iterator: each item is taken once
                await self._guard(fn(it, clock(), run), run)

        cpu0, srv0 = time.process_time(), _proc_cpu(SERVER_PID)
        start = clock()
        await asyncio.gather(*(worker() for _ in range(conc)))
        self._close(run, start, cpu0, srv0)

    def _close(self, run: Run, start: float, cpu0: float, srv0: float | None) -> None:
        run.wall = clock() - start
        run.client_cpu = time.process_time() - cpu0
        srv1 = _proc_cpu(SERVER_PID)
        run.server_cpu = srv1 - srv0 if srv0 is not None and srv1 is not None else None


SERVER_PID: int | None = None


# ===================================================================== phase B
def prove_all(items: list[Item], wallets: list[Wallet], keys: KeyStore, threads: int) -> float:
    """Holder proofs for every prepared item, ``threads`` at a time; returns seconds."""
    keys.proving_key("age_gte")  # load once, outside the timing
    done = [0]
    lock = threading.Lock()
    n = len(items)

    def one(it: Item) -> None:
        w = wallets[it.wallet]
        pres = w.holder.present(w.cred, Request.from_json(it.request_json), keys=keys)
        it.body = b'{"mode":"proof","presentation":' + pres.to_json() + b"}"
        with lock:
            done[0] += 1
            if done[0] % 500 == 0:
                print(f"    {done[0]}/{n} proofs", flush=True)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(one, items))
    return time.perf_counter() - t0


# ===================================================================== attestations
def check_attestations(
    runs: Iterable[Run], bundle_json: bytes, audience: str, full: bool
) -> dict[str, Any]:
    """Claims ``result`` equals the expected answer in every attestation; with ``full``,
    every attestation also verifies (SVID, signature, nonce)."""
    from zkattest.agents import AttestationInvalid, verify_attestation
    from zkattest.identity import TrustBundle, decode_unverified

    bundle = None
    counts: Counter[str] = Counter()
    shown = 0
    for run in runs:
        for att, expected, nonce in run.atts:
            claims = decode_unverified(att).claims
            if bundle is None:
                td = str(claims["iss"])[len("spiffe://") :].split("/", 1)[0]
                bundle = TrustBundle.from_spiffe_json(td, bundle_json)
            if claims.get("result") is not expected:
                counts["claim_mismatch"] += 1
                run.mismatch += 1
                if shown < 10:
                    shown += 1
                    print(
                        f"!!! ATTESTATION MISMATCH ({run.flow}, {run.mode}): claims result "
                        f"{claims.get('result')}, expected {expected}",
                        flush=True,
                    )
            if full:
                try:
                    verify_attestation(
                        att, bundle=bundle, audience=audience, now=int(claims["iat"]), nonce=nonce
                    )
                    counts["verified"] += 1
                except AttestationInvalid as e:
                    counts[f"invalid:{e.reason}"] += 1
                    if shown < 10:
                        shown += 1
                        print(f"!!! ATTESTATION INVALID: {e.reason}", flush=True)
            counts["checked"] += 1
    return dict(counts)


# ===================================================================== output
def fmt_ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def row_of(s: dict[str, Any]) -> dict[str, Any]:
    errs = " ".join(f"{k}x{v}" for k, v in sorted(s["errors"].items())) or "0"
    cores = [s["client_cores"], s["server_cores"]]
    return {
        "flow": s["flow"],
        "loop": "open" if s["offered_per_s"] is not None else "closed",
        "offered/s": "-" if s["offered_per_s"] is None else f"{s['offered_per_s']:g}",
        "C": s["concurrency"] or "-",
        "n": s["n"],
        "ok": s["completed"],
        "achieved/s": f"{s['achieved_per_s']:.1f}",
        "p50 ms": fmt_ms(s["p50_ms"]),
        "p90 ms": fmt_ms(s["p90_ms"]),
        "p99 ms": fmt_ms(s["p99_ms"]),
        "max ms": fmt_ms(s["max_ms"]),
        "errors": errs,
        "503": s["rejected_503"],
        "mismatch": f"!!{s['result_mismatches']}" if s["result_mismatches"] else 0,
        "lag p99": fmt_ms(s["send_lag_p99_ms"]),
        "cli/srv cores": "/".join("-" if c is None else f"{c:.2f}" for c in cores),
    }


COLS = [
    "flow", "loop", "offered/s", "C", "n", "ok", "achieved/s", "p50 ms", "p90 ms", "p99 ms",
    "max ms", "errors", "503", "mismatch", "lag p99", "cli/srv cores",
]  # fmt: skip


def print_run(s: dict[str, Any]) -> None:
    r = row_of(s)
    print(
        f"  {r['flow']:<9} {r['loop']:<6} offered {r['offered/s']:>5}/s C={r['C']}: "
        f"{r['ok']}/{r['n']} ok, {r['achieved/s']}/s, p50 {r['p50 ms']} p99 {r['p99 ms']} "
        f"max {r['max ms']} ms; errors {r['errors']}; 503 {r['503']}; cores {r['cli/srv cores']}",
        flush=True,
    )


# ===================================================================== main
def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--url", help="target a running server (then --data-dir is required)")
    ap.add_argument("--data-dir", help="the running server's data directory")
    ap.add_argument("--key-dir", help="its circuit keys (default <data-dir>/keys)")
    ap.add_argument("--quick", action="store_true", help="small N, two rates per flow (< 60 s)")
    ap.add_argument("--rates", help="proof flow offered rates/s, comma-separated")
    ap.add_argument("--seconds", type=float, help="seconds per offered rate (proof flow)")
    ap.add_argument("--closed-n", type=int, help="proof flow closed-loop items")
    ap.add_argument("--concurrency", type=int, default=32, help="proof flow closed-loop C")
    ap.add_argument("--delegated-rates", help="delegated flow offered rates/s")
    ap.add_argument("--delegated-seconds", type=float, help="seconds per delegated rate")
    ap.add_argument("--delegated-closed-n", type=int, help="delegated closed-loop items")
    ap.add_argument("--delegated-concurrency", type=int, default=8)
    ap.add_argument("--flows", default="proof,delegated", help="which flows to run")
    ap.add_argument("--warmup", type=int, help="untimed proof-flow items before the runs")
    ap.add_argument("--prep-concurrency", type=int, default=16, help="phase A connections")
    ap.add_argument("--prove-threads", type=int, default=2, help="phase B threads")
    ap.add_argument("--wallets", type=int, default=8, help="holders with credentials")
    ap.add_argument("--max-conns", type=int, default=256, help="open-loop connection cap")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-item timeout, seconds")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between runs")
    ap.add_argument("--min-age", type=int, default=MIN_AGE)
    ap.add_argument("--audience", default=AUDIENCE)
    ap.add_argument("--no-verify-attestations", action="store_true",
                    help="only compare claimed results; skip signature checks")  # fmt: skip
    ap.add_argument("--no-uvloop", action="store_true", help="plain asyncio event loop")
    ap.add_argument("--workers", type=int, help="own server: ZKATTEST_WORKERS")
    ap.add_argument("--queue", type=int, help="own server: ZKATTEST_QUEUE")
    ap.add_argument("--port", type=int, help="own server: port (default: a free one)")
    ap.add_argument("--server-env", action="append", default=[], metavar="K=V",
                    help="own server: extra environment")  # fmt: skip
    ap.add_argument("--server-pid", type=int, help="with --url: PID for the server CPU column")
    ap.add_argument("--profile-server", metavar="PATH",
                    help="own server: run it under cProfile, stats to PATH (slows it)")  # fmt: skip
    ap.add_argument("--keep-data", action="store_true", help="own server: keep its data dir")
    ap.add_argument(
        "--no-auth",
        action="store_true",
        help="no OAuth: own server with ZKATTEST_REQUIRE_AUTH=false, no tokens "
        "(JSON default bench/results/service-noauth.json)",
    )
    ap.add_argument(
        "--client-id", default="bench-rp", help="the RP's OAuth client id (the bench registers it)"
    )
    ap.add_argument(
        "--clients-file", help="with --url: the server's client registry (DATA_DIR/clients.json)"
    )
    ap.add_argument(
        "--public-url", help="with --url: the server's public_url if set (token aud, proof htu)"
    )
    ap.add_argument(
        "--keep-rate-limit",
        action="store_true",
        help="own server: keep the shipped 600/min per-client rate-limit policy",
    )
    ap.add_argument("--json", help="output path (default bench/results/service.json)")
    a = ap.parse_args()
    if a.url and not a.data_dir:
        ap.error("--url needs --data-dir (the dev issuer and circuit keys are read from it)")
    q = a.quick

    def floats(s: str | None, default: list[float]) -> list[float]:
        return [float(x) for x in s.split(",") if x.strip()] if s else default

    a.rate_list = floats(a.rates, [100, 200] if q else [100, 200, 400, 600])
    a.seconds = a.seconds if a.seconds is not None else (0.75 if q else 2.0)
    a.closed_n = a.closed_n if a.closed_n is not None else (60 if q else 600)
    a.drate_list = floats(a.delegated_rates, [10, 20] if q else [10, 20, 30])
    a.delegated_seconds = a.delegated_seconds or (2.0 if q else 4.0)
    a.delegated_closed_n = a.delegated_closed_n or (24 if q else 120)
    a.warmup = a.warmup if a.warmup is not None else (5 if q else 40)
    a.flow_set = {f.strip() for f in a.flows.split(",") if f.strip()}
    if not a.flow_set <= {"proof", "delegated"}:
        ap.error("--flows: proof and/or delegated")
    return a


async def amain(a: argparse.Namespace) -> None:
    global SERVER_PID
    t_begin = time.perf_counter()
    prepare = None
    if not a.no_auth and not a.keep_rate_limit:
        prepare = lambda d: {"ZKATTEST_POLICY_DIR": str(bench_policies(d))}  # noqa: E731
    server = None if a.url else OwnServer(a, auth=not a.no_auth, prepare=prepare)
    auth: OAuthClient | None = None
    registry: Path | None = None
    auth_info: dict[str, Any] = {"require_auth": not a.no_auth}
    try:
        url = a.url.rstrip("/") if a.url else server.url  # type: ignore[union-attr]
        data_dir = Path(a.data_dir) if a.url else server.data  # type: ignore[union-attr]
        SERVER_PID = a.server_pid if a.url else server.pid  # type: ignore[union-attr]
        where = url if a.url else f"{url} (own server, data {data_dir}, pid {SERVER_PID})"
        print(f"server: {where}", flush=True)
        ready = await wait_ready(url, server, 180.0)
        print(f"ready after {ready['startup_s']:.1f} s; pool {ready.get('pool')}", flush=True)
        u = urlsplit(url)
        pool = Pool(u.hostname or "127.0.0.1", u.port or 80, a.max_conns)
        check = await self_check(pool, url)
        print(f"HTTP client agrees with urllib on {len(check['agree_with_urllib'])} endpoints")
        bundle_json = (await pool.request("GET", "/.well-known/spiffe-bundle")).body
        if not a.no_auth:
            registry = Path(a.clients_file) if a.clients_file else data_dir / "clients.json"
            key = EcKey.generate()
            register_client(registry, a.client_id, key, audiences=[a.audience])
            auth = OAuthClient(a.public_url or url, a.client_id, key)
            t0 = time.perf_counter()
            await auth.client_credentials(pool)
            auth_info.update(
                client_id=a.client_id,
                registry=str(registry),
                first_token_ms=(time.perf_counter() - t0) * 1e3,
                first_token_nonce_retries=auth.nonce_retries,
                rate_limit_raised=server is not None and prepare is not None,
            )
            print(
                f"auth: client {a.client_id} registered in {registry}; DPoP-bound token in "
                f"{auth_info['first_token_ms']:.0f} ms ({auth.nonce_retries} nonce retry); "
                f"per-client rate limit "
                f"{'raised' if auth_info['rate_limit_raised'] else 'as the server has it'}",
                flush=True,
            )
        else:
            print("auth: off (--no-auth)", flush=True)
        auth_info["check"] = await auth_check(pool, auth)
        print(f"auth check: {auth_info['check']}", flush=True)

        issuer = Issuer.load(data_dir / "dev-issuer.json")
        keys = KeyStore(Path(a.key_dir) if a.key_dir else data_dir / "keys")
        wallets = make_wallets(issuer, a.wallets)
        yes = sum(expected_result(w.birthdate, a.min_age, _ymd(_dt.date.today())) for w in wallets)
        print(f"{len(wallets)} holders, {yes} of them at least {a.min_age}", flush=True)
        bench = Bench(pool, wallets, a.min_age, a.timeout, auth)
        runs: list[Run] = []
        setup: dict[str, Any] = {}

        # ------------------------------------------------------------- proof flow
        if "proof" in a.flow_set:
            sizes = [max(1, math.ceil(r * a.seconds)) for r in a.rate_list]
            total = a.warmup + sum(sizes) + a.closed_n
            items = make_items(total, len(wallets), a.audience, a.min_age)
            print(f"\nproof flow: phase A, create + fetch {total} verifications", flush=True)
            prep = Run("prepare", "closed", None, total, a.prep_concurrency)
            await bench.closed_loop(items, a.prep_concurrency, bench.prep_flow, prep)
            ps = prep.summary()
            print_run(ps)
            good = [it for it in items if it.expected is not None]
            if len(good) < total:
                raise SystemExit(f"phase A: only {len(good)} of {total} prepared: {ps['errors']}")
            print(f"proof flow: phase B, {total} holder proofs on {a.prove_threads} threads")
            cpu0 = time.process_time()
            tb = prove_all(items, wallets, keys, a.prove_threads)
            setup["prepare"] = ps
            setup["prove"] = {
                "n": total,
                "threads": a.prove_threads,
                "wall_s": tb,
                "per_s": total / tb,
                "cpu_s": time.process_time() - cpu0,
            }
            print(f"    {total} proofs in {tb:.1f} s ({total / tb:.1f}/s)", flush=True)
            print("proof flow: phase C, timed replays", flush=True)
            pos = 0
            if a.warmup:
                w = Run("proof", "warmup", None, a.warmup, 4)
                await bench.closed_loop(items[: a.warmup], 4, bench.proof_flow, w)
                setup["warmup"] = w.summary()
                pos = a.warmup
            for rate, n in zip(a.rate_list, sizes, strict=True):
                await asyncio.sleep(a.pause)
                run = Run("proof", "open", rate, n, None)
                await bench.open_loop(items[pos : pos + n], rate, bench.proof_flow, run)
                pos += n
                runs.append(run)
                print_run(run.summary())
            if a.closed_n:
                await asyncio.sleep(a.pause)
                run = Run("proof", "closed", None, a.closed_n, a.concurrency)
                await bench.closed_loop(items[pos:], a.concurrency, bench.proof_flow, run)
                runs.append(run)
                print_run(run.summary())
            del items

        # ------------------------------------------------------------- delegated flow
        if "delegated" in a.flow_set:
            print("\ndelegated flow (the server proves)", flush=True)
            for rate in a.drate_list:
                await asyncio.sleep(a.pause)
                n = max(1, math.ceil(rate * a.delegated_seconds))
                items = make_items(n, len(wallets), a.audience, a.min_age)
                run = Run("delegated", "open", rate, n, None)
                await bench.open_loop(items, rate, bench.delegated_flow, run)
                runs.append(run)
                print_run(run.summary())
            if a.delegated_closed_n:
                await asyncio.sleep(a.pause)
                n, c = a.delegated_closed_n, a.delegated_concurrency
                items = make_items(n, len(wallets), a.audience, a.min_age)
                run = Run("delegated", "closed", None, n, c)
                await bench.closed_loop(items, c, bench.delegated_flow, run)
                runs.append(run)
                print_run(run.summary())

        final_ready = await asyncio.to_thread(_urllib, url, "GET", "/readyz")
        print(f"server pool after the runs: {_safe_json(final_ready[1])}", flush=True)
        pool.close_idle()
        print("\nchecking attestations ...", flush=True)
        atts = check_attestations(runs, bundle_json, a.audience, not a.no_verify_attestations)
        print(f"    {atts}", flush=True)
    finally:
        if auth is not None:
            auth_info.update(tokens=auth.issued, nonce_retries=auth.nonce_retries)
        if server is not None:
            server.stop()
        elif registry is not None:
            unregister_client(registry, a.client_id)

    summaries = [r.summary() for r in runs]
    print()
    if a.no_auth:
        print("auth: off (ZKATTEST_REQUIRE_AUTH=false, no tokens)")
    else:
        print(
            f"auth: DPoP-bound token + a fresh DPoP proof on every create and read "
            f"(client {a.client_id}; {auth_info.get('tokens', 0)} tokens)"
        )
    print(table([row_of(s) for s in summaries], COLS))
    for k in ("prepare", "prove"):
        if k in setup:
            s = setup[k]
            if k == "prepare":
                print(
                    f"phase A (create + fetch, closed C={s['concurrency']}, untimed for the "
                    f"target): {s['achieved_per_s']:.0f}/s, p50 {fmt_ms(s['p50_ms'])} "
                    f"p99 {fmt_ms(s['p99_ms'])} ms, errors {s['errors'] or 0}"
                )
            else:
                print(
                    f"phase B (holder proofs, {s['threads']} threads): {s['per_s']:.1f}/s, "
                    f"{s['wall_s']:.1f} s for {s['n']}"
                )
    verdicts = targets(summaries)
    for v in verdicts:
        print(v)
    bad = sum(s["result_mismatches"] for s in summaries)
    invalid = sum(v for k, v in atts.items() if k.startswith("invalid") or k == "claim_mismatch")
    if bad or invalid:
        print(f"\n!!!!!! {bad} RESULT MISMATCHES, {invalid} BAD ATTESTATIONS !!!!!!")
    total_s = time.perf_counter() - t_begin
    res = {
        "runs": summaries,
        "setup": setup,
        "attestations": atts,
        "targets": TARGETS,
        "verdicts": verdicts,
        "client_self_check": check,
        "auth": auth_info,
        "server_ready": ready,
        "server_ready_after": _safe_json(final_ready[1]),
    }
    cfg = {
        "url": a.url,
        "own_server": a.url is None,
        "server_env": server.env_shown if server else None,
        "workers": (ready.get("pool") or {}).get("workers"),
        "pool_capacity": (ready.get("pool") or {}).get("capacity"),
        "rates": a.rate_list,
        "seconds": a.seconds,
        "n_per_rate": [max(1, math.ceil(r * a.seconds)) for r in a.rate_list],
        "closed_n": a.closed_n,
        "concurrency": a.concurrency,
        "delegated_rates": a.drate_list,
        "delegated_seconds": a.delegated_seconds,
        "delegated_closed_n": a.delegated_closed_n,
        "delegated_concurrency": a.delegated_concurrency,
        "warmup": a.warmup,
        "wallets": a.wallets,
        "min_age": a.min_age,
        "prove_threads": a.prove_threads,
        "max_conns": a.max_conns,
        "event_loop": type(asyncio.get_running_loop()).__module__,
        "quick": a.quick,
        "require_auth": not a.no_auth,
    }
    out = write_json(
        "service-noauth" if a.no_auth else "service",
        res,
        a.json,
        extra={"config": cfg, "loadavg_1_5_15": list(os.getloadavg()), "total_s": total_s},
    )
    print(f"\n{total_s:.0f} s in all; load average {os.getloadavg()[0]:.2f}; JSON: {out}")


def _safe_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def targets(summaries: list[dict[str, Any]]) -> list[str]:
    out = []
    proof = [s for s in summaries if s["flow"] == "proof"]
    if proof:
        best = max(s["achieved_per_s"] for s in proof)
        ok = best >= TARGETS["proof_per_s"]
        out.append(
            f"target proof flow >= {TARGETS['proof_per_s']:.0f}/s: best {best:.0f}/s -> "
            f"{'met' if ok else 'NOT met'}"
        )
        at100 = [s for s in proof if s["offered_per_s"] == 100]
        if at100:
            p99 = at100[0]["p99_ms"]
            ok = (
                p99 is not None
                and p99 <= TARGETS["proof_p99_ms_at_100"]
                and at100[0]["completed"] == at100[0]["n"]
            )
            out.append(
                f"target proof p99 <= {TARGETS['proof_p99_ms_at_100']:.0f} ms at 100/s: "
                f"{fmt_ms(p99)} ms -> {'met' if ok else 'NOT met'}"
            )
    dele = [s for s in summaries if s["flow"] == "delegated"]
    if dele:
        best = max(s["achieved_per_s"] for s in dele)
        ok = best >= TARGETS["delegated_per_s"]
        out.append(
            f"target delegated flow >= {TARGETS['delegated_per_s']:.0f}/s: best {best:.1f}/s -> "
            f"{'met' if ok else 'NOT met'}"
        )
    return out


def main() -> None:
    a = parse_args()
    if not a.no_uvloop:
        try:
            import uvloop

            uvloop.run(amain(a))
            return
        except ImportError:
            pass
    asyncio.run(amain(a))


if __name__ == "__main__":
    main()
