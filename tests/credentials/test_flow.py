"""The whole flow: issue, present, check -- yes, no, and every reason for invalid."""

from __future__ import annotations

import msgspec
import pytest

from zkattest import errors
from zkattest.credentials import (
    PERSON,
    Credential,
    Decision,
    ExpiredCredential,
    Holder,
    InvalidRequest,
    InvalidSignature,
    Issuer,
    KeyStore,
    Presentation,
    Reason,
    Request,
    Verifier,
    WrongHolder,
    to_field,
    verify_credential,
)
from zkattest.groth16 import Proof

from .conftest import TODAY, pinned, request


@pytest.fixture(scope="module")
def cred(issuer: Issuer, holder: Holder) -> Credential:
    return issuer.issue({"birthdate": 20080229}, holder.commitment, expires=20300101)


@pytest.fixture(scope="module")
def yes(holder: Holder, cred: Credential, keys: KeyStore) -> tuple[Presentation, Request]:
    req = request()
    return holder.present(cred, req, keys=keys), req


def test_yes_and_round_trips(
    yes: tuple[Presentation, Request], verifier: Verifier, holder: Holder, cred: Credential
) -> None:
    pres, req = yes
    d = verifier.check(pres, req)
    assert d == Decision(True, True, None, holder.nullifier(req.rp_scope))
    again = Presentation.from_json(pres.to_json())
    assert again.public == pres.public and again.circuit_id == pres.circuit_id
    assert verifier.check(again, Request.from_json(req.to_json())) == d
    assert Credential.from_json(cred.to_json()) == cred
    assert Credential.from_json(cred.to_json().decode()) == cred
    assert Request.from_json(req.to_json()) == req


def test_canonical_json(cred: Credential) -> None:
    raw = cred.to_json()
    obj = msgspec.json.decode(raw)
    assert list(obj) == sorted(obj)
    assert list(obj["signature"]) == sorted(obj["signature"])
    assert b" " not in raw
    assert obj["attrs"][:2] == [str(PERSON.id), "20080229"] and obj["v"] == 1
    assert isinstance(obj["expires"], int) and isinstance(obj["salt"], str)


def test_issuer_signature_and_keys(issuer: Issuer, cred: Credential, tmp_path: object) -> None:
    assert verify_credential(cred) and issuer.verify(cred)
    assert not Issuer.generate().verify(cred)
    assert cred.holder_commitment == Holder(0xC0FFEE_1234_5678_9ABC).commitment
    with pytest.raises(errors.InvalidLength):
        Issuer(b"short")


def test_birthdate_required_and_checked(issuer: Issuer, holder: Holder) -> None:
    with pytest.raises(errors.InvalidInput, match="birthdate"):
        issuer.issue({}, holder.commitment, expires=20300101)
    with pytest.raises(errors.InvalidInput, match="birthdate"):
        issuer.issue({"birthdate": 20070230}, holder.commitment, expires=20300101)
    with pytest.raises(errors.InvalidInput, match="unknown"):
        issuer.issue({"birthdate": 20000101, "shoe": 3}, holder.commitment, expires=20300101)
    with pytest.raises(errors.InvalidInput, match="expires"):
        issuer.issue({"birthdate": 20000101}, holder.commitment, expires=2030)


@pytest.mark.parametrize(
    ("today", "want"),
    [(20260228, False), (20260301, True), (20260302, True)],
    ids=["day-before", "18th-birthday", "day-after"],
)
def test_born_29_february(
    today: int, want: bool, issuer: Issuer, holder: Holder, cred: Credential, keys: KeyStore
) -> None:
    req = request(today=today)
    v = Verifier([issuer.public_key], keys=keys, clock=lambda: pinned(today))
    d = v.check(holder.present(cred, req, keys=keys), req)
    assert d.valid and d.reason is None and d.result is want


def test_under_age_is_a_valid_no(
    issuer: Issuer, holder: Holder, keys: KeyStore, verifier: Verifier
) -> None:
    young = issuer.issue({"birthdate": 20150615}, holder.commitment, expires=20300101)
    req = request()
    d = verifier.check(holder.present(young, req, keys=keys), req)
    assert d.valid and d.result is False and d.reason is None


def test_nullifiers(
    issuer: Issuer, holder: Holder, cred: Credential, keys: KeyStore, verifier: Verifier
) -> None:
    a1 = holder.present(cred, request(nonce="x"), keys=keys)
    a2 = holder.present(cred, request(nonce="y"), keys=keys)
    b = holder.present(cred, request(rp_scope="bank.example"), keys=keys)
    assert a1.nullifier == a2.nullifier != b.nullifier
    other = Holder()
    cred2 = issuer.issue({"birthdate": 19990101}, other.commitment, expires=20300101)
    assert other.present(cred2, request(nonce="x"), keys=keys).nullifier != a1.nullifier
    d = verifier.check(a1, request(nonce="x"))
    assert d.valid and d.nullifier == a1.nullifier


def test_scope_of_one_rp_refused_by_another(
    yes: tuple[Presentation, Request], verifier: Verifier
) -> None:
    pres, req = yes
    other = Request.age_gte(
        18, nonce=req.nonce, rp_scope="bank.example", today=req.today, schema=req.schema
    )
    assert verifier.check(pres, other) == Decision.invalid(Reason.SCOPE_MISMATCH)


def _req(req: Request, **kw: object) -> Request:
    return msgspec.structs.replace(req, **kw)


def test_each_reason(
    yes: tuple[Presentation, Request], verifier: Verifier, keys: KeyStore, issuer: Issuer
) -> None:
    pres, req = yes

    def reason(v: Verifier, p: Presentation, r: Request) -> Reason | None:
        d = v.check(p, r)
        assert not d.valid and d.result is None
        return d.reason

    assert reason(verifier, msgspec.structs.replace(pres, circuit_id="sha256:00"), req) == (
        Reason.UNKNOWN_CIRCUIT
    )
    stranger = Verifier([Issuer.generate().public_key], keys=keys, clock=lambda: pinned(TODAY))
    assert reason(stranger, pres, req) == Reason.UNTRUSTED_ISSUER
    assert reason(verifier, pres, _req(req, today=20260302)) == Reason.STALE_TODAY
    later = Verifier([issuer.public_key], keys=keys, clock=lambda: pinned(20260303))
    assert reason(later, pres, req) == Reason.STALE_TODAY
    lenient = Verifier(
        [issuer.public_key], keys=keys, clock=lambda: pinned(20260303), max_skew_days=2
    )
    assert lenient.check(pres, req).valid
    assert reason(verifier, pres, _req(req, nonce=to_field("other", "nonce"))) == (
        Reason.NONCE_MISMATCH
    )
    assert reason(verifier, pres, _req(req, rp_scope=5)) == Reason.SCOPE_MISMATCH
    assert reason(verifier, pres, _req(req, schema=7)) == Reason.SCHEMA_MISMATCH
    assert reason(verifier, pres, _req(req, min_age=21)) == Reason.MIN_AGE_MISMATCH
    # a proof that does not match its public signals: flip the claimed result
    flipped = (1 - pres.public[0], *pres.public[1:])
    assert reason(verifier, msgspec.structs.replace(pres, public=flipped), req) == (
        Reason.INVALID_PROOF
    )
    p = pres.proof
    assert isinstance(p, Proof)
    swapped = msgspec.structs.replace(pres, proof=Proof(p.c, p.b, p.a))
    assert reason(verifier, swapped, req) == Reason.INVALID_PROOF
    assert reason(verifier, msgspec.structs.replace(pres, public=pres.public[:8]), req) == (
        Reason.INVALID_PROOF
    )
    assert reason(verifier, msgspec.structs.replace(pres, proof="nope"), req) == (
        Reason.INVALID_PROOF
    )


def test_verifier_with_explicit_circuit_keys(
    yes: tuple[Presentation, Request], keys: KeyStore, issuer: Issuer
) -> None:
    pres, req = yes
    v = Verifier(
        [issuer.public_key], circuits=[keys.verifying_key("age_gte")], clock=lambda: pinned(TODAY)
    )
    assert v.check(pres, req).result is True
    with pytest.raises(errors.InvalidInput):
        Verifier(
            [issuer.public_key], circuits=[keys.verifying_key("age_gte").with_circuit_id(None)]
        )


def test_holder_refusals(issuer: Issuer, holder: Holder, cred: Credential, keys: KeyStore) -> None:
    old = issuer.issue({"birthdate": 20000101}, holder.commitment, expires=20260228)
    with pytest.raises(ExpiredCredential):
        holder.present(old, request(), keys=keys)
    with pytest.raises(WrongHolder):
        Holder().present(cred, request(), keys=keys)
    with pytest.raises(InvalidRequest):
        holder.present(cred, request(schema=7), keys=keys)
    with pytest.raises(InvalidRequest):
        holder.present(cred, "age>=18", keys=keys)  # type: ignore[arg-type]
    for bad in (
        {"min_age": 256},
        {"min_age": -1},
        {"today": 20261301},
        {"nonce": -5},
        {"rp_scope": 2**254 * 7},
    ):
        with pytest.raises(InvalidRequest):
            request(**bad)
    with pytest.raises(InvalidRequest, match="predicate"):
        Request("age_lte", 18, 1, 2, TODAY, PERSON.id)


def test_tampered_credential(
    issuer: Issuer, holder: Holder, cred: Credential, keys: KeyStore
) -> None:
    obj = msgspec.json.decode(cred.to_json())
    obj["attrs"][1] = "19900101"  # older after signing
    forged = Credential.from_json(msgspec.json.encode(obj))
    assert not verify_credential(forged) and not issuer.verify(forged)
    with pytest.raises(InvalidSignature):
        holder.present(forged, request(), keys=keys)


def test_missing_keys(tmp_path: object, holder: Holder, cred: Credential, issuer: Issuer) -> None:
    from pathlib import Path

    from zkattest.credentials import MissingKeys

    empty = KeyStore(Path(str(tmp_path)) / "none")
    with pytest.raises(MissingKeys, match="zkattest setup age_gte"):
        holder.present(cred, request(), keys=empty)
    with pytest.raises(MissingKeys):
        Verifier([issuer.public_key], keys=empty).check(
            Presentation(proof=None, public=(0,) * 9, circuit_id="x"), request()
        )


def test_keys_for_another_circuit_version_refused(
    holder: Holder, cred: Credential, keys: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zkattest.credentials.holder as holder_mod

    monkeypatch.setattr(holder_mod, "_builtin_id", lambda: "sha256:" + "0" * 64)
    with pytest.raises(errors.MalformedFile, match="not for this version"):
        holder.present(cred, request(), keys=keys)


def test_request_dates() -> None:
    import datetime as dt

    r = Request.age_gte(18, nonce=1, rp_scope=2, today=dt.date(2026, 3, 1))
    assert r.today == 20260301 and r.nonce == 1 and r.schema == PERSON.id
    now = dt.datetime.now(dt.UTC).date()
    assert Request.age_gte(21, nonce="n", rp_scope="s").today in {
        int(d.strftime("%Y%m%d")) for d in (now, now + dt.timedelta(days=1))
    }
