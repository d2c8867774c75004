"""verify_attestation: a real attestation verifies; every tampered claim, re-signed by
the SAME agent key, is refused with the right reason; foreign keys, foreign or expired
SVIDs and garbage are refused; stock JOSE (PyJWT) verifies the real thing."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest.agents import (
    TYP,
    AgentRuntime,
    AttestationInvalid,
    MicroAgent,
    ProofWork,
    VerifiedAttestation,
    verify_attestation,
)
from zkattest.credentials import Issuer, KeyStore, Presentation
from zkattest.groth16 import VerifyingKey
from zkattest.identity import (
    EcKey,
    SpiffeId,
    TrustDomainKey,
    b64url_encode,
    decode_unverified,
    mint_svid,
    sign_compact,
    validate_svid,
)
from zkattest.store import VerificationRecord

from .conftest import AUD, NONCE, T0, TD, Env, close_env, make_env, run


class CapturingRuntime(AgentRuntime):
    """Keeps a copy of each agent key, so tests can re-sign as the same agent."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.copies: list[EcKey] = []

    async def provision(self, v: VerificationRecord, task: str) -> MicroAgent:
        agent = await super().provision(v, task)
        assert agent._key is not None
        self.copies.append(EcKey.from_pem(agent._key.to_pem()))
        return agent


@dataclass
class Att:
    env: Env
    token: str
    key: EcKey  # the agent's key (a copy made before it was destroyed)
    header: dict[str, Any]
    claims: dict[str, Any]
    circuits: Mapping[str, VerifyingKey]
    now: int


@pytest.fixture(scope="module")
def att(
    tmp_path_factory: pytest.TempPathFactory, issuer: Issuer, keys: KeyStore, pres_yes: Presentation
) -> Iterator[Att]:
    env = make_env(tmp_path_factory.mktemp("att"), issuer, keys, runtime_cls=CapturingRuntime)
    try:
        v = run(env.presented())
        out = run(env.runtime.handle(v, ProofWork(pres_yes), env.pool.reserve()))
        assert out.status == "completed" and out.attestation is not None
        rt = env.runtime
        assert isinstance(rt, CapturingRuntime) and len(rt.copies) == 1
        jws = decode_unverified(out.attestation)
        vk = keys.verifying_key("age_gte")
        assert vk.circuit_id is not None
        yield Att(
            env,
            out.attestation,
            rt.copies[0],
            jws.header,
            jws.claims,
            {vk.circuit_id: vk},
            int(T0) + 1,
        )
    finally:
        close_env(env)


def check(a: Att, token: object, **kw: Any) -> VerifiedAttestation:
    args: dict[str, Any] = {
        "bundle": a.env.bundle,
        "audience": AUD,
        "now": a.now,
        "circuits": a.circuits,
        "nonce": NONCE,
    }
    args.update(kw)
    return verify_attestation(token, **args)  # type: ignore[arg-type]


def reason(a: Att, token: object, **kw: Any) -> str:
    with pytest.raises(AttestationInvalid) as e:
        check(a, token, **kw)
    return e.value.reason


def resign(
    a: Att,
    claims: Mapping[str, Any],
    *,
    key: EcKey | None = None,
    kid: str | None = "same",
    typ: str = TYP,
) -> str:
    return sign_compact(
        claims, key or a.key, typ=typ, kid=a.header["kid"] if kid == "same" else kid
    )


def agent_svid(
    a: Att,
    *,
    signer: TrustDomainKey | None = None,
    spiffe_id: str | None = None,
    audience: str = AUD,
    key: EcKey | None = None,
    now: int | None = None,
    ttl: int = 30,
) -> str:
    t = signer or a.env.trust
    return mint_svid(
        t.key,
        t.kid,
        spiffe_id=SpiffeId.parse(spiffe_id or a.claims["iss"]),
        audience=audience,
        agent_jwk=(key or a.key).public().jwk(),
        ttl=ttl,
        now=a.claims["iat"] if now is None else now,
        jti="test-svid",
    )


# ---------------------------------------------------------------- the real one


def test_real_attestation_verifies(att: Att) -> None:
    a = att
    full = check(a, a.token)
    assert full.result is True and full.claims == a.claims
    assert full.agent == a.claims["iss"] and full.verification_id == a.claims["sub"]
    assert full.agent.startswith(f"spiffe://{TD}/agent/")
    # without circuits (no proof re-check), and without a nonce expectation
    assert check(a, a.token, circuits=None, nonce=None).claims == a.claims
    assert check(a, a.token, circuits=None).result is True
    assert a.header == {"alg": "ES256", "kid": a.key.public().thumbprint(), "typ": TYP}
    assert a.claims["exp"] - a.claims["iat"] == a.env.runtime.settings.attestation_ttl
    svid = validate_svid(a.claims["svid"], a.env.bundle, audience=AUD, at=a.claims["iat"])
    assert svid.agent_key == a.key.public()


def test_resigned_unchanged_claims_verify(att: Att) -> None:
    assert check(att, resign(att, att.claims)).claims == att.claims


def test_wrong_expected_nonce(att: Att) -> None:
    assert reason(att, att.token, nonce="1") == "nonce_mismatch"
    assert reason(att, att.token, nonce="1", circuits=None) == "nonce_mismatch"


def test_verified_for_another_audience(att: Att) -> None:
    """An RP checking an attestation made for another RP gets ``wrong_audience`` (the
    SVID's aud is the first thing that differs)."""
    assert reason(att, att.token, audience="https://other.example") == "wrong_audience"


def test_expiry(att: Att) -> None:
    exp = att.claims["exp"]
    assert check(att, att.token, now=exp + 4).result is True  # within the 5 s leeway
    assert reason(att, att.token, now=exp + 5) == "expired"
    assert reason(att, att.token, now=exp + 10**6) == "expired"
    assert reason(att, att.token, now=exp + 10, leeway=0) == "expired"


def test_issued_in_the_future(att: Att) -> None:
    assert reason(att, att.token, now=att.claims["iat"] - 6) == "malformed"


# ---------------------------------------------------------------- tampered claims


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(c: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = c
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _fn(f: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(c: dict[str, Any]) -> None:
        f(c)

    return mutate


def _flip_result(c: dict[str, Any]) -> None:
    c["result"] = not c["result"]


def _flip_result_and_signal(c: dict[str, Any]) -> None:
    c["result"] = not c["result"]
    c["public_signals"][0] = "1" if c["result"] else "0"


def _other_issuer(c: dict[str, Any]) -> None:
    k = Issuer(bytes(range(32))).public_key
    c["issuer"] = {"Ax": str(k.Ax), "Ay": str(k.Ay)}


def _bump(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(c: dict[str, Any]) -> None:
        i = int(path)
        c["public_signals"][i] = str(int(c["public_signals"][i]) + 1)

    return mutate


#: (id, mutation, the reason (or the acceptable reasons), extra verify_attestation arguments)
TAMPERED: list[tuple[str, Callable[[dict[str, Any]], None], str | set[str], dict[str, Any]]] = [
    ("result", _flip_result, "claims_mismatch", {}),
    ("result+signal", _flip_result_and_signal, "invalid_proof", {}),
    ("result-type", _set("result", "true"), "malformed", {}),
    ("nonce", _set("nonce", "7"), "nonce_mismatch", {}),
    ("nonce-vs-proof", _set("nonce", "7"), "claims_mismatch", {"nonce": None}),
    ("nonce-format", _set("nonce", "07"), "malformed", {"nonce": None}),
    ("aud", _set("aud", "https://evil.example"), "wrong_audience", {}),
    ("aud-list", _set("aud", [AUD]), "malformed", {}),
    ("iss", _set("iss", f"spiffe://{TD}/agent/verify-age_gte/someone-else"), "wrong_issuer", {}),
    ("iss-missing", _fn(lambda c: c.pop("iss")), "malformed", {}),
    ("sub-type", _set("sub", 5), "malformed", {}),
    ("exp-past", _set("exp", int(T0) - 100), "expired", {}),
    ("exp-before-iat", _fn(lambda c: c.update(exp=c["iat"])), "malformed", {}),
    ("exp-float", _set("exp", T0 + 600.5), "malformed", {}),
    ("iat-before-svid", _fn(lambda c: c.update(iat=c["iat"] - 1)), "invalid_svid", {}),
    ("iat-after-svid", _fn(lambda c: c.update(iat=c["iat"] + 30)), "invalid_svid", {}),
    ("iat-missing", _fn(lambda c: c.pop("iat")), "malformed", {}),
    ("jti-missing", _fn(lambda c: c.pop("jti")), "malformed", {}),
    ("svid-missing", _fn(lambda c: c.pop("svid")), "malformed", {}),
    ("circuit_id", _set("circuit_id", "ab" * 32), "unknown_circuit", {}),
    ("today", _fn(lambda c: c.update(today=c["today"] + 1)), "claims_mismatch", {}),
    ("min_age", _set("params.min_age", 21), "claims_mismatch", {}),
    ("rp_scope", _set("rp_scope", "43"), "claims_mismatch", {}),
    ("nullifier", _set("nullifier", "44"), "claims_mismatch", {}),
    ("issuer", _other_issuer, "claims_mismatch", {}),
    ("signal-nullifier", _bump("1"), "claims_mismatch", {}),
    ("signal-Ax", _bump("2"), {"claims_mismatch", "invalid_proof"}, {}),
    ("signal-schema", _bump("4"), "invalid_proof", {}),
    ("signal-today", _bump("5"), "claims_mismatch", {}),
    ("signal-min_age", _bump("6"), "claims_mismatch", {}),
    ("signal-nonce", _bump("7"), "claims_mismatch", {}),
    ("signal-scope", _bump("8"), "claims_mismatch", {}),
    ("signals-short", _fn(lambda c: c["public_signals"].pop()), "invalid_proof", {}),
    ("signal-hex", _set("public_signals.3", "0x1"), "invalid_proof", {}),
    ("signal-too-big", _set("public_signals.4", "9" * 78), "invalid_proof", {}),
    ("proof-swap", _fn(lambda c: c["proof"].update(pi_a=c["proof"]["pi_c"])), "invalid_proof", {}),
    ("proof-generator", _set("proof.pi_a", ["1", "2", "1"]), "invalid_proof", {}),
    ("proof-off-curve", _set("proof.pi_a", ["1", "3", "1"]), "invalid_proof", {}),
    ("proof-garbage", _set("proof.pi_b", "x"), "invalid_proof", {}),
    ("proof-type", _set("proof", ["x"]), {"malformed", "invalid_proof"}, {}),
    ("proof-missing", _fn(lambda c: c.pop("proof")), {"malformed", "invalid_proof"}, {}),
]


@pytest.mark.parametrize(
    ("mutate", "expected", "kw"),
    [pytest.param(m, r, kw, id=name) for name, m, r, kw in TAMPERED],
)
def test_tampered_claim_resigned_by_agent_key(
    att: Att,
    mutate: Callable[[dict[str, Any]], None],
    expected: str | set[str],
    kw: dict[str, Any],
) -> None:
    claims = copy.deepcopy(att.claims)
    mutate(claims)
    assert claims != att.claims
    got = reason(att, resign(att, claims), **kw)
    assert got in expected if isinstance(expected, set) else got == expected


def test_sub_is_bound_only_by_the_agent_signature(att: Att) -> None:
    """Nothing else names the verification: a relying party must compare
    ``verification_id`` with the verification it created."""
    claims = {**att.claims, "sub": "another-verification"}
    assert check(att, resign(att, claims)).verification_id == "another-verification"


def test_header_tampering(att: Att) -> None:
    other = EcKey.generate().public().thumbprint()
    assert reason(att, resign(att, att.claims, kid=other)) == "malformed"
    assert check(att, resign(att, att.claims, kid=None)).result is True  # kid optional
    assert reason(att, resign(att, att.claims, typ="JWT")) == "bad_signature"


# ---------------------------------------------------------------- keys and SVIDs


def test_signature_by_another_key(att: Att) -> None:
    assert reason(att, resign(att, att.claims, key=EcKey.generate())) == "bad_signature"


def test_another_agents_svid(att: Att) -> None:
    """A valid SVID of another agent (its own key) cannot vouch for our agent's token."""
    stranger = EcKey.generate()
    claims = {**att.claims, "svid": agent_svid(att, key=stranger)}
    assert reason(att, resign(att, claims)) == "bad_signature"
    # ... and the stranger signing with its own SVID is fine only for itself
    assert check(att, resign(att, claims, key=stranger, kid=None)).result is True


def test_svid_from_another_trust_domain_key(att: Att, tmp_path: Path) -> None:
    same_name = TrustDomainKey.load_or_create(tmp_path / "a.pem", TD)
    claims = {**att.claims, "svid": agent_svid(att, signer=same_name)}
    assert reason(att, resign(att, claims)) == "invalid_svid"

    other_td = TrustDomainKey.load_or_create(tmp_path / "b.pem", "other.example")
    sid = f"spiffe://other.example/agent/verify-age_gte/{SpiffeId.parse(att.claims['iss']).segments[-1]}"
    claims = {**att.claims, "iss": sid, "svid": agent_svid(att, signer=other_td, spiffe_id=sid)}
    assert reason(att, resign(att, claims)) == "invalid_svid"


def test_svid_expired_before_attestation_iat(att: Att) -> None:
    iat = att.claims["iat"]
    claims = {**att.claims, "svid": agent_svid(att, now=iat - 100, ttl=30)}
    assert reason(att, resign(att, claims)) == "invalid_svid"
    claims = {**att.claims, "svid": agent_svid(att, now=iat - 30, ttl=30)}  # exp == iat
    assert reason(att, resign(att, claims)) == "invalid_svid"
    claims = {**att.claims, "svid": agent_svid(att, now=iat - 29, ttl=30)}  # still alive
    assert check(att, resign(att, claims)).result is True


def test_svid_issued_after_attestation(att: Att) -> None:
    claims = {**att.claims, "svid": agent_svid(att, now=att.claims["iat"] + 1)}
    assert reason(att, resign(att, claims)) == "invalid_svid"


def test_svid_not_an_agent(att: Att) -> None:
    for sid in (f"spiffe://{TD}/workload/x", f"spiffe://{TD}/agentx/a/b", f"spiffe://{TD}"):
        claims = {**att.claims, "iss": sid, "svid": agent_svid(att, spiffe_id=sid)}
        assert reason(att, resign(att, claims)) == "invalid_svid", sid


def test_svid_for_another_audience(att: Att) -> None:
    claims = {**att.claims, "svid": agent_svid(att, audience="https://evil.example")}
    assert reason(att, resign(att, claims)) in ("wrong_audience", "invalid_svid")


def test_svid_tampered(att: Att) -> None:
    h, p, s = att.claims["svid"].split(".")
    forged = f"{h}.{p}.{s[:-2]}{'A' if s[-2] != 'A' else 'B'}{s[-1]}"
    claims = {**att.claims, "svid": forged}
    assert reason(att, resign(att, claims)) == "invalid_svid"


# ---------------------------------------------------------------- garbage


def test_not_a_string(att: Att) -> None:
    for token in (None, b"a.b.c", 5, ["a", "b", "c"], {"token": att.token}):
        assert reason(att, token) == "malformed"


GARBAGE = [
    "",
    ".",
    "..",
    "a.b.c",
    "a.b",
    "a.b.c.d",
    "eyJhbGciOiJub25lIn0.e30.",
    "eyJhbGciOiJub25lIn0.e30.AA",
    b64url_encode(b"[]") + "." + b64url_encode(b"{}") + ".AA",
    b64url_encode(b'{"alg":"ES256"}') + "." + b64url_encode(b'{"svid":1,"iat":1}') + ".AA",
    b64url_encode(b'{"alg":"ES256"}') + "." + b64url_encode(b'{"svid":"x","iat":1}') + ".AA",
    b64url_encode(b'{"alg":"ES256"}') + "." + b64url_encode(b'{"svid":"x","iat":true}') + ".AA",
    "x" * 20000,
]


def test_garbage(att: Att) -> None:
    t = att.token
    tokens = [
        *GARBAGE,
        " " + t,
        t + " ",
        t + "=",
        t + ".",
        t.replace(".", ".."),
        t[:-1] + ("A" if t[-1] != "A" else "B"),
        t[:-10],
        t.split(".", 1)[1],
        t + "A" * 20000,
    ]
    for token in tokens:
        assert reason(att, token) in {"malformed", "bad_signature", "invalid_svid"}, token[:40]


def test_every_truncation(att: Att) -> None:
    t = att.token
    cuts = set(range(0, len(t), 41)) | {i for i, ch in enumerate(t) if ch == "."}
    cuts |= {d + k for d in list(cuts) for k in (-1, 1)} | {len(t) - 1}
    for n in sorted(c for c in cuts if 0 <= c < len(t)):
        with pytest.raises(AttestationInvalid):
            check(att, t[:n])


@given(st.text(max_size=300))
def test_random_strings(att: Att, token: str) -> None:
    with pytest.raises(AttestationInvalid):
        check(att, token)


_B64 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@given(_B64, _B64, _B64)
def test_random_compact_shapes(att: Att, h: str, p: str, s: str) -> None:
    with pytest.raises(AttestationInvalid):
        check(att, f"{h}.{p}.{s}")


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.binary(max_size=200), st.binary(max_size=400))
def test_random_header_and_payload_bytes(att: Att, header: bytes, payload: bytes) -> None:
    token = f"{b64url_encode(header)}.{b64url_encode(payload)}.{b64url_encode(bytes(64))}"
    with pytest.raises(AttestationInvalid):
        check(att, token)


CLAIM_NAMES = [
    "iss",
    "sub",
    "aud",
    "iat",
    "exp",
    "jti",
    "nonce",
    "rp_scope",
    "today",
    "predicate",
    "params",
    "result",
    "circuit_id",
    "proof",
    "public_signals",
    "nullifier",
    "issuer",
    "mode",
    "svid",
    "extra",
]


@given(st.dictionaries(st.sampled_from(CLAIM_NAMES), _JSON, max_size=3), st.booleans())
def test_random_claims_signed_by_agent(att: Att, overrides: dict[str, Any], drop: bool) -> None:
    """Whatever the agent key signs, verification either succeeds or raises
    AttestationInvalid: never another exception."""
    claims = {**att.claims, **overrides}
    if drop:
        for name in overrides:
            claims.pop(name, None)
    try:
        got = check(att, resign(att, claims))
    except AttestationInvalid:
        return
    assert isinstance(got.result, bool)


@given(
    st.integers(0, 8),
    st.one_of(_JSON, st.integers(0, 2**300).map(str)),
    st.sampled_from(["pi_a", "pi_b", "pi_c", "protocol", "curve"]),
    _JSON,
)
def test_random_signals_and_proof_signed_by_agent(
    att: Att, i: int, signal: Any, member: str, value: Any
) -> None:
    claims = copy.deepcopy(att.claims)
    claims["public_signals"][i] = signal
    claims["proof"][member] = value
    with pytest.raises(AttestationInvalid) as e:
        check(att, resign(att, claims))
    assert e.value.reason in {"claims_mismatch", "invalid_proof", "malformed"}


# ---------------------------------------------------------------- stock JOSE


def test_pyjwt_verifies_real_attestation(att: Att) -> None:
    relaxed = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}
    (bundle_jwk,) = att.env.bundle.to_jwks()["keys"]
    svid_key = jwt.PyJWK(bundle_jwk)
    svid = jwt.decode(
        att.claims["svid"], svid_key, algorithms=["ES256"], audience=AUD, options=relaxed
    )
    assert jwt.get_unverified_header(att.claims["svid"])["kid"] == bundle_jwk["kid"]
    agent_key = jwt.PyJWK(svid["cnf"]["jwk"], algorithm="ES256")
    claims = jwt.decode(att.token, agent_key, algorithms=["ES256"], audience=AUD, options=relaxed)
    assert claims == att.claims
    assert svid["sub"] == claims["iss"]
    assert jwt.get_unverified_header(att.token)["typ"] == TYP
    # and neither key verifies the other's token
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(att.token, svid_key, algorithms=["ES256"], audience=AUD, options=relaxed)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            att.claims["svid"], agent_key, algorithms=["ES256"], audience=AUD, options=relaxed
        )


def test_pyjwt_signed_attestation_verifies_here(att: Att) -> None:
    """Interop the other way: claims signed by PyJWT with the agent key (stock JOSE
    emits high-s signatures half of the time) verify here."""
    from cryptography.hazmat.primitives import serialization

    pem = att.key.to_pem()
    priv = serialization.load_pem_private_key(pem, password=None)
    for _ in range(4):
        token = jwt.encode(
            att.claims, priv, algorithm="ES256", headers={"typ": TYP, "kid": att.header["kid"]}
        )
        assert check(att, token).claims == att.claims
