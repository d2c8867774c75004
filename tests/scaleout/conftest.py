"""Two real ``zkattest serve`` replicas behind one public URL, sharing one PostgreSQL
schema and one data directory.

Needs ``ZKATTEST_TEST_DATABASE_URL`` (``postgresql://postgres@127.0.0.1:5432/test``);
without it every test here is skipped.  The pair is started once per module: both
processes at the same time on an empty data directory and an empty schema, so their
first start races on the key files (created atomically, one wins) and on the
migrations (run under an advisory lock).  The schema is dropped afterwards.

Each replica listens on its own port; ``public_url`` is replica A's address for both,
so both are the same OAuth issuer and API (``aud``), as two replicas behind one load
balancer are.  A request "through replica B" goes to B's port with the URLs (DPoP
``htu``, request and presentation URIs) built from that public URL.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from zkattest.credentials import KeyStore

PG_URL = os.environ.get("ZKATTEST_TEST_DATABASE_URL", "")
NO_PG = "ZKATTEST_TEST_DATABASE_URL is not set: no PostgreSQL to run two replicas on"
KEY_DIR = os.environ["ZKATTEST_KEY_DIR"]  # set by tests/conftest.py
READY_WITHIN = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's ZKATTEST_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZKATTEST_")}
    env.update(ZKATTEST_KEY_DIR=KEY_DIR, PYTHONUNBUFFERED="1", **extra)
    return env


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``zkattest ARGS`` in a subprocess (output captured)."""
    return subprocess.run(
        [sys.executable, "-m", "zkattest.cli", *args],
        capture_output=True,
        text=True,
        env=server_env(),
        timeout=timeout,
    )


@dataclass
class Replica:
    name: str
    proc: subprocess.Popen[bytes]
    addr: str  # where this process listens: http://127.0.0.1:<port>
    log: Path

    @property
    def port(self) -> int:
        return int(self.addr.rsplit(":", 1)[1])

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.addr, timeout=60)


@dataclass
class Pair:
    a: Replica
    b: Replica
    public: str  # the shared public URL (replica A's address)
    data: Path
    db_url: str

    @property
    def both(self) -> tuple[Replica, Replica]:
        return (self.a, self.b)

    def via(self, replica: Replica, uri: str) -> str:
        """``uri`` (built from the public URL) as sent to ``replica``: same path."""
        assert uri.startswith(self.public + "/"), uri
        return replica.addr + uri[len(self.public) :]


def _start(name: str, data: Path, port: int, public: str, db_url: str, log: Path) -> Replica:
    cmd = [sys.executable, "-m", "zkattest.cli", "serve", "--data-dir", str(data)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    env = server_env(
        ZKATTEST_DATABASE_URL=db_url,
        ZKATTEST_PUBLIC_URL=public,
        ZKATTEST_LOG_LEVEL="info",
        # the sweeper also signs the audit chain's head: soon after the last event
        ZKATTEST_SWEEP_INTERVAL="0.5",
    )
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    return Replica(name, proc, f"http://127.0.0.1:{port}", log)


def _wait_ready(r: Replica, deadline: float) -> None:
    while True:
        assert r.proc.poll() is None, f"replica {r.name} exited:\n{r.tail()}"
        try:
            if httpx.get(f"{r.addr}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"replica {r.name} never became ready:\n{r.tail()}"
        time.sleep(0.1)


def _stop(r: Replica) -> list[str]:
    """SIGTERM, then what is wrong with how it ended (empty: a clean shutdown)."""
    if r.proc.poll() is None:
        r.proc.send_signal(signal.SIGTERM)
    try:
        rc = r.proc.wait(30)
    except subprocess.TimeoutExpired:
        r.proc.kill()
        r.proc.wait()
        return [f"replica {r.name} did not stop on SIGTERM"]
    out = r.log.read_text(errors="replace")
    problems = []
    if rc not in (0, -signal.SIGTERM):
        problems.append(f"replica {r.name} exited with {rc}")
    if "Traceback" in out:
        problems.append(f"replica {r.name} logged a traceback")
    if problems:
        problems.append(out[-3000:])
    return problems


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    if not PG_URL:
        pytest.skip(NO_PG)
    # circuit keys once, here (the replicas load them; two first starts would both set up)
    KeyStore(KEY_DIR).dev_setup("age_gte")
    schema = f"zkt_scale_{secrets.token_hex(6)}"
    parts = urllib.parse.urlsplit(PG_URL)
    query = urllib.parse.urlencode([*urllib.parse.parse_qsl(parts.query), ("schema", schema)])
    db_url = urllib.parse.urlunsplit(parts._replace(query=query))
    root = tmp_path_factory.mktemp("scaleout")
    data = root / "data"  # empty: both first starts race to create the key files
    port_a, port_b = free_port(), free_port()
    public = f"http://127.0.0.1:{port_a}"
    reps = [
        _start(name, data, port, public, db_url, root / f"{name}.log")
        for name, port in (("A", port_a), ("B", port_b))
    ]
    try:
        deadline = time.monotonic() + READY_WITHIN
        for r in reps:
            _wait_ready(r, deadline)
        yield Pair(reps[0], reps[1], public, data, db_url)
    finally:
        problems = [p for r in reps for p in _stop(r)]
        asyncio.run(_pg(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    assert not problems, "\n".join(problems)


def register(pair: Pair, client_id: str, jwks: dict[str, Any], audience: str) -> None:
    """``zkattest clients add`` into the shared registry (both replicas pick it up)."""
    path = pair.data / f"{client_id}.jwks"
    path.write_text(json.dumps(jwks))
    args = ["clients", "add", client_id, "--jwks", str(path), "--predicate", "age_gte"]
    done = cli(*args, "--audience", audience, "--data-dir", str(pair.data))
    assert done.returncode == 0, done.stderr


def race(
    pair: Pair, n: int, send: Callable[[Replica, httpx.Client], httpx.Response]
) -> list[httpx.Response]:
    """``send`` on ``n`` threads, alternating between the replicas, each with its own
    client whose connection is open before a barrier releases them all at once."""
    clients = []
    try:
        for i in range(n):
            rep = pair.both[i % 2]
            clients.append((rep, rep.client()))
            assert clients[-1][1].get("/healthz").status_code == 200
        barrier = threading.Barrier(n)

        def one(i: int) -> httpx.Response:
            barrier.wait()
            return send(*clients[i])

        with ThreadPoolExecutor(n) as ex:
            return list(ex.map(one, range(n)))
    finally:
        for _, c in clients:
            c.close()
