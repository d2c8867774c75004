"""Schemathesis over the service's own OpenAPI document, in process (ASGI).

Every operation of ``/schema/openapi.json`` gets generated requests (valid and
invalid bodies, path and query values), twice: with ``require_auth`` off, and with
it on and a valid DPoP-bound access token plus a fresh DPoP proof on every request
(so generated bodies get past authentication into the handlers).

Checked on every response:

- ``not_a_server_error``: no 5xx (a 503 would need a down database or a full pool,
  neither of which happens here);
- every 4xx is an RFC 9457 problem (``application/problem+json``, ``type``,
  ``title``, ``status`` = the HTTP status) -- the service's error contract;
- every 2xx body conforms to the documented schema (``response_schema_conformance``).

Not checked: the documented *error* responses.  Litestar documents a 400 as its own
``{"status_code", "detail", "extra"}`` JSON and no other error status, while the
service answers every error (400, 401, 403, 404, 409, 410, 415, 422, ...) as
``application/problem+json``; ``response_schema_conformance``,
``status_code_conformance`` and ``content_type_conformance`` would flag every error
response for that documentation gap (reported separately), not for a behaviour bug.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from zkattest.client.oauth import dpop_proof
from zkattest.identity.jose import EcKey
from zkattest.oauth.clients import ClientRegistry
from zkattest.oauth.tokens import TokenIssuer
from zkattest.service import Config, Resources, bootstrap, create_app

from .conftest import KEY_DIR, PROBLEM, register_client

#: generated cases per operation, configuration and mode (valid / invalid data):
#: 17 operations x 4 stay well under a minute on a shared 2-core machine
EXAMPLES = 40


def _resources(tmp: Path, *, require_auth: bool) -> Resources:
    res = bootstrap(
        Config(
            data_dir=str(tmp / "data"),
            key_dir=KEY_DIR,
            require_auth=require_auth,
            database_url=f"sqlite:///{(tmp / 'zkattest.db').resolve()}",
            clients_file=str(tmp / "clients.json"),
        ),
        progress=False,
    )
    return dataclasses.replace(res, clients=ClientRegistry(res.config.clients_path))


@dataclasses.dataclass
class Dpop:
    """A valid access token for a registered client and its DPoP key."""

    base_url: str
    token: str
    key: EcKey

    def headers(self, method: str, path: str) -> dict[str, str]:
        proof = dpop_proof(
            self.key, method, self.base_url + path, now=int(time.time()), access_token=self.token
        )
        return {"Authorization": f"DPoP {self.token}", "DPoP": proof}


def _app(tmp: Path, *, require_auth: bool) -> tuple[Any, Dpop | None]:
    """The app's schema (loaded over ASGI) and, with auth on, a registered client's
    token minted by the app's own token issuer, bound to a DPoP key."""
    res = _resources(tmp, require_auth=require_auth)
    dpop: Dpop | None = None
    if require_auth:
        client_key, dpop_key = EcKey.generate(), EcKey.generate()
        register_client(res.config.clients_path, "fuzz-rp", client_key)
        cfg = res.config
        issuer = TokenIssuer(res.oauth.key, res.oauth.kid, cfg.base_url, ttl=cfg.access_token_ttl)
        token = issuer.mint(
            sub="fuzz-rp",
            client_id="fuzz-rp",
            aud=cfg.base_url,
            scope=["verify:age_gte"],
            jkt=dpop_key.public().thumbprint(),
            now=int(time.time()),
        )
        dpop = Dpop(cfg.base_url, token.raw, dpop_key)
    app = create_app(resources=res)
    return schemathesis.openapi.from_asgi("/schema/openapi.json", app), dpop


def _check(case: Any, response: Any) -> None:
    where = (case.method, case.formatted_path, response.status_code, response.text[:300])
    case.validate_response(response, checks=[not_a_server_error])
    status = response.status_code
    if 200 <= status < 300:
        case.validate_response(response, checks=[response_schema_conformance])
    else:
        assert 400 <= status < 500, where
        ctype = (response.headers.get("content-type") or [""])[0].split(";")[0]
        assert ctype == PROBLEM, where
        body = response.json()
        assert isinstance(body, dict) and body.get("status") == status, where
        assert str(body.get("type", "")).startswith("urn:zkattest:problem:"), where
        assert isinstance(body.get("title"), str) and body["title"], where


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"]
)
@pytest.mark.parametrize("require_auth", [False, True], ids=["open", "dpop"])
def test_openapi_operations(tmp_path: Path, require_auth: bool, mode: GenerationMode) -> None:
    schema, dpop = _app(tmp_path, require_auth=require_auth)
    try:
        operations = [r.ok() for r in schema.get_all_operations()]
        assert len(operations) >= 15, [op.label for op in operations]
        ran = 0
        seen: Counter[tuple[str, int]] = Counter()
        for op in operations:
            label = op.label

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                headers = dpop.headers(case.method.upper(), case.formatted_path) if dpop else None
                response = case.call(headers=headers)
                seen[(case.operation.label, response.status_code)] += 1
                _check(case, response)

            try:
                run()
            except Unsatisfiable:
                # nothing of this operation can be made invalid (a path with one
                # unconstrained string parameter and no body)
                assert mode is GenerationMode.NEGATIVE, label
                continue
            except Exception as e:
                e.add_note(f"operation: {label}")
                raise
            ran += 1
        assert ran >= (15 if mode is GenerationMode.POSITIVE else 5), ran
        create = "POST /v1/verifications"
        if mode is GenerationMode.POSITIVE and not require_auth:
            assert seen[(create, 201)] > 0, seen  # 2xx bodies were checked
        if mode is GenerationMode.POSITIVE and require_auth:
            # generated bodies got past authentication into the handler: created, or
            # refused by the policy (generated audiences are not the client's)
            assert seen[(create, 201)] + seen[(create, 403)] > 0, seen
        if require_auth:
            assert seen[(create, 401)] == 0, seen  # the token and every proof accepted
    finally:
        asgi.shutdown_lifespans()
