"""Client JWKs of every accepted type (EC P-256/P-384, RSA, Ed25519): validation of
every member, RFC 7638 thumbprints against joserfc and the RFC's own example, JWS
signature encodings against stock signers (joserfc, PyJWT), JWK Sets and
verify_jws_with on tampered and forged input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle
import warnings
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws as rfc_jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey

from zkattest import errors
from zkattest.identity.jose import (
    EcKey,
    JoseError,
    b64url_decode,
    b64url_encode,
    decode_unverified,
)
from zkattest.identity.jwk import (
    ASYMMETRIC_ALGS,
    MAX_JWKS_KEYS,
    Jwks,
    PublicJwk,
    verify_jws_with,
)

ALGS = ("ES256", "ES384", "PS256", "RS256", "EdDSA")
DATA = b"header.payload"

# RFC 7638 §3.1: the example RSA JWK and its SHA-256 thumbprint (a published vector)
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
        "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

# Ed25519 (RFC 8032 §5.1): field prime, group order L
ED_P = 2**255 - 19
ED_L = 2**252 + 27742317777372353535851937790883648493
ED_D = (-121665 * pow(121666, -1, ED_P)) % ED_P
P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
P384_P = 2**384 - 2**128 - 2**96 + 2**32 - 1


def _generate(alg: str) -> ECKey | RSAKey | OKPKey:
    if alg == "ES256":
        return ECKey.generate_key("P-256")
    if alg == "ES384":
        return ECKey.generate_key("P-384")
    if alg in ("PS256", "RS256"):
        return RSAKey.generate_key(2048)
    return OKPKey.generate_key("Ed25519")


@pytest.fixture(scope="module")
def keys() -> dict[str, ECKey | RSAKey | OKPKey]:
    return {alg: _generate(alg) for alg in ALGS}


def pub_jwk(key: ECKey | RSAKey | OKPKey, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = dict(key.as_dict(private=False))
    d.update(extra)
    return d


def joserfc_sign(
    key: ECKey | RSAKey | OKPKey, alg: str, header: dict[str, Any] | None = None
) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return rfc_jws.serialize_compact(
            {"alg": alg, **(header or {})}, b'{"sub":"c1"}', key, algorithms=[alg]
        )


def sig_of(token: str) -> tuple[bytes, bytes]:
    h, p, s = token.split(".")
    return f"{h}.{p}".encode(), b64url_decode(s)


def enc(obj: Any) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def bad_key(jwk: Any) -> JoseError:
    with pytest.raises(JoseError) as ei:
        PublicJwk.from_jwk(jwk)
    assert ei.value.reason == "bad_key"
    assert isinstance(ei.value, errors.InvalidInput)
    return ei.value


def ed_encode(y: int, sign: int = 0) -> str:
    return b64url_encode((y | (sign << 255)).to_bytes(32, "little"))


def ed_is_square(v: int) -> bool:
    return v == 0 or pow(v, (ED_P - 1) // 2, ED_P) == 1


# --------------------------------------------------------------------------- thumbprints


def test_rfc7638_example_thumbprint() -> None:
    key = PublicJwk.from_jwk(RFC7638_JWK)
    assert key.thumbprint() == RFC7638_THUMBPRINT
    assert key.kid == "2011-04-29"
    assert key.alg == "RS256"
    assert key.algs() == frozenset({"RS256"})
    assert key.jwk() == RFC7638_JWK
    # optional members do not change the thumbprint
    bare = {k: RFC7638_JWK[k] for k in ("kty", "n", "e")}
    assert PublicJwk.from_jwk(bare).thumbprint() == RFC7638_THUMBPRINT
    assert PublicJwk.from_jwk({**bare, "use": "sig", "x5t": "ignored"}).thumbprint() == (
        RFC7638_THUMBPRINT
    )


@given(
    which=st.sampled_from(["P-256", "P-384", "Ed25519"]),
    scalar=st.integers(min_value=1, max_value=2**255),
    seed=st.binary(min_size=32, max_size=32),
    kid=st.none() | st.text(min_size=1, max_size=20),
    with_alg=st.booleans(),
)
def test_thumbprints_match_joserfc(
    which: str, scalar: int, seed: bytes, kid: str | None, with_alg: bool
) -> None:
    stock: ECKey | OKPKey
    if which == "Ed25519":
        stock = OKPKey.import_key(ed25519.Ed25519PrivateKey.from_private_bytes(seed))
        alg = "EdDSA"
    else:
        curve = ec.SECP256R1() if which == "P-256" else ec.SECP384R1()
        stock = ECKey.import_key(ec.derive_private_key(scalar, curve))
        alg = "ES256" if which == "P-256" else "ES384"
    extra: dict[str, Any] = {}
    if kid is not None:
        extra["kid"] = kid
    if with_alg:
        extra["alg"] = alg
    key = PublicJwk.from_jwk(pub_jwk(stock, **extra))
    assert key.thumbprint() == stock.thumbprint()
    both = frozenset({"EdDSA", "Ed25519"})  # RFC 9864's name is accepted too
    assert key.algs() == (both if which == "Ed25519" and not with_alg else frozenset({alg}))
    assert key.jwk() == pub_jwk(stock, **extra)


@pytest.mark.parametrize("bits,e", [(2048, 65537), (3072, 65537), (2048, 3)])
def test_rsa_thumbprints_match_joserfc(bits: int, e: int) -> None:
    stock = RSAKey.import_key(rsa.generate_private_key(public_exponent=e, key_size=bits))
    key = PublicJwk.from_jwk(pub_jwk(stock))
    assert key.thumbprint() == stock.thumbprint()
    assert key.algs() == frozenset({"PS256", "RS256"})
    assert key.kty == "RSA"


def test_p256_thumbprint_matches_ec_public_key() -> None:
    ours = EcKey.generate().public()
    assert PublicJwk.from_jwk(ours.jwk()).thumbprint() == ours.thumbprint()


# --------------------------------------------------------------------------- signatures


@pytest.mark.parametrize("alg", ALGS)
def test_stock_signatures_verify(keys: dict[str, Any], alg: str) -> None:
    stock = keys[alg]
    key = PublicJwk.from_jwk(pub_jwk(stock))
    data, sig = sig_of(joserfc_sign(stock, alg))
    assert key.verify(alg, sig, data)
    pyjwt_token = jwt.encode({"sub": "c1"}, stock.private_key, algorithm=alg)
    data2, sig2 = sig_of(pyjwt_token)
    assert key.verify(alg, sig2, data2)
    # tampered data or signature
    assert not key.verify(alg, sig, data + b"x")
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    assert not key.verify(alg, flipped, data)
    assert not key.verify(alg, sig[:-1], data)
    assert not key.verify(alg, sig + b"\x00", data)
    assert not key.verify(alg, b"", data)


@pytest.mark.parametrize("alg", ALGS)
def test_wrong_alg_for_key_is_false(keys: dict[str, Any], alg: str) -> None:
    key = PublicJwk.from_jwk(pub_jwk(keys[alg]))
    data, sig = sig_of(joserfc_sign(keys[alg], alg))
    for other in ASYMMETRIC_ALGS - key.algs():
        assert not key.verify(other, sig, data)
    for junk in ("HS256", "none", "", "es256"):
        assert not key.verify(junk, sig, data)


def test_rs256_and_ps256_are_not_interchangeable(keys: dict[str, Any]) -> None:
    stock = keys["RS256"]
    key = PublicJwk.from_jwk(pub_jwk(stock))
    rs_data, rs_sig = sig_of(joserfc_sign(stock, "RS256"))
    ps_data, ps_sig = sig_of(joserfc_sign(stock, "PS256"))
    assert key.verify("RS256", rs_sig, rs_data) and key.verify("PS256", ps_sig, ps_data)
    # the same bytes signed both ways
    data = DATA
    rs_sig = stock.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    ps_sig = stock.private_key.sign(
        data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()
    )
    assert key.verify("RS256", rs_sig, data) and key.verify("PS256", ps_sig, data)
    assert not key.verify("PS256", rs_sig, data)
    assert not key.verify("RS256", ps_sig, data)
    # the JWK's own alg restricts it
    only_rs = PublicJwk.from_jwk(pub_jwk(stock, alg="RS256"))
    assert only_rs.algs() == frozenset({"RS256"})
    assert not only_rs.verify("PS256", ps_sig, data)
    assert only_rs.verify("RS256", rs_sig, data)


def test_pss_salt_length_must_be_hash_length(keys: dict[str, Any]) -> None:
    # RFC 7518 §3.5: the salt is as long as the hash output (32 bytes for PS256)
    priv = keys["PS256"].private_key
    key = PublicJwk.from_jwk(pub_jwk(keys["PS256"]))
    for salt, ok in ((32, True), (0, False), (20, False), (padding.PSS.MAX_LENGTH, False)):
        sig = priv.sign(DATA, padding.PSS(padding.MGF1(hashes.SHA256()), salt), hashes.SHA256())
        assert key.verify("PS256", sig, DATA) is ok


def test_rsa_signature_must_be_modulus_length(keys: dict[str, Any]) -> None:
    priv = keys["RS256"].private_key
    key = PublicJwk.from_jwk(pub_jwk(keys["RS256"]))
    sig = priv.sign(DATA, padding.PKCS1v15(), hashes.SHA256())
    assert key.verify("RS256", sig, DATA)
    assert not key.verify("RS256", b"\x00" + sig, DATA)
    n = priv.public_key().public_numbers().n
    # the same integer in k - 1 octets, when it fits (RFC 8017 §8.2.2 wants k octets)
    value = int.from_bytes(sig, "big")
    if value < 1 << (8 * (len(sig) - 1)):
        assert not key.verify("RS256", value.to_bytes(len(sig) - 1, "big"), DATA)
    # s + n (out of range) in k octets cannot exist; s >= n must be refused
    if value + n < 1 << (8 * len(sig)):
        assert not key.verify("RS256", (value + n).to_bytes(len(sig), "big"), DATA)


@pytest.mark.parametrize("alg,size", [("ES256", 32), ("ES384", 48)])
def test_ecdsa_encodings(keys: dict[str, Any], alg: str, size: int) -> None:
    priv = keys[alg].private_key
    key = PublicJwk.from_jwk(pub_jwk(keys[alg]))
    h = hashes.SHA256() if alg == "ES256" else hashes.SHA384()
    der = priv.sign(DATA, ec.ECDSA(h))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    assert key.verify(alg, raw, DATA)
    assert not key.verify(alg, der, DATA)  # DER is not the JWS encoding
    n = priv.curve.key_size  # bits; the order has as many
    assert n == size * 8
    for bad_r, bad_s in (
        (0, s),
        (r, 0),
        (0, 0),
        (2 ** (8 * size) - 1, s),
        (r, 2 ** (8 * size) - 1),
    ):
        assert not key.verify(alg, bad_r.to_bytes(size, "big") + bad_s.to_bytes(size, "big"), DATA)
    # the right integers in the wrong lengths
    if size == 32:
        assert not key.verify(alg, r.to_bytes(48, "big") + s.to_bytes(48, "big"), DATA)
    assert not key.verify(alg, raw[: size - 1] + raw[size:], DATA)
    assert not key.verify(alg, b"\x00" + raw, DATA)


def test_ed25519_encodings(keys: dict[str, Any]) -> None:
    priv = keys["EdDSA"].private_key
    key = PublicJwk.from_jwk(pub_jwk(keys["EdDSA"]))
    sig = priv.sign(DATA)
    assert key.verify("EdDSA", sig, DATA)
    # S + L: same value mod L, non-canonical (RFC 8032 §5.1.7 requires S < L)
    s = int.from_bytes(sig[32:], "little")
    if s + ED_L < 2**256:
        assert not key.verify("EdDSA", sig[:32] + (s + ED_L).to_bytes(32, "little"), DATA)
    assert not key.verify("EdDSA", sig[:63], DATA)


@settings(max_examples=60)
@given(alg=st.sampled_from(ALGS), sig=st.binary(max_size=600), data=st.binary(max_size=64))
def test_verify_never_raises(keys: dict[str, Any], alg: str, sig: bytes, data: bytes) -> None:
    key = PublicJwk.from_jwk(pub_jwk(keys[alg]))
    for a in (*ALGS, "HS256", "none"):
        assert key.verify(a, sig, data) is False


def test_verify_rejects_non_bytes(keys: dict[str, Any]) -> None:
    key = PublicJwk.from_jwk(pub_jwk(keys["ES256"]))
    data, sig = sig_of(joserfc_sign(keys["ES256"], "ES256"))
    assert key.verify("ES256", bytearray(sig), data)  # type: ignore[arg-type]
    assert not key.verify("ES256", sig.hex(), data)  # type: ignore[arg-type]
    assert not key.verify("ES256", sig, data.decode())  # type: ignore[arg-type]
    assert not key.verify(["ES256"], sig, data)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("alg", ALGS)
def test_private_jwks_refused(keys: dict[str, Any], alg: str) -> None:
    private = dict(keys[alg].as_dict(private=True))
    assert "d" in private
    e = bad_key(private)
    assert private["d"] not in str(e)


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "oth", "k"])
def test_each_private_member_refused(keys: dict[str, Any], member: str) -> None:
    bad_key(pub_jwk(keys["ES256"], **{member: "AQAB"}))
    bad_key(pub_jwk(keys["RS256"], **{member: "AQAB"}))


def test_symmetric_and_unknown_key_types_refused(keys: dict[str, Any]) -> None:
    bad_key({"kty": "oct", "k": b64url_encode(b"secret-secret-secret")})
    bad_key({"kty": "oct"})
    base = pub_jwk(keys["ES256"])
    for kty in ("EC2", "ec", "", None, 1, "OKP", "RSA"):
        bad_key({**base, "kty": kty})
    bad_key({k: v for k, v in base.items() if k != "kty"})
    for crv in ("P-521", "secp256k1", "p-256", "P-384", None, 256):
        bad_key({**base, "crv": crv})
    okp = pub_jwk(keys["EdDSA"])
    for crv in ("X25519", "Ed448", "ed25519", "P-256", None):
        bad_key({**okp, "crv": crv})
    bad_key("not a mapping")
    bad_key([base])
    bad_key({**base, 1: "x"})


@pytest.mark.parametrize("alg", ["ES256", "ES384"])
def test_ec_coordinates_validated(keys: dict[str, Any], alg: str) -> None:
    base = pub_jwk(keys[alg])
    size = 32 if alg == "ES256" else 48
    prime = P256_P if alg == "ES256" else P384_P
    x = b64url_decode(base["x"])
    y = b64url_decode(base["y"])
    for member in ("x", "y"):
        bad_key({**base, member: None})
        bad_key({**base, member: 7})
        bad_key({k: v for k, v in base.items() if k != member})
        bad_key({**base, member: base[member] + "="})  # padding
        bad_key({**base, member: " " + base[member]})
        bad_key({**base, member: base[member].replace("-", "+").replace("_", "/") + "+/"})
    bad_key({**base, "x": b64url_encode(x[1:])})  # short
    bad_key({**base, "x": b64url_encode(b"\x00" + x)})  # long
    # off the curve
    y_off = ((int.from_bytes(y, "big") + 1) % prime).to_bytes(size, "big")
    bad_key({**base, "y": b64url_encode(y_off)})
    # coordinate >= p (x + p still fits when x is small; use p itself)
    bad_key({**base, "x": b64url_encode(prime.to_bytes(size, "big"))})
    # the curve must match the coordinates' size
    other = "P-384" if alg == "ES256" else "P-256"
    bad_key({**base, "crv": other})


def test_non_canonical_base64url_refused(keys: dict[str, Any]) -> None:
    base = pub_jwk(keys["ES256"])
    x = base["x"]
    assert len(x) == 43  # 32 bytes: the last character carries 2 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for low in (1, 2, 3):
        c = alphabet[alphabet.index(x[-1]) | low]
        if c != x[-1]:
            bad_key({**base, "x": x[:-1] + c})
    okp = pub_jwk(keys["EdDSA"])
    c = alphabet[alphabet.index(okp["x"][-1]) | 1]
    if c != okp["x"][-1]:
        bad_key({**okp, "x": okp["x"][:-1] + c})


def test_rsa_parameters_validated(keys: dict[str, Any]) -> None:
    base = pub_jwk(keys["RS256"])
    n = int.from_bytes(b64url_decode(base["n"]), "big")

    def enc_int(v: int) -> str:
        return b64url_encode(v.to_bytes((v.bit_length() + 7) // 8, "big"))

    assert enc_int(n) == base["n"]
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    bad_key({**base, "n": enc_int(small.public_numbers().n)})
    bad_key({**base, "n": enc_int(n >> 1 << 1)})  # even modulus
    bad_key({**base, "n": b64url_encode(b"\x00" + b64url_decode(base["n"]))})  # leading zero
    bad_key({**base, "n": enc_int((1 << 9000) | 1)})  # too large
    for e in (1, 2, 65536, 2**64 + 1, 2**32 + 1):
        bad_key({**base, "e": enc_int(e)})
    bad_key({**base, "e": "AAEAAQ"})  # 65537 with a leading zero octet
    bad_key({**base, "e": ""})
    bad_key({**base, "n": ""})
    bad_key({**base, "e": 65537})
    assert PublicJwk.from_jwk({**base, "e": enc_int(3)}).kty == "RSA"


def test_ed25519_points_validated(keys: dict[str, Any]) -> None:
    base = pub_jwk(keys["EdDSA"])
    raw = b64url_decode(base["x"])
    bad_key({**base, "x": b64url_encode(raw[:31])})
    bad_key({**base, "x": b64url_encode(raw + b"\x00")})
    # small order: identity (0, 1), (0, -1), and (+-sqrt(-1), 0)
    for y, sign in ((1, 0), (ED_P - 1, 0), (0, 0), (0, 1)):
        bad_key({**base, "x": ed_encode(y, sign)})
    # x = 0 with the sign bit set is not canonical
    bad_key({**base, "x": ed_encode(1, 1)})
    # y >= p
    bad_key({**base, "x": ed_encode(ED_P + 2)})
    # off the curve: a y for which (y^2 - 1) / (d y^2 + 1) is not a square
    y = 2
    while ed_is_square((y * y - 1) * pow(ED_D * y * y + 1, -1, ED_P) % ED_P):
        y += 1
    bad_key({**base, "x": ed_encode(y)})
    # a real point is accepted (the joserfc key), also with the sign bit flipped
    flipped = bytes(raw[:31]) + bytes([raw[31] ^ 0x80])
    assert PublicJwk.from_jwk({**base, "x": b64url_encode(flipped)}).kty == "OKP"


def test_metadata_members_validated(keys: dict[str, Any]) -> None:
    base = pub_jwk(keys["ES256"])
    assert PublicJwk.from_jwk({**base, "use": "sig"}).algs() == {"ES256"}
    for use in ("enc", "SIG", "", None):
        bad_key({**base, "use": use})
    for alg in ("HS256", "none", "RS256", "ES384", "EdDSA", "ES256K", "", 1, None):
        bad_key({**base, "alg": alg})
    bad_key({**pub_jwk(keys["RS256"]), "alg": "ES256"})
    PublicJwk.from_jwk({**pub_jwk(keys["EdDSA"]), "alg": "Ed25519"})  # RFC 9864 name
    assert PublicJwk.from_jwk({**base, "key_ops": ["verify"]}).algs() == {"ES256"}
    assert PublicJwk.from_jwk({**base, "key_ops": ["sign", "verify"]}).algs() == {"ES256"}
    for ops in (["sign"], [], "verify", None, [1], ["encrypt"]):
        bad_key({**base, "key_ops": ops})
    for kid in ("", 1, None, ["a"], "k" * 257):
        bad_key({**base, "kid": kid})
    assert PublicJwk.from_jwk({**base, "kid": "k" * 256}).kid == "k" * 256


# --------------------------------------------------------------------------- object


def test_public_jwk_object(keys: dict[str, Any]) -> None:
    jwk = pub_jwk(keys["RS256"], kid="a", alg="RS256", use="sig", key_ops=["verify"])
    key = PublicJwk.from_jwk(jwk)
    out = key.jwk()
    assert out == {k: jwk[k] for k in ("kty", "n", "e", "kid", "alg")}
    out["n"] = "changed"
    assert key.jwk()["n"] == jwk["n"]
    same = PublicJwk.from_jwk(dict(jwk))
    assert key == same and hash(key) == hash(same)
    assert {key, same} == {key}
    no_kid = PublicJwk.from_jwk(pub_jwk(keys["RS256"]))
    assert no_kid != key and hash(no_kid) == hash(key)  # same key material
    assert no_kid.thumbprint() == key.thumbprint()
    assert key != PublicJwk.from_jwk(pub_jwk(keys["PS256"], kid="a", alg="RS256"))
    with pytest.raises(AttributeError):
        key._kid = "b"
    with pytest.raises(AttributeError):
        key.kid = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        PublicJwk()
    assert pickle.loads(pickle.dumps(key)) == key
    r = repr(key)
    assert key.thumbprint() in r and jwk["n"][:20] not in r


# --------------------------------------------------------------------------- JWK Sets


def test_jwks(keys: dict[str, Any]) -> None:
    ks = Jwks.from_json(
        {
            "keys": [
                pub_jwk(keys["ES256"], kid="a"),
                pub_jwk(keys["RS256"], kid="b"),
                pub_jwk(keys["PS256"]),
                pub_jwk(keys["EdDSA"], kid="d", alg="EdDSA"),
            ]
        }
    )
    assert len(ks) == 4 and len(ks.keys) == 4
    assert [k.kid for k in ks.candidates({"alg": "ES256", "kid": "a"})] == ["a"]
    assert ks.candidates({"alg": "ES384", "kid": "a"}) == []  # kid's key cannot do ES384
    assert ks.candidates({"alg": "ES256", "kid": "b"}) == []
    assert ks.candidates({"alg": "ES256", "kid": "zz"}) == []
    assert ks.candidates({"alg": "ES256", "kid": 1}) == []
    assert ks.candidates({"alg": "ES256", "kid": None}) == []
    assert [k.kid for k in ks.candidates({"alg": "RS256"})] == ["b", None]
    assert [k.kid for k in ks.candidates({"alg": "PS256"})] == ["b", None]
    assert ks.candidates({"alg": "HS256"}) == []
    assert ks.candidates({"alg": ["RS256"]}) == []
    assert ks.candidates({}) == []
    again = Jwks.from_json(ks.to_json())
    assert again == ks and hash(again) == hash(ks)
    assert pickle.loads(pickle.dumps(ks)) == ks
    assert json.loads(json.dumps(ks.to_json())) == ks.to_json()


def test_jwks_refusals(keys: dict[str, Any]) -> None:
    one = pub_jwk(keys["ES256"], kid="a")

    def refused(obj: Any) -> None:
        with pytest.raises(JoseError) as ei:
            Jwks.from_json(obj)
        assert ei.value.reason == "bad_key"

    refused({"keys": [one, pub_jwk(keys["EdDSA"], kid="a")]})  # duplicate kid
    refused({"keys": []})
    refused({"keys": [pub_jwk(keys["ES256"])] * (MAX_JWKS_KEYS + 1)})
    refused({"keys": one})
    refused({"key": [one]})
    refused([one])
    refused({"keys": [one, {**pub_jwk(keys["ES384"]), "d": "AAAA"}]})
    refused({"keys": [one, {"kty": "oct", "k": "AAAA"}]})
    refused({"keys": [one, "x"]})
    assert len(Jwks.from_json({"keys": [pub_jwk(keys["ES256"])] * MAX_JWKS_KEYS})) == 32
    with pytest.raises(JoseError):
        Jwks([])
    with pytest.raises(JoseError):
        Jwks([one])  # type: ignore[list-item]


# --------------------------------------------------------------------------- verify_jws_with


def test_verify_jws_with_picks_the_signing_key(keys: dict[str, Any]) -> None:
    candidates = [PublicJwk.from_jwk(pub_jwk(keys[a])) for a in ALGS]
    for i, alg in enumerate(ALGS):
        token = joserfc_sign(keys[alg], alg, {"typ": "JWT"})
        got = verify_jws_with(decode_unverified(token), candidates, typ="JWT")
        # RS256 and PS256 keys are distinct: the signer is found, not the first RSA key
        assert got is candidates[i]


def _refused(jws_token: str, keys: list[PublicJwk], reason: str, **kw: Any) -> None:
    with pytest.raises(JoseError) as ei:
        verify_jws_with(decode_unverified(jws_token), keys, **{"typ": None, **kw})
    assert ei.value.reason == reason


def test_verify_jws_with_refusals(keys: dict[str, Any]) -> None:
    es = PublicJwk.from_jwk(pub_jwk(keys["ES256"]))
    rs = PublicJwk.from_jwk(pub_jwk(keys["RS256"]))
    good = joserfc_sign(keys["ES256"], "ES256", {"typ": "JWT"})
    assert verify_jws_with(decode_unverified(good), [es], typ=None) is es
    _refused(good, [es], "bad_typ", typ="dpop+jwt")
    _refused(good, [es], "bad_alg", algs=frozenset({"RS256"}))
    _refused(good, [], "unknown_kid")
    _refused(good, [rs], "bad_signature")
    _refused(good, [PublicJwk.from_jwk(pub_jwk(_generate("ES256")))], "bad_signature")
    h, p, s = good.split(".")
    _refused(f"{h}.{enc({'sub': 'c2'})}.{s}", [es], "bad_signature")
    # crit / b64 / odd algs, signed for real by the key
    priv = keys["ES256"]
    for extra in ({"crit": ["exp"], "exp": 1}, {"b64": False, "crit": ["b64"]}, {"b64": True}):
        si = f"{enc({'alg': 'ES256', **extra})}.{p}"
        r, s_ = decode_dss_signature(priv.private_key.sign(si.encode(), ec.ECDSA(hashes.SHA256())))
        tok = f"{si}.{b64url_encode(r.to_bytes(32, 'big') + s_.to_bytes(32, 'big'))}"
        _refused(tok, [es], "bad_header")
    for alg in ("none", "HS256", "ES256K", "", None, ["ES256"], {"a": 1}):
        _refused(f"{enc({'alg': alg})}.{p}.{s}", [es], "bad_alg")
    # algs may not widen the set beyond asymmetric algorithms
    hs = enc({"alg": "HS256"})
    _refused(f"{hs}.{p}.{s}", [es], "bad_alg", algs=frozenset({"HS256"}))


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_hs256_key_confusion_forgery(keys: dict[str, Any], alg: str) -> None:
    """The classic attack: HMAC with the verifier's *public* key as the secret."""
    stock = keys[alg]
    key = PublicJwk.from_jwk(pub_jwk(stock))
    pem = stock.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (pem, json.dumps(pub_jwk(stock)).encode(), key.thumbprint().encode()):
        si = f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc({'sub': 'c1'})}"
        mac = hmac.new(secret, si.encode(), hashlib.sha256).digest()
        _refused(f"{si}.{b64url_encode(mac)}", [key], "bad_alg")
    # "none" with an empty signature cannot even be decoded (three non-empty segments)
    with pytest.raises(JoseError):
        decode_unverified(f"{enc({'alg': 'none'})}.{enc({'sub': 'c1'})}.")


def test_standard_base64_is_not_accepted_for_signatures(keys: dict[str, Any]) -> None:
    key = PublicJwk.from_jwk(pub_jwk(keys["ES256"]))
    token = joserfc_sign(keys["ES256"], "ES256")
    h, p, s = token.split(".")
    std = base64.b64encode(b64url_decode(s)).decode()
    with pytest.raises(JoseError):
        verify_jws_with(decode_unverified(f"{h}.{p}.{std}"), [key], typ=None)
