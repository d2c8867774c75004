"""A real `zkattest serve` process: readiness, the holder-side flow over TCP, the
`zkattest demo` client, a clean SIGTERM, a restart on the same data directory, and
no secret in the server's output."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from zkattest.credentials import Holder, Issuer, KeyStore, Request
from zkattest.service import Resources

from .conftest import LEAP_BIRTHDATE, RP, in_years
from .stock_rp import StockRP

KEY_DIR = os.environ["ZKATTEST_KEY_DIR"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZKATTEST_")}
    env["ZKATTEST_KEY_DIR"] = KEY_DIR
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextmanager
def _server(data: Path, port: int, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`zkattest serve` on ``port``; yields once /readyz answers 200.  Output goes to
    ``log``.  On exit: SIGTERM, and the process must shut down gracefully by itself."""
    cmd = [
        sys.executable,
        "-m",
        "zkattest.cli",
        "serve",
        "--data-dir",
        str(data),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "debug",
    ]
    url = f"http://127.0.0.1:{port}"
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=_env())
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.1)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("the server did not stop on SIGTERM") from None
    # uvicorn re-raises the signal after its graceful shutdown, so the exit status is
    # "killed by SIGTERM" (-15) -- what service managers expect -- or 0
    assert rc in (0, -signal.SIGTERM), (rc, log.read_text()[-3000:])
    tail = log.read_text()[-2000:]
    assert "Application shutdown complete" in tail
    assert "Traceback" not in log.read_text()


def test_real_server(tmp_path: Path, resources: Resources) -> None:
    # `resources` only makes sure the session's circuit keys exist in KEY_DIR
    data = tmp_path / "data"
    log = tmp_path / "server.log"
    port = _free_port()
    holder = Holder()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())

    with _server(data, port, log) as (_proc, url), httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        issuer = Issuer.load(data / "dev-issuer.json")
        cred = issuer.issue({"birthdate": LEAP_BIRTHDATE}, holder.commitment, expires=in_years(5))
        body = {
            "predicate": "age_gte",
            "params": {"min_age": 18},
            "audience": RP,
            "code_challenge": challenge.rstrip(b"=").decode(),
        }
        # OAuth is on by default: no token, no verification
        r = http.post("/v1/verifications", json=body)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("DPoP")
        # register an RP with the admin CLI while the server runs: it picks the change up
        rp = StockRP("shop")
        (tmp_path / "shop.jwks").write_text(json.dumps(rp.jwks()))
        add = subprocess.run(
            [
                sys.executable,
                "-m",
                "zkattest.cli",
                "clients",
                "add",
                "shop",
                "--jwks",
                str(tmp_path / "shop.jwks"),
                "--predicate",
                "age_gte",
                "--audience",
                RP,
                "--data-dir",
                str(data),
            ],
            capture_output=True,
            env=_env(),
            timeout=60,
        )
        assert add.returncode == 0, add.stderr.decode()
        rp.get_token(http, url)
        r = http.post(
            "/v1/verifications",
            headers=rp.auth("POST", f"{url}/v1/verifications"),
            json={
                "predicate": "age_gte",
                "params": {"min_age": 18},
                "audience": RP,
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            },
        )
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["request_uri"].startswith(url)  # the server's own base URL
        hreq = http.get(created["request_uri"]).json()
        req = Request.from_json(json.dumps(hreq["request"]))
        pres = holder.present(cred, req, keys=KeyStore(KEY_DIR))
        r = http.post(
            hreq["presentation_uri"],
            json={"mode": "proof", "presentation": json.loads(pres.to_json())},
            headers={"Authorization": f"Bearer {hreq['presentation_token']}"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["result"] is True
        st = http.get(
            f"/v1/verifications/{created['id']}",
            params={"code_verifier": verifier},
            headers=rp.auth("GET", f"{url}/v1/verifications/{created['id']}"),
        )
        attestation = st.json()["attestation"]
        assert st.json()["status"] == "completed"
        v = http.post("/v1/attestations/verify", json={"attestation": attestation, "audience": RP})
        assert v.json()["valid"] is True
        # a delegated presentation too (the holder secret crosses the wire)
        r2 = http.post(
            "/v1/verifications", json=body, headers=rp.auth("POST", f"{url}/v1/verifications")
        )
        hreq2 = http.get(r2.json()["request_uri"]).json()
        r = http.post(
            hreq2["presentation_uri"],
            json={
                "mode": "delegated",
                "credential": json.loads(cred.to_json()),
                "holder_secret": str(holder.secret),
            },
            headers={"Authorization": f"Bearer {hreq2['presentation_token']}"},
        )
        assert r.status_code == 200, r.text

        demo = subprocess.run(
            [sys.executable, "-m", "zkattest.cli", "demo", "--url", url, "--data-dir", str(data)],
            capture_output=True,
            env=_env(),
            timeout=120,
        )
        assert demo.returncode == 0, demo.stderr.decode()[-3000:]
        assert "RESULT" in demo.stdout.decode()
        assert "YES" in demo.stdout.decode()
        demo = subprocess.run(
            [
                sys.executable,
                "-m",
                "zkattest.cli",
                "demo",
                "--url",
                url,
                "--data-dir",
                str(data),
                "--delegated",
                "--birthdate",
                "20200101",
            ],
            capture_output=True,
            env=_env(),
            timeout=120,
        )
        assert demo.returncode == 0, demo.stderr.decode()[-3000:]
        assert "RESULT" in demo.stdout.decode() and "NO" in demo.stdout.decode()

    # restart on the same data directory: the attestation is still there
    with _server(data, _free_port(), log) as (_proc, url), httpx.Client(base_url=url) as http:
        first_token = rp.token
        rp.get_token(http, url)  # the new port is a new issuer/resource: a new token
        st = http.get(
            f"/v1/verifications/{created['id']}",
            params={"code_verifier": verifier},
            headers=rp.auth("GET", f"{url}/v1/verifications/{created['id']}"),
        )
        assert st.status_code == 200
        assert st.json()["attestation"] == attestation
        r = http.get(created["request_uri"].replace(created["request_uri"].split("/v1/")[0], url))
        assert r.status_code == 410

    output = log.read_text()
    # JSON lines by default (log_format), every one of them
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "message"} <= r.keys() for r in records)
    assert any(r["message"].startswith("zkattest serving") for r in records)
    # --log-level debug took effect: the scan below saw everything
    assert any(r["level"] == "DEBUG" for r in records)
    for secret in (
        str(LEAP_BIRTHDATE),
        "20200101",
        str(holder.secret),
        verifier,
        hreq["presentation_token"],
        hreq2["presentation_token"],
        first_token,
        rp.token,
    ):
        assert secret and secret not in output
