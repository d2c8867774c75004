"""``zkattest demo``: issuer -> holder -> relying party against a running server.

The issuer is the server's DEVELOPMENT issuer (``<data_dir>/dev-issuer.json``,
created on the server's first start); the holder proves with the circuit keys of
the same data directory (holder-side proving) or hands its witness to a
micro-agent (``--delegated``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from .. import errors
from ..agents import verify_attestation
from ..client import OAuthSession, TokenError
from ..credentials import Holder, Issuer, KeyStore, Presentation, Request
from ..identity import TrustBundle, b64url_encode, decode_unverified
from ..identity.jwk import Jwks
from ..identity.trust import load_or_create_key
from ..oauth.base import Client
from ..oauth.clients import ClientRegistry

__all__ = ["DEMO_CLIENT", "DemoError", "run_demo"]

DEMO_CLIENT = "demo-rp"


class DemoError(errors.ZkAttestError):
    """The demo could not complete (the message says which step)."""


def _check(r: httpx.Response, step: str) -> dict[str, Any]:
    if r.status_code >= 400:
        try:
            p = r.json()
            why = f"{p.get('title')}: {p.get('detail')}"
        except ValueError:
            why = r.text[:200]
        raise DemoError(f"{step}: HTTP {r.status_code} {why}")
    out = r.json()
    if not isinstance(out, dict):
        raise DemoError(f"{step}: unexpected response")
    return out


def _demo_session(http: httpx.Client, url: str, data_dir: Path, audience: str) -> OAuthSession:
    """The demo RP's OAuth client: its key in the data directory, registered in the
    server's client registry (the server picks the change up without a restart)."""
    key = load_or_create_key(data_dir / "demo-rp.key.pem")
    registry = ClientRegistry(data_dir / "clients.json")
    try:
        known = registry.get(DEMO_CLIENT)
    except (OSError, errors.InvalidInput) as e:
        raise DemoError(f"client registry {registry.path}: {e}") from None
    if known is None or audience not in known.audiences:
        registry.add(
            Client(
                client_id=DEMO_CLIENT,
                name="zkattest demo relying party",
                jwks=Jwks.from_json(
                    {"keys": [{**key.public().jwk(), "kid": key.public().thumbprint()}]}
                ),
                predicates=frozenset({"age_gte"}),
                audiences=frozenset({audience, *(known.audiences if known else ())}),
            ),
            replace=True,
        )
    return OAuthSession(http, url, DEMO_CLIENT, key)


def run_demo(
    url: str,
    *,
    data_dir: Path,
    key_dir: Path,
    min_age: int = 18,
    birthdate: int = 20000229,
    audience: str = "https://shop.example",
    delegated: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the three parties' flow; returns the verified attestation's claims."""
    issuer_file = data_dir / "dev-issuer.json"
    if not issuer_file.is_file():
        raise DemoError(
            f"no development issuer at {issuer_file}: start `zkattest serve` with the same "
            "data directory first (and dev_issuer = true)"
        )
    with httpx.Client(base_url=url, timeout=30.0) as http:
        try:
            _check(http.get("/healthz"), "health")
        except httpx.HTTPError as e:
            raise DemoError(f"no zkattest server at {url} ({type(e).__name__})") from None

        say("1. issuer: signs a credential for the holder (EdDSA-Poseidon on Baby Jubjub)")
        issuer = Issuer.load(issuer_file)
        holder = Holder()
        today = _dt.datetime.now(_dt.UTC).date()
        expires = (today.year + 5) * 10000 + today.month * 100 + min(today.day, 28)
        cred = issuer.issue({"birthdate": birthdate}, holder.commitment, expires=expires)
        say(
            f"   issuer key Ax={str(issuer.public_key.Ax)[:16]}...; "
            "the birthdate stays in the wallet"
        )

        say(f"2. relying party {audience}: gets a DPoP-bound token (private_key_jwt, RFC 7523)")
        rp = _demo_session(http, url, data_dir, audience)
        try:
            rp.client_credentials(["verify:age_gte"])
        except TokenError as e:
            raise DemoError(
                f"token: {e} (the server's client registry must be {data_dir}/clients.json)"
            ) from None
        say(f"   asks 'at least {min_age}?' with a PKCE challenge")
        verifier = secrets.token_urlsafe(48)
        challenge = b64url_encode(hashlib.sha256(verifier.encode()).digest())
        created = _check(
            rp.request(
                "POST",
                "/v1/verifications",
                json={
                    "predicate": "age_gte",
                    "params": {"min_age": min_age},
                    "audience": audience,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            ),
            "create verification",
        )
        vid = created["id"]
        say(f"   verification {vid}; one-time request URI for the holder")

        say("3. holder: fetches the request (once)")
        hreq = _check(http.get(created["request_uri"]), "fetch request")
        request = Request.from_json(json.dumps(hreq["request"]))
        auth = {"Authorization": f"Bearer {hreq['presentation_token']}"}
        if delegated:
            say("4. holder: hands credential + secret to a micro-agent (delegated proving)")
            body: dict[str, Any] = {
                "mode": "delegated",
                "credential": json.loads(cred.to_json()),
                "holder_secret": str(holder.secret),
            }
        else:
            t0 = time.perf_counter()
            pres: Presentation = holder.present(cred, request, keys=KeyStore(key_dir))
            say(
                f"4. holder: proves locally in {1000 * (time.perf_counter() - t0):.0f} ms "
                "(Groth16 over BN254); only the proof leaves the wallet"
            )
            body = {"mode": "proof", "presentation": json.loads(pres.to_json())}
        done = _check(http.post(hreq["presentation_uri"], json=body, headers=auth), "present")
        say(f"   micro-agent {done['agent_id']} checked it, signed once, retired")

        say("5. relying party: reads the result with its PKCE verifier")
        st = _check(
            rp.request("GET", f"/v1/verifications/{vid}", params={"code_verifier": verifier}),
            "read",
        )
        token = st["attestation"]
        bundle = TrustBundle.from_spiffe_json(
            _trust_domain(token), http.get("/.well-known/spiffe-bundle").content
        )
        vk_ok = verify_attestation(
            token, bundle=bundle, audience=audience, now=int(time.time()), nonce=created["nonce"]
        )
        remote = _check(
            http.post("/v1/attestations/verify", json={"attestation": token, "audience": audience}),
            "verify attestation",
        )
        agent = http.get(f"/v1/agents/{done['agent_id']}").json()
    claims = vk_ok.claims
    say(f"   attestation (JWS, {len(token)} bytes) by {claims['iss']}")
    say(f"   verified locally against the SPIFFE bundle: result = {claims['result']}")
    say(f"   verified by the service: valid = {remote['valid']}; agent state: {agent['state']}")
    say(
        f"RESULT: at least {min_age}? {'YES' if claims['result'] else 'NO'} "
        "(the relying party learned nothing else)"
    )
    return claims


def _trust_domain(token: str) -> str:
    jws = decode_unverified(token)
    iss = jws.claims.get("iss")
    if not isinstance(iss, str) or not iss.startswith("spiffe://"):
        raise DemoError("the attestation has no SPIFFE issuer")
    return iss[len("spiffe://") :].split("/", 1)[0]
