"""JWT-SVIDs: what mint_svid emits, that stock JOSE libraries accept it, and every way
validate_svid refuses a bad one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, cast

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt as rfc_jwt
from joserfc.jwk import ECKey, KeySet

from zkattest import errors
from zkattest.identity import (
    EcKey,
    JoseError,
    SpiffeId,
    TrustBundle,
    b64url_encode,
    decode_unverified,
    mint_svid,
    sign_compact,
    validate_svid,
)
from zkattest.identity.jose import P256_N, P256_P

TD = "zk.test"
AUD = "https://shop.example"
NOW = 1_760_000_000
SID = SpiffeId.agent(TD, "age_gte", "a1")


@pytest.fixture(scope="module")
def td_key() -> EcKey:
    return EcKey.generate()


@pytest.fixture(scope="module")
def kid(td_key: EcKey) -> str:
    return td_key.public().thumbprint()


@pytest.fixture(scope="module")
def bundle(td_key: EcKey, kid: str) -> TrustBundle:
    return TrustBundle(TD, {kid: td_key.public()}, sequence=1, refresh_hint=300)


@pytest.fixture(scope="module")
def agent() -> EcKey:
    return EcKey.generate()


@pytest.fixture(scope="module")
def svid(td_key: EcKey, kid: str, agent: EcKey) -> str:
    return mint_svid(
        td_key,
        kid,
        spiffe_id=SID,
        audience=AUD,
        agent_jwk=agent.public().jwk(),
        ttl=30,
        now=NOW,
        jti="jti-1",
    )


def good_claims(agent: EcKey) -> dict[str, Any]:
    return {
        "sub": str(SID),
        "aud": AUD,
        "exp": NOW + 30,
        "iat": NOW,
        "jti": "jti-1",
        "cnf": {"jwk": agent.public().jwk()},
    }


def forge(
    key: EcKey, kid: str | None, claims: dict[str, Any], *, typ: str = "JWT", **headers: Any
) -> str:
    return sign_compact(claims, key, typ=typ, kid=kid, headers=headers or None)


def check(token: str, bundle: TrustBundle, *, at: float = NOW + 1, leeway: int = 0) -> Any:
    return validate_svid(token, bundle, audience=AUD, at=at, leeway=leeway)


def refused(token: str, bundle: TrustBundle, **kw: Any) -> str:
    with pytest.raises(JoseError) as e:
        check(token, bundle, **kw)
    return e.value.reason


# --------------------------------------------------------------------------- good


def test_minted_shape(svid: str, kid: str, agent: EcKey) -> None:
    jws = decode_unverified(svid)
    assert jws.header == {"alg": "ES256", "kid": kid, "typ": "JWT"}
    assert list(jws.claims) == ["sub", "aud", "exp", "iat", "jti", "cnf"]
    assert jws.claims == good_claims(agent)


def test_good(svid: str, bundle: TrustBundle, agent: EcKey) -> None:
    c = check(svid, bundle)
    assert c.spiffe_id == SID
    assert c.audience == AUD
    assert (c.iat, c.exp, c.jti) == (NOW, NOW + 30, "jti-1")
    assert c.agent_key == agent.public()
    assert c.agent_key.verify(agent.sign(b"m"), b"m")


def test_stock_libraries_accept_our_svid(svid: str, bundle: TrustBundle, agent: EcKey) -> None:
    jwks = bundle.to_jwks()
    kid = jwks["keys"][0]["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    claims = jwt.decode(
        svid, key, algorithms=["ES256"], audience=AUD, options={"verify_exp": False}
    )
    assert claims == good_claims(agent)
    token = rfc_jwt.decode(svid, KeySet.import_key_set(cast(Any, jwks)), algorithms=["ES256"])
    assert token.claims == good_claims(agent)


def test_svid_minted_by_pyjwt_validates(
    td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey
) -> None:
    sk = serialization.load_pem_private_key(td_key.to_pem(), None)  # same key, stock signer
    assert isinstance(sk, ec.EllipticCurvePrivateKey)
    token = jwt.encode(good_claims(agent), sk, algorithm="ES256", headers={"kid": kid})
    assert check(token, bundle).agent_key == agent.public()


def test_svid_minted_by_joserfc_validates(
    td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey
) -> None:
    rk = ECKey.import_key(td_key.to_pem())
    token = rfc_jwt.encode({"alg": "ES256", "kid": kid, "typ": "JOSE"}, good_claims(agent), rk)
    assert check(token, bundle).spiffe_id == SID


def test_typ_absent_or_jose_allowed(
    td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey
) -> None:
    si = b64url_encode(b'{"alg":"ES256","kid":"' + kid.encode() + b'"}')

    si += "." + b64url_encode(json.dumps(good_claims(agent)).encode())
    token = si + "." + b64url_encode(td_key.sign(si.encode()))
    assert check(token, bundle).jti == "jti-1"
    assert check(forge(td_key, kid, good_claims(agent), typ="JOSE"), bundle).jti == "jti-1"


def test_one_element_audience_list(
    td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey
) -> None:
    claims = {**good_claims(agent), "aud": [AUD]}
    assert check(forge(td_key, kid, claims), bundle).audience == AUD


# --------------------------------------------------------------------------- time


def test_time_window(svid: str, bundle: TrustBundle) -> None:
    assert check(svid, bundle, at=NOW).iat == NOW
    assert check(svid, bundle, at=NOW + 29).exp == NOW + 30
    assert check(svid, bundle, at=NOW + 29.999).exp == NOW + 30
    assert refused(svid, bundle, at=NOW + 30) == "expired"
    assert refused(svid, bundle, at=NOW + 3600) == "expired"
    assert check(svid, bundle, at=NOW + 30, leeway=1).exp == NOW + 30
    assert refused(svid, bundle, at=NOW + 31, leeway=1) == "expired"
    assert refused(svid, bundle, at=NOW - 1) == "not_yet_valid"
    assert refused(svid, bundle, at=NOW - 0.5) == "not_yet_valid"
    assert check(svid, bundle, at=NOW - 5, leeway=5).iat == NOW
    assert refused(svid, bundle, at=NOW - 6, leeway=5) == "not_yet_valid"


@pytest.mark.parametrize("leeway", [-1, 1.5, True, "1"])
def test_bad_leeway(svid: str, bundle: TrustBundle, leeway: Any) -> None:
    with pytest.raises(errors.InvalidParameter):
        check(svid, bundle, leeway=leeway)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"exp": NOW + 61}, "bad_lifetime"),
        ({"exp": NOW + 3600}, "bad_lifetime"),
        ({"exp": NOW}, "bad_lifetime"),
        ({"exp": NOW - 1}, "bad_lifetime"),
        ({"iat": NOW + 2, "exp": NOW + 32}, "not_yet_valid"),  # lifetime fine, iat ahead
        ({"iat": float(NOW)}, "malformed"),
        ({"exp": NOW + 30.0}, "malformed"),
        ({"iat": True}, "malformed"),
        ({"iat": str(NOW)}, "malformed"),
        ({"iat": None}, "malformed"),
        ({"exp": None}, "malformed"),
        ({"nbf": NOW + 5}, "not_yet_valid"),
        ({"nbf": "soon"}, "malformed"),
    ],
)
def test_bad_times(
    td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey, changes: dict[str, Any], why: str
) -> None:
    claims = {**good_claims(agent), **changes}
    assert refused(forge(td_key, kid, claims), bundle) == why


def test_missing_exp_or_iat(td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey) -> None:
    for name in ("exp", "iat"):
        claims = good_claims(agent)
        del claims[name]
        assert refused(forge(td_key, kid, claims), bundle) == "malformed"


def test_nbf_in_past_is_fine(td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey) -> None:
    claims = {**good_claims(agent), "nbf": NOW}
    assert check(forge(td_key, kid, claims), bundle).iat == NOW


# --------------------------------------------------------------------------- audience


@pytest.mark.parametrize(
    "aud",
    [
        "https://other.example",
        "https://shop.example/",
        "HTTPS://SHOP.EXAMPLE",
        [AUD, "https://other.example"],
        [AUD, AUD],
        ["https://other.example"],
        [],
        [[AUD]],
        None,
        5,
        {"aud": AUD},
    ],
)
def test_bad_audience(td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey, aud: Any) -> None:
    claims = {**good_claims(agent), "aud": aud}
    assert refused(forge(td_key, kid, claims), bundle) == "bad_audience"


def test_missing_audience(td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey) -> None:
    claims = good_claims(agent)
    del claims["aud"]
    assert refused(forge(td_key, kid, claims), bundle) == "bad_audience"


def test_wrong_audience_asked(svid: str, bundle: TrustBundle) -> None:
    with pytest.raises(JoseError) as e:
        validate_svid(svid, bundle, audience="https://other.example", at=NOW + 1)
    assert e.value.reason == "bad_audience"


# --------------------------------------------------------------------------- keys / trust domains


def test_unknown_kid(td_key: EcKey, bundle: TrustBundle, agent: EcKey) -> None:
    assert refused(forge(td_key, "nope", good_claims(agent)), bundle) == "unknown_kid"
    assert refused(forge(td_key, None, good_claims(agent)), bundle) == "unknown_kid"


def test_key_of_another_trust_domain(agent: EcKey) -> None:
    other = EcKey.generate()
    other_kid = other.public().thumbprint()
    other_bundle = TrustBundle("other.test", {other_kid: other.public()})
    ours = TrustBundle(TD, {EcKey.generate().public().thumbprint(): EcKey.generate().public()})
    # signed by the other domain's key: our bundle does not know it
    tok = forge(other, other_kid, good_claims(agent))
    assert refused(tok, ours) == "unknown_kid"
    # checked against the other domain's bundle: the subject is not of that domain
    assert refused(tok, other_bundle) == "wrong_trust_domain"
    # an other-domain subject, signed by its own key, checked against our bundle
    claims = {**good_claims(agent), "sub": "spiffe://other.test/agent/age_gte/a1"}
    assert refused(forge(other, other_kid, claims), ours) == "unknown_kid"


def test_same_kid_different_key(kid: str, bundle: TrustBundle, agent: EcKey) -> None:
    impostor = EcKey.generate()
    assert refused(forge(impostor, kid, good_claims(agent)), bundle) == "bad_signature"


def test_signed_by_agent_key_instead_of_trust_domain(
    kid: str, bundle: TrustBundle, agent: EcKey
) -> None:
    tok = mint_svid(
        agent,
        kid,
        spiffe_id=SID,
        audience=AUD,
        agent_jwk=agent.public().jwk(),
        ttl=30,
        now=NOW,
        jti="j",
    )
    assert refused(tok, bundle) == "bad_signature"


@pytest.mark.parametrize(
    "sub",
    [
        "spiffe://other.test/agent/age_gte/a1",
        "spiffe://zk.test.evil/agent/age_gte/a1",
        "spiffe://evil.zk.test/agent/age_gte/a1",
    ],
)
def test_sub_outside_trust_domain(
    td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey, sub: str
) -> None:
    claims = {**good_claims(agent), "sub": sub}
    assert refused(forge(td_key, kid, claims), bundle) == "wrong_trust_domain"


@pytest.mark.parametrize(
    "sub",
    [None, 5, "", "agent-a1", "spiffe://ZK.TEST/a", "spiffe://zk.test/a/", "https://zk.test/a"],
)
def test_bad_subject(td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey, sub: Any) -> None:
    claims = {**good_claims(agent), "sub": sub}
    assert refused(forge(td_key, kid, claims), bundle) == "bad_subject"


# --------------------------------------------------------------------------- jti / cnf


@pytest.mark.parametrize("jti", [None, "", 5, ["j"]])
def test_bad_jti(td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey, jti: Any) -> None:
    claims = {**good_claims(agent), "jti": jti}
    if jti is None:
        del claims["jti"]
    assert refused(forge(td_key, kid, claims), bundle) == "missing_jti"


def _off_curve(agent: EcKey) -> dict[str, Any]:
    j = agent.public().jwk()
    y = (int.from_bytes(agent.public().y, "big") + 1) % P256_P
    j["y"] = b64url_encode(y.to_bytes(32, "big"))
    return j


@pytest.mark.parametrize(
    "cnf",
    [
        None,
        "cnf",
        {},
        {"jkt": "abc"},
        {"jwk": None},
        {"jwk": "jwk"},
        {"jwk": {}},
        "private",
        "off-curve",
        "p384",
        {"jwk": {"kty": "oct", "k": "AAAA"}},
    ],
)
def test_bad_cnf(td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey, cnf: Any) -> None:
    claims = good_claims(agent)
    if cnf is None:
        del claims["cnf"]
    elif cnf == "private":
        rk = ECKey.import_key(agent.to_pem())
        claims["cnf"] = {"jwk": rk.as_dict(private=True)}
    elif cnf == "off-curve":
        claims["cnf"] = {"jwk": _off_curve(agent)}
    elif cnf == "p384":
        claims["cnf"] = {"jwk": ECKey.generate_key("P-384").as_dict(private=False)}
    else:
        claims["cnf"] = cnf
    assert refused(forge(td_key, kid, claims), bundle) == "bad_cnf"


# --------------------------------------------------------------------------- header / JWS


@pytest.mark.parametrize("typ", ["jwt", "at+jwt", "zkattest-attestation+jwt", "JWS"])
def test_bad_typ(td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey, typ: str) -> None:
    assert refused(forge(td_key, kid, good_claims(agent), typ=typ), bundle) == "bad_typ"


@pytest.mark.parametrize(
    "extra",
    [{"jku": "https://evil.example/jwks"}, {"x5c": ["AAAA"]}, {"cty": "JWT"}, {"zip": "DEF"}],
)
def test_extra_header_members(
    td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey, extra: dict[str, Any]
) -> None:
    assert refused(forge(td_key, kid, good_claims(agent), **extra), bundle) == "bad_header"


def test_embedded_jwk_header_is_not_trusted(kid: str, bundle: TrustBundle, agent: EcKey) -> None:
    attacker = EcKey.generate()
    tok = forge(attacker, kid, good_claims(agent), jwk=attacker.public().jwk())
    assert refused(tok, bundle) == "bad_header"


def test_tampered_svid(svid: str, bundle: TrustBundle) -> None:
    h, p, s = svid.split(".")

    raw = bytearray(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    raw[raw.index(b"a1")] = ord("b")  # a1 -> b1: another agent
    tampered = f"{h}.{b64url_encode(bytes(raw))}.{s}"
    assert refused(tampered, bundle) == "bad_signature"
    sig = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    r, ss = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    for bad in (
        bytes(64),
        (0).to_bytes(32, "big") + sig[32:],
        sig[:32] + P256_N.to_bytes(32, "big"),
    ):
        assert refused(f"{h}.{p}.{b64url_encode(bytes(bad))}", bundle) == "bad_signature"
    # the malleable twin (r, n - s) still verifies (documented): jti, not bytes, is the identity
    twin = f"{h}.{p}.{b64url_encode(r.to_bytes(32, 'big') + (P256_N - ss).to_bytes(32, 'big'))}"
    assert check(twin, bundle).jti == "jti-1"


def test_alg_none_and_hs256(svid: str, bundle: TrustBundle, kid: str) -> None:

    _, p, s = svid.split(".")
    for alg in ("none", "HS256", "ES384", "RS256"):
        h = b64url_encode(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
        assert refused(f"{h}.{p}.{s}", bundle) == "bad_alg"
    h = b64url_encode(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
    secret = json.dumps(bundle.keys[kid].jwk()).encode()
    mac = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
    assert refused(f"{h}.{p}.{b64url_encode(mac)}", bundle) == "bad_alg"


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "x" * 20000, None, b"a.b.c"])
def test_malformed_tokens(bundle: TrustBundle, token: Any) -> None:
    with pytest.raises(JoseError):
        check(token, bundle)


def test_claims_not_object(td_key: EcKey, kid: str, bundle: TrustBundle) -> None:

    h = b64url_encode(json.dumps({"alg": "ES256", "kid": kid, "typ": "JWT"}).encode())
    for body in (b"[]", b'"sub"', b"null"):
        si = f"{h}.{b64url_encode(body)}"
        tok = si + "." + b64url_encode(td_key.sign(si.encode()))
        assert refused(tok, bundle) == "malformed"


# --------------------------------------------------------------------------- mint arguments


@pytest.mark.parametrize(
    "changes",
    [
        {"ttl": 0},
        {"ttl": 61},
        {"ttl": -5},
        {"ttl": 30.0},
        {"ttl": True},
        {"now": float(NOW)},
        {"now": -1},
        {"jti": ""},
        {"jti": None},
        {"audience": ""},
        {"audience": [AUD]},
        {"spiffe_id": str(SID)},
        {"kid": ""},
    ],
)
def test_mint_rejects_bad_arguments(
    td_key: EcKey, kid: str, agent: EcKey, changes: dict[str, Any]
) -> None:
    kw: dict[str, Any] = {
        "spiffe_id": SID,
        "audience": AUD,
        "agent_jwk": agent.public().jwk(),
        "ttl": 30,
        "now": NOW,
        "jti": "j",
    }
    k = changes.pop("kid", kid)
    kw.update(changes)
    with pytest.raises(errors.InvalidParameter):
        mint_svid(td_key, k, **kw)


def test_mint_rejects_private_or_bad_agent_jwk(td_key: EcKey, kid: str, agent: EcKey) -> None:
    for jwk in (
        ECKey.import_key(agent.to_pem()).as_dict(private=True),
        _off_curve(agent),
        {"kty": "EC"},
    ):
        with pytest.raises(JoseError) as e:
            mint_svid(
                td_key, kid, spiffe_id=SID, audience=AUD, agent_jwk=jwk, ttl=30, now=NOW, jti="j"
            )
        assert e.value.reason == "bad_key"


def test_mint_canonicalises_agent_jwk(
    td_key: EcKey, kid: str, bundle: TrustBundle, agent: EcKey
) -> None:
    jwk = {**agent.public().jwk(), "kid": "agent", "use": "sig"}
    tok = mint_svid(
        td_key, kid, spiffe_id=SID, audience=AUD, agent_jwk=jwk, ttl=60, now=NOW, jti="j"
    )
    assert decode_unverified(tok).claims["cnf"] == {"jwk": agent.public().jwk()}
    assert check(tok, bundle, at=NOW + 59).exp == NOW + 60


def test_mint_with_a_public_key_object(
    td_key: EcKey, kid: str, agent: EcKey, svid: str, bundle: TrustBundle
) -> None:
    """Passing the already-validated EcPublicKey mints the very same token as its JWK."""
    tok = mint_svid(
        td_key,
        kid,
        spiffe_id=SID,
        audience=AUD,
        agent_jwk=agent.public(),
        ttl=30,
        now=NOW,
        jti="jti-1",
    )
    assert decode_unverified(tok).claims == decode_unverified(svid).claims
    got = validate_svid(tok, bundle, audience=AUD, at=NOW)
    assert got.agent_key.thumbprint() == agent.public().thumbprint()
