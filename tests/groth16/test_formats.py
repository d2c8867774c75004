"""Files: .zkey write/read, snarkjs JSON write/read, strict readers."""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from zkattest import errors
from zkattest.circuit import dump_r1cs
from zkattest.curve import G1, G2
from zkattest.field import P, R
from zkattest.groth16 import (
    Proof,
    circuit_id,
    dump_proof,
    dump_public,
    dump_verification_key,
    load_proof,
    load_public,
    load_verification_key,
    load_zkey,
    prove,
    read_proof,
    read_public,
    read_verification_key,
    read_zkey,
    verify,
    write_proof,
    write_public,
    write_verification_key,
    write_zkey,
)
from zkattest.groth16.formats import (
    SNARKJS_GT_EXPONENT,
    g1_to_mont,
    points_from_mont,
    points_to_mont,
)
from zkattest.pairing import pairing

from .conftest import Keys
from .test_prove_verify import g2_outside_subgroup

MalformedFile = errors.MalformedFile


# ---------------------------------------------------------------------- .zkey
def _sections(data: bytes) -> dict[int, tuple[int, int]]:
    n = struct.unpack_from("<I", data, 8)[0]
    pos, out = 12, {}
    for _ in range(n):
        t, size = struct.unpack_from("<IQ", data, pos)
        out[t] = (pos + 12, size)
        pos += 12 + size
    return out


def test_zkey_round_trip(toy: Keys, tmp_path: Path) -> None:
    pk = toy.pk
    data = pk.to_zkey_bytes()
    assert data[:4] == b"zkey" and struct.unpack_from("<II", data, 4) == (1, 10)
    assert list(_sections(data)) == list(range(1, 11))
    write_zkey(tmp_path / "k.zkey", pk)
    back = read_zkey(tmp_path / "k.zkey", circuit_id=pk.circuit_id)
    for f in (
        "n_vars",
        "n_public",
        "log_domain",
        "alpha1",
        "beta1",
        "beta2",
        "gamma2",
        "delta1",
        "delta2",
        "ic",
        "coefs",
        "a",
        "b1",
        "b2",
        "c",
        "h",
        "mpc_params",
        "circuit_id",
    ):
        assert getattr(back, f) == getattr(pk, f), f
    assert back.to_zkey_bytes() == data
    assert back.verifying_key() == toy.vk


def test_zkey_sections_in_any_order_and_unknown_ignored(toy: Keys, toy_witness: list[int]) -> None:
    data = toy.pk.to_zkey_bytes()
    secs = _sections(data)
    body = {t: data[o : o + s] for t, (o, s) in secs.items()}
    order = [1, 2, 4, 3, 9, 8, 5, 6, 7, 10]  # snarkjs zkey new's order
    parts = [struct.pack("<IQ", t, len(body[t])) + body[t] for t in order]
    parts.append(struct.pack("<IQ", 99, 3) + b"xyz")
    shuffled = b"zkey" + struct.pack("<II", 1, 11) + b"".join(parts)
    pk = load_zkey(shuffled)
    assert pk.to_zkey_bytes() == data
    proof, public = prove(pk, toy_witness)
    assert verify(toy.vk, public, proof)


def test_montgomery_helpers(toy: Keys) -> None:
    a = toy.pk.a
    assert points_to_mont(points_from_mont(a)) == a
    g = G1.generator()
    x, y = g.xy  # type: ignore[misc]
    assert g1_to_mont(g) == (x * 2**256 % P).to_bytes(32, "little") + (y * 2**256 % P).to_bytes(
        32, "little"
    )
    assert g1_to_mont(G1.identity()) == bytes(64)


def _patch(data: bytes, off: int, new: bytes) -> bytes:
    return data[:off] + new + data[off + len(new) :]


def _malformed_cases(data: bytes) -> list[tuple[str, bytes]]:
    secs = _sections(data)
    h2 = secs[2][0]
    coef = secs[4][0]
    ic = secs[3][0]
    a_sec = secs[5][0]
    cases = [
        ("too short", data[:8]),
        ("magic", b"zkez" + data[4:]),
        ("version", _patch(data, 4, struct.pack("<I", 2))),
        ("section count", _patch(data, 8, struct.pack("<I", 1000))),
        ("trailing", data + b"\0"),
        ("remain", data[:-1]),
        ("protocol", _patch(data, secs[1][0], struct.pack("<I", 2))),
        ("32 bytes", _patch(data, h2, struct.pack("<I", 48))),
        ("prime q", _patch(data, h2 + 4, (P + 2).to_bytes(32, "little"))),
        ("prime r", _patch(data, h2 + 40, (R + 2).to_bytes(32, "little"))),
        ("power of two", _patch(data, h2 + 80, struct.pack("<I", 12))),
        ("nVars", _patch(data, h2 + 76, struct.pack("<I", 1000))),
        ("alpha1", _patch(data, h2 + 84, (5).to_bytes(32, "little"))),
        ("below q", _patch(data, h2 + 84, (P + 1).to_bytes(32, "little"))),
        ("IC[0]", _patch(data, ic, (7).to_bytes(32, "little"))),
        ("matrix", _patch(data, coef + 4, struct.pack("<I", 2))),
        ("constraint", _patch(data, coef + 8, struct.pack("<I", 1 << 20))),
        ("signal", _patch(data, coef + 12, struct.pack("<I", 1 << 20))),
        ("value", _patch(data, coef + 16, R.to_bytes(32, "little"))),
        ("coefficients section", _patch(data, coef, struct.pack("<I", 10**6))),
        ("native", _patch(data, a_sec, (3).to_bytes(32, "little"))),
    ]
    # drop a whole section (2 = groth16 header)
    o, s = secs[2]
    dropped = data[: o - 12] + data[o + s :]
    dropped = _patch(dropped, 8, struct.pack("<I", 9))
    cases.append(("missing", dropped))
    return cases


def test_zkey_malformed(toy: Keys) -> None:
    data = toy.pk.to_zkey_bytes()
    for name, bad in _malformed_cases(data):
        with pytest.raises(MalformedFile) as exc:
            load_zkey(bad)
        assert str(exc.value).startswith("zkey"), (name, exc.value)
    with pytest.raises(errors.InvalidInput):
        load_zkey("zkey")  # type: ignore[arg-type]
    with pytest.raises(MalformedFile, match="cannot read"):
        read_zkey("/nonexistent/k.zkey")


# ---------------------------------------------------------------- JSON files
@pytest.fixture(scope="module")
def proof_public(toy: Keys, toy_witness: list[int]) -> tuple[Proof, list[int]]:
    return prove(toy.pk, toy_witness)


def test_vk_json_round_trip(toy: Keys, tmp_path: Path) -> None:
    vk = toy.vk
    obj = dump_verification_key(vk)
    assert list(obj)[:9] == [
        "protocol",
        "curve",
        "nPublic",
        "vk_alpha_1",
        "vk_beta_2",
        "vk_gamma_2",
        "vk_delta_2",
        "vk_alphabeta_12",
        "IC",
    ]
    assert obj["protocol"] == "groth16" and obj["curve"] == "bn128"
    assert obj["nPublic"] == 3 and len(obj["IC"]) == 4
    assert obj["circuit_id"] == vk.circuit_id
    x, y = vk.alpha1.xy  # type: ignore[misc]
    assert obj["vk_alpha_1"] == [str(x), str(y), "1"]
    (x0, x1), (y0, y1) = vk.beta2.xy  # type: ignore[misc]
    assert obj["vk_beta_2"] == [[str(x0), str(x1)], [str(y0), str(y1)], ["1", "0"]]
    # snarkjs's convention (checked against `snarkjs zkey export verificationkey`)
    ab = (pairing(vk.alpha1, vk.beta2) ** SNARKJS_GT_EXPONENT).coeffs
    assert obj["vk_alphabeta_12"][1][2] == [str(ab[10]), str(ab[11])]
    assert obj["vk_alphabeta_12"][0][1] == [str(ab[2]), str(ab[3])]
    write_verification_key(tmp_path / "vk.json", vk)
    back = read_verification_key(tmp_path / "vk.json")
    assert back == vk and back.circuit_id == vk.circuit_id
    del obj["circuit_id"], obj["vk_alphabeta_12"]
    assert load_verification_key(obj) == vk.with_circuit_id(None)


def test_proof_and_public_json_round_trip(
    toy: Keys, proof_public: tuple[Proof, list[int]], tmp_path: Path
) -> None:
    proof, public = proof_public
    obj = dump_proof(proof)
    assert obj["protocol"] == "groth16" and obj["curve"] == "bn128"
    assert obj["pi_a"][2] == "1" and obj["pi_b"][2] == ["1", "0"]
    write_proof(tmp_path / "proof.json", proof)
    write_public(tmp_path / "public.json", public)
    assert json.loads((tmp_path / "public.json").read_text()) == [str(v) for v in public]
    p2 = read_proof(tmp_path / "proof.json")
    pub2 = read_public(tmp_path / "public.json")
    assert p2 == proof and pub2 == public
    assert verify(toy.vk, pub2, p2)
    # snarkjs writes projective triples; a 2-element point is affine too
    obj2 = copy.deepcopy(obj)
    obj2["pi_a"] = obj2["pi_a"][:2]
    assert load_proof(obj2) == proof


def test_infinity_in_json() -> None:
    inf = Proof(G1.identity(), G2.identity(), G1.identity())
    obj = dump_proof(inf)
    assert obj["pi_a"] == ["0", "1", "0"]
    assert obj["pi_b"] == [["0", "0"], ["1", "0"], ["0", "0"]]
    assert load_proof(obj) == inf


def _bad_proofs(obj: dict[str, Any]) -> list[tuple[str, Any]]:
    a = obj["pi_a"]
    b = obj["pi_b"]
    g2bad = g2_outside_subgroup()
    c = [int.from_bytes(g2bad[i : i + 32], "little") for i in range(0, 128, 32)]
    return [
        ("not object", [1, 2]),
        ("missing", {k: v for k, v in obj.items() if k != "pi_c"}),
        ("protocol", dict(obj, protocol="plonk")),
        ("curve", dict(obj, curve="bls12381")),
        ("int", dict(obj, pi_a=[int(a[0]), a[1], a[2]])),
        ("negative", dict(obj, pi_a=["-" + a[0], a[1], a[2]])),
        ("hex", dict(obj, pi_a=[hex(int(a[0])), a[1], a[2]])),
        ("space", dict(obj, pi_a=[" " + a[0], a[1], a[2]])),
        ("leading zero", dict(obj, pi_a=["0" + a[0], a[1], a[2]])),
        ("empty", dict(obj, pi_a=["", a[1], a[2]])),
        (">= q", dict(obj, pi_a=[str(int(a[0]) + P), a[1], a[2]])),
        ("huge", dict(obj, pi_a=["9" * 500, a[1], a[2]])),
        ("off curve", dict(obj, pi_a=[a[0], str((int(a[1]) + 1) % P), "1"])),
        ("z", dict(obj, pi_a=[a[0], a[1], "2"])),
        ("shape", dict(obj, pi_a=[a[0]])),
        ("g2 shape", dict(obj, pi_b=[b[0], b[1][0], b[2]])),
        ("g2 z", dict(obj, pi_b=[b[0], b[1], ["1", "1"]])),
        ("g2 off", dict(obj, pi_b=[b[0], [b[1][1], b[1][0]], b[2]])),
        ("subgroup", dict(obj, pi_b=[[str(c[0]), str(c[1])], [str(c[2]), str(c[3])], ["1", "0"]])),
        ("nested", dict(obj, pi_c=[[a[0]], a[1], a[2]])),
    ]


def test_proof_json_strict(proof_public: tuple[Proof, list[int]]) -> None:
    obj = dump_proof(proof_public[0])
    for name, bad in _bad_proofs(obj):
        with pytest.raises(MalformedFile):
            load_proof(bad)
        assert name


def test_public_json_strict() -> None:
    assert load_public(["0", "1", str(R - 1)]) == [0, 1, R - 1]
    assert load_public([]) == []
    for bad in ({"a": 1}, [1], ["-1"], [str(R)], ["0x1"], ["1.0"], [None], "1"):
        with pytest.raises(MalformedFile):
            load_public(bad)
    assert dump_public([0, R - 1]) == ["0", str(R - 1)]
    for bad_sig in ([R], [-1], [True], ["1"]):
        with pytest.raises(errors.InvalidInput):
            dump_public(bad_sig)  # type: ignore[arg-type]


def test_vk_json_strict(toy: Keys) -> None:
    obj = dump_verification_key(toy.vk)
    cases = [
        dict(obj, protocol="plonk"),
        {k: v for k, v in obj.items() if k != "protocol"},
        {k: v for k, v in obj.items() if k != "vk_delta_2"},
        dict(obj, nPublic=2),
        dict(obj, nPublic="3"),
        dict(obj, nPublic=-1),
        dict(obj, IC=obj["IC"][:-1]),
        dict(obj, IC="x"),
        dict(obj, circuit_id=5),
        dict(obj, vk_alpha_1=[obj["vk_alpha_1"][1], obj["vk_alpha_1"][0], "1"]),
        dict(obj, vk_gamma_2=obj["vk_beta_2"][:1]),
        "not a dict",
    ]
    for bad in cases:
        with pytest.raises(MalformedFile):
            load_verification_key(bad)
    assert load_verification_key(dict(obj, curve="bn254")) == toy.vk


def test_json_files_unreadable(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe")
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    for fn in (read_proof, read_public, read_verification_key):
        for name in ("bad.json", "bin.json", "missing.json", "deep.json"):
            with pytest.raises(MalformedFile):
                fn(tmp_path / name)


def test_circuit_id(toy: Keys) -> None:
    data = dump_r1cs(toy.cc.r1cs)
    cid = circuit_id(data)
    assert cid.startswith("sha256:") and len(cid) == 7 + 64
    assert circuit_id(toy.cc.r1cs) == cid == toy.vk.circuit_id
    assert circuit_id(data + b"\0") != cid
    with pytest.raises(errors.InvalidInput):
        circuit_id("abc")  # type: ignore[arg-type]
