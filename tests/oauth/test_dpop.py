"""DPoP proofs (RFC 9449): every accepted algorithm signed by stock libraries, and every
check refused on its own with its error, reason, status and headers: typ, alg (none,
HMAC key confusion), jwk (private, symmetric, another key's signature), htm, htu
(normalization accepted, real differences refused), iat window edges, jti replay
(refused proofs consume nothing), ath, cnf.jkt, server nonces; malformed and mutated
proofs always end in OAuthError."""

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
from zkattest.identity.jwk import PublicJwk
from zkattest.oauth.dpop import DPOP_TYP, MAX_PROOF_LEN, DpopProof, check_dpop, normalize_htu
from zkattest.oauth.errors import OAuthError
from zkattest.oauth.nonce import NonceIssuer

from .conftest import ALGS, NOW, ClientKey, MemoryReplayCache, raw_jws, run

URL = "https://as.example/token"
RS_URL = "https://rs.example/api/v1/verifications"
MAX_AGE, LEEWAY = 60, 5
DROP = object()  # a claim value meaning "leave the claim out"
# RFC 9449 §7.1 example access token and the ath of its example proof
RFC_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
RFC_ATH = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


def claims(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "jti": secrets.token_urlsafe(12),
        "htm": "POST",
        "htu": URL,
        "iat": int(NOW),
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not DROP}


def header(key: ClientKey, **over: Any) -> dict[str, Any]:
    h: dict[str, Any] = {"typ": DPOP_TYP, "jwk": key.public_jwk()}
    h.update(over)
    return {k: v for k, v in h.items() if v is not DROP}


def proof(key: ClientKey, h: dict[str, Any] | None = None, **claim_over: Any) -> str:
    return key.sign(header(key) if h is None else h, claims(**claim_over))


def es256_by_hand(key: ClientKey, h: dict[str, Any], c: dict[str, Any] | bytes) -> str:
    """ES256 signed with ``cryptography`` directly: for headers joserfc will not emit."""
    unsigned = raw_jws(h, c, b"")[:-1]
    r, s = decode_dss_signature(key.private.sign(unsigned.encode(), ec.ECDSA(hashes.SHA256())))
    return unsigned + "." + b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def check(p: str | None, replay: MemoryReplayCache | None = None, **kw: Any) -> DpopProof:
    kw.setdefault("method", "POST")
    kw.setdefault("url", URL)
    kw.setdefault("now", NOW)
    kw.setdefault("nonces", None)
    return run(check_dpop(p, replay=replay or MemoryReplayCache(), **kw))


def refused(
    p: str | None,
    reason: str,
    replay: MemoryReplayCache | None = None,
    *,
    error: str = "invalid_dpop_proof",
    **kw: Any,
) -> OAuthError:
    with pytest.raises(OAuthError) as ei:
        check(p, replay, **kw)
    e = ei.value
    assert (e.error, e.reason) == (error, reason), str(e)
    resource = kw.get("resource", False)
    assert e.status == (401 if resource else 400)
    if resource:
        assert e.headers["WWW-Authenticate"] == f'DPoP error="{error}"'
    else:
        assert "WWW-Authenticate" not in e.headers
    if isinstance(p, str) and p.count(".") == 2 and len(p) > 10:
        assert p not in str(e) and p.split(".")[2] not in str(e)
    assert isinstance(e, errors.InvalidInput)
    return e


@pytest.fixture(scope="module")
def es(client_keys: dict[str, ClientKey]) -> ClientKey:
    return client_keys["ES256"]


# --------------------------------------------------------------------------- accepted


@pytest.mark.parametrize("alg", ALGS)
def test_every_algorithm_accepted(client_keys: dict[str, ClientKey], alg: str) -> None:
    key = client_keys[alg]
    replay = MemoryReplayCache()
    c = claims()
    p = key.sign(header(key), c)
    got = check(p, replay)
    assert got.jkt == key.thumbprint()  # joserfc's RFC 7638 thumbprint
    assert got.key == PublicJwk.from_jwk(key.public_jwk())
    assert (got.jti, got.iat, got.htm, got.htu, got.nonce) == (
        c["jti"],
        c["iat"],
        "POST",
        URL,
        None,
    )
    digest = hashlib.sha256(f"{key.thumbprint()}|{c['jti']}".encode()).hexdigest()
    assert replay.calls == [("dpop", digest, c["iat"] + MAX_AGE + LEEWAY + 1, NOW)]


@pytest.mark.parametrize("alg", ["ES256", "PS256", "EdDSA"])
def test_pyjwt_proofs_accepted(client_keys: dict[str, ClientKey], alg: str) -> None:
    key = client_keys[alg]
    p = key.sign_pyjwt({"typ": DPOP_TYP, "jwk": key.public_jwk()}, claims())
    assert check(p).jkt == key.thumbprint()


def test_resource_request_with_token_and_binding(es: ClientKey) -> None:
    p = proof(es, htm="GET", htu=RS_URL, ath=RFC_ATH)
    got = check(
        p, method="GET", url=RS_URL, access_token=RFC_TOKEN, jkt=es.thumbprint(), resource=True
    )
    assert got.jkt == es.thumbprint()


# --------------------------------------------------------------------------- header


def test_typ(es: ClientKey) -> None:
    for typ in ("JWT", "DPOP+JWT", "application/dpop+jwt", "at+jwt", ""):
        refused(proof(es, header(es, typ=typ)), "bad_typ")
    refused(proof(es, header(es, typ=DROP)), "bad_typ")
    # values joserfc will not put in a header: signed by hand
    odd: tuple[Any, ...] = (None, ["dpop+jwt"], 1)
    for typ in odd:
        refused(es256_by_hand(es, header(es, alg="ES256", typ=typ), claims()), "bad_typ")


def test_alg_none_and_unknown(es: ClientKey) -> None:
    good = proof(es)
    _, p, s = good.split(".")
    for alg in ("none", "None", "ES512", "HS256", "", None, ["ES256"], {"alg": "ES256"}):
        h = b64url_encode(json.dumps(header(es, alg=alg)).encode())
        refused(f"{h}.{p}.{s}", "bad_alg")
    # an accepted algorithm outside the caller's list
    refused(good, "bad_alg", algs=frozenset({"EdDSA", "RS256"}))
    assert check(good, algs=frozenset({"ES256"})).jkt == es.thumbprint()


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_hs256_forgery_with_public_key_as_secret(
    client_keys: dict[str, ClientKey], alg: str
) -> None:
    key = client_keys[alg]
    pem = key.key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk_json = json.dumps(key.public_jwk(), separators=(",", ":")).encode()
    for secret in (pem, jwk_json, key.thumbprint().encode()):
        h = header(key, alg="HS256")
        unsigned = raw_jws(h, claims(), b"")[:-1]
        mac = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
        refused(unsigned + "." + b64url_encode(mac), "bad_alg")


def test_alg_must_match_the_jwk(client_keys: dict[str, ClientKey], es: ClientKey) -> None:
    # ES384 claimed, a P-256 jwk and a P-256 signature
    refused(es256_by_hand(es, header(es, alg="ES384"), claims()), "bad_alg")
    # the jwk's own alg restricts it
    rsa = client_keys["RS256"]
    refused(proof(rsa, header(rsa, jwk=rsa.public_jwk(alg="PS256"))), "bad_alg")


def test_jwk_must_be_a_public_asymmetric_key(
    client_keys: dict[str, ClientKey], es: ClientKey
) -> None:
    for alg in ALGS:
        k = client_keys[alg]
        refused(proof(k, header(k, jwk=k.private_jwk())), "bad_jwk")
    refused(proof(es, header(es, jwk={**es.public_jwk(), "d": "AAAA"})), "bad_jwk")
    refused(proof(es, header(es, jwk={"kty": "oct", "k": b64url_encode(b"s" * 32)})), "bad_jwk")
    refused(proof(es, header(es, jwk=DROP)), "bad_jwk")
    for jwk in ("not a jwk", [es.public_jwk()], None, 1):
        refused(es256_by_hand(es, header(es, alg="ES256", jwk=jwk), claims()), "bad_jwk")
    refused(proof(es, header(es, jwk={**es.public_jwk(), "use": "enc"})), "bad_jwk")
    # a jwk and a kid: the jwk decides, the kid is only a label
    assert check(proof(es, header(es, kid="whatever"))).jkt == es.thumbprint()


def test_hmac_with_symmetric_jwk(es: ClientKey) -> None:
    secret = b"s" * 32
    h = {"typ": DPOP_TYP, "alg": "HS256", "jwk": {"kty": "oct", "k": b64url_encode(secret)}}
    unsigned = raw_jws(h, claims(), b"")[:-1]
    mac = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    refused(unsigned + "." + b64url_encode(mac), "bad_alg")
    # an asymmetric alg over a symmetric jwk
    refused(raw_jws({**h, "alg": "ES256"}, claims(), mac + mac), "bad_jwk")


def test_signature_by_another_key(
    client_keys: dict[str, ClientKey], other_keys: dict[str, ClientKey]
) -> None:
    for alg in ALGS:
        key, other = client_keys[alg], other_keys[alg]
        refused(other.sign(header(key), claims()), "bad_signature")


def test_tampered_claims_and_signature(es: ClientKey) -> None:
    h, p, s = proof(es).split(".")
    refused(f"{h}.{b64url_encode(json.dumps(claims()).encode())}.{s}", "bad_signature")
    other_h = b64url_encode(json.dumps(header(es, alg="ES256", extra=1)).encode())
    refused(f"{other_h}.{p}.{s}", "bad_signature")
    refused(f"{h}.{p}.{b64url_encode(b'x' * 64)}", "bad_signature")
    refused(f"{h}.{p}.{b64url_encode(b'x' * 63)}", "bad_signature")


def test_crit_refused(es: ClientKey) -> None:
    refused(es256_by_hand(es, header(es, alg="ES256", crit=["exp"], exp=1), claims()), "bad_header")
    # the same by hand without crit is fine (the helper itself works)
    assert check(es256_by_hand(es, header(es, alg="ES256"), claims())).jkt == es.thumbprint()


# --------------------------------------------------------------------------- malformed


def test_missing_and_malformed(es: ClientKey) -> None:
    refused(None, "missing_proof")
    refused(None, "missing_proof", resource=True)
    for bad in ("", "a.b", "a.b.c.d", "...", "x" * 100, proof(es) + ".", " " + proof(es)):
        refused(bad, "malformed")
    refused(b"abc", "malformed")  # type: ignore[arg-type]
    h, p, s = proof(es).split(".")
    refused(f"{h}=.{p}.{s}", "malformed")
    refused(f"{b64url_encode(b'not json')}.{p}.{s}", "malformed")
    refused(f"{b64url_encode(b'[1]')}.{p}.{s}", "malformed")
    dup = b'{"typ":"dpop+jwt","typ":"JWT","alg":"ES256"}'
    refused(f"{b64url_encode(dup)}.{p}.{s}", "malformed")
    # a claims set that is not an object
    refused(es256_by_hand(es, header(es, alg="ES256"), b'"jti"'), "malformed")


def test_size_limit(es: ClientKey) -> None:
    # find a padding that lands exactly on the limit (ES256: fixed-size signature)
    exact = None
    for pad in range(5000, 6500):
        p = proof(es, pad="x" * pad)
        if len(p) == MAX_PROOF_LEN:
            exact = p
        if len(p) > MAX_PROOF_LEN:
            refused(p, "oversize")
            break
    assert exact is not None
    check(exact)
    refused("a" * (MAX_PROOF_LEN + 1), "oversize")
    refused("a" * 10**6, "oversize")


# --------------------------------------------------------------------------- claims


def test_htm(es: ClientKey) -> None:
    for htm in ("GET", "post", "Post", "POST ", "", None, ["POST"]):
        refused(proof(es, htm=htm), "htm_mismatch")
    refused(proof(es, htm=DROP), "htm_mismatch")
    refused(proof(es), "htm_mismatch", method="GET")
    assert check(proof(es, htm="GET"), method="GET").htm == "GET"


@pytest.mark.parametrize(
    "htu",
    [
        "https://as.example/token",
        "https://as.example/token?x=1",
        "https://as.example/token#frag",
        "https://as.example/token?x=1#f",
        "HTTPS://AS.EXAMPLE/token",
        "https://As.Example:443/token",
        "https://as.example:/token",
        "https://as.example/%74oken",
        "https://as.example/a/../token",
        "https://as.example/./token",
        "https://%61s.example/token",
    ],
)
def test_htu_equivalent_forms_accepted(es: ClientKey, htu: str) -> None:
    assert check(proof(es, htu=htu)).htu == URL
    # and the other way round: the request URI in an equivalent form
    assert check(proof(es), url=htu).htu == URL


@pytest.mark.parametrize(
    "htu",
    [
        "https://as.example/token/",
        "https://as.example/Token",
        "https://as.example/tokens",
        "https://as.example/",
        "https://as.example",
        "https://as.example/other/token",
        "https://as.example.evil/token",
        "https://evil.example/token",
        "https://as.example:8443/token",
        "https://as.example:80/token",
        "http://as.example/token",
        "http://as.example:443/token",
        "https://as.example/token%2F",
        "https://as.example/%2Ftoken",
    ],
)
def test_htu_differences_refused(es: ClientKey, htu: str) -> None:
    refused(proof(es, htu=htu), "htu_mismatch")


@pytest.mark.parametrize(
    "htu",
    [
        "ftp://as.example/token",
        "as.example/token",
        "/token",
        "https:/token",
        "https:///token",
        "https://user@as.example/token",
        "https://user:pw@as.example/token",
        "https://as.example:99999/token",
        "https://as.example:-1/token",
        "https://as.example:x/token",
        "https://as.example/to ken",
        "https://as.example/token\n",
        "https://as.example/t%zzoken",
        "https://as.example/t%4",
        "https://as.exa\u00e9mple/token",
        "https://[::1/token",
        "https://[zz]/token",
        "",
        None,
        7,
        "https://as.example\\token",
    ],
)
def test_htu_malformed_refused(es: ClientKey, htu: Any) -> None:
    refused(proof(es, htu=htu), "bad_htu")


def test_htu_missing_refused(es: ClientKey) -> None:
    refused(proof(es, htu=DROP), "bad_htu")


def test_bad_request_url_refused(es: ClientKey) -> None:
    refused(proof(es), "bad_url", url="not a url")


@pytest.mark.parametrize(
    "url,normal",
    [
        ("https://as.example", "https://as.example/"),
        ("HTTP://AS.EXAMPLE:80/a?b#c", "http://as.example/a"),
        ("http://as.example:0080/a", "http://as.example/a"),
        ("http://as.example:443/a", "http://as.example:443/a"),
        ("https://as.example:8443/A/%7e%41%2f%2a", "https://as.example:8443/A/~A%2F%2A"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
        ("https://[2001:DB8::1]/x", "https://[2001:db8::1]/x"),
        ("https://as.example/a/b/../../c/./d/..", "https://as.example/c/"),
        ("https://as.example/../../a", "https://as.example/a"),
        ("https://as.example/a//b", "https://as.example/a//b"),
        ("https://as.example/%2E%2E/a", "https://as.example/a"),
        ("https://AS.example%2Ecom/", "https://as.example.com/"),
        ("https://127.0.0.1:443/", "https://127.0.0.1/"),
    ],
)
def test_normalize_htu(url: str, normal: str) -> None:
    assert normalize_htu(url) == normal
    assert normalize_htu(normal) == normal


def test_normalize_htu_refusals() -> None:
    for url in ("mailto:a@b", "https://a@b/", "https://b:65536/", "https://b/%", "x" * 9000):
        with pytest.raises(OAuthError) as ei:
            normalize_htu(url)
        assert ei.value.reason == "bad_htu"


@given(
    scheme=st.sampled_from(["http", "HTTP", "https", "hTTps"]),
    host=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.-]{0,20}", fullmatch=True),
    port=st.none() | st.integers(0, 65535),
    path=st.lists(
        st.from_regex(r"([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2}){0,6}", fullmatch=True),
        max_size=5,
    ),
    query=st.from_regex(r"[A-Za-z0-9=&%/?]{0,10}", fullmatch=True),
)
def test_normalize_htu_idempotent(
    scheme: str, host: str, port: int | None, path: list[str], query: str
) -> None:
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}/{'/'.join(path)}?{query}"
    once = normalize_htu(url)
    assert normalize_htu(once) == once
    assert once == once.split("?")[0].split("#")[0]
    assert once.startswith(("http://", "https://"))


def test_iat_window_edges(es: ClientKey) -> None:
    t = int(NOW)
    oldest, newest = t - MAX_AGE - LEEWAY, t + LEEWAY
    assert check(proof(es, iat=oldest)).iat == oldest
    assert check(proof(es, iat=newest)).iat == newest
    refused(proof(es, iat=oldest - 1), "stale_iat")
    refused(proof(es, iat=newest + 1), "future_iat")
    refused(proof(es, iat=0), "stale_iat")
    refused(proof(es, iat=2**62), "future_iat")
    # max_age and leeway are the caller's
    refused(proof(es, iat=t - 20), "stale_iat", max_age=10, leeway=0)
    refused(proof(es, iat=t + 1), "future_iat", leeway=0)
    for iat in (float(t), str(t), None, True, [t], t + 0.5):
        refused(proof(es, iat=iat), "bad_iat")
    refused(proof(es, iat=DROP), "bad_iat")


def test_jti(es: ClientKey) -> None:
    for jti in ("", 7, None, ["a"], "j" * 257):
        refused(proof(es, jti=jti), "bad_jti")
    refused(proof(es, jti=DROP), "bad_jti")
    assert check(proof(es, jti="j" * 256)).jti == "j" * 256


# --------------------------------------------------------------------------- replay


def test_replay_refused(es: ClientKey) -> None:
    replay = MemoryReplayCache()
    p = proof(es, jti="once")
    check(p, replay)
    refused(p, "replayed_jti", replay)
    refused(p, "replayed_jti", replay, resource=True)
    # a new proof with the same jti from the same key is the same proof for the cache
    refused(proof(es, jti="once", iat=int(NOW) - 1), "replayed_jti", replay)
    check(proof(es, jti="twice"), replay)


def test_same_jti_other_key_is_another_proof(
    client_keys: dict[str, ClientKey], other_keys: dict[str, ClientKey]
) -> None:
    replay = MemoryReplayCache()
    check(proof(client_keys["ES256"], jti="fixed"), replay)
    check(proof(other_keys["ES256"], jti="fixed"), replay)
    refused(proof(client_keys["ES256"], jti="fixed"), "replayed_jti", replay)


def test_refused_proofs_consume_nothing(es: ClientKey, other_keys: dict[str, ClientKey]) -> None:
    replay = MemoryReplayCache()
    nonces = NonceIssuer(b"n" * 32)
    jti = "fixed-jti"
    failures = [
        (proof(es, jti=jti, htm="GET"), "htm_mismatch", {}),
        (proof(es, jti=jti, htu=RS_URL), "htu_mismatch", {}),
        (proof(es, jti=jti, iat=int(NOW) + 60), "future_iat", {}),
        (other_keys["ES256"].sign(header(es), claims(jti=jti)), "bad_signature", {}),
        (proof(es, jti=jti), "missing_ath", {"access_token": "t"}),
        (proof(es, jti=jti), "jkt_mismatch", {"jkt": other_keys["ES256"].thumbprint()}),
    ]
    for p, reason, kw in failures:
        refused(p, reason, replay, **kw)
    e = refused(proof(es, jti=jti), "missing_nonce", replay, error="use_dpop_nonce", nonces=nonces)
    assert replay.calls == []
    check(proof(es, jti=jti, nonce=e.headers["DPoP-Nonce"]), replay, nonces=nonces)
    refused(proof(es, jti=jti), "replayed_jti", replay)


def test_replay_entry_outlives_acceptance(es: ClientKey) -> None:
    # accepted at the last instant of its window; replayed at that same instant
    replay = MemoryReplayCache()
    iat = int(NOW)
    last = iat + MAX_AGE + LEEWAY
    p = proof(es, iat=iat)
    check(p, replay, now=last)
    refused(p, "replayed_jti", replay, now=last)
    refused(p, "stale_iat", replay, now=last + 1)
    # earliest instant: a proof from the future (leeway) replayed until it is stale
    replay = MemoryReplayCache()
    p = proof(es, iat=iat + LEEWAY)
    check(p, replay, now=NOW)
    for now in (NOW + 1, NOW + MAX_AGE + 2 * LEEWAY):
        refused(p, "replayed_jti", replay, now=now)


# --------------------------------------------------------------------------- binding


def test_ath(es: ClientKey) -> None:
    token = RFC_TOKEN
    kw: dict[str, Any] = {"access_token": token, "method": "GET", "url": RS_URL}
    assert check(proof(es, htm="GET", htu=RS_URL, ath=RFC_ATH), **kw).jti
    refused(proof(es, htm="GET", htu=RS_URL), "missing_ath", **kw)
    other = b64url_encode(hashlib.sha256(b"other-token").digest())
    for ath in (other, RFC_ATH[:-1], RFC_ATH + "A", RFC_ATH.lower(), 1, ["x"], "é" * 43):
        refused(proof(es, htm="GET", htu=RS_URL, ath=ath), "ath_mismatch", **kw)
    refused(proof(es, htm="GET", htu=RS_URL, ath=None), "missing_ath", **kw)
    # a non-ASCII token never matches
    refused(
        proof(es, htm="GET", htu=RS_URL, ath=RFC_ATH),
        "ath_mismatch",
        **{**kw, "access_token": "tok\u00e9n"},
    )
    # without an access token, ath is not looked at
    assert check(proof(es, ath="anything")).jti


def test_jkt(es: ClientKey, other_keys: dict[str, ClientKey]) -> None:
    assert check(proof(es), jkt=es.thumbprint()).jkt == es.thumbprint()
    refused(proof(es), "jkt_mismatch", jkt=other_keys["ES256"].thumbprint())
    refused(proof(es), "jkt_mismatch", jkt=es.thumbprint()[:-1])
    refused(proof(es), "jkt_mismatch", jkt="", resource=True)


# --------------------------------------------------------------------------- nonces


@pytest.mark.parametrize("resource", [False, True])
def test_nonce_required_then_accepted(es: ClientKey, resource: bool) -> None:
    nonces = NonceIssuer(b"n" * 32, window=300)
    replay = MemoryReplayCache()
    e = refused(
        proof(es), "missing_nonce", replay, error="use_dpop_nonce", nonces=nonces, resource=resource
    )
    fresh = e.headers["DPoP-Nonce"]
    assert nonces.check(fresh, NOW)
    got = check(proof(es, nonce=fresh), replay, nonces=nonces, resource=resource)
    assert got.nonce == fresh
    # wrong nonces: malformed, another key's, expired (two windows old)
    stale = nonces.issue(NOW - 600)
    for bad in ("x" * 32, NonceIssuer(b"m" * 32).issue(NOW), stale, 5, "", ["n"]):
        e = refused(
            proof(es, nonce=bad),
            "bad_nonce",
            replay,
            error="use_dpop_nonce",
            nonces=nonces,
            resource=resource,
        )
        again = e.headers["DPoP-Nonce"]
        assert again != stale and nonces.check(again, NOW)
        check(proof(es, nonce=again), replay, nonces=nonces, resource=resource)


def test_nonce_checked_after_the_proof_itself(es: ClientKey) -> None:
    # a proof that is bad anyway gets its own error, not a nonce challenge
    nonces = NonceIssuer(b"n" * 32)
    refused(proof(es, htm="GET"), "htm_mismatch", nonces=nonces)
    refused(proof(es, iat=0), "stale_iat", nonces=nonces)


def test_previous_window_nonce_accepted(es: ClientKey) -> None:
    nonces = NonceIssuer(b"n" * 32, window=300)
    assert check(proof(es, nonce=nonces.issue(NOW - 300)), nonces=nonces).nonce


def test_parameters_validated(es: ClientKey) -> None:
    for kw in ({"max_age": -1}, {"leeway": -1}, {"max_age": 1.5}, {"leeway": None}):
        with pytest.raises(errors.InvalidParameter):
            check(proof(es), **kw)


# --------------------------------------------------------------------------- mutations


@pytest.fixture(scope="module")
def fixed_proofs(client_keys: dict[str, ClientKey]) -> dict[str, str]:
    return {alg: proof(client_keys[alg]) for alg in ("ES256", "RS256", "EdDSA")}


@given(
    alg=st.sampled_from(["ES256", "RS256", "EdDSA"]),
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
def test_mutated_proofs_refused(
    fixed_proofs: dict[str, str], alg: str, edits: list[tuple[str, int, str]]
) -> None:
    p = fixed_proofs[alg]
    for op, pos, ch in edits:
        i = pos % (len(p) + 1)
        if op == "replace" and i < len(p):
            p = p[:i] + ch + p[i + 1 :]
        elif op == "insert":
            p = p[:i] + ch + p[i:]
        elif i < len(p):
            p = p[:i] + p[i + 1 :]
    if p == fixed_proofs[alg]:
        return
    with pytest.raises(OAuthError) as ei:
        check(p)
    assert ei.value.error == "invalid_dpop_proof"


@given(
    which=st.sampled_from(["header", "claims"]),
    pos=st.integers(0, 10**6),
    data=st.binary(min_size=1, max_size=8),
)
def test_mutated_json_signed_for_real_never_crashes(
    client_keys: dict[str, ClientKey], which: str, pos: int, data: bytes
) -> None:
    key = client_keys["ES256"]
    h = json.dumps(header(key, alg="ES256")).encode()
    c = json.dumps(claims()).encode()
    target = h if which == "header" else c
    i = pos % (len(target) + 1)
    mutated = target[:i] + data + target[i + len(data) :]
    hb, cb = (mutated, c) if which == "header" else (h, mutated)
    unsigned = b64url_encode(hb) + "." + b64url_encode(cb)
    r, s = decode_dss_signature(key.private.sign(unsigned.encode(), ec.ECDSA(hashes.SHA256())))
    p = unsigned + "." + b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    try:
        got = check(p)
    except OAuthError:
        return
    # accepted only if it still says what a good proof says
    assert got.htm == "POST" and got.htu == URL and got.jkt == key.thumbprint()
