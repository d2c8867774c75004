"""RFC 9068 access tokens: what TokenIssuer mints, that PyJWT agrees with it, and every
way validate() refuses a forged, tampered or malformed token."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from zkattest import errors
from zkattest.identity.jose import P256_N, EcKey, b64url_decode, b64url_encode, decode_unverified
from zkattest.oauth.errors import OAuthError
from zkattest.oauth.tokens import (
    AT_TYP,
    MAX_CHAIN,
    AccessToken,
    TokenIssuer,
    check_act,
    check_may_act,
)

ISS = "https://zk.example"
AUD = "https://zk.example/verifications"
NOW = 1_760_000_000
TTL = 300
JKT = b64url_encode(hashlib.sha256(b"some key").digest())


@pytest.fixture(scope="module")
def key() -> EcKey:
    return EcKey.generate()


@pytest.fixture(scope="module")
def kid(key: EcKey) -> str:
    return key.public().thumbprint()


@pytest.fixture(scope="module")
def issuer(key: EcKey, kid: str) -> TokenIssuer:
    return TokenIssuer(key, kid, ISS, ttl=TTL)


@pytest.fixture(scope="module")
def token(issuer: TokenIssuer) -> AccessToken:
    return issuer.mint(
        sub="alice",
        client_id="wallet",
        aud=AUD,
        scope=["verify:age_gte", "approve"],
        jkt=JKT,
        now=NOW,
        act={"sub": "agent-b", "act": {"sub": "agent-a"}},
        may_act={"sub": "agent-c", "iss": ISS},
    )


def claims_of(**changes: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "iss": ISS,
        "sub": "alice",
        "aud": AUD,
        "client_id": "wallet",
        "iat": NOW,
        "exp": NOW + TTL,
        "jti": "j-1",
    }
    for k, v in changes.items():
        if v is _DROP:
            c.pop(k)
        else:
            c[k] = v
    return c


_DROP = object()


def enc(obj: Any) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def jws(header: dict[str, Any], claims: dict[str, Any], key: EcKey) -> str:
    """A compact JWS built by hand (any header), signed ES256 by ``key``."""
    si = enc(header) + "." + enc(claims)
    return si + "." + b64url_encode(key.sign(si.encode()))


def good_header(kid: str, /, **changes: Any) -> dict[str, Any]:
    h: dict[str, Any] = {"alg": "ES256", "kid": kid, "typ": AT_TYP}
    for k, v in changes.items():
        if v is _DROP:
            h.pop(k)
        else:
            h[k] = v
    return h


def check(issuer: TokenIssuer, raw: str, *, now: float = NOW + 1, **kw: Any) -> AccessToken:
    kw.setdefault("audience", AUD)
    return issuer.validate(raw, now=now, **kw)


def refused(issuer: TokenIssuer, raw: str, **kw: Any) -> OAuthError:
    with pytest.raises(OAuthError) as e:
        check(issuer, raw, **kw)
    err = e.value
    assert err.error == "invalid_token" and err.status == 401
    assert err.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')
    if len(raw) > 16:
        assert raw not in str(err) and raw not in err.headers["WWW-Authenticate"]
    return err


def reason(issuer: TokenIssuer, raw: str, **kw: Any) -> str:
    return refused(issuer, raw, **kw).reason


# --------------------------------------------------------------------------- good


def test_minted_shape(token: AccessToken, kid: str) -> None:
    d = decode_unverified(token.raw)
    assert d.header == {"alg": "ES256", "kid": kid, "typ": "at+jwt"}
    c = d.claims
    assert c["iss"] == ISS and c["sub"] == "alice" and c["aud"] == AUD
    assert c["client_id"] == "wallet" and c["iat"] == NOW and c["exp"] == NOW + TTL
    assert c["scope"] == "approve verify:age_gte"
    assert c["cnf"] == {"jkt": JKT}
    assert c["act"] == {"sub": "agent-b", "act": {"sub": "agent-a"}}
    assert c["may_act"] == {"sub": "agent-c", "iss": ISS}
    assert isinstance(c["jti"], str) and len(c["jti"]) >= 22
    assert c["jti"] == token.jti


def test_roundtrip(issuer: TokenIssuer, token: AccessToken) -> None:
    t = check(issuer, token.raw)
    assert t == token
    assert t.scope == {"verify:age_gte", "approve"}
    assert t.jkt == JKT and t.depth == 2 and t.chain == ("agent-b", "agent-a")
    assert t.may_act == {"sub": "agent-c", "iss": ISS}
    assert token.raw not in repr(t)


def test_minimal_token(issuer: TokenIssuer) -> None:
    t = issuer.mint(sub="rp", client_id="rp", aud=AUD, scope=(), jkt=None, now=NOW)
    c = decode_unverified(t.raw).claims
    assert set(c) == {"iss", "sub", "aud", "client_id", "iat", "exp", "jti"}
    v = check(issuer, t.raw)
    assert v.scope == frozenset() and v.jkt is None and v.act is None and v.may_act is None
    assert v.depth == 0 and v.chain == ()


def test_jti_unique(issuer: TokenIssuer) -> None:
    jtis = {
        issuer.mint(sub="s", client_id="c", aud=AUD, scope=(), jkt=None, now=NOW).jti
        for _ in range(50)
    }
    assert len(jtis) == 50


def test_audience_none_accepts_any_single(issuer: TokenIssuer, token: AccessToken) -> None:
    assert check(issuer, token.raw, audience=None).aud == AUD
    assert reason(issuer, token.raw, audience="https://other.example") == "bad_audience"


def test_mint_does_not_alias_caller_dicts(issuer: TokenIssuer) -> None:
    act: dict[str, Any] = {"sub": "a", "act": {"sub": "b"}}
    t = issuer.mint(sub="s", client_id="a", aud=AUD, scope=(), jkt=None, now=NOW, act=act)
    act["act"]["sub"] = "changed"
    assert t.chain == ("a", "b")


def test_jwks(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    (jwk,) = issuer.jwks()["keys"]
    assert jwk == {**key.public().jwk(), "kid": kid, "use": "sig", "alg": "ES256"}
    assert issuer.issuer == ISS and issuer.kid == kid and issuer.ttl == TTL


# --------------------------------------------------------------------------- stock library


def test_pyjwt_verifies_ours(issuer: TokenIssuer, token: AccessToken) -> None:
    jwks = jwt.PyJWKSet.from_dict(issuer.jwks())
    (k,) = jwks.keys
    header = jwt.get_unverified_header(token.raw)
    assert header["typ"] == "at+jwt" and header["kid"] == k.key_id
    claims = jwt.decode(
        token.raw,
        k,
        algorithms=["ES256"],
        audience=AUD,
        issuer=ISS,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["sub"] == "alice" and claims["act"]["sub"] == "agent-b"


def test_pyjwt_signed_validates(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    sk = serialization.load_pem_private_key(key.to_pem(), None)
    assert isinstance(sk, ec.EllipticCurvePrivateKey)
    # PyJWT emits high-s signatures about half of the time: sign several
    for i in range(6):
        claims = claims_of(jti=f"p{i}", scope="verify:age_gte", cnf={"jkt": JKT})
        raw = jwt.encode(claims, sk, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"})
        t = check(issuer, raw)
        assert t.jti == f"p{i}" and t.scope == {"verify:age_gte"} and t.jkt == JKT
    other = jwt.encode(claims_of(), sk, algorithm="ES256", headers={"kid": kid})
    assert reason(issuer, other) == "bad_typ"  # PyJWT's default typ is "JWT"


# --------------------------------------------------------------------------- header


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT", "Application/At+JWT"])
def test_typ_accepted(issuer: TokenIssuer, key: EcKey, kid: str, typ: str) -> None:
    assert check(issuer, jws(good_header(kid, typ=typ), claims_of(), key)).sub == "alice"


@pytest.mark.parametrize(
    "typ", ["JWT", "jwt", "JOSE", "dpop+jwt", "at+jwt ", "application/jwt", "", 1, None, _DROP]
)
def test_typ_refused(issuer: TokenIssuer, key: EcKey, kid: str, typ: Any) -> None:
    assert reason(issuer, jws(good_header(kid, typ=typ), claims_of(), key)) == "bad_typ"


@pytest.mark.parametrize("alg", ["none", "None", "HS256", "RS256", "ES384", "es256", "", None])
def test_alg_refused(issuer: TokenIssuer, key: EcKey, kid: str, alg: Any) -> None:
    assert reason(issuer, jws(good_header(kid, alg=alg), claims_of(), key)) == "bad_alg"


def test_alg_none_unsigned(issuer: TokenIssuer, kid: str) -> None:
    si = enc(good_header(kid, alg="none")) + "." + enc(claims_of())
    assert reason(issuer, si + ".") == "malformed"  # no signature segment at all
    assert reason(issuer, si + ".AAAA") == "bad_alg"


def test_hs256_forgery_with_public_key_as_secret(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    pub = key.public()
    pem = (
        serialization.load_pem_private_key(key.to_pem(), None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    secrets = [
        pem,
        json.dumps(issuer.jwks()).encode(),
        json.dumps(pub.jwk()).encode(),
        b"\x04" + pub.x + pub.y,
    ]
    for secret in secrets:
        si = enc(good_header(kid, alg="HS256")) + "." + enc(claims_of())
        mac = hmac.new(secret, si.encode(), hashlib.sha256).digest()
        assert reason(issuer, si + "." + b64url_encode(mac)) == "bad_alg"


@pytest.mark.parametrize("k", ["other", "", 1, None, _DROP])
def test_wrong_kid(issuer: TokenIssuer, key: EcKey, kid: str, k: Any) -> None:
    assert reason(issuer, jws(good_header(kid, kid=k), claims_of(), key)) == "unknown_kid"


@pytest.mark.parametrize(
    "extra",
    [
        {"jwk": {"kty": "EC"}},
        {"jku": "https://evil.example/jwks"},
        {"x5c": ["AAAA"]},
        {"crit": ["exp"]},
        {"b64": False},
        {"cty": "JWT"},
    ],
)
def test_extra_header_members(
    issuer: TokenIssuer, key: EcKey, kid: str, extra: dict[str, Any]
) -> None:
    h = {**good_header(kid), **extra}
    assert reason(issuer, jws(h, claims_of(), key)) == "bad_header"


def test_signed_by_another_key(issuer: TokenIssuer, kid: str) -> None:
    other = EcKey.generate()
    assert reason(issuer, jws(good_header(kid), claims_of(), other)) == "bad_signature"
    # a whole other issuer with the same kid and issuer name
    forger = TokenIssuer(other, kid, ISS)
    t = forger.mint(sub="alice", client_id="wallet", aud=AUD, scope=(), jkt=None, now=NOW)
    assert reason(issuer, t.raw) == "bad_signature"


def test_signature_of_another_token(issuer: TokenIssuer, token: AccessToken, key: EcKey) -> None:
    a = token.raw.split(".")
    b = issuer.mint(sub="mallory", client_id="w", aud=AUD, scope=(), jkt=None, now=NOW)
    h, p, _ = b.raw.split(".")
    assert reason(issuer, f"{h}.{p}.{a[2]}") == "bad_signature"


def test_high_s_signature_accepted(issuer: TokenIssuer, token: AccessToken) -> None:
    # ECDSA malleability: (r, n - s) verifies too; replay protection keys on jti
    h, p, s = token.raw.split(".")
    sig = b64url_decode(s)
    r, s_int = sig[:32], int.from_bytes(sig[32:], "big")
    flipped = r + (P256_N - s_int).to_bytes(32, "big")
    t = check(issuer, f"{h}.{p}.{b64url_encode(flipped)}")
    assert t.jti == token.jti


@pytest.mark.parametrize("n", [0, 1, 63, 65, 96])
def test_signature_length(issuer: TokenIssuer, token: AccessToken, n: int) -> None:
    h, p, _ = token.raw.split(".")
    sig = b64url_encode(b"\x01" * n) if n else "A"
    assert reason(issuer, f"{h}.{p}.{sig}") in {"bad_signature", "malformed"}


# --------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "a",
        "a.b",
        "a.b.c.d",
        "..",
        "a..c",
        " eyJ.eyJ.AAAA",
        "eyJhbGciOiJFUzI1NiJ9.e30.AAAA=",
        "e30.e30.AAAA",  # header {} -> alg missing
        "W10.e30.AAAA",  # header [] -> not an object
    ],
)
def test_malformed(issuer: TokenIssuer, raw: str) -> None:
    assert reason(issuer, raw) in {"malformed", "bad_alg"}


def test_not_a_string(issuer: TokenIssuer) -> None:
    with pytest.raises(OAuthError) as e:
        issuer.validate(b"a.b.c", now=NOW, audience=AUD)  # type: ignore[arg-type]
    assert e.value.reason == "malformed"


def test_oversize(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    raw = jws(good_header(kid), claims_of(pad="x" * 20000), key)
    assert reason(issuer, raw) == "oversize"


def test_duplicate_claim_names(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    body = '{"iss":"' + ISS + '","iss":"https://evil.example"}'
    si = enc(good_header(kid)) + "." + b64url_encode(body.encode())
    raw = si + "." + b64url_encode(key.sign(si.encode()))
    assert reason(issuer, raw) == "malformed"


@given(data=st.data())
def test_any_mutation_refused(issuer: TokenIssuer, token: AccessToken, data: st.DataObject) -> None:
    raw = token.raw
    kind = data.draw(st.sampled_from(["replace", "delete", "insert", "truncate"]))
    i = data.draw(st.integers(0, len(raw) - 1))
    if kind == "replace":
        c = data.draw(st.characters(codec="utf-8").filter(lambda ch: ch != raw[i]))
        bad = raw[:i] + c + raw[i + 1 :]
    elif kind == "delete":
        bad = raw[:i] + raw[i + 1 :]
    elif kind == "insert":
        bad = raw[:i] + data.draw(st.characters(codec="utf-8")) + raw[i:]
    else:
        bad = raw[:i]
    assert bad != raw
    refused(issuer, bad)


@given(st.binary(min_size=1, max_size=8), st.integers(min_value=0))
def test_byte_xor_refused(issuer: TokenIssuer, token: AccessToken, mask: bytes, at: int) -> None:
    raw = bytearray(token.raw.encode())
    i = at % len(raw)
    for j, m in enumerate(mask):
        if i + j < len(raw):
            raw[i + j] ^= m
    bad = raw.decode("latin-1")
    if bad == token.raw:
        return
    refused(issuer, bad)


# --------------------------------------------------------------------------- claims


def test_wrong_issuer(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    for iss in ["https://evil.example", ISS + "/", ISS.upper()]:
        raw = jws(good_header(kid), claims_of(iss=iss), key)
        assert reason(issuer, raw) == "bad_issuer"


@pytest.mark.parametrize("name", ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"])
def test_missing_required_claim(issuer: TokenIssuer, key: EcKey, kid: str, name: str) -> None:
    err = refused(issuer, jws(good_header(kid), claims_of(**{name: _DROP}), key))
    assert err.reason == "bad_claims" and name in err.description


@pytest.mark.parametrize("name", ["iss", "sub", "client_id", "jti"])
@pytest.mark.parametrize("value", ["", 1, None, ["x"], {"a": "b"}, True])
def test_string_claim_types(
    issuer: TokenIssuer, key: EcKey, kid: str, name: str, value: Any
) -> None:
    err = refused(issuer, jws(good_header(kid), claims_of(**{name: value}), key))
    assert err.reason == "bad_claims" and name in err.description


def test_jti_too_long(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    assert check(issuer, jws(good_header(kid), claims_of(jti="j" * 256), key)).jti
    raw = jws(good_header(kid), claims_of(jti="j" * 257), key)
    assert reason(issuer, raw) == "bad_claims"


@pytest.mark.parametrize("name", ["iat", "exp", "nbf"])
@pytest.mark.parametrize("value", [1.0 * NOW, str(NOW), True, None, [NOW]])
def test_time_claim_types(issuer: TokenIssuer, key: EcKey, kid: str, name: str, value: Any) -> None:
    err = refused(issuer, jws(good_header(kid), claims_of(**{name: value}), key))
    assert err.reason == "bad_claims"


@pytest.mark.parametrize(
    "aud",
    [
        [AUD, AUD],
        [AUD, "https://other.example"],
        ["https://other.example", AUD],
        [],
        [[AUD]],
        "",
        [""],
        1,
        None,
        {"aud": AUD},
    ],
)
def test_bad_aud(issuer: TokenIssuer, key: EcKey, kid: str, aud: Any) -> None:
    raw = jws(good_header(kid), claims_of(aud=aud), key)
    assert reason(issuer, raw) == "bad_audience"
    assert reason(issuer, raw, audience=None) == "bad_audience"


def test_aud_one_element_list(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    assert check(issuer, jws(good_header(kid), claims_of(aud=[AUD]), key)).aud == AUD


def test_time_window(issuer: TokenIssuer, token: AccessToken) -> None:
    exp = token.exp  # NOW + TTL
    assert check(issuer, token.raw, now=NOW).iat == NOW
    # default leeway 5: valid while now < exp + 5
    assert check(issuer, token.raw, now=exp + 4).exp == exp
    assert check(issuer, token.raw, now=exp + 4.999).exp == exp
    assert reason(issuer, token.raw, now=exp + 5) == "expired"
    assert reason(issuer, token.raw, now=exp + 3600) == "expired"
    # leeway 0: valid while now < exp
    assert check(issuer, token.raw, now=exp - 1, leeway=0).exp == exp
    assert check(issuer, token.raw, now=exp - 0.001, leeway=0).exp == exp
    assert reason(issuer, token.raw, now=exp, leeway=0) == "expired"
    # iat in the future
    assert check(issuer, token.raw, now=NOW - 5).iat == NOW
    assert reason(issuer, token.raw, now=NOW - 5.5) == "future_iat"
    assert reason(issuer, token.raw, now=NOW - 6) == "future_iat"
    assert check(issuer, token.raw, now=NOW, leeway=0).iat == NOW
    assert reason(issuer, token.raw, now=NOW - 1, leeway=0) == "future_iat"
    assert check(issuer, token.raw, now=NOW - 300, leeway=300).iat == NOW


def test_nbf(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    raw = jws(good_header(kid), claims_of(nbf=NOW + 100), key)
    assert reason(issuer, raw) == "future_iat"
    assert check(issuer, raw, now=NOW + 95).sub == "alice"


def test_expired_before_issued(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    raw = jws(good_header(kid), claims_of(exp=NOW - 10), key)
    assert reason(issuer, raw, now=NOW) == "expired"


@pytest.mark.parametrize("leeway", [-1, 301, 1.5, True, "5", None])
def test_bad_leeway(issuer: TokenIssuer, token: AccessToken, leeway: Any) -> None:
    with pytest.raises(errors.InvalidParameter):
        issuer.validate(token.raw, now=NOW, audience=AUD, leeway=leeway)


@pytest.mark.parametrize("now", [True, "1", None])
def test_bad_now(issuer: TokenIssuer, token: AccessToken, now: Any) -> None:
    with pytest.raises(errors.InvalidParameter):
        issuer.validate(token.raw, now=now, audience=AUD)


@pytest.mark.parametrize(
    "scope",
    [["a"], 1, None, True, {"a": 1}, "", " ", "a  b", " a", "a ", 'a"b', "a\\b", "a\tb", "é"],
)
def test_bad_scope(issuer: TokenIssuer, key: EcKey, kid: str, scope: Any) -> None:
    raw = jws(good_header(kid), claims_of(scope=scope), key)
    assert reason(issuer, raw) == "bad_scope"


def test_scope_parsed(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    raw = jws(good_header(kid), claims_of(scope="b a b !~"), key)
    assert check(issuer, raw).scope == {"a", "b", "!~"}


@pytest.mark.parametrize(
    "cnf",
    [
        "x",
        [JKT],
        None,
        {},
        {"jkt": 1},
        {"jkt": None},
        {"jkt": JKT[:-1]},
        {"jkt": JKT + "A"},
        {"jkt": JKT[:-1] + "="},
        {"jkt": JKT, "jwk": {}},
        {"jwk": {"kty": "EC"}},
    ],
)
def test_bad_cnf(issuer: TokenIssuer, key: EcKey, kid: str, cnf: Any) -> None:
    raw = jws(good_header(kid), claims_of(cnf=cnf), key)
    assert reason(issuer, raw) == "bad_cnf"


def nested(depth: int) -> dict[str, Any]:
    act: dict[str, Any] | None = None
    for i in range(depth):
        act = {"sub": f"a{i}"} if act is None else {"sub": f"a{i}", "act": act}
    assert act is not None
    return act


BAD_ACTS: list[Any] = [
    "agent",
    ["agent"],
    None,
    1,
    {},
    {"iss": ISS},
    {"sub": ""},
    {"sub": 1},
    {"sub": None},
    {"sub": "a", "iss": 1},
    {"sub": "a", "iss": ""},
    {"sub": "a", "exp": NOW},
    {"sub": "a", "client_id": "a"},
    {"sub": "a", "act": None},
    {"sub": "a", "act": "b"},
    {"sub": "a", "act": {}},
    {"sub": "a", "act": {"sub": "b", "act": {"iss": ISS}}},
    {"sub": "a", "act": [{"sub": "b"}]},
    nested(MAX_CHAIN + 1),
    nested(20),
]


@pytest.mark.parametrize("act", BAD_ACTS)
def test_bad_act(issuer: TokenIssuer, key: EcKey, kid: str, act: Any) -> None:
    raw = jws(good_header(kid), claims_of(act=act), key)
    err = refused(issuer, raw)
    assert err.reason == "bad_act"
    with pytest.raises(errors.InvalidParameter):
        check_act(act)
    if act is not None:  # None is "no act" to mint
        with pytest.raises(errors.InvalidParameter):
            issuer.mint(sub="s", client_id="c", aud=AUD, scope=(), jkt=None, now=NOW, act=act)


@pytest.mark.parametrize("depth", [1, 2, MAX_CHAIN - 1, MAX_CHAIN])
def test_act_depth(issuer: TokenIssuer, key: EcKey, kid: str, depth: int) -> None:
    act = nested(depth)
    t = check(issuer, jws(good_header(kid), claims_of(act=act), key))
    assert t.depth == depth == check_act(act)
    assert t.chain == tuple(f"a{i}" for i in reversed(range(depth)))
    minted = issuer.mint(sub="s", client_id="c", aud=AUD, scope=(), jkt=None, now=NOW, act=act)
    assert check(issuer, minted.raw).act == act


def test_act_with_iss(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    act = {"sub": "a", "iss": ISS}
    assert check(issuer, jws(good_header(kid), claims_of(act=act), key)).chain == ("a",)


@pytest.mark.parametrize(
    "may_act",
    [
        "agent",
        ["agent"],
        None,
        {},
        {"iss": ISS},
        {"sub": ""},
        {"sub": 2},
        {"sub": "a", "iss": None},
        {"sub": "a", "act": {"sub": "b"}},
        {"sub": "a", "exp": NOW},
    ],
)
def test_bad_may_act(issuer: TokenIssuer, key: EcKey, kid: str, may_act: Any) -> None:
    raw = jws(good_header(kid), claims_of(may_act=may_act), key)
    assert reason(issuer, raw) == "bad_may_act"
    with pytest.raises(errors.InvalidParameter):
        check_may_act(may_act)


def test_unknown_claims_ignored(issuer: TokenIssuer, key: EcKey, kid: str) -> None:
    # RFC 7519 §4: claims not understood are ignored
    raw = jws(good_header(kid), claims_of(auth_time=NOW, acr="1"), key)
    assert check(issuer, raw).sub == "alice"


def test_bearer_scheme(key: EcKey, kid: str, token: AccessToken) -> None:
    bearer = TokenIssuer(key, kid, ISS, scheme="Bearer")
    with pytest.raises(OAuthError) as e:
        bearer.validate(token.raw, now=NOW + 10_000, audience=AUD)
    assert e.value.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kw",
    [
        {"sub": ""},
        {"sub": 1},
        {"client_id": ""},
        {"aud": ""},
        {"aud": [AUD]},
        {"scope": "verify:age_gte"},
        {"scope": ["a b"]},
        {"scope": [""]},
        {"scope": [1]},
        {"jkt": "short"},
        {"jkt": 1},
        {"now": -1},
        {"now": 1.5},
        {"now": True},
        {"may_act": {"sub": ""}},
    ],
)
def test_mint_arguments(issuer: TokenIssuer, kw: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "sub": "s",
        "client_id": "c",
        "aud": AUD,
        "scope": (),
        "jkt": None,
        "now": NOW,
    }
    args.update(kw)
    with pytest.raises(errors.InvalidParameter):
        issuer.mint(**args)


@pytest.mark.parametrize(
    "kw",
    [
        {"kid": ""},
        {"kid": None},
        {"issuer": ""},
        {"ttl": 0},
        {"ttl": 1.0},
        {"scheme": "Basic"},
        {"key": "pem"},
    ],
)
def test_issuer_arguments(key: EcKey, kw: dict[str, Any]) -> None:
    args: dict[str, Any] = {"key": key, "kid": "k", "issuer": ISS}
    args.update(kw)
    with pytest.raises(errors.InvalidParameter):
        TokenIssuer(args.pop("key"), args.pop("kid"), args.pop("issuer"), **args)
