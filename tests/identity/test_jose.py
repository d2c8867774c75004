"""ES256 compact JWS, JWKs and thumbprints: interop with stock JOSE libraries (PyJWT,
joserfc) both ways, and tampered / malformed input of every kind -> JoseError."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle
from typing import Any, cast

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jws as rfc_jws
from joserfc import jwt as rfc_jwt
from joserfc.jwk import ECKey

from zkattest import errors
from zkattest.identity import (
    EcKey,
    EcPublicKey,
    JoseError,
    KeyDestroyed,
    b64url_decode,
    b64url_encode,
    decode_unverified,
    json_object,
    sign_compact,
    verify_compact,
)
from zkattest.identity.jose import DEFAULT_MAX_LEN, P256_N, P256_P

AUD = "https://rp.example"
CLAIMS: dict[str, Any] = {"sub": "spiffe://zk.test/agent/t/a1", "aud": AUD, "n": 7}


@pytest.fixture(scope="module")
def key() -> EcKey:
    return EcKey.generate()


@pytest.fixture(scope="module")
def pub(key: EcKey) -> EcPublicKey:
    return key.public()


@pytest.fixture(scope="module")
def token(key: EcKey) -> str:
    return sign_compact(CLAIMS, key, typ="JWT", kid="k1")


def enc(obj: Any) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def signed(key: EcKey, header: dict[str, Any], claims: Any = CLAIMS) -> str:
    """A compact JWS with an arbitrary header, signed (ES256) by ``key``."""
    si = enc(header) + "." + enc(claims)
    return si + "." + b64url_encode(key.sign(si.encode()))


def raw_token(header_b: bytes, payload_b: bytes, sig: bytes) -> str:
    return ".".join(b64url_encode(x) for x in (header_b, payload_b, sig))


def rs(sig: bytes) -> tuple[int, int]:
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")


def sig_of(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def reason(exc: pytest.ExceptionInfo[JoseError]) -> str:
    return exc.value.reason


def verify(token: str, pub: EcPublicKey, typ: str | None = "JWT", **kw: Any) -> dict[str, Any]:
    return verify_compact(token, lambda _h: pub, typ=typ, **kw)


# --------------------------------------------------------------------------- base64url


@given(st.binary(max_size=80))
def test_b64url_round_trip_matches_stdlib(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert b64url_decode(text) == data


@pytest.mark.parametrize(
    "text",
    [
        "AQ==",  # padding
        "AQ=",
        "ab+c",  # standard alphabet
        "ab/c",
        "ab c",  # whitespace
        " abc",
        "abc\n",
        "A",  # impossible length
        "AAAAA",
        "AB",  # non-canonical: trailing bits set (canonical is "AQ")
        "AAB",  # canonical would end in a multiple of 4
        "é",
    ],
)
def test_b64url_rejects(text: str) -> None:
    with pytest.raises(JoseError) as e:
        b64url_decode(text)
    assert reason(e) == "malformed"


def test_b64url_rejects_non_str() -> None:
    with pytest.raises(JoseError):
        b64url_decode(b"AQ")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- sign / verify


def test_sign_verify_round_trip(key: EcKey, pub: EcPublicKey, token: str) -> None:
    assert verify(token, pub) == CLAIMS
    jws = decode_unverified(token)
    assert jws.header == {"alg": "ES256", "kid": "k1", "typ": "JWT"}
    assert list(jws.header) == ["alg", "kid", "typ"]
    assert jws.claims == CLAIMS
    assert len(jws.signature) == 64
    assert jws.signing_input == token.rsplit(".", 1)[0].encode()
    # compact JSON, no whitespace
    assert base64.urlsafe_b64decode(token.split(".")[0] + "==") == (
        b'{"alg":"ES256","kid":"k1","typ":"JWT"}'
    )


def test_sign_without_kid_with_extra_headers(key: EcKey, pub: EcPublicKey) -> None:
    tok = sign_compact({"x": [1, {"y": None}]}, key, typ="zk+jwt", headers={"cty": "demo"})
    assert decode_unverified(tok).header == {"alg": "ES256", "typ": "zk+jwt", "cty": "demo"}
    assert verify(tok, pub, typ="zk+jwt") == {"x": [1, {"y": None}]}


@pytest.mark.parametrize("member", ["alg", "kid", "typ", "crit", "b64"])
def test_sign_refuses_reserved_extra_headers(key: EcKey, member: str) -> None:
    with pytest.raises(JoseError) as e:
        sign_compact({}, key, typ="JWT", headers={member: "x"})
    assert reason(e) == "bad_header"


@pytest.mark.parametrize(
    "claims",
    [{1: "int key"}, {"a": object()}, {"a": 1j}, ["not", "an", "object"], "str"],
)
def test_sign_refuses_non_json_claims(key: EcKey, claims: Any) -> None:
    with pytest.raises(JoseError) as e:
        sign_compact(claims, key, typ="JWT")
    assert reason(e) == "bad_claims"


@pytest.mark.parametrize("kw", [{"typ": ""}, {"typ": "JWT", "kid": ""}])
def test_sign_refuses_empty_typ_or_kid(key: EcKey, kw: Any) -> None:
    with pytest.raises(JoseError):
        sign_compact({}, key, **kw)


def test_our_signatures_are_low_s(key: EcKey) -> None:
    for i in range(64):
        r, s = rs(key.sign(b"m%d" % i))
        assert 0 < r < P256_N
        assert 0 < s <= P256_N // 2


# --------------------------------------------------------------------------- interop


def test_pyjwt_verifies_ours(key: EcKey, token: str) -> None:
    assert (
        jwt.decode(token, jwt.PyJWK(key.public().jwk()), algorithms=["ES256"], audience=AUD)
        == CLAIMS
    )
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "kid": "k1", "typ": "JWT"}


def test_joserfc_verifies_ours(key: EcKey, token: str) -> None:
    rk = ECKey.import_key(cast(Any, key.public().jwk()))
    assert rfc_jwt.decode(token, rk, algorithms=["ES256"]).claims == CLAIMS
    assert (
        json.loads(rfc_jws.deserialize_compact(token, rk, algorithms=["ES256"]).payload) == CLAIMS
    )


def test_pyjwt_signatures_verify_including_high_s() -> None:
    """PyJWT (OpenSSL) makes high-s signatures half of the time; we accept them."""
    sk = ec.generate_private_key(ec.SECP256R1())
    pem = sk.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pub = EcKey.from_pem(pem).public()
    high = 0
    for i in range(48):
        claims = {"i": i, "sub": "x"}
        tok = jwt.encode(claims, sk, algorithm="ES256", headers={"kid": "p"})
        assert verify(tok, pub) == claims
        high += rs(decode_unverified(tok).signature)[1] > P256_N // 2
    assert high > 0  # P(no high s in 48) = 2**-48


def test_joserfc_signatures_verify() -> None:
    rk = ECKey.generate_key("P-256")
    pub = EcPublicKey.from_jwk(rk.as_dict(private=False))
    for i in range(16):
        tok = rfc_jwt.encode({"alg": "ES256", "kid": "r"}, {"i": i}, rk)
        assert verify_compact(tok, lambda _h: pub, typ="JWT") == {"i": i}


def test_thumbprint_matches_joserfc_and_rfc7638_construction() -> None:
    for _ in range(8):
        rk = ECKey.generate_key("P-256")
        jwk = rk.as_dict(private=False)
        pub = EcPublicKey.from_jwk(jwk)
        assert pub.thumbprint() == rk.thumbprint()
        # RFC 7638 §3: required members, lexicographic order, no whitespace, SHA-256
        members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
        canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
        assert pub.thumbprint() == b64url_encode(hashlib.sha256(canonical).digest())
        assert pub.jwk() == members
        assert list(pub.jwk()) == ["crv", "kty", "x", "y"]


def test_curve_constants() -> None:
    # p: every key satisfies y^2 = x^3 - 3x + b (mod p) with the same b
    bs = set()
    for _ in range(4):
        pub = EcKey.generate().public()
        x, y = int.from_bytes(pub.x, "big"), int.from_bytes(pub.y, "big")
        bs.add((y * y - x**3 + 3 * x) % P256_P)
    assert len(bs) == 1
    # n: (r, n - s) verifies under OpenSSL only if n is the group order
    sk = ec.generate_private_key(ec.SECP256R1())
    r, s = decode_dss_signature(sk.sign(b"m", ec.ECDSA(hashes.SHA256())))
    sk.public_key().verify(encode_dss_signature(r, P256_N - s), b"m", ec.ECDSA(hashes.SHA256()))


# --------------------------------------------------------------------------- tampering


def test_every_bit_flip_is_rejected(token: str, pub: EcPublicKey) -> None:
    h, p, s = (b64url_decode(x) for x in token.split("."))
    for part in range(3):
        parts = [h, p, s]
        for i in range(len(parts[part]) * 8):
            b = bytearray(parts[part])
            b[i // 8] ^= 1 << (i % 8)
            parts[part] = bytes(b)
            with pytest.raises(JoseError) as e:
                verify(raw_token(*parts), pub)
            if part == 2:
                assert reason(e) == "bad_signature"
            parts[part] = [h, p, s][part]


def test_every_character_substitution_is_rejected(token: str, pub: EcPublicKey) -> None:
    for i, c in enumerate(token):
        for sub in {"A", "_", ".", "="} - {c}:
            with pytest.raises(JoseError):
                verify(token[:i] + sub + token[i + 1 :], pub)


def test_every_truncation_is_rejected(token: str, pub: EcPublicKey) -> None:
    for i in range(len(token)):
        with pytest.raises(JoseError):
            verify(token[:i], pub)


def test_signature_by_another_key(token: str) -> None:
    with pytest.raises(JoseError) as e:
        verify(token, EcKey.generate().public())
    assert reason(e) == "bad_signature"


def test_alg_none(key: EcKey, pub: EcPublicKey, token: str) -> None:
    body = enc({"alg": "none", "typ": "JWT"}) + "." + enc(CLAIMS)
    with pytest.raises(JoseError):
        verify(body + ".", pub)  # unsecured JWS: empty signature
    with pytest.raises(JoseError) as e:
        verify(body + "." + token.split(".")[2], pub)
    assert reason(e) == "bad_alg"
    with pytest.raises(JoseError) as e:
        verify(signed(key, {"alg": "none", "typ": "JWT"}), pub)
    assert reason(e) == "bad_alg"


def test_hs256_key_confusion_forgery(pub: EcPublicKey) -> None:
    """The classic forgery: HMAC with the *public* key as the secret."""
    secrets = [
        json.dumps(pub.jwk(), separators=(",", ":")).encode(),
        json.dumps(pub.jwk()).encode(),
        # the PEM a naive verifier would feed to HMAC
        ec.EllipticCurvePublicNumbers(
            int.from_bytes(pub.x, "big"), int.from_bytes(pub.y, "big"), ec.SECP256R1()
        )
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    ]
    for secret in secrets:
        si = enc({"alg": "HS256", "typ": "JWT", "kid": "k1"}) + "." + enc(CLAIMS)
        mac = hmac.new(secret, si.encode(), hashlib.sha256).digest()
        with pytest.raises(JoseError) as e:
            verify(si + "." + b64url_encode(mac), pub)
        assert reason(e) == "bad_alg"
        # even padded to 64 bytes, HS512-style
        mac512 = hmac.new(secret, si.encode(), hashlib.sha512).digest()
        with pytest.raises(JoseError) as e:
            verify(si + "." + b64url_encode(mac512), pub)
        assert reason(e) == "bad_alg"


@pytest.mark.parametrize(
    "alg",
    [
        "ES384",
        "ES512",
        "RS256",
        "PS256",
        "HS256",
        "EdDSA",
        "es256",
        "ES256 ",
        "",
        None,
        ["ES256"],
        256,
    ],
)
def test_other_algs_rejected_even_when_es256_signed(key: EcKey, pub: EcPublicKey, alg: Any) -> None:
    with pytest.raises(JoseError) as e:
        verify(signed(key, {"alg": alg, "typ": "JWT"}), pub)
    assert reason(e) == "bad_alg"


def test_missing_alg(key: EcKey, pub: EcPublicKey) -> None:
    with pytest.raises(JoseError) as e:
        verify(signed(key, {"typ": "JWT"}), pub)
    assert reason(e) == "bad_alg"


@pytest.mark.parametrize(
    "extra",
    [{"crit": ["exp"], "exp": 1}, {"crit": []}, {"b64": False, "crit": ["b64"]}, {"b64": True}],
)
def test_crit_and_b64_rejected(key: EcKey, pub: EcPublicKey, extra: dict[str, Any]) -> None:
    with pytest.raises(JoseError) as e:
        verify(signed(key, {"alg": "ES256", "typ": "JWT", **extra}), pub)
    assert reason(e) == "bad_header"


def test_typ(key: EcKey, pub: EcPublicKey) -> None:
    for header in ({"alg": "ES256", "typ": "jwt"}, {"alg": "ES256"}, {"alg": "ES256", "typ": 1}):
        with pytest.raises(JoseError) as e:
            verify(signed(key, header), pub, typ="JWT")
        assert reason(e) == "bad_typ"
        assert verify(signed(key, header), pub, typ=None) == CLAIMS
    with pytest.raises(JoseError) as e:
        verify(signed(key, {"alg": "ES256", "typ": "JWT"}), pub, typ="zk+jwt")
    assert reason(e) == "bad_typ"


@pytest.mark.parametrize("n", [0, 1, 32, 63, 65, 70, 72, 128])
def test_signature_length(token: str, pub: EcPublicKey, n: int) -> None:
    body = token.rsplit(".", 1)[0]
    sig = (b64url_decode(token.split(".")[2]) * 3)[:n]
    with pytest.raises(JoseError) as e:
        verify(body + "." + b64url_encode(sig), pub)
    assert reason(e) == ("malformed" if n == 0 else "bad_signature")


def test_der_signature_rejected(key: EcKey, pub: EcPublicKey, token: str) -> None:
    r, s = rs(decode_unverified(token).signature)
    der = encode_dss_signature(r, s)
    with pytest.raises(JoseError) as e:
        verify(token.rsplit(".", 1)[0] + "." + b64url_encode(der), pub)
    assert reason(e) == "bad_signature"


def test_out_of_range_r_s(token: str, pub: EcPublicKey) -> None:
    body = token.rsplit(".", 1)[0]
    r, s = rs(decode_unverified(token).signature)
    top = 2**256 - 1
    for rr, ss in [(0, s), (r, 0), (0, 0), (P256_N, s), (r, P256_N), (top, s), (r, top)]:
        with pytest.raises(JoseError) as e:
            verify(body + "." + b64url_encode(sig_of(rr, ss)), pub)
        assert reason(e) == "bad_signature"
        assert not pub.verify(sig_of(rr, ss), body.encode())
    # r + n and s + n (when they fit in 32 bytes) are the same residues: still refused
    if s + P256_N < 2**256:
        assert not pub.verify(sig_of(r, s + P256_N), body.encode())


def test_high_s_is_accepted(token: str, pub: EcPublicKey) -> None:
    """Documented: ECDSA is malleable and we accept (r, n - s) as well."""
    body = token.rsplit(".", 1)[0]
    r, s = rs(decode_unverified(token).signature)
    twin = body + "." + b64url_encode(sig_of(r, P256_N - s))
    assert twin != token
    assert verify(twin, pub) == CLAIMS


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + ".",
        lambda t: t + ".AAAA",
        lambda t: t + ".AAAA.AAAA",  # 5 segments (JWE shape)
        lambda t: t.rsplit(".", 1)[0],
        lambda t: t.split(".")[0],
        lambda t: "." + t,
        lambda t: t.replace(".", "..", 1),
        lambda t: " " + t,
        lambda t: t + " ",
        lambda t: t + "\n",
        lambda t: t.replace(".", " .", 1),
        lambda t: t.replace(".", "\t.", 1),
        lambda t: "Bearer " + t,
        lambda t: t + "=",
        lambda t: t.replace(".", "=.", 1),
        lambda t: t.replace("-", "+").replace("_", "/") if ("-" in t or "_" in t) else t + "+",
        lambda t: t[:5] + "/" + t[6:],
        lambda t: t[:5] + "+" + t[6:],
        lambda t: t.upper(),
        lambda t: t.encode(),
        lambda t: None,
        lambda t: "",
        lambda t: "..",
        lambda t: "a.b.c",
        lambda t: t[:5] + "é" + t[6:],
    ],
)
def test_malformed_compact(token: str, pub: EcPublicKey, mangle: Any) -> None:
    with pytest.raises(JoseError):
        verify(mangle(token), pub)


@pytest.mark.parametrize(
    "header_b",
    [
        b"not json",
        b"",
        b"[]",
        b'["alg","ES256"]',
        b'"ES256"',
        b"1",
        b"null",
        b"true",
        b'{"alg":"ES256"',
        b'{"alg":"ES256","alg":"none"}',  # duplicate: last-wins and first-wins readers disagree
        b'{"alg":"none","alg":"ES256"}',
        b'{"alg":"ES256","x":{"a":1,"a":2}}',
        b'{"alg":"ES256","x":[{"a":1,"a":2}]}',
        b'\xef\xbb\xbf{"alg":"ES256"}',  # BOM
        b'{"alg":"ES\xff256"}',  # invalid UTF-8
        b'{"alg":"\\ud800"}',  # lone surrogate
        b'{"alg":NaN}',
        b'{"alg":1e400}',
        b"{'alg':'ES256'}",
        b'{"alg":"ES256"} {}',
        b"[" * 3000 + b"]" * 3000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
    ],
)
def test_header_not_a_json_object(key: EcKey, pub: EcPublicKey, header_b: bytes) -> None:
    payload = json.dumps(CLAIMS).encode()
    si = b64url_encode(header_b) + "." + b64url_encode(payload)
    tok = si + "." + b64url_encode(key.sign(si.encode()))
    with pytest.raises(JoseError) as e:
        verify(tok, pub, max_len=100_000)
    assert reason(e) == "malformed"
    # and as the payload
    si = enc({"alg": "ES256", "typ": "JWT"}) + "." + b64url_encode(header_b)
    tok = si + "." + b64url_encode(key.sign(si.encode()))
    with pytest.raises(JoseError) as e:
        verify(tok, pub, max_len=100_000)
    assert reason(e) in ("malformed", "bad_alg")  # "" payload leaves an empty segment


def test_oversize(key: EcKey, pub: EcPublicKey) -> None:
    big = sign_compact({"pad": "x" * DEFAULT_MAX_LEN}, key, typ="JWT")
    with pytest.raises(JoseError) as e:
        verify(big, pub)
    assert reason(e) == "oversize"
    with pytest.raises(JoseError) as e:
        decode_unverified("x" * (DEFAULT_MAX_LEN + 1))
    assert reason(e) == "oversize"
    assert verify(big, pub, max_len=len(big))["pad"] == "x" * DEFAULT_MAX_LEN
    with pytest.raises(JoseError) as e:
        verify(big, pub, max_len=len(big) - 1)
    assert reason(e) == "oversize"


_FUZZ_KEY = EcKey.generate()


@given(st.text(max_size=300))
def test_fuzz_text_only_jose_errors(text: str) -> None:
    pub = _FUZZ_KEY.public()
    with pytest.raises(JoseError):
        verify_compact(text, lambda _h: pub, typ=None)


@given(st.text(alphabet="AQgwBC_-.=+/ \x00", max_size=200))
def test_fuzz_alphabet_only_jose_errors(text: str) -> None:
    pub = _FUZZ_KEY.public()
    with pytest.raises(JoseError):
        verify_compact(text, lambda _h: pub, typ=None)


@given(st.binary(max_size=64), st.binary(max_size=64), st.binary(max_size=80))
def test_fuzz_segments_only_jose_errors(h: bytes, p: bytes, s: bytes) -> None:
    pub = _FUZZ_KEY.public()
    with pytest.raises(JoseError):
        verify_compact(raw_token(h, p, s), lambda _h: pub, typ=None)


def test_errors_never_quote_the_token(key: EcKey, pub: EcPublicKey, token: str) -> None:
    bad = [token + "x", token[:-4] + "AAAA", token.replace("e", "+")]
    for t in bad:
        with pytest.raises(JoseError) as e:
            verify(t, pub)
        for seg in t.split("."):
            assert len(seg) < 8 or seg not in str(e.value)
        assert isinstance(e.value, errors.InvalidInput)
        assert isinstance(e.value, ValueError)


def test_resolver_sees_header_and_its_error_propagates(token: str, pub: EcPublicKey) -> None:
    seen: list[dict[str, Any]] = []

    def resolve(h: dict[str, Any]) -> EcPublicKey:
        seen.append(h)
        raise JoseError("unknown_kid", "no such key")

    with pytest.raises(JoseError) as e:
        verify_compact(token, resolve, typ="JWT")
    assert reason(e) == "unknown_kid"
    assert seen == [{"alg": "ES256", "kid": "k1", "typ": "JWT"}]


def test_resolver_not_called_for_bad_alg(key: EcKey) -> None:
    def resolve(h: dict[str, Any]) -> EcPublicKey:
        raise AssertionError("resolver must not run")

    with pytest.raises(JoseError):
        verify_compact(signed(key, {"alg": "HS256"}), resolve, typ=None)


def test_json_object_helper() -> None:
    assert json_object(b'{"a":[1,{"b":2}]}') == {"a": [1, {"b": 2}]}
    for bad in (b'{"a":1,"a":1}', b"[]", b"x"):
        with pytest.raises(JoseError):
            json_object(bad)


# --------------------------------------------------------------------------- JWKs


def _jwk(pub: EcPublicKey, **changes: Any) -> dict[str, Any]:
    j: dict[str, Any] = pub.jwk()
    for k, v in changes.items():
        if v is _DROP:
            j.pop(k)
        else:
            j[k] = v
    return j


_DROP = object()


def _small_x_point() -> tuple[int, int]:
    """The on-curve point with the smallest x (to build a non-canonical x + p)."""
    b = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
    x = 0
    while True:
        rhs = (x**3 - 3 * x + b) % P256_P
        y = pow(rhs, (P256_P + 1) // 4, P256_P)
        if y * y % P256_P == rhs:
            return x, y
        x += 1


def test_jwk_round_trip_and_extras(pub: EcPublicKey) -> None:
    assert EcPublicKey.from_jwk(pub.jwk()) == pub
    extra = _jwk(pub, kid="k", use="sig", alg="ES256", key_ops=["verify"])
    assert EcPublicKey.from_jwk(extra) == pub
    assert hash(EcPublicKey.from_jwk(extra)) == hash(pub)
    assert EcPublicKey.from_point(pub.x, pub.y) == pub
    assert EcPublicKey.from_point(bytearray(pub.x), bytearray(pub.y)) == pub


@pytest.mark.parametrize("member", ["kty", "crv", "x", "y"])
def test_jwk_missing_member(pub: EcPublicKey, member: str) -> None:
    with pytest.raises(JoseError) as e:
        EcPublicKey.from_jwk(_jwk(pub, **{member: _DROP}))
    assert reason(e) == "bad_key"


@pytest.mark.parametrize(
    "changes",
    [
        {"kty": "RSA"},
        {"kty": "OKP"},
        {"kty": "ec"},
        {"crv": "P-384"},
        {"crv": "P-521"},
        {"crv": "secp256k1"},
        {"crv": "p-256"},
        {"alg": "ES384"},
        {"alg": "RS256"},
        {"x": 5},
        {"y": None},
        {"x": b64url_encode(b"\x01" * 31)},
        {"x": b64url_encode(b"\x01" * 33)},
        {"y": b64url_encode(b"\x01" * 31)},
        {"y": b64url_encode(b"\x01" * 33)},
        {"x": "", "y": ""},  # SEC 1 infinity has no coordinates
        {"x": b64url_encode(bytes(32)), "y": b64url_encode(bytes(32))},  # (0, 0)
        {"x": b64url_encode(bytes(32)) + "="},
        {"d": "AAAA"},
        {"d": None},
        {"p": "AAAA"},
        {"k": "AAAA"},
    ],
)
def test_jwk_rejects(pub: EcPublicKey, changes: dict[str, Any]) -> None:
    with pytest.raises(JoseError) as e:
        EcPublicKey.from_jwk(_jwk(pub, **changes))
    assert reason(e) == "bad_key"


def test_jwk_coordinate_alphabet_and_canonical(pub: EcPublicKey) -> None:
    j = pub.jwk()
    for name in ("x", "y"):
        v = j[name]
        # standard alphabet; a last character with its unused low bits set
        for bad in ("+" + v[1:], "/" + v[1:], v[:-1] + ("F" if v[-1] == "B" else "B")):
            with pytest.raises(JoseError) as e:
                EcPublicKey.from_jwk({**j, name: bad})
            assert reason(e) == "bad_key"


def test_jwk_off_curve(pub: EcPublicKey) -> None:
    y = (int.from_bytes(pub.y, "big") + 1) % P256_P
    with pytest.raises(JoseError) as e:
        EcPublicKey.from_jwk(_jwk(pub, y=b64url_encode(y.to_bytes(32, "big"))))
    assert reason(e) == "bad_key"
    with pytest.raises(JoseError):
        EcPublicKey.from_point(pub.x, y.to_bytes(32, "big"))


def test_jwk_non_canonical_coordinate() -> None:
    x, y = _small_x_point()
    good = EcPublicKey.from_point(x.to_bytes(32, "big"), y.to_bytes(32, "big"))
    j = good.jwk()
    j["x"] = b64url_encode((x + P256_P).to_bytes(32, "big"))  # same residue, >= p
    with pytest.raises(JoseError) as e:
        EcPublicKey.from_jwk(j)
    assert reason(e) == "bad_key"


def test_jwk_not_a_mapping() -> None:
    bad: Any
    for bad in (None, [], "jwk", 5):
        with pytest.raises(JoseError):
            EcPublicKey.from_jwk(bad)


def test_private_key_jwk_from_joserfc_rejected() -> None:
    rk = ECKey.generate_key("P-256")
    with pytest.raises(JoseError) as e:
        EcPublicKey.from_jwk(rk.as_dict(private=True))
    assert reason(e) == "bad_key"


# --------------------------------------------------------------------------- EcKey


def test_pem_round_trip(key: EcKey) -> None:
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    again = EcKey.from_pem(pem)
    assert again.public() == key.public()
    assert key.public().verify(again.sign(b"m"), b"m")


def _pem(sk: Any) -> bytes:
    out: bytes = sk.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return out


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        _pem(ec.generate_private_key(ec.SECP384R1())),
        _pem(ec.generate_private_key(ec.SECP256K1())),
        _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        ),
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    ],
)
def test_from_pem_rejects(data: bytes) -> None:
    with pytest.raises(JoseError) as e:
        EcKey.from_pem(data)
    assert reason(e) == "bad_key"
    assert b"PRIVATE" not in str(e.value).encode()


def test_truncated_pem_rejected(key: EcKey) -> None:
    pem = key.to_pem()
    for cut in (10, len(pem) // 2, len(pem) - 30):
        with pytest.raises(JoseError):
            EcKey.from_pem(pem[:cut])


def test_destroy() -> None:
    k = EcKey.generate()
    pub = k.public()
    k.destroy()
    assert k.destroyed
    with pytest.raises(KeyDestroyed):
        k.sign(b"m")
    with pytest.raises(KeyDestroyed):
        k.to_pem()
    with pytest.raises(KeyDestroyed):
        sign_compact({}, k, typ="JWT")
    assert k.public() == pub
    assert "destroyed" in repr(k)
    k.destroy()  # idempotent


def test_private_key_never_leaks(key: EcKey) -> None:
    pem = key.to_pem()
    sk = serialization.load_pem_private_key(pem, None)
    assert isinstance(sk, ec.EllipticCurvePrivateKey)
    d = sk.private_numbers().private_value
    for text in (repr(key), str(key)):
        assert "PRIVATE" not in text
        assert str(d) not in text
        assert f"{d:x}" not in text
        assert pem.decode().splitlines()[1] not in text
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_verify_wrong_types_of_data(pub: EcPublicKey, key: EcKey) -> None:
    sig = key.sign(b"data")
    assert pub.verify(sig, b"data")
    assert not pub.verify(sig, b"datA")
    assert not pub.verify(sig[:63], b"data")
    assert not pub.verify(b"", b"data")


@pytest.mark.parametrize("kind", ["object", "array"])
def test_nesting_limit_is_fixed(kind: str) -> None:
    """The depth limit does not depend on the interpreter's recursion limit (other
    code may raise it): MAX_DEPTH levels pass, one more is malformed."""
    import sys

    from zkattest.identity.jose import MAX_DEPTH, json_object

    def nested(levels: int) -> bytes:
        # the outer object is level 1
        inner = levels - 1
        if kind == "object":
            return b'{"x":' + b'{"a":' * inner + b"1" + b"}" * inner + b"}"
        return b'{"x":' + b"[" * inner + b"]" * inner + b"}"

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 50_000))
    try:
        assert isinstance(json_object(nested(MAX_DEPTH)), dict)
        with pytest.raises(JoseError) as e:
            json_object(nested(MAX_DEPTH + 1))
        assert e.value.reason == "malformed"
        with pytest.raises(JoseError):
            json_object(nested(5000))
    finally:
        sys.setrecursionlimit(old)
