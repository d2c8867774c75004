"""NTT over Fr (native) against plain Python integers.

The domain generator must be omega_n = 5^((r-1)/n), the root ffjavascript (and so
snarkjs) uses: w[28] = 5^((r-1)/2^28), w[k] = w[k+1]^2.  Forward transforms are
compared with a naive O(n^2) DFT, coset transforms with direct evaluation at
shift*omega^j; inverses round-trip; every thread count gives identical bytes;
and misuse / bad data is rejected before anything is written.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest import _native as N
from zkattest import errors

ffi, lib = N.ffi, N.lib

R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
GEN = 5
TWO_ADICITY = 28

elements = st.integers(min_value=0, max_value=R - 1)
edge_elements = st.sampled_from([0, 1, 2, R - 1, R - 2, (R - 1) // 2, 1 << 253])
field_elements = st.one_of(elements, edge_elements)

_domains: dict[int, N.NttDomain] = {}


def dom(log_n: int) -> N.NttDomain:
    if log_n not in _domains:
        _domains[log_n] = N.NttDomain(log_n)
    return _domains[log_n]


def enc(values: list[int]) -> bytes:
    return b"".join(v.to_bytes(32, "little") for v in values)


def dec(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 32], "little") for i in range(0, len(data), 32)]


def root(log_n: int) -> int:
    return pow(GEN, (R - 1) >> log_n, R)


def evaluate(coeffs: list[int], x: int) -> int:
    acc = 0
    for c in reversed(coeffs):
        acc = (acc * x + c) % R
    return acc


def naive_dft(coeffs: list[int], log_n: int, shift: int = 1) -> list[int]:
    n = 1 << log_n
    w = root(log_n)
    out = []
    x = shift % R
    for _ in range(n):
        out.append(evaluate(coeffs, x))
        x = x * w % R
    return out


def cbuf(data: bytes) -> tuple[Any, Any]:
    """A C copy of data and the same memory as zka_fr *."""
    buf = ffi.new(f"uint8_t[{len(data)}]")
    ffi.memmove(buf, data, len(data))
    return buf, ffi.cast("zka_fr *", buf)


def rand_values(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(R) for _ in range(n)]


# ---------------------------------------------------------------- the root


def test_ffjavascript_roots_of_unity() -> None:
    # ffjavascript: nqr = smallest quadratic non-residue, w[s] = nqr^t, w[i] = w[i+1]^2
    nqr = 2
    while pow(nqr, (R - 1) // 2, R) != R - 1:
        nqr += 1
    assert nqr == GEN
    t, s = R - 1, 0
    while t % 2 == 0:
        t //= 2
        s += 1
    assert s == TWO_ADICITY
    w = [0] * (s + 1)
    w[s] = pow(nqr, t, R)
    for i in range(s - 1, -1, -1):
        w[i] = w[i + 1] * w[i + 1] % R
    assert w[0] == 1
    for log_n in range(0, 21):
        assert int.from_bytes(dom(log_n).omega(), "little") == w[log_n] == root(log_n)


@pytest.mark.parametrize("log_n", [0, 1, 2, 5, 12, 20])
def test_omega_has_exact_order(log_n: int) -> None:
    n = 1 << log_n
    w = int.from_bytes(dom(log_n).omega(), "little")
    assert w == root(log_n)
    assert pow(w, n, R) == 1
    if log_n:
        assert pow(w, n // 2, R) == R - 1  # so the order is exactly n


def test_largest_domain() -> None:
    # only the root of the 2^28 domain is checked here; building it allocates 4 GiB
    w28 = root(TWO_ADICITY)
    assert pow(w28, 1 << 27, R) == R - 1
    assert pow(w28, 1 << 28, R) == 1


# ----------------------------------------------------------- vs the naive DFT


@pytest.mark.parametrize("log_n", range(0, 9))
def test_forward_matches_naive_dft(log_n: int) -> None:
    n = 1 << log_n
    x = rand_values(n, 1000 + log_n)
    assert dec(dom(log_n).forward(enc(x), 1)) == naive_dft(x, log_n)


@given(log_n=st.integers(0, 7), data=st.data())
def test_forward_matches_naive_dft_property(log_n: int, data: st.DataObject) -> None:
    n = 1 << log_n
    x = data.draw(st.lists(field_elements, min_size=n, max_size=n))
    assert dec(dom(log_n).forward(enc(x), 1)) == naive_dft(x, log_n)


@pytest.mark.parametrize("log_n", range(0, 9))
def test_inverse_matches_naive(log_n: int) -> None:
    n = 1 << log_n
    y = rand_values(n, 2000 + log_n)
    # inverse: a_i = (1/n) sum_j y_j omega^(-ij)
    w_inv = pow(root(log_n), -1, R)
    n_inv = pow(n, -1, R)
    expect = [evaluate(y, pow(w_inv, i, R)) * n_inv % R for i in range(n)]
    assert dec(dom(log_n).inverse(enc(y), 1)) == expect


def test_unit_vectors() -> None:
    # forward(e_k)_j = omega^(jk): exercises every twiddle of a size-64 domain
    log_n, n = 6, 64
    w = root(log_n)
    for k in range(n):
        x = [0] * n
        x[k] = 1
        assert dec(dom(log_n).forward(enc(x), 1)) == [pow(w, j * k, R) for j in range(n)]


def test_spot_values_large() -> None:
    # a few outputs of a 2^14 transform evaluated directly
    log_n = 14
    n = 1 << log_n
    x = rand_values(n, 77)
    y = dec(dom(log_n).forward(enc(x), 2))
    w = root(log_n)
    for j in (0, 1, 2, n // 2, n - 1, 12345):
        assert y[j] == evaluate(x, pow(w, j, R))


# ------------------------------------------------ structured / extreme inputs


@pytest.mark.parametrize("log_n", [1, 4, 9, 10, 12, 14, 16])
@pytest.mark.parametrize("c", [1, R - 1, (R - 1) // 2 + 1])
def test_closed_forms(log_n: int, c: int) -> None:
    # large sizes with exact answers: constants, alternating signs, a pure tone
    n = 1 << log_n
    d = dom(log_n)
    w = root(log_n)
    nc = n * c % R
    const = enc([c] * n)
    assert d.forward(const, 2) == enc([nc] + [0] * (n - 1))
    assert d.inverse(enc([nc] + [0] * (n - 1)), 2) == const
    alt = enc([c if i % 2 == 0 else R - c for i in range(n)])
    assert d.forward(alt, 0) == enc([nc if j == n // 2 else 0 for j in range(n)])
    k = 3 % n
    wk = pow(w, n - k, R)  # omega^-k
    tone, x = [], c
    for _ in range(n):
        tone.append(x)
        x = x * wk % R
    assert d.forward(enc(tone), 2) == enc([nc if j == k else 0 for j in range(n)])
    shift = enc([GEN])
    assert d.coset_inverse(d.coset_forward(const, shift, 2), shift, 1) == const
    assert d.coset_forward(d.coset_inverse(alt, shift, 2), shift, 1) == alt


# ------------------------------------------------------------- round trips


@pytest.mark.parametrize("log_n", [0, 1, 2, 3, 9, 10, 11, 12, 13, 14])
def test_inverse_forward_round_trip(log_n: int) -> None:
    n = 1 << log_n
    x = rand_values(n, 3000 + log_n)
    d = dom(log_n)
    data = enc(x)
    fwd = d.forward(data, 0)
    assert d.inverse(fwd, 0) == data
    assert d.forward(d.inverse(data, 2), 1) == data


@given(log_n=st.integers(0, 6), shift=st.integers(1, R - 1), data=st.data())
def test_coset_forward_matches_evaluation(log_n: int, shift: int, data: st.DataObject) -> None:
    n = 1 << log_n
    x = data.draw(st.lists(field_elements, min_size=n, max_size=n))
    got = dec(dom(log_n).coset_forward(enc(x), enc([shift]), 1))
    assert got == naive_dft(x, log_n, shift)


@pytest.mark.parametrize("log_n", range(0, 9))
def test_coset_forward_matches_evaluation_sizes(log_n: int) -> None:
    n = 1 << log_n
    x = rand_values(n, 4000 + log_n)
    shift = GEN  # snarkjs-style coset generator
    got = dec(dom(log_n).coset_forward(enc(x), enc([shift]), 2))
    assert got == naive_dft(x, log_n, shift)


@pytest.mark.parametrize("log_n", [0, 1, 2, 5, 10, 11, 13, 14])
def test_coset_round_trip(log_n: int) -> None:
    n = 1 << log_n
    x = rand_values(n, 5000 + log_n)
    shift = rand_values(1, 6000 + log_n)[0] or 1
    d = dom(log_n)
    data = enc(x)
    ev = d.coset_forward(data, enc([shift]), 2)
    assert d.coset_inverse(ev, enc([shift]), 1) == data
    assert d.coset_forward(d.coset_inverse(data, enc([shift]), 1), enc([shift]), 2) == data


@given(log_n=st.integers(0, 6), shift=st.integers(1, R - 1), data=st.data())
def test_coset_inverse_interpolates(log_n: int, shift: int, data: st.DataObject) -> None:
    n = 1 << log_n
    coeffs = data.draw(st.lists(field_elements, min_size=n, max_size=n))
    evals = naive_dft(coeffs, log_n, shift)
    assert dec(dom(log_n).coset_inverse(enc(evals), enc([shift]), 1)) == coeffs


def test_coset_shift_one_is_plain() -> None:
    d = dom(9)
    data = enc(rand_values(512, 9))
    assert d.coset_forward(data, enc([1]), 1) == d.forward(data, 1)
    assert d.coset_inverse(data, enc([1]), 1) == d.inverse(data, 1)


def test_coset_forward_zero_shift() -> None:
    # evaluation at 0 everywhere: every output is a_0
    x = rand_values(16, 10)
    assert dec(dom(4).coset_forward(enc(x), enc([0]), 1)) == [x[0]] * 16


# ---------------------------------------------------------------- threads


@pytest.mark.parametrize("log_n", [4, 9, 10, 11, 12, 13, 15, 16])
def test_thread_counts_agree(log_n: int) -> None:
    n = 1 << log_n
    d = dom(log_n)
    data = enc(rand_values(n, 7000 + log_n))
    shift = enc([GEN])
    for op in (d.forward, d.inverse):
        ref = op(data, 1)
        for nt in (2, 3, 0):
            assert op(data, nt) == ref
    ref = d.coset_forward(data, shift, 1)
    assert d.coset_forward(data, shift, 2) == ref
    ref = d.coset_inverse(data, shift, 1)
    assert d.coset_inverse(data, shift, 2) == ref


def test_largest_tested_round_trip() -> None:
    # several cache-blocked passes and the tiled bit reversal at a larger size
    log_n = 18
    n = 1 << log_n
    rng = random.Random(18)
    data = rng.randbytes(32 * n)
    x = [v % R for v in dec(data)]
    data = enc(x)
    d = N.NttDomain(log_n)
    y = d.forward(data, 2)
    w = root(log_n)
    for j in (1, n - 1, 99991):
        assert int.from_bytes(y[32 * j : 32 * j + 32], "little") == evaluate(x, pow(w, j, R))
    assert d.inverse(y, 0) == data
    assert d.forward(data, 1) == y


# ------------------------------------------------------------ errors


def test_domain_log_range() -> None:
    with pytest.raises(errors.InvalidParameter):
        N.NttDomain(29)
    with pytest.raises(errors.InvalidParameter):
        N.NttDomain(-1)
    pp = ffi.new("zka_ntt_domain **")
    assert lib.zka_ntt_domain_new(pp, 29) == lib.ZKA_ERR_PARAM
    assert pp[0] == ffi.NULL
    assert lib.zka_ntt_domain_new(pp, 0xFFFFFFFF) == lib.ZKA_ERR_PARAM
    lib.zka_ntt_domain_free(ffi.NULL)  # NULL-safe


def test_wrong_length() -> None:
    d = dom(4)
    with pytest.raises(errors.InvalidLength):
        d.forward(enc([1] * 15), 1)
    with pytest.raises(errors.InvalidLength):
        d.inverse(enc([1] * 17), 1)
    with pytest.raises(errors.InvalidLength):
        d.forward(b"\x00" * 33, 1)
    # the C core checks n itself, too
    buf, arr = cbuf(enc(list(range(32))))
    for n in (0, 8, 15, 17, 32):
        assert lib.zka_ntt_forward(arr, n, d._ptr, 1) == lib.ZKA_ERR_LENGTH
        assert lib.zka_ntt_inverse(arr, n, d._ptr, 1) == lib.ZKA_ERR_LENGTH
    assert bytes(ffi.buffer(buf)) == enc(list(range(32)))


@pytest.mark.parametrize("log_n", [0, 3, 12])
@pytest.mark.parametrize("bad", [R, R + 1, (1 << 256) - 1])
def test_noncanonical_element_leaves_data_untouched(log_n: int, bad: int) -> None:
    n = 1 << log_n
    d = dom(log_n)
    for pos in {0, n // 2, n - 1}:
        raw = bytearray(enc(rand_values(n, pos)))
        raw[32 * pos : 32 * pos + 32] = bad.to_bytes(32, "little")
        original = bytes(raw)
        buf, arr = cbuf(original)
        shift = ffi.new("zka_fr *")
        shift.b[0] = 3
        runs: list[tuple[Any, tuple[Any, ...]]] = [
            (lib.zka_ntt_forward, (arr, n, d._ptr, 2)),
            (lib.zka_ntt_inverse, (arr, n, d._ptr, 2)),
            (lib.zka_ntt_coset_forward, (arr, n, d._ptr, shift, 2)),
            (lib.zka_ntt_coset_inverse, (arr, n, d._ptr, shift, 2)),
        ]
        for fn, args in runs:
            assert fn(*args) == lib.ZKA_ERR_NONCANONICAL
            assert bytes(ffi.buffer(buf)) == original
        with pytest.raises(errors.NonCanonicalEncoding):
            d.forward(original, 1)


def test_bad_shift() -> None:
    d = dom(3)
    data = enc(rand_values(8, 1))
    with pytest.raises(errors.NonCanonicalEncoding):
        d.coset_forward(data, enc([R]), 1)
    with pytest.raises(errors.NonCanonicalEncoding):
        d.coset_inverse(data, enc([R + 5]), 1)
    with pytest.raises(errors.NotInvertible):
        d.coset_inverse(data, enc([0]), 1)
    with pytest.raises(errors.InvalidLength):
        d.coset_forward(data, b"\x01" * 31, 1)
    buf, arr = cbuf(data)
    zero = ffi.new("zka_fr *")
    assert lib.zka_ntt_coset_inverse(arr, 8, d._ptr, zero, 1) == lib.ZKA_ERR_NOT_INVERTIBLE
    assert bytes(ffi.buffer(buf)) == data


def test_null_pointers() -> None:
    d = dom(0)
    one = ffi.new("zka_fr *")
    assert lib.zka_ntt_domain_new(ffi.NULL, 3) == lib.ZKA_ERR_NULL
    assert lib.zka_ntt_domain_omega(ffi.NULL, d._ptr) == lib.ZKA_ERR_NULL
    assert lib.zka_ntt_domain_omega(one, ffi.NULL) == lib.ZKA_ERR_NULL
    assert lib.zka_ntt_forward(ffi.NULL, 1, d._ptr, 1) == lib.ZKA_ERR_NULL
    assert lib.zka_ntt_forward(one, 1, ffi.NULL, 1) == lib.ZKA_ERR_NULL
    assert lib.zka_ntt_coset_forward(one, 1, d._ptr, ffi.NULL, 1) == lib.ZKA_ERR_NULL
    assert lib.zka_ntt_coset_inverse(one, 1, d._ptr, ffi.NULL, 1) == lib.ZKA_ERR_NULL
