"""private_key_jwt client authentication (RFC 7523 §2.2, §3; RFC 7521 §4.2): assertions
signed by stock libraries in every accepted algorithm, and each check refused on its
own (invalid_client, 401, reason): assertion type, typ, alg none / HMAC forgery,
iss/sub/client_id, unknown client, wrong key, kid selection, audience, exp / nbf / iat,
jti and its replay (refused assertions consume nothing); mutated assertions always end
in OAuthError."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from zkattest import errors
from zkattest.identity.jose import b64url_encode
from zkattest.oauth.base import Client
from zkattest.oauth.client_auth import CLIENT_ASSERTION_TYPE, authenticate_client
from zkattest.oauth.errors import OAuthError

from .conftest import ALGS, NOW, ClientDirectory, ClientKey, MemoryReplayCache, raw_jws, run

ISSUER = "https://as.example"
TOKEN_EP = "https://as.example/token"
CID = "agent-1"
MAX_LIFETIME, LEEWAY = 300, 5
DROP = object()


def claims(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "iss": CID,
        "sub": CID,
        "aud": ISSUER,
        "exp": int(NOW) + 60,
        "iat": int(NOW),
        "jti": secrets.token_urlsafe(12),
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not DROP}


def form(assertion: str | None, **over: Any) -> dict[str, Any]:
    f: dict[str, Any] = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    f.update(over)
    return {k: v for k, v in f.items() if v is not DROP and v is not None}


def es256_by_hand(key: ClientKey, h: dict[str, Any], c: dict[str, Any] | bytes) -> str:
    unsigned = raw_jws(h, c, b"")[:-1]
    r, s = decode_dss_signature(key.private.sign(unsigned.encode(), ec.ECDSA(hashes.SHA256())))
    return unsigned + "." + b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@pytest.fixture(scope="module")
def es(client_keys: dict[str, ClientKey]) -> ClientKey:
    return client_keys["ES256"].with_kid("k1")


@pytest.fixture(scope="module")
def directory(es: ClientKey) -> ClientDirectory:
    d = ClientDirectory()
    d.add(CID, es)
    return d


def authenticate(
    f: dict[str, Any],
    directory: ClientDirectory,
    replay: MemoryReplayCache | None = None,
    **kw: Any,
) -> Client:
    kw.setdefault("now", NOW)
    return run(
        authenticate_client(
            f,
            lookup=directory,
            issuer=ISSUER,
            replay=replay or MemoryReplayCache(),
            **kw,
        )
    )


def refused(
    f: dict[str, Any],
    reason: str,
    directory: ClientDirectory,
    replay: MemoryReplayCache | None = None,
    **kw: Any,
) -> OAuthError:
    with pytest.raises(OAuthError) as ei:
        authenticate(f, directory, replay, **kw)
    e = ei.value
    assert (e.error, e.reason, e.status) == ("invalid_client", reason, 401), str(e)
    assertion = f.get("client_assertion")
    if isinstance(assertion, str) and assertion.count(".") == 2 and len(assertion) > 10:
        assert assertion.split(".")[2] not in str(e)
    assert isinstance(e, errors.InvalidInput)
    return e


def sign(key: ClientKey, h: dict[str, Any] | None = None, **claim_over: Any) -> str:
    header = {"kid": key.kid} if key.kid else {}
    header.update(h or {})
    return key.sign(header, claims(**claim_over))


# --------------------------------------------------------------------------- accepted


@pytest.mark.parametrize("alg", ALGS)
def test_every_algorithm_accepted(client_keys: dict[str, ClientKey], alg: str) -> None:
    key = client_keys[alg].with_kid(f"k-{alg}")
    d = ClientDirectory()
    client = d.add(CID, key)
    replay = MemoryReplayCache()
    c = claims()
    got = authenticate(form(key.sign({"kid": key.kid}, c)), d, replay)
    assert got is client
    digest = hashlib.sha256(f"{CID}|{c['jti']}".encode()).hexdigest()
    assert replay.calls == [("client_assertion", digest, c["exp"] + LEEWAY, NOW)]


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256", "EdDSA"])
def test_pyjwt_assertions_accepted(client_keys: dict[str, ClientKey], alg: str) -> None:
    key = client_keys[alg]
    d = ClientDirectory()
    d.add(CID, key)
    # PyJWT writes typ "JWT" and no kid
    assert authenticate(form(key.sign_pyjwt({}, claims())), d).client_id == CID


def test_typ(es: ClientKey, directory: ClientDirectory) -> None:
    for typ in ("JWT", "client-authentication+jwt"):
        authenticate(form(sign(es, {"typ": typ})), directory)
    authenticate(form(sign(es)), directory)  # absent
    for typ in ("dpop+jwt", "at+jwt", "jwt", "JOSE", ""):
        refused(form(sign(es, {"typ": typ})), "bad_typ", directory)
    odd: tuple[Any, ...] = (None, ["JWT"], {"t": 1}, 1)
    for typ in odd:
        refused(
            form(es256_by_hand(es, {"alg": "ES256", "typ": typ}, claims())), "bad_typ", directory
        )


def test_client_id_form_parameter(es: ClientKey, directory: ClientDirectory) -> None:
    assert authenticate(form(sign(es), client_id=CID), directory).client_id == CID
    refused(form(sign(es), client_id="agent-2"), "client_id_mismatch", directory)
    refused(form(sign(es), client_id=""), "client_id_mismatch", directory)


# --------------------------------------------------------------------------- type & shape


def test_assertion_type(es: ClientKey, directory: ClientDirectory) -> None:
    good = sign(es)
    refused(form(good, client_assertion_type=DROP), "missing_client_auth", directory)
    for t in (
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        CLIENT_ASSERTION_TYPE.upper(),
        CLIENT_ASSERTION_TYPE + " ",
        "",
    ):
        refused(form(good, client_assertion_type=t), "bad_assertion_type", directory)
    refused(form(None), "missing_assertion", directory)
    refused(form(""), "missing_assertion", directory)
    # a client secret is no substitute
    refused({"client_id": CID, "client_secret": "s"}, "missing_client_auth", directory)


def test_malformed_and_oversize(es: ClientKey, directory: ClientDirectory) -> None:
    for bad in ("a.b", "a.b.c.d", "x" * 50, sign(es) + ".", sign(es) + " "):
        refused(form(bad), "malformed", directory)
    _, p, s = sign(es).split(".")
    refused(form(f"{b64url_encode(b'{}x')}.{p}.{s}"), "malformed", directory)
    dup = b'{"alg":"ES256","kid":"k1","kid":"k2"}'
    refused(form(f"{b64url_encode(dup)}.{p}.{s}"), "malformed", directory)
    refused(form(sign(es, pad="x" * 20000)), "oversize", directory)


# --------------------------------------------------------------------------- alg & key


def test_alg_none_and_hmac_forgery(
    client_keys: dict[str, ClientKey], es: ClientKey, directory: ClientDirectory
) -> None:
    _, p, s = sign(es).split(".")
    for alg in ("none", "HS256", "HS512", "ES512", "", None, ["ES256"]):
        h = b64url_encode(json.dumps({"alg": alg, "kid": "k1"}).encode())
        refused(form(f"{h}.{p}.{s}"), "bad_alg", directory)
    # HS256 keyed with the client's registered public key (PEM, JWK JSON)
    for key in (es, client_keys["RS256"]):
        d = ClientDirectory()
        d.add(CID, key)
        pem = key.key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for secret in (pem, json.dumps(key.public_jwk()).encode()):
            unsigned = raw_jws({"alg": "HS256", "typ": "JWT"}, claims(), b"")[:-1]
            mac = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
            refused(form(unsigned + "." + b64url_encode(mac)), "bad_alg", d)


def test_wrong_key(
    es: ClientKey, other_keys: dict[str, ClientKey], directory: ClientDirectory
) -> None:
    impostor = other_keys["ES256"].with_kid("k1")
    refused(form(sign(impostor)), "bad_signature", directory)
    refused(form(other_keys["ES256"].sign({}, claims())), "bad_signature", directory)
    # an algorithm none of the client's keys verifies
    refused(form(other_keys["EdDSA"].sign({}, claims())), "unknown_kid", directory)
    refused(form(sign(other_keys["ES256"].with_kid("k9"))), "unknown_kid", directory)
    # tampered claims under a good signature
    h, _, s = sign(es).split(".")
    refused(
        form(f"{h}.{b64url_encode(json.dumps(claims()).encode())}.{s}"), "bad_signature", directory
    )


def test_kid_selects_the_key(
    client_keys: dict[str, ClientKey], other_keys: dict[str, ClientKey]
) -> None:
    k1 = client_keys["ES256"].with_kid("k1")
    k2 = other_keys["ES256"].with_kid("k2")
    d = ClientDirectory()
    d.add(CID, k1, k2)
    assert authenticate(form(sign(k1)), d).client_id == CID
    assert authenticate(form(sign(k2)), d).client_id == CID
    # k2's signature under k1's kid: only k1 is tried
    refused(form(k2.sign({"kid": "k1"}, claims())), "bad_signature", d)
    refused(form(k1.sign({"kid": "k2"}, claims())), "bad_signature", d)
    refused(form(k1.sign({"kid": "k3"}, claims())), "unknown_kid", d)
    refused(form(es256_by_hand(k1, {"alg": "ES256", "kid": 1}, claims())), "unknown_kid", d)


def test_no_kid_tries_every_key_of_the_alg(
    client_keys: dict[str, ClientKey], other_keys: dict[str, ClientKey]
) -> None:
    k1 = client_keys["ES256"].with_kid("k1")
    k2 = other_keys["ES256"].with_kid("k2")
    rsa = client_keys["RS256"]
    d = ClientDirectory()
    d.add(CID, k1, k2, rsa)
    for key in (k1, k2, rsa):
        assert authenticate(form(key.sign({}, claims())), d).client_id == CID
    refused(form(other_keys["RS256"].sign({}, claims())), "bad_signature", d)


# --------------------------------------------------------------------------- who


def test_iss_sub(es: ClientKey, directory: ClientDirectory) -> None:
    refused(form(sign(es, iss="agent-2")), "iss_sub_mismatch", directory)
    refused(form(sign(es, sub="agent-2")), "iss_sub_mismatch", directory)
    for over in ({"iss": DROP}, {"sub": DROP}, {"iss": 1, "sub": 1}, {"iss": None}):
        refused(form(sign(es, **over)), "bad_iss", directory)
    refused(form(sign(es, iss="", sub="")), "bad_iss", directory)
    refused(form(sign(es, iss="a" * 257, sub="a" * 257)), "bad_iss", directory)


def test_unknown_client(es: ClientKey, directory: ClientDirectory) -> None:
    refused(form(sign(es, iss="ghost", sub="ghost")), "unknown_client", directory)
    refused(
        form(sign(es, iss="ghost", sub="ghost"), client_id="ghost"), "unknown_client", directory
    )


# --------------------------------------------------------------------------- audience


def test_audience(es: ClientKey, directory: ClientDirectory) -> None:
    authenticate(form(sign(es, aud=ISSUER)), directory)
    for aud in (
        # the token endpoint and arrays are refused (draft-ietf-oauth-rfc7523bis)
        TOKEN_EP,
        [ISSUER],
        [TOKEN_EP],
        ["https://x.example", ISSUER],
        "https://other.example",
        ISSUER + "/",
        ISSUER.upper(),
        TOKEN_EP + "?x",
        "",
        [],
        ["https://other.example"],
        [ISSUER, 1],
        [[ISSUER]],
        {"aud": ISSUER},
        None,
        7,
    ):
        refused(form(sign(es, aud=aud)), "bad_aud", directory)
    refused(form(sign(es, aud=DROP)), "bad_aud", directory)


# --------------------------------------------------------------------------- time


def test_exp(es: ClientKey, directory: ClientDirectory) -> None:
    t = int(NOW)
    refused(form(sign(es, exp=DROP)), "missing_exp", directory)
    for exp in (str(t + 60), float(t + 60), None, True, [t + 60]):
        refused(form(sign(es, exp=exp)), "bad_exp", directory)
    authenticate(form(sign(es, exp=t - LEEWAY + 1)), directory)
    refused(form(sign(es, exp=t - LEEWAY)), "expired", directory)
    refused(form(sign(es, exp=t - 3600)), "expired", directory)
    authenticate(form(sign(es, exp=t + MAX_LIFETIME + LEEWAY)), directory)
    refused(form(sign(es, exp=t + MAX_LIFETIME + LEEWAY + 1)), "lifetime_too_long", directory)
    refused(form(sign(es, exp=2**62)), "lifetime_too_long", directory)
    refused(form(sign(es, exp=t + 61)), "lifetime_too_long", directory, max_lifetime=30)


def test_nbf_and_iat(es: ClientKey, directory: ClientDirectory) -> None:
    t = int(NOW)
    authenticate(form(sign(es, nbf=t + LEEWAY)), directory)
    refused(form(sign(es, nbf=t + LEEWAY + 1)), "not_yet_valid", directory)
    authenticate(form(sign(es, iat=t + LEEWAY)), directory)
    refused(form(sign(es, iat=t + LEEWAY + 1)), "future_iat", directory)
    authenticate(form(sign(es, iat=DROP, nbf=DROP)), directory)
    for v in ("1", 1.5, None, True):
        refused(form(sign(es, nbf=v)), "bad_nbf", directory)
        refused(form(sign(es, iat=v)), "bad_iat", directory)


# --------------------------------------------------------------------------- jti & replay


def test_jti(es: ClientKey, directory: ClientDirectory) -> None:
    for jti in ("", 1, None, ["j"], "j" * 257):
        refused(form(sign(es, jti=jti)), "bad_jti", directory)
    refused(form(sign(es, jti=DROP)), "bad_jti", directory)
    authenticate(form(sign(es, jti="j" * 256)), directory)


def test_replay(es: ClientKey, directory: ClientDirectory) -> None:
    replay = MemoryReplayCache()
    a = sign(es, jti="once")
    authenticate(form(a), directory, replay)
    refused(form(a), "replayed_jti", directory, replay)
    # a fresh assertion reusing the jti is a replay too
    refused(form(sign(es, jti="once", exp=int(NOW) + 90)), "replayed_jti", directory, replay)
    # ... until the first one could no longer be accepted
    later = int(NOW) + 60 + LEEWAY
    authenticate(form(sign(es, jti="once", exp=later + 60)), directory, replay, now=later)


def test_same_jti_other_client(
    es: ClientKey, other_keys: dict[str, ClientKey], directory: ClientDirectory
) -> None:
    d = ClientDirectory(dict(directory.clients))
    other = other_keys["EdDSA"]
    d.add("agent-2", other)
    replay = MemoryReplayCache()
    authenticate(form(sign(es, jti="shared")), d, replay)
    authenticate(
        form(other.sign({}, claims(iss="agent-2", sub="agent-2", jti="shared"))), d, replay
    )


def test_refused_assertions_consume_nothing(
    es: ClientKey, other_keys: dict[str, ClientKey], directory: ClientDirectory
) -> None:
    replay = MemoryReplayCache()
    jti = "fixed"
    for f, reason in (
        (form(sign(es, jti=jti, aud="https://other.example")), "bad_aud"),
        (form(sign(es, jti=jti, exp=int(NOW) + 3600)), "lifetime_too_long"),
        (form(sign(es, jti=jti, nbf=int(NOW) + 60)), "not_yet_valid"),
        (form(sign(other_keys["ES256"].with_kid("k1"), jti=jti)), "bad_signature"),
        (form(sign(es, jti=jti), client_id="agent-2"), "client_id_mismatch"),
        (form(sign(es, {"typ": "dpop+jwt"}, jti=jti)), "bad_typ"),
    ):
        refused(f, reason, directory, replay)
    assert replay.calls == []
    authenticate(form(sign(es, jti=jti)), directory, replay)
    refused(form(sign(es, jti=jti)), "replayed_jti", directory, replay)


def test_parameters_validated(es: ClientKey, directory: ClientDirectory) -> None:
    for kw in ({"max_lifetime": 0}, {"leeway": -1}, {"max_lifetime": 1.5}):
        with pytest.raises(errors.InvalidParameter):
            authenticate(form(sign(es)), directory, **kw)


# --------------------------------------------------------------------------- mutations


@pytest.fixture(scope="module")
def fixed_assertion(es: ClientKey) -> str:
    return sign(es, jti="mutations")


@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["replace", "insert", "delete"]),
            st.integers(0, 10**6),
            st.characters(codec="ascii"),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_assertions_refused(
    fixed_assertion: str, directory: ClientDirectory, edits: list[tuple[str, int, str]]
) -> None:
    a = fixed_assertion
    for op, pos, ch in edits:
        i = pos % (len(a) + 1)
        if op == "replace" and i < len(a):
            a = a[:i] + ch + a[i + 1 :]
        elif op == "insert":
            a = a[:i] + ch + a[i:]
        elif i < len(a):
            a = a[:i] + a[i + 1 :]
    if a == fixed_assertion:
        return
    with pytest.raises(OAuthError) as ei:
        authenticate(form(a), directory)
    assert (ei.value.error, ei.value.status) == ("invalid_client", 401)


@given(
    which=st.sampled_from(["header", "claims"]),
    pos=st.integers(0, 10**6),
    data=st.binary(min_size=1, max_size=8),
)
def test_mutated_json_signed_for_real_never_crashes(
    es: ClientKey, directory: ClientDirectory, which: str, pos: int, data: bytes
) -> None:
    h = json.dumps({"alg": "ES256", "kid": "k1", "typ": "JWT"}).encode()
    c = json.dumps(claims()).encode()
    target = h if which == "header" else c
    i = pos % (len(target) + 1)
    mutated = target[:i] + data + target[i + len(data) :]
    hb, cb = (mutated, c) if which == "header" else (h, mutated)
    unsigned = b64url_encode(hb) + "." + b64url_encode(cb)
    r, s = decode_dss_signature(es.private.sign(unsigned.encode(), ec.ECDSA(hashes.SHA256())))
    a = unsigned + "." + b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    try:
        got = authenticate(form(a), directory)
    except OAuthError as e:
        assert e.error == "invalid_client"
        return
    assert got.client_id == CID
