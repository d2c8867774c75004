"""iden3 .r1cs and .wtns: layout, round trips, and strict rejection of bad files."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest.circuit import (
    Circuit,
    CompiledCircuit,
    R,
    dump_r1cs,
    dump_wtns,
    load_r1cs,
    load_wtns,
    read_r1cs,
    read_wtns,
    write_r1cs,
    write_wtns,
)
from zkattest.errors import MalformedFile, WitnessError

R_LE = R.to_bytes(32, "little")


def _circuit() -> CompiledCircuit:
    c = Circuit("fmt")
    a = c.public_input("a")
    b = c.private_inputs("b", 2)
    p = c.mul(a + 3, b[0] - b[1])
    c.assert_equal(c.mul(p, p), b[1] * 5 + 7)
    c.output("o", p)
    return c.compile()


def _sections(data: bytes) -> list[tuple[int, int, int]]:
    """(type, offset, size) of each section."""
    (n,) = struct.unpack_from("<I", data, 8)
    pos, out = 12, []
    for _ in range(n):
        t, size = struct.unpack_from("<IQ", data, pos)
        out.append((t, pos + 12, size))
        pos += 12 + size
    return out


def test_r1cs_layout_follows_the_iden3_spec() -> None:
    cc = _circuit()
    data = dump_r1cs(cc.r1cs)
    assert data[:4] == b"r1cs"
    assert struct.unpack_from("<II", data, 4) == (1, 3)
    secs = _sections(data)
    assert [t for t, _, _ in secs] == [1, 2, 3]
    _, off, size = secs[0]
    assert size == 4 + 32 + 4 * 4 + 8 + 4
    assert struct.unpack_from("<I", data, off)[0] == 32
    assert data[off + 4 : off + 36] == R_LE
    n_wires, n_out, n_pub, n_prv, n_labels, m = struct.unpack_from("<IIIIQI", data, off + 36)
    r = cc.r1cs
    assert (n_wires, n_out, n_pub, n_prv, n_labels, m) == (
        r.n_wires,
        1,
        1,
        2,
        r.n_wires,
        r.n_constraints,
    )
    # first constraint: A = 3*one + a, B = b0 - b1, C = the product wire
    _, off, _ = secs[1]
    (na,) = struct.unpack_from("<I", data, off)
    assert na == 2
    assert struct.unpack_from("<I", data, off + 4)[0] == 0
    assert int.from_bytes(data[off + 8 : off + 40], "little") == 3
    assert struct.unpack_from("<I", data, off + 40)[0] == 2  # wire of "a"
    _, off, size = secs[2]
    assert size == 8 * r.n_wires
    assert struct.unpack_from(f"<{r.n_wires}Q", data, off) == tuple(range(r.n_wires))


def test_r1cs_round_trip(tmp_path: Path) -> None:
    cc = _circuit()
    p = tmp_path / "c.r1cs"
    cc.write_r1cs(p)
    back = read_r1cs(p)
    assert back.constraints == cc.r1cs.constraints
    assert (back.n_wires, back.n_pub_out, back.n_pub_in, back.n_prv_in) == (
        cc.r1cs.n_wires,
        1,
        1,
        2,
    )
    assert back.constraint_names is None
    assert dump_r1cs(back) == p.read_bytes()
    write_r1cs(tmp_path / "d.r1cs", back)
    assert (tmp_path / "d.r1cs").read_bytes() == p.read_bytes()
    # a witness checks against the re-read system (no names: "#k" only)
    w = cc.solve({"a": 2, "b": [9, 4]}, check=False)
    from zkattest.circuit import find_unsatisfied

    assert find_unsatisfied(back, w) == 2  # the assertion


@given(st.lists(st.integers(0, R - 1), min_size=1, max_size=30))
def test_wtns_round_trip(values: list[int]) -> None:
    w = [1, *values]
    data = dump_wtns(w)
    assert data[:4] == b"wtns"
    assert struct.unpack_from("<III", data, 4) == (2, 2, 1)
    assert load_wtns(data) == w


def test_wtns_file_round_trip(tmp_path: Path) -> None:
    cc = _circuit()
    w = cc.solve({"a": 2, "b": [9, 4]}, check=False)
    write_wtns(tmp_path / "w.wtns", w)
    assert read_wtns(tmp_path / "w.wtns") == w
    with pytest.raises(WitnessError):
        dump_wtns([1, R])


def test_unknown_sections_are_ignored_and_order_is_free() -> None:
    cc = _circuit()
    data = dump_r1cs(cc.r1cs)
    secs = _sections(data)
    bodies = {t: data[o - 12 : o + s] for t, o, s in secs}
    extra = struct.pack("<IQ", 9, 3) + b"xyz"
    shuffled = b"r1cs" + struct.pack("<II", 1, 4) + bodies[3] + extra + bodies[2] + bodies[1]
    assert load_r1cs(shuffled).constraints == cc.r1cs.constraints


# ------------------------------------------------------------- malformed
def _patch(data: bytes, off: int, new: bytes) -> bytes:
    return data[:off] + new + data[off + len(new) :]


def _r1cs_cases() -> list[tuple[str, bytes, str]]:
    data = dump_r1cs(_circuit().r1cs)
    secs = {t: (o, s) for t, o, s in _sections(data)}
    h, _ = secs[1]
    c, csize = secs[2]
    lab, _ = secs[3]
    hdr_sec = 12  # offset of the first section header
    other_prime = (R + 2).to_bytes(32, "little")
    return [
        ("magic", b"r1cx" + data[4:], "magic"),
        ("version", _patch(data, 4, struct.pack("<I", 2)), "version"),
        ("empty", b"", "too short"),
        ("section size too big", _patch(data, hdr_sec + 4, struct.pack("<Q", 1 << 40)), "claims"),
        ("too many sections", _patch(data, 8, struct.pack("<I", 4)), "truncated section"),
        ("trailing", data + b"\0", "trailing"),
        ("n8", _patch(data, h, struct.pack("<I", 48)), "field element size"),
        ("prime", _patch(data, h + 4, other_prime), "prime"),
        ("wires", _patch(data, h + 36, struct.pack("<I", 3)), "wire"),
        ("io > wires", _patch(data, h + 40, struct.pack("<I", 1000)), "inputs and outputs"),
        ("labels", _patch(data, h + 52, struct.pack("<Q", 2)), "labels"),
        ("m", _patch(data, h + 60, struct.pack("<I", 1 << 20)), "too small"),
        ("m short", _patch(data, h + 60, struct.pack("<I", 1)), "unused bytes"),
        ("nnz", _patch(data, c, struct.pack("<I", 1 << 20)), "runs past"),
        ("coeff >= r", _patch(data, c + 8, R_LE), "coefficient"),
        ("duplicate wire", _patch(data, c + 40, struct.pack("<I", 0)), "repeats"),
        ("label 0", _patch(data, lab, struct.pack("<Q", 1)), "label 0"),
        ("label range", _patch(data, lab + 8, struct.pack("<Q", 1 << 40)), "nLabels"),
        (
            "duplicate section",
            data[:8] + struct.pack("<I", 4) + data[12:] + data[c - 12 : c + csize],
            "twice",
        ),
        (
            "missing section",
            data[:8] + struct.pack("<I", 2) + data[12 : lab - 12],
            "missing wire-to-label",
        ),
        (
            "custom gates",
            data[:8] + struct.pack("<I", 4) + data[12:] + struct.pack("<IQ", 4, 4) + b"\0" * 4,
            "custom gates",
        ),
        (
            "header size",
            data[:hdr_sec] + struct.pack("<IQ", 1, 63) + data[h : h + 63] + data[h + 64 :],
            "header section",
        ),
    ]


@pytest.mark.parametrize("case", _r1cs_cases(), ids=lambda c: c[0])
def test_r1cs_reader_rejects(case: tuple[str, bytes, str]) -> None:
    _, data, msg = case
    with pytest.raises(MalformedFile, match=msg):
        load_r1cs(data)


def test_r1cs_reader_rejects_every_truncation() -> None:
    data = dump_r1cs(_circuit().r1cs)
    for n in list(range(0, 80)) + list(range(80, len(data), 37)) + [len(data) - 1]:
        with pytest.raises(MalformedFile):
            load_r1cs(data[:n])


def test_malformed_file_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        load_r1cs(b"junk")


def _wtns_cases() -> list[tuple[str, bytes, str]]:
    data = dump_wtns([1, 2, 3])
    h = 12 + 12
    v = h + 40 + 12
    return [
        ("magic", b"r1cs" + data[4:], "magic"),
        ("version", _patch(data, 4, struct.pack("<I", 1)), "version"),
        ("prime", _patch(data, h + 4, (R - 2).to_bytes(32, "little")), "prime"),
        ("n8", _patch(data, h, struct.pack("<I", 8)), "field element size"),
        ("count", _patch(data, h + 36, struct.pack("<I", 4)), "witness section has"),
        ("value >= r", _patch(data, v + 32, R_LE), "not below r"),
        (
            "header size",
            data[:16] + struct.pack("<Q", 41) + data[24 : 24 + 40] + b"\0" + data[64:],
            "header section",
        ),
        ("section size", _patch(data, 16, struct.pack("<Q", 1 << 50)), "claims"),
        ("missing", data[:8] + struct.pack("<I", 1) + data[12 : v - 12], "missing witness"),
    ]


@pytest.mark.parametrize("case", _wtns_cases(), ids=lambda c: c[0])
def test_wtns_reader_rejects(case: tuple[str, bytes, str]) -> None:
    _, data, msg = case
    with pytest.raises(MalformedFile, match=msg):
        load_wtns(data)


def test_wtns_reader_rejects_every_truncation() -> None:
    data = dump_wtns([1, 2, 3])
    for n in range(len(data)):
        with pytest.raises(MalformedFile):
            load_wtns(data[:n])


def test_sym_file_names_every_wire(tmp_path: Path) -> None:
    cc = _circuit()
    cc.write_sym(tmp_path / "c.sym")
    lines = (tmp_path / "c.sym").read_text().splitlines()
    assert len(lines) == cc.r1cs.n_wires
    assert lines[0] == "0,0,-1,fmt.one"
    assert lines[1] == "1,1,-1,fmt.o"
    assert lines[3].endswith(",fmt.b[0]")


@given(st.data())
def test_readers_fail_only_with_malformed_file(data: st.DataObject) -> None:
    """Random corruption: a reader either returns or raises MalformedFile."""
    for load, blob in (
        (load_r1cs, dump_r1cs(_circuit().r1cs)),
        (load_wtns, dump_wtns([1, 2, 3, R - 1])),
    ):
        raw = bytearray(blob)
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(0, len(raw)))
        for candidate in (bytes(raw), bytes(raw[:cut])):
            with contextlib.suppress(MalformedFile):
                load(candidate)
