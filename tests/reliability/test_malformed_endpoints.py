"""Malformed points and keys through every endpoint that takes them: always a 4xx
RFC 9457 problem (or, where the endpoint answers a question, a clean "no"), never a
500 -- and nothing consumed by input refused before it is checked.

- Presentations (holder-side proof): proof points off the curve, outside G2's
  subgroup (points of the twist), with a non-canonical coordinate (x + q, = q) or a
  bad z; public signals >= r (r itself, a valid value + r, up to 2^256 and beyond);
  the issuer key in the public signals off the curve or degenerate.  Encoding
  errors are refused before the verification is touched (it stays pending and then
  takes the right presentation); well-formed but wrong values are refused by the
  check and end the verification ``failed``, never ``completed``.
- Delegated presentations: a credential whose issuer key is the identity or a point
  of order 2 of Baby Jubjub, with the signature such a key makes trivially forgeable.
- Attestation checks: attestations signed by a real agent SVID (the test holds the
  trust-domain key) that carry malformed proof points or public signals >= r,
  including the same proof with a signal shifted by r: never ``valid``; garbage
  tokens: a clean ``valid: false`` or a 4xx.
- DPoP: proofs whose header JWK is off the curve, the identity, a P-384 point
  labelled P-256, an RSA key of 16384 bits or with e = 1 (signed by the trivial
  e = 1 "signature"), an Ed25519 identity key with the forged signature it allows,
  a symmetric or private key, ... at the token endpoint (400 invalid_dpop_proof) and
  on a resource (401 with a DPoP challenge); hypothesis for arbitrary JWK objects.
- Client registration (the CLI): the same keys are refused with a one-line error
  and the registry is left untouched.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import random
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient
from py_ecc import optimized_bn128 as _bn

from zkattest import _native as N
from zkattest.agents.attestation import TYP
from zkattest.cli import main as cli_main
from zkattest.client.oauth import client_assertion, dpop_proof
from zkattest.identity import SpiffeId, decode_unverified, mint_svid, sign_compact
from zkattest.identity.jose import EcKey
from zkattest.oauth.clients import ClientRegistry
from zkattest.oauth.tokens import TokenIssuer
from zkattest.service import Config, Resources, bootstrap, create_app

from .conftest import (
    ASSERTION_TYPE,
    KEY_DIR,
    RP,
    Wallet,
    assert_problem,
    create_body,
    expected_result,
    prepare_data_dir,
    register_client,
)

bn: Any = _bn  # py_ecc has no type information
R = bn.curve_order
Q = bn.field_modulus
#: Baby Jubjub: a x^2 + y^2 = 1 + d x^2 y^2 over Fr
BJJ_A, BJJ_D = 168700, 168696


# -- apps ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_res(tmp_path_factory: pytest.TempPathFactory, issuer_file: Path) -> Resources:
    data = prepare_data_dir(tmp_path_factory.mktemp("malformed") / "data", issuer_file)
    return bootstrap(
        Config(data_dir=str(data), key_dir=KEY_DIR, require_auth=False), progress=False
    )


def _res(base: Resources, tmp: Path, **config: Any) -> Resources:
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = msgspec.structs.replace(
        base.config,
        database_url=f"sqlite:///{(tmp / 'zkattest.db').resolve()}",
        clients_file=str(tmp / "clients.json"),
        **config,
    )
    return dataclasses.replace(base, config=cfg, clients=ClientRegistry(cfg.clients_path))


@pytest.fixture
def client(base_res: Resources, tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(resources=_res(base_res, tmp_path / "db"))) as c:
        yield c


@dataclasses.dataclass
class Pending:
    """A fetched verification, the fetched request and a valid presentation for it."""

    vid: str
    verifier: str
    hreq: dict[str, Any]
    pres: dict[str, Any]

    @property
    def path(self) -> str:
        return "/" + str(self.hreq["presentation_uri"]).split("/", 3)[3]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.hreq['presentation_token']}"}


def _pending(c: TestClient[Litestar], wallet: Wallet, res_keys: Any, prove: bool = True) -> Pending:
    verifier = secrets.token_urlsafe(48)
    r = c.post("/v1/verifications", json=create_body(verifier))
    assert r.status_code == 201, r.text
    created = r.json()
    r = c.get("/" + created["request_uri"].split("/", 3)[3])
    assert r.status_code == 200, r.text
    hreq = r.json()
    pres = wallet.proof_body(hreq, res_keys)["presentation"] if prove else {}
    return Pending(created["id"], verifier, hreq, pres)


def _status(c: TestClient[Litestar], p: Pending) -> str:
    r = c.get(f"/v1/verifications/{p.vid}", params={"code_verifier": p.verifier})
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


def _present(c: TestClient[Litestar], p: Pending, pres: Any) -> httpx.Response:
    return c.post(p.path, json={"mode": "proof", "presentation": pres}, headers=p.auth)


def _refused(r: httpx.Response, what: object) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:300])
    return assert_problem(r)


# -- points ----------------------------------------------------------------------------------------


def _g1(x: int, y: int, z: int = 1) -> list[str]:
    return [str(x), str(y), str(z)]


def _fq2_sqrt(a: bn.FQ2) -> bn.FQ2 | None:
    raw = b"".join(int(c).to_bytes(32, "little") for c in a.coeffs)
    try:
        s = N.fq2_sqrt(raw)
    except ValueError:
        return None
    root = bn.FQ2([int.from_bytes(s[:32], "little"), int.from_bytes(s[32:], "little")])
    assert root * root == a  # checked here, not trusted
    return root


@cache
def twist_point() -> tuple[tuple[int, int], tuple[int, int]]:
    """A point of the twist E'(Fq2) outside G2 (checked with py_ecc)."""
    rng = random.Random(2024)
    while True:
        x = bn.FQ2([rng.randrange(Q), rng.randrange(Q)])
        y = _fq2_sqrt(x * x * x + bn.b2)
        if y is None:
            continue
        pt = (x, y, bn.FQ2.one())
        assert bn.is_on_curve(pt, bn.b2)
        assert not bn.is_inf(bn.multiply(pt, R))  # not in the order-r subgroup
        return (
            (int(x.coeffs[0]), int(x.coeffs[1])),
            (int(y.coeffs[0]), int(y.coeffs[1])),
        )


def _edit(pres: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(pres))
    node = out
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return out


def encoding_variants(pres: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Proof points that must be refused at decoding, before anything is consumed."""
    ax, ay = (int(v) for v in pres["proof"]["pi_a"][:2])
    cx, cy = (int(v) for v in pres["proof"]["pi_c"][:2])
    (bx0, bx1), (by0, by1) = ([int(v) for v in c] for c in pres["proof"]["pi_b"][:2])
    (tx0, tx1), (ty0, ty1) = twist_point()
    pb = ("proof", "pi_b")
    return {
        "pi_a_off_curve": _edit(pres, ("proof", "pi_a"), _g1(ax, (ay + 1) % Q)),
        "pi_a_x_plus_q": _edit(pres, ("proof", "pi_a"), _g1(ax + Q, ay)),
        "pi_a_y_plus_q": _edit(pres, ("proof", "pi_a"), _g1(ax, ay + Q)),
        "pi_a_x_is_q": _edit(pres, ("proof", "pi_a"), _g1(Q, 2)),
        "pi_a_z_2": _edit(pres, ("proof", "pi_a"), _g1(ax, ay, 2)),
        "pi_a_z_q": _edit(pres, ("proof", "pi_a"), _g1(ax, ay, Q)),
        "pi_c_off_curve": _edit(pres, ("proof", "pi_c"), _g1(cx + 1, cy)),
        "pi_c_2_pow_256": _edit(pres, ("proof", "pi_c"), _g1(2**256, cy)),
        "pi_b_off_twist": _edit(
            pres, pb, [[str(bx0), str(bx1)], [str(by0), str(by1 + 1)], ["1", "0"]]
        ),
        "pi_b_not_in_subgroup": _edit(
            pres, pb, [[str(tx0), str(tx1)], [str(ty0), str(ty1)], ["1", "0"]]
        ),
        "pi_b_x0_plus_q": _edit(
            pres, pb, [[str(bx0 + Q), str(bx1)], [str(by0), str(by1)], ["1", "0"]]
        ),
        "pi_b_y1_is_q": _edit(pres, pb, [[str(bx0), str(bx1)], [str(by0), str(Q)], ["1", "0"]]),
        "pi_b_swapped_c0_c1": _edit(
            pres, pb, [[str(bx1), str(bx0)], [str(by1), str(by0)], ["1", "0"]]
        ),
        "pi_b_z_1_1": _edit(pres, pb, [[str(bx0), str(bx1)], [str(by0), str(by1)], ["1", "1"]]),
        "pi_b_three_coords": _edit(pres, pb, [[str(bx0), str(bx1), "0"], [str(by0), str(by1)]]),
    }


def test_malformed_proof_points_consume_nothing(
    client: TestClient[Litestar], base_res: Resources, wallets: list[Wallet]
) -> None:
    p = _pending(client, wallets[0], base_res.keys)
    for name, bad in encoding_variants(p.pres).items():
        body = _refused(_present(client, p, bad), name)
        assert body.get("reason") == "malformed", (name, body)
    assert _status(client, p) == "pending"  # nothing consumed
    r = _present(client, p, p.pres)
    assert r.status_code == 200, r.text
    assert r.json()["result"] is expected_result(wallets[0].birthdate, p.hreq["request"]["today"])


INFINITY_ALIASES = {
    "pi_a_affine_0_0": ("pi_a", ["0", "0", "1"]),
    "pi_a_z0_any_xy": ("pi_a", ["5", "7", "0"]),
    "pi_b_affine_zero": ("pi_b", [["0", "0"], ["0", "0"], ["1", "0"]]),
    "pi_b_z0_any_xy": ("pi_b", [["5", "6"], ["7", "8"], ["0", "0"]]),
}


@pytest.mark.parametrize("case", sorted(INFINITY_ALIASES))
def test_noncanonical_infinity_is_malformed(
    client: TestClient[Litestar], base_res: Resources, wallets: list[Wallet], case: str
) -> None:
    p = _pending(client, wallets[0], base_res.keys)
    which, value = INFINITY_ALIASES[case]
    body = _refused(_present(client, p, _edit(p.pres, ("proof", which), value)), case)
    assert body.get("reason") == "malformed", body  # refused as an encoding error
    assert _status(client, p) == "pending"


def valid_but_wrong(pres: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Well-formed points that are not this proof's: the check refuses them."""
    ax, ay = (int(v) for v in pres["proof"]["pi_a"][:2])
    return {
        "pi_a_negated": _edit(pres, ("proof", "pi_a"), _g1(ax, Q - ay)),
        "pi_a_generator": _edit(pres, ("proof", "pi_a"), _g1(1, 2)),
        "pi_a_infinity": _edit(pres, ("proof", "pi_a"), ["0", "1", "0"]),
        "pi_c_is_pi_a": _edit(pres, ("proof", "pi_c"), pres["proof"]["pi_a"]),
        "pi_b_infinity": _edit(pres, ("proof", "pi_b"), [["0", "0"], ["1", "0"], ["0", "0"]]),
    }


@pytest.mark.parametrize("case", sorted(valid_but_wrong({"proof": {"pi_a": ["1", "2", "1"]}})))
def test_wrong_but_valid_points_end_failed(
    client: TestClient[Litestar], base_res: Resources, wallets: list[Wallet], case: str
) -> None:
    p = _pending(client, wallets[1], base_res.keys)
    body = _refused(_present(client, p, valid_but_wrong(p.pres)[case]), case)
    assert body["status"] == 422, body
    assert _status(client, p) == "failed"  # checked and refused: used up, not completed
    r = _present(client, p, p.pres)
    assert r.status_code == 409, r.text


# -- public signals --------------------------------------------------------------------------------


SIGNAL_NAMES = ["result", "nullifier", "Ax", "Ay", "schema", "today", "min_age", "nonce", "scope"]


@pytest.fixture
def pending(
    client: TestClient[Litestar], base_res: Resources, wallets: list[Wallet]
) -> Iterator[tuple[TestClient[Litestar], Pending]]:
    """A pending verification; afterwards it must still be pending and take its proof."""
    p = _pending(client, wallets[2], base_res.keys)
    yield client, p
    assert _status(client, p) == "pending"
    assert _present(client, p, p.pres).status_code == 200


@pytest.mark.parametrize("index", range(9), ids=SIGNAL_NAMES)
def test_public_signal_plus_r_is_not_the_signal(
    pending: tuple[TestClient[Litestar], Pending], index: int
) -> None:
    """v + r is the same field element as v: accepting it would let one proof stand for
    several encodings of its statement (nonce, nullifier, ...)."""
    c, p = pending
    v = int(p.pres["public"][index])
    for bad in (v + R, v + 2 * R, R, 2**256 + v):
        pub = list(p.pres["public"])
        pub[index] = str(bad)
        body = _refused(_present(c, p, {**p.pres, "public": pub}), (index, bad))
        assert body["status"] in (400, 422)


#: one pending verification shared by every example on purpose: none may consume it
SHARED = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)


@settings(SHARED, max_examples=40)
@given(
    index=st.integers(0, 8),
    value=st.one_of(
        st.integers(R, 2**256 - 1),
        st.integers(2**256, 2**300),
        st.integers(-(2**256), -1),
    ),
)
def test_public_signals_at_or_above_r(
    pending: tuple[TestClient[Litestar], Pending], index: int, value: int
) -> None:
    c, p = pending
    pub = list(p.pres["public"])
    pub[index] = str(value)
    _refused(_present(c, p, {**p.pres, "public": pub}), (index, value))


@settings(SHARED, max_examples=40)
@given(
    which=st.sampled_from(["pi_a", "pi_c"]),
    x=st.integers(0, 2**260),
    y=st.integers(0, 2**260),
)
def test_random_g1_coordinates(
    pending: tuple[TestClient[Litestar], Pending], which: str, x: int, y: int
) -> None:
    """Random coordinates are off the curve (or non-canonical): refused at decoding."""
    c, p = pending
    body = _refused(_present(c, p, _edit(p.pres, ("proof", which), _g1(x, y))), (x, y))
    assert body.get("reason") == "malformed"


@settings(SHARED, max_examples=30)
@given(coords=st.lists(st.integers(0, 2**256 + Q), min_size=4, max_size=4))
def test_random_g2_coordinates(
    pending: tuple[TestClient[Litestar], Pending], coords: list[int]
) -> None:

    c, p = pending
    x0, x1, y0, y1 = (str(v) for v in coords)
    bad = _edit(p.pres, ("proof", "pi_b"), [[x0, x1], [y0, y1], ["1", "0"]])
    body = _refused(_present(c, p, bad), coords)
    assert body.get("reason") == "malformed"


# -- issuer keys -----------------------------------------------------------------------------------


def _bjj_on_curve(x: int, y: int) -> bool:
    return bool((BJJ_A * x * x + y * y - 1 - BJJ_D * x * x * y * y) % R == 0)


ISSUER_KEYS = {
    "off_curve": (1, 2),
    "identity": (0, 1),
    "order_2": (0, R - 1),
    "x_is_r": (R, 1),
}


@pytest.mark.parametrize("key", sorted(ISSUER_KEYS))
def test_proof_with_bad_issuer_key(
    client: TestClient[Litestar], base_res: Resources, wallets: list[Wallet], key: str
) -> None:
    """The issuer key is public signals 2 and 3: any key but a trusted one is refused."""
    p = _pending(client, wallets[3], base_res.keys)
    ax, ay = ISSUER_KEYS[key]
    assert key == "off_curve" or key == "x_is_r" or _bjj_on_curve(ax, ay)
    pub = list(p.pres["public"])
    pub[2], pub[3] = str(ax), str(ay)
    _refused(_present(client, p, {**p.pres, "public": pub}), key)
    assert _status(client, p) in ("pending", "failed")


@pytest.mark.parametrize("key", ["identity", "order_2"])
def test_delegated_with_degenerate_issuer_key(
    client: TestClient[Litestar], base_res: Resources, wallets: list[Wallet], key: str
) -> None:
    """A credential "signed" by a degenerate issuer key: with A the identity (or of
    order 2, times the cofactor 8), S = 0 and R8 = identity satisfy the EdDSA equation
    for any message.  Such a key must never be trusted."""
    p = _pending(client, wallets[0], base_res.keys, prove=False)
    w = wallets[0]
    cred = json.loads(w.cred.to_json())
    ax, ay = ISSUER_KEYS[key]
    cred["issuer"] = {"Ax": str(ax), "Ay": str(ay)}
    cred["signature"] = {"R8x": "0", "R8y": "1", "S": "0"}
    r = client.post(
        p.path,
        json={"mode": "delegated", "credential": cred, "holder_secret": str(w.holder.secret)},
        headers=p.auth,
    )
    body = _refused(r, key)
    assert str(w.holder.secret) not in r.text and str(w.birthdate) not in r.text
    assert body["status"] in (400, 422)
    assert _status(client, p) != "completed"


# -- attestation checks ----------------------------------------------------------------------------


@dataclasses.dataclass
class Forger:
    """Signs attestations the way an agent does: a fresh agent key, its SVID minted with
    the server's trust-domain key (which this test holds)."""

    res: Resources

    def sign(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        key = EcKey.generate()
        pub = key.public()
        spiffe = SpiffeId.agent(self.res.config.trust_domain, "verify-age_gte", "f" * 22)
        svid = mint_svid(
            self.res.trust.key,
            self.res.trust.kid,
            spiffe_id=spiffe,
            audience=RP,
            agent_jwk=pub,
            ttl=30,
            now=now,
            jti=secrets.token_urlsafe(16),
        )
        body = {**claims, "iss": str(spiffe), "iat": now, "exp": now + 300, "svid": svid}
        body["jti"] = secrets.token_urlsafe(16)
        return sign_compact(body, key, typ=TYP, kid=pub.thumbprint())


def _verify(c: TestClient[Litestar], att: str, nonce: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"attestation": att, "audience": RP}
    if nonce is not None:
        body["nonce"] = nonce
    return c.post("/v1/attestations/verify", json=body)


def _never_valid(r: httpx.Response, what: object) -> None:
    if r.status_code == 200:
        assert r.json()["valid"] is False, (what, r.text[:300])
    else:
        _refused(r, what)


def test_crafted_attestations(
    client: TestClient[Litestar], base_res: Resources, wallets: list[Wallet]
) -> None:
    p = _pending(client, wallets[0], base_res.keys)
    assert _present(client, p, p.pres).status_code == 200
    r = client.get(f"/v1/verifications/{p.vid}", params={"code_verifier": p.verifier})
    real = r.json()["attestation"]
    claims = {
        k: v
        for k, v in decode_unverified(real).claims.items()
        if k not in ("iss", "iat", "exp", "jti", "svid")
    }
    forger = Forger(base_res)
    # the harness works: the real claims re-signed by a forged agent verify
    ok = _verify(client, forger.sign(claims))
    assert ok.status_code == 200 and ok.json()["valid"] is True, ok.text[:300]

    pub = [int(v) for v in claims["public_signals"]]
    variants: dict[str, dict[str, Any]] = {}
    for name, pres in encoding_variants({"proof": claims["proof"], "public": []}).items():
        variants[name] = {**claims, "proof": pres["proof"]}
    for name, pres in valid_but_wrong({"proof": claims["proof"]}).items():
        variants[name] = {**claims, "proof": pres["proof"]}
    # a public signal shifted by r, with the claims that repeat it shifted alike
    shifted = {"nonce": 7, "rp_scope": 8, "nullifier": 1}
    for claim, index in shifted.items():
        sig = [str(v) for v in pub]
        sig[index] = str(pub[index] + R)
        variants[f"{claim}_plus_r"] = {**claims, claim: sig[index], "public_signals": sig}
    sig = [str(v) for v in pub]
    sig[2] = str(pub[2] + R)
    variants["issuer_ax_plus_r"] = {
        **claims,
        "issuer": {**claims["issuer"], "Ax": sig[2]},
        "public_signals": sig,
    }
    variants["signals_2_pow_256"] = {
        **claims,
        "public_signals": [str(2**256)] * 9,
    }
    variants["proof_not_object"] = {**claims, "proof": [1, 2, 3]}
    variants["signals_numbers"] = {**claims, "public_signals": pub}
    for name, bad in variants.items():
        _never_valid(_verify(client, forger.sign(bad)), name)


@settings(max_examples=60, deadline=None)
@given(
    token=st.one_of(
        st.text(min_size=1, max_size=200),
        st.lists(
            st.binary(max_size=120).map(lambda b: base64.urlsafe_b64encode(b).decode()),
            min_size=3,
            max_size=3,
        ).map(".".join),
        st.builds(
            lambda h, c: (
                ".".join(
                    base64.urlsafe_b64encode(json.dumps(x).encode()).rstrip(b"=").decode()
                    for x in (h, c)
                )
                + ".AAAA"
            ),
            st.dictionaries(st.sampled_from(["alg", "typ", "kid", "jwk"]), st.text(max_size=8)),
            st.dictionaries(
                st.sampled_from(["svid", "iat", "proof", "public_signals", "aud"]),
                st.one_of(st.text(max_size=8), st.integers(), st.lists(st.integers(), max_size=3)),
            ),
        ),
    )
)
def test_garbage_attestations(fuzz_client: TestClient[Litestar], token: str) -> None:
    _never_valid(_verify(fuzz_client, token), token)


@pytest.fixture(scope="module")
def fuzz_client(
    base_res: Resources, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(resources=_res(base_res, tmp_path_factory.mktemp("fz")))) as c:
        yield c


# -- JWKs: DPoP and client registration ------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64int(v: int, size: int | None = None) -> str:
    return b64(v.to_bytes(size or max(1, (v.bit_length() + 7) // 8), "big"))


def raw_jws(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + b64(sign(head.encode()))


def _es_sign(key: ec.EllipticCurvePrivateKey, size: int) -> Callable[[bytes], bytes]:
    def sign(data: bytes) -> bytes:
        h = hashes.SHA256() if size == 32 else hashes.SHA384()
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return sign


def _ec_jwk(key: ec.EllipticCurvePrivateKey, crv: str, size: int) -> dict[str, str]:
    nums = key.public_key().public_numbers()
    return {"kty": "EC", "crv": crv, "x": b64int(nums.x, size), "y": b64int(nums.y, size)}


def _pkcs1_v15_sha256(data: bytes, n_bytes: int) -> bytes:
    """EMSA-PKCS1-v1_5 (RFC 8017 §9.2) of SHA-256(data): with e = 1 it is the signature."""
    prefix = bytes.fromhex("3031300d060960864801650304020105000420")
    t = prefix + hashlib.sha256(data).digest()
    return b"\x00\x01" + b"\xff" * (n_bytes - len(t) - 3) + b"\x00" + t


def _odd_modulus(bits: int, rng: random.Random) -> int:
    return rng.getrandbits(bits) | (1 << (bits - 1)) | 1


@cache
def odd_keys() -> dict[str, tuple[dict[str, Any], str, Callable[[bytes], bytes]]]:
    """name -> (header JWK, alg, signer of the signing input)."""
    rng = random.Random(99)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    good = _ec_jwk(p256, "P-256", 32)
    p_256 = 2**256 - 2**224 + 2**192 + 2**96 - 1
    y = int.from_bytes(unb64(good["y"]), "big")
    n2048 = _odd_modulus(2048, rng)
    n16k = _odd_modulus(16384, rng)
    es256 = _es_sign(p256, 32)
    return {
        "ec_off_curve": ({**good, "y": b64int((y + 1) % p_256, 32)}, "ES256", es256),
        "ec_x_is_p": ({**good, "x": b64int(p_256, 32)}, "ES256", es256),
        "ec_infinity": ({**good, "x": b64(bytes(32)), "y": b64(bytes(32))}, "ES256", es256),
        "ec_33_byte_x": ({**good, "x": b64(b"\x00" + unb64(good["x"]))}, "ES256", es256),
        "ec_padded_b64": ({**good, "x": good["x"] + "="}, "ES256", es256),
        "p384_point_as_p256": ({**_ec_jwk(p384, "P-256", 48)}, "ES256", _es_sign(p384, 48)),
        "p256_point_as_p384": ({**good, "crv": "P-384"}, "ES384", es256),
        "ec_unknown_curve": ({**good, "crv": "secp256k1"}, "ES256K", es256),
        "rsa_16384_bits": (
            {"kty": "RSA", "n": b64int(n16k), "e": "AQAB"},
            "RS256",
            lambda d: rng.randbytes(2048),
        ),
        "rsa_e_1_forgery": (
            {"kty": "RSA", "n": b64int(n2048), "e": b64int(1)},
            "RS256",
            lambda d: _pkcs1_v15_sha256(d, 256),
        ),
        "rsa_e_even": (
            {"kty": "RSA", "n": b64int(n2048), "e": b64int(65536)},
            "RS256",
            lambda d: rng.randbytes(256),
        ),
        "rsa_1024_bits": (
            {"kty": "RSA", "n": b64int(_odd_modulus(1024, rng)), "e": "AQAB"},
            "RS256",
            lambda d: rng.randbytes(128),
        ),
        "rsa_even_modulus": (
            {"kty": "RSA", "n": b64int(n2048 - 1), "e": "AQAB"},
            "PS256",
            lambda d: rng.randbytes(256),
        ),
        "ed25519_identity_forgery": (
            {"kty": "OKP", "crv": "Ed25519", "x": b64(b"\x01" + bytes(31))},
            "EdDSA",
            lambda d: b"\x01" + bytes(31) + bytes(32),
        ),
        "ed25519_short_x": (
            {"kty": "OKP", "crv": "Ed25519", "x": b64(bytes(31))},
            "EdDSA",
            lambda d: bytes(64),
        ),
        "x25519_key": (
            {"kty": "OKP", "crv": "X25519", "x": b64(rng.randbytes(32))},
            "EdDSA",
            lambda d: bytes(64),
        ),
        "oct_key": (
            {"kty": "oct", "k": b64(b"k" * 32)},
            "HS256",
            lambda d: _hmac(b"k" * 32, d),
        ),
        "private_member": (
            {**good, "d": b64int(p256.private_numbers().private_value, 32)},
            "ES256",
            es256,
        ),
        "alg_none": (good, "none", lambda d: b""),
        "jwk_is_string": ({"not": "a key"}, "ES256", es256),
        "jwk_missing_kty": ({k: v for k, v in good.items() if k != "kty"}, "ES256", es256),
        "alg_mismatch_es384": (good, "ES384", es256),
    }


def _hmac(key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def odd_dpop(name: str, htm: str, htu: str, **claims: Any) -> str:
    jwk, alg, sign = odd_keys()[name]
    body = {"jti": secrets.token_urlsafe(16), "htm": htm, "htu": htu, "iat": int(time.time())}
    return raw_jws({"typ": "dpop+jwt", "alg": alg, "jwk": jwk}, {**body, **claims}, sign)


@dataclasses.dataclass
class AuthApp:
    client: TestClient[Litestar]
    base: str
    client_key: EcKey
    dpop_key: EcKey
    token: str
    nonce: str

    def token_form(self) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(
                self.client_key, "odd-rp", self.base, now=int(time.time())
            ),
        }


@pytest.fixture(scope="module")
def auth_app(base_res: Resources, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthApp]:
    res = _res(base_res, tmp_path_factory.mktemp("auth"), require_auth=True)
    client_key, dpop_key = EcKey.generate(), EcKey.generate()
    register_client(res.config.clients_path, "odd-rp", client_key)
    cfg = res.config
    token = TokenIssuer(res.oauth.key, res.oauth.kid, cfg.base_url).mint(
        sub="odd-rp",
        client_id="odd-rp",
        aud=cfg.base_url,
        scope=["verify:age_gte"],
        jkt=dpop_key.public().thumbprint(),
        now=int(time.time()),
    )
    with TestClient(create_app(resources=res)) as c:
        r = c.post("/oauth/token", data={"grant_type": "client_credentials"})
        nonce = r.headers["dpop-nonce"]
        yield AuthApp(c, cfg.base_url, client_key, dpop_key, token.raw, nonce)


def _token_refused(app: AuthApp, proof: str, what: object) -> None:
    r = app.client.post("/oauth/token", data=app.token_form(), headers={"DPoP": proof})
    assert r.status_code == 400, (what, r.status_code, r.text[:300])
    assert r.json()["error"] == "invalid_dpop_proof", (what, r.text[:300])


def _resource_refused(app: AuthApp, proof: str, what: object) -> None:
    r = app.client.post(
        "/v1/verifications",
        json=create_body(secrets.token_urlsafe(48)),
        headers={"Authorization": f"DPoP {app.token}", "DPoP": proof},
    )
    body = _refused(r, what)
    assert body["status"] == 401, (what, body)
    assert r.headers["www-authenticate"].startswith("DPoP"), r.headers


ODD = sorted(odd_keys())


@pytest.mark.parametrize("name", ODD)
def test_dpop_with_odd_jwk(auth_app: AuthApp, name: str) -> None:
    token_url = f"{auth_app.base}/oauth/token"
    _token_refused(auth_app, odd_dpop(name, "POST", token_url, nonce=auth_app.nonce), name)
    url = f"{auth_app.base}/v1/verifications"
    ath = b64(hashlib.sha256(auth_app.token.encode()).digest())
    _resource_refused(auth_app, odd_dpop(name, "POST", url, ath=ath), name)


def test_dpop_good_key_still_works(auth_app: AuthApp) -> None:
    """After every refusal, the same endpoints take a good proof (the harness works)."""
    token_url = f"{auth_app.base}/oauth/token"
    proof = dpop_proof(
        auth_app.dpop_key, "POST", token_url, now=int(time.time()), nonce=auth_app.nonce
    )
    r = auth_app.client.post("/oauth/token", data=auth_app.token_form(), headers={"DPoP": proof})
    assert r.status_code == 200, r.text
    url = f"{auth_app.base}/v1/verifications"
    proof = dpop_proof(
        auth_app.dpop_key, "POST", url, now=int(time.time()), access_token=auth_app.token
    )
    r = auth_app.client.post(
        "/v1/verifications",
        json=create_body(secrets.token_urlsafe(48)),
        headers={"Authorization": f"DPoP {auth_app.token}", "DPoP": proof},
    )
    assert r.status_code == 201, r.text


b64_values = st.one_of(
    st.binary(max_size=600).map(b64),
    st.text(max_size=20),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)
jwk_objects = st.one_of(
    st.fixed_dictionaries(
        {"kty": st.sampled_from(["EC", "RSA", "OKP", "oct", "ec", "", "RSA-PSS"])},
        optional={
            "crv": st.sampled_from(["P-256", "P-384", "P-521", "Ed25519", "Ed448", "X25519", ""]),
            "x": b64_values,
            "y": b64_values,
            "n": b64_values,
            "e": b64_values,
            "d": b64_values,
            "k": b64_values,
            "use": st.sampled_from(["sig", "enc", ""]),
            "alg": st.sampled_from(["ES256", "RS256", "none", "HS256"]),
            "key_ops": st.lists(st.sampled_from(["sign", "verify", "x"]), max_size=2),
        },
    ),
    st.dictionaries(st.text(max_size=5), b64_values, max_size=4),
    b64_values,
)


@settings(max_examples=80, deadline=None)
@given(jwk=jwk_objects, alg=st.sampled_from(["ES256", "ES384", "RS256", "PS256", "EdDSA"]))
def test_dpop_arbitrary_jwk_objects(auth_app: AuthApp, jwk: Any, alg: str) -> None:
    token_url = f"{auth_app.base}/oauth/token"
    claims = {"jti": secrets.token_urlsafe(8), "htm": "POST", "iat": int(time.time())}
    proof = raw_jws(
        {"typ": "dpop+jwt", "alg": alg, "jwk": jwk},
        {**claims, "htu": token_url, "nonce": auth_app.nonce},
        lambda d: secrets.token_bytes(64),
    )
    _token_refused(auth_app, proof, jwk)
    url = f"{auth_app.base}/v1/verifications"
    proof = raw_jws(
        {"typ": "dpop+jwt", "alg": alg, "jwk": jwk},
        {**claims, "htu": url, "ath": b64(hashlib.sha256(auth_app.token.encode()).digest())},
        lambda d: secrets.token_bytes(64),
    )
    _resource_refused(auth_app, proof, jwk)


# client registration through the CLI: the header JWKs above, as key files
CLI_KEYS = [n for n in ODD if n not in ("alg_none", "alg_mismatch_es384")]


@pytest.mark.parametrize("name", CLI_KEYS)
def test_cli_refuses_odd_client_keys(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key.json"
    key.write_text(json.dumps(odd_keys()[name][0]))
    clients = tmp_path / "clients.json"
    argv = ["clients", "add", "odd", "--jwk", str(key), "--predicate", "age_gte"]
    argv += ["--audience", RP, "--file", str(clients)]
    with pytest.raises(SystemExit) as exc:
        cli_main(argv)
    assert exc.value.code == 2, name
    err = capsys.readouterr().err
    assert err.startswith("zkattest: error:"), err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert not clients.exists() or ClientRegistry(clients).get("odd") is None


def test_cli_process_refuses_e_1_rsa_key(tmp_path: Path) -> None:
    """The same through the installed entry point: exit status 2, one line, no traceback."""
    key = tmp_path / "key.json"
    key.write_text(json.dumps(odd_keys()["rsa_e_1_forgery"][0]))
    out = subprocess.run(
        [
            *(sys.executable, "-m", "zkattest.cli", "clients", "add", "odd"),
            *("--jwk", str(key), "--predicate", "age_gte"),
            *("--file", str(tmp_path / "clients.json")),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2, out.stderr
    assert b"Traceback" not in out.stderr and out.stderr.startswith(b"zkattest: error:")
    assert not (tmp_path / "clients.json").exists()
