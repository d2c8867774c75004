"""Stateless DPoP nonces: the documented format, window arithmetic at its exact
boundaries, replicas sharing a key, and tampered / malformed nonces refused."""

from __future__ import annotations

import hashlib
import hmac
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest import errors
from zkattest.identity.jose import b64url_decode, b64url_encode
from zkattest.oauth.nonce import NonceIssuer

from .conftest import NOW

KEY = b"k" * 32
W = 300


def reference_nonce(key: bytes, counter: int) -> str:
    """The format the spec documents, computed independently."""
    c = counter.to_bytes(8, "big", signed=True)
    return b64url_encode(c + hmac.new(key, c, hashlib.sha256).digest()[:16])


def test_format_is_the_documented_one() -> None:
    n = NonceIssuer(KEY, window=W)
    nonce = n.issue(NOW)
    assert nonce == reference_nonce(KEY, math.floor(NOW / W))
    assert len(nonce) == 32 and len(b64url_decode(nonce)) == 24
    # constant within a window, different in the next
    start = math.floor(NOW / W) * W
    assert n.issue(start) == n.issue(start + W - 0.001) == nonce
    assert n.issue(start + W) != nonce


def test_current_and_previous_window_accepted_exactly() -> None:
    n = NonceIssuer(KEY, window=W)
    start = math.floor(NOW / W) * W
    nonce = n.issue(start)
    assert n.check(nonce, start)
    assert n.check(nonce, start + W - 0.001)  # same window
    assert n.check(nonce, start + W)  # next window
    assert n.check(nonce, start + 2 * W - 0.001)
    assert not n.check(nonce, start + 2 * W)  # two windows later
    assert not n.check(nonce, start - 0.001)  # issued "in the future"
    assert not n.check(n.issue(start + W), start)


def test_replicas_sharing_the_key_accept_each_other() -> None:
    a, b = NonceIssuer(KEY), NonceIssuer(bytearray(KEY))  # type: ignore[arg-type]
    assert b.check(a.issue(NOW), NOW) and a.check(b.issue(NOW), NOW)
    other = NonceIssuer(b"o" * 32)
    assert not other.check(a.issue(NOW), NOW)
    # the same key with another window size reads a different counter
    assert not NonceIssuer(KEY, window=60).check(a.issue(NOW), NOW)


def test_forged_counter_refused() -> None:
    n = NonceIssuer(KEY, window=W)
    raw = b64url_decode(n.issue(NOW - 3 * W))
    current = math.floor(NOW / W).to_bytes(8, "big", signed=True)
    # an old MAC under the current counter
    assert not n.check(b64url_encode(current + raw[8:]), NOW)
    # the right MAC, truncated differently
    full = hmac.new(KEY, current, hashlib.sha256).digest()
    assert n.check(b64url_encode(current + full[:16]), NOW)
    assert not n.check(b64url_encode(current + full[16:32]), NOW)
    assert not n.check(b64url_encode(current + full[:15]), NOW)


def test_negative_and_odd_times() -> None:
    n = NonceIssuer(KEY, window=W)
    assert n.check(n.issue(-1.5), -1.5)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(errors.InvalidParameter):
            n.issue(bad)
        assert not n.check(n.issue(NOW), bad)
    with pytest.raises(errors.InvalidParameter):
        n.issue(1e300)


@pytest.mark.parametrize(
    "nonce",
    [None, b"x" * 32, 123, "", "A" * 31, "A" * 33, "=" * 32, "A" * 31 + "=", " " * 32, "é" * 32],
)
def test_malformed_refused(nonce: object) -> None:
    assert NonceIssuer(KEY).check(nonce, NOW) is False


def test_non_canonical_trailing_bits_refused() -> None:
    n = NonceIssuer(KEY)
    good = n.issue(NOW)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 24 bytes = 32 characters exactly: no unused bits; any change of the last
    # character changes the MAC bytes
    for c in alphabet:
        if c != good[-1]:
            assert not n.check(good[:-1] + c, NOW)


@given(pos=st.integers(0, 31), ch=st.characters(codec="ascii"))
def test_any_single_change_refused(pos: int, ch: str) -> None:
    n = NonceIssuer(KEY)
    good = n.issue(NOW)
    bad = good[:pos] + ch + good[pos + 1 :]
    assert n.check(bad, NOW) is (bad == good)


@given(st.text(max_size=40) | st.binary(max_size=40))
def test_random_input_never_raises(value: object) -> None:
    assert NonceIssuer(KEY).check(value, NOW) in (False, True)


def test_constructor_validation() -> None:
    for key in (b"short", "k" * 32, None, b""):
        with pytest.raises(errors.InvalidParameter):
            NonceIssuer(key)  # type: ignore[arg-type]
    for window in (0, -1, 1.5, True, "300"):
        with pytest.raises(errors.InvalidParameter):
            NonceIssuer(KEY, window=window)  # type: ignore[arg-type]
    n = NonceIssuer(KEY, window=60)
    assert n.window == 60
    assert "k" * 16 not in repr(n)
