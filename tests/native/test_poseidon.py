"""Poseidon (circomlib parameters) in the native core, against plain references.

* A pure-Python Poseidon (the textbook rounds) runs with the constants the core exports
  (zka_poseidon_constants) and, independently, with the constants computed by the
  generator script native/gen/gen_poseidon.py; the core's optimized schedule must equal it
  for every width t = 2..17.
* The core's optimized permutation equals its plain reference (zka_poseidon_permute_ref).
* circomlib's known vectors; batch == single; the committed poseidon_constants.h is
  exactly what the generator writes; misuse and bad data get their status codes.
(circomlibjs itself is compared in tests/interop/test_poseidon_circomlibjs.py.)
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest import _native, errors

ffi, lib = _native.ffi, _native.lib

ROOT = Path(__file__).resolve().parents[2]
GEN_SCRIPT = ROOT / "native" / "gen" / "gen_poseidon.py"
HEADER = ROOT / "native" / "src" / "poseidon_constants.h"

R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
PARTIAL_ROUNDS = [56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68]  # t = 2..17
WIDTHS = range(2, 18)

# circomlib / circomlibjs test vectors: Poseidon(inputs) = state[0] of the permutation
# of [0, inputs...]
KNOWN = [
    ([1, 2], 7853200120776062878684798364095072458815029376092732009249414926327459813530),
    ([1], 18586133768512220936620570745912940619677854269274689475585506675881198879027),
    ([1, 2, 3, 4], 18821383157269793795438455681495246036402687001665670618754263018637548127333),
]

fr = st.integers(min_value=0, max_value=R - 1)
edge_fr = st.sampled_from([0, 1, 2, R - 1, R - 2, (R - 1) // 2, 1 << 253, (1 << 192) - 1])
elem = st.one_of(fr, edge_fr)
states = st.integers(min_value=2, max_value=17).flatmap(
    lambda t: st.lists(elem, min_size=t, max_size=t)
)


def enc(values: list[int]) -> bytes:
    return b"".join(v.to_bytes(32, "little") for v in values)


def dec(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 32], "little") for i in range(0, len(data), 32)]


# ---------------------------------------------------------------- references


def permute_plain(rc: list[int], mds: list[list[int]], r_p: int, state: list[int]) -> list[int]:
    """The Poseidon permutation, round by round as specified (x^5, R_F = 8)."""
    t = len(state)
    s = list(state)
    for r in range(8 + r_p):
        s = [(x + rc[r * t + i]) % R for i, x in enumerate(s)]
        if r < 4 or r >= 4 + r_p:
            s = [pow(x, 5, R) for x in s]
        else:
            s[0] = pow(s[0], 5, R)
        s = [sum(mds[i][j] * s[j] for j in range(t)) % R for i in range(t)]
    return s


@cache
def native_constants(t: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    rc_b, mds_b = _native.poseidon_constants(t)
    flat = dec(mds_b)
    return tuple(dec(rc_b)), tuple(tuple(flat[i * t : (i + 1) * t]) for i in range(t))


@lru_cache(maxsize=1)
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_poseidon", GEN_SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@cache
def script_constants(t: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    rc, mds = generator().generate(t)
    return tuple(rc), tuple(tuple(row) for row in mds)


def ref_permute(state: list[int]) -> list[int]:
    t = len(state)
    rc, mds = native_constants(t)
    return permute_plain(list(rc), [list(r) for r in mds], PARTIAL_ROUNDS[t - 2], state)


def ref_hash(inputs: list[int]) -> int:
    return ref_permute([0, *inputs])[0]


def permute_ref_native(state: list[int]) -> list[int]:
    """The core's plain reference permutation (zka_poseidon_permute_ref)."""
    if not hasattr(lib, "zka_poseidon_permute_ref"):
        pytest.fail(
            "zka_poseidon_permute_ref is not declared in native/include/zkattest.h "
            "(add: zka_status zka_poseidon_permute_ref(zka_fr *state, size_t t);)",
            pytrace=False,
        )
    buf = ffi.new(f"zka_fr[{len(state)}]")
    ffi.memmove(buf, enc(state), 32 * len(state))
    _native.check(lib.zka_poseidon_permute_ref(buf, len(state)), "poseidon_permute_ref")
    return dec(bytes(ffi.buffer(buf)))


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize("t", WIDTHS)
def test_rounds(t: int) -> None:
    assert _native.poseidon_rounds(t) == (8, PARTIAL_ROUNDS[t - 2])


@pytest.mark.parametrize("t", WIDTHS)
def test_exported_constants_equal_the_generator(t: int) -> None:
    assert native_constants(t) == script_constants(t)
    rc, mds = native_constants(t)
    assert len(rc) == (8 + PARTIAL_ROUNDS[t - 2]) * t
    assert all(0 <= x < R for x in rc)
    assert all(len(row) == t and all(0 < x < R for x in row) for row in mds)


def test_generator_cauchy_structure() -> None:
    # M[i][j] = 1 / (x_i + y_j): every 2x2 minor of a Cauchy matrix is non-zero, and
    # 1/M[i][j] - 1/M[i][k] does not depend on i
    for t in (2, 3, 9, 17):
        _, mds = script_constants(t)
        inv = [[pow(x, R - 2, R) for x in row] for row in mds]
        for j in range(1, t):
            diffs = {(row[0] - row[j]) % R for row in inv}
            assert len(diffs) == 1


def test_regenerated_header_is_identical(tmp_path: Path) -> None:
    out = tmp_path / "poseidon_constants.h"
    subprocess.run([sys.executable, str(GEN_SCRIPT), str(out)], check=True, timeout=300)
    assert out.read_bytes() == HEADER.read_bytes(), (
        "native/src/poseidon_constants.h differs from a fresh run of native/gen/gen_poseidon.py"
    )


def test_generator_optimized_schedule_matches_plain() -> None:
    g = generator()
    for t in WIDTHS:
        rc, mds = g.generate(t)
        opt = g.optimize(t, rc, mds)
        state = [(7 * t + 3 * i + 1) ** 9 % R for i in range(t)]
        assert g.permute_opt(t, rc, mds, opt, state) == g.permute_plain(t, rc, mds, state)


# ---------------------------------------------------------------- vectors


@pytest.mark.parametrize(("inputs", "expected"), KNOWN)
def test_known_vectors(inputs: list[int], expected: int) -> None:
    assert dec(_native.poseidon_hash(enc(inputs))) == [expected]
    assert ref_hash(inputs) == expected
    t = len(inputs) + 1
    rc, mds = script_constants(t)
    assert (
        permute_plain(list(rc), [list(r) for r in mds], PARTIAL_ROUNDS[t - 2], [0, *inputs])[0]
        == expected
    )


@given(states)
def test_permute_equals_python_reference(state: list[int]) -> None:
    assert dec(_native.poseidon_permute(enc(state))) == ref_permute(state)


@pytest.mark.parametrize("t", WIDTHS)
def test_every_width_against_both_references(t: int) -> None:
    state = [(0x5EED + 977 * t + 31 * i) ** 7 % R for i in range(t)]
    expected = ref_permute(state)
    rc, mds = script_constants(t)
    assert permute_plain(list(rc), [list(r) for r in mds], PARTIAL_ROUNDS[t - 2], state) == expected
    assert dec(_native.poseidon_permute(enc(state))) == expected
    assert dec(_native.poseidon_hash(enc(state[1:]))) == [ref_hash(state[1:])]


@pytest.mark.parametrize("t", WIDTHS)
def test_native_plain_reference_every_width(t: int) -> None:
    state = [(0xC0FFEE + 131 * t + 17 * i) ** 5 % R for i in range(t)]
    assert permute_ref_native(state) == ref_permute(state)


@given(states)
def test_optimized_equals_plain_native(state: list[int]) -> None:
    assert dec(_native.poseidon_permute(enc(state))) == permute_ref_native(state)


@given(st.lists(elem, min_size=1, max_size=16))
def test_hash_equals_reference(inputs: list[int]) -> None:
    assert dec(_native.poseidon_hash(enc(inputs))) == [ref_hash(inputs)]


@given(
    st.integers(min_value=1, max_value=16).flatmap(
        lambda a: st.tuples(
            st.just(a), st.lists(st.lists(elem, min_size=a, max_size=a), min_size=0, max_size=5)
        )
    )
)
def test_hashes_batch_equals_single(case: tuple[int, list[list[int]]]) -> None:
    arity, rows = case
    out = dec(_native.poseidon_hashes(enc([x for row in rows for x in row]), arity))
    assert out == [dec(_native.poseidon_hash(enc(row)))[0] for row in rows]


def test_hashes_output_may_alias_inputs() -> None:
    for arity in (1, 2, 5):
        rows = [[(k * 1000 + i) ** 5 % R for i in range(arity)] for k in range(4)]
        flat = enc([x for row in rows for x in row])
        buf = ffi.new(f"zka_fr[{len(flat) // 32}]")
        ffi.memmove(buf, flat, len(flat))
        st_ = lib.zka_poseidon_hashes(buf, len(rows), buf, len(flat) // 32, arity)
        assert st_ == lib.ZKA_OK
        assert dec(bytes(ffi.buffer(buf, 32 * len(rows)))) == [ref_hash(r) for r in rows]


def test_permute_is_not_the_identity_and_differs_per_width() -> None:
    outs = {tuple(dec(_native.poseidon_permute(enc([0] * t)))[:2]) for t in WIDTHS}
    assert len(outs) == len(WIDTHS)


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("bad", [R, R + 1, (1 << 256) - 1, 1 << 255])
def test_noncanonical_inputs_rejected(bad: int) -> None:
    raw = [b.to_bytes(32, "little") for b in (1, 2, 3)]
    raw[1] = bad.to_bytes(32, "little")
    data = b"".join(raw)
    with pytest.raises(errors.NonCanonicalEncoding):
        _native.poseidon_hash(data)
    with pytest.raises(errors.NonCanonicalEncoding):
        _native.poseidon_permute(data)
    with pytest.raises(errors.NonCanonicalEncoding):
        _native.poseidon_hashes(data, 1)
    with pytest.raises(errors.NonCanonicalEncoding):
        _native.poseidon_hashes(data + data, 3)


def test_noncanonical_leaves_outputs_untouched() -> None:
    data = enc([1, 2, 3]) + R.to_bytes(32, "little")  # last row bad
    out = ffi.new("zka_fr[2]")
    ffi.memmove(out, b"\xab" * 64, 64)
    assert lib.zka_poseidon_hashes(out, 2, ffi.from_buffer("zka_fr *", data), 4, 2) == (
        lib.ZKA_ERR_NONCANONICAL
    )
    assert bytes(ffi.buffer(out)) == b"\xab" * 64
    state = ffi.new("zka_fr[3]")
    ffi.memmove(state, enc([1, 2]) + R.to_bytes(32, "little"), 96)
    before = bytes(ffi.buffer(state))
    assert lib.zka_poseidon_permute(state, 3) == lib.ZKA_ERR_NONCANONICAL
    assert bytes(ffi.buffer(state)) == before


@pytest.mark.parametrize("n", [0, 17, 100])
def test_hash_arity_out_of_range(n: int) -> None:
    data = enc([1] * max(n, 1))
    out = ffi.new("zka_fr *")
    assert lib.zka_poseidon_hash(out, ffi.from_buffer("zka_fr *", data), n) == lib.ZKA_ERR_PARAM
    if n:
        with pytest.raises(errors.InvalidParameter):
            _native.poseidon_hash(data)


@pytest.mark.parametrize("t", [0, 1, 18, 1 << 40])
def test_width_out_of_range(t: int) -> None:
    state = ffi.new("zka_fr[20]")
    f, p = ffi.new("uint32_t *"), ffi.new("uint32_t *")
    rc, mds = ffi.new("zka_fr[2000]"), ffi.new("zka_fr[400]")
    assert lib.zka_poseidon_permute(state, t) == lib.ZKA_ERR_PARAM
    assert lib.zka_poseidon_rounds(f, p, t) == lib.ZKA_ERR_PARAM
    assert lib.zka_poseidon_constants(rc, 2000, mds, 400, t) == lib.ZKA_ERR_PARAM
    with pytest.raises(errors.InvalidParameter):
        _native.poseidon_rounds(t)
    with pytest.raises(errors.InvalidParameter):
        _native.poseidon_constants(t)


@pytest.mark.parametrize("arity", [0, 17, 1 << 40])
def test_batch_arity_out_of_range(arity: int) -> None:
    out, inputs = ffi.new("zka_fr[1]"), ffi.new("zka_fr[17]")
    assert lib.zka_poseidon_hashes(out, 1, inputs, arity, arity) == lib.ZKA_ERR_PARAM


def test_lengths() -> None:
    out = ffi.new("zka_fr[4]")
    inputs = ffi.new("zka_fr[8]")
    assert lib.zka_poseidon_hashes(out, 4, inputs, 8, 2) == lib.ZKA_OK
    assert lib.zka_poseidon_hashes(out, 4, inputs, 7, 2) == lib.ZKA_ERR_LENGTH
    assert lib.zka_poseidon_hashes(out, 3, inputs, 8, 2) == lib.ZKA_ERR_LENGTH
    assert lib.zka_poseidon_hashes(out, 0, inputs, 0, 2) == lib.ZKA_OK
    huge = (1 << 64) - 1
    assert lib.zka_poseidon_hashes(out, huge, inputs, 8, 2) == lib.ZKA_ERR_LENGTH
    rc, mds = ffi.new("zka_fr[195]"), ffi.new("zka_fr[9]")
    assert lib.zka_poseidon_constants(rc, 195, mds, 9, 3) == lib.ZKA_OK
    assert lib.zka_poseidon_constants(rc, 194, mds, 9, 3) == lib.ZKA_ERR_LENGTH
    assert lib.zka_poseidon_constants(rc, 195, mds, 10, 3) == lib.ZKA_ERR_LENGTH
    assert _native.poseidon_hashes(b"", 3) == b""


def test_null_pointers() -> None:
    one = ffi.new("zka_fr[17]")
    u = ffi.new("uint32_t *")
    null = ffi.NULL
    assert lib.zka_poseidon_hash(null, one, 2) == lib.ZKA_ERR_NULL
    assert lib.zka_poseidon_hash(one, null, 2) == lib.ZKA_ERR_NULL
    assert lib.zka_poseidon_hashes(null, 1, one, 2, 2) == lib.ZKA_ERR_NULL
    assert lib.zka_poseidon_hashes(one, 1, null, 2, 2) == lib.ZKA_ERR_NULL
    assert lib.zka_poseidon_permute(null, 3) == lib.ZKA_ERR_NULL
    assert lib.zka_poseidon_rounds(null, u, 3) == lib.ZKA_ERR_NULL
    assert lib.zka_poseidon_rounds(u, null, 3) == lib.ZKA_ERR_NULL
    assert lib.zka_poseidon_constants(null, 195, one, 9, 3) == lib.ZKA_ERR_NULL
    assert lib.zka_poseidon_constants(one, 195, null, 9, 3) == lib.ZKA_ERR_NULL
