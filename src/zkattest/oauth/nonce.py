"""Stateless DPoP server nonces (RFC 9449 §8, §9).

A nonce is ``base64url(counter || HMAC-SHA256(key, counter)[:16])`` where ``counter``
is ``floor(now / window)`` as 8 bytes, big-endian, two's complement.  Nothing is stored:
every replica holding the same key issues the same nonce in the same window and
accepts the others'.  A nonce is accepted during the window it was issued in and the
next one, so it lives between ``window`` and ``2 * window`` seconds.

The nonce only limits how long in advance a DPoP proof can be made; it is not secret
and is the same for every client in a window.  Replay of a proof is stopped by its
``jti`` (:func:`.dpop.check_dpop`), not by the nonce.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import Final

from .. import errors
from ..identity.jose import JoseError, b64url_decode, b64url_encode

__all__ = ["NonceIssuer"]

_COUNTER_LEN: Final = 8
_MAC_LEN: Final = 16
#: characters of an encoded nonce: 24 bytes of base64url
NONCE_LEN: Final = 32
#: shortest HMAC key accepted, in bytes
MIN_KEY_LEN: Final = 16


class NonceIssuer:
    """Issues and checks stateless DPoP nonces under an HMAC key."""

    __slots__ = ("_key", "_window")

    def __init__(self, key: bytes, *, window: int = 300) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_LEN:
            raise errors.InvalidParameter(f"the nonce key must be at least {MIN_KEY_LEN} bytes")
        if type(window) is not int or window <= 0:
            raise errors.InvalidParameter("the nonce window must be a positive integer")
        self._key = bytes(key)
        self._window = window

    @property
    def window(self) -> int:
        return self._window

    def _counter(self, now: float) -> int:
        return math.floor(now / self._window)

    def _mac(self, counter: bytes) -> bytes:
        return hmac.new(self._key, counter, hashlib.sha256).digest()[:_MAC_LEN]

    def issue(self, now: float) -> str:
        """The nonce of the window containing ``now``."""
        if not isinstance(now, int | float) or not math.isfinite(now):
            raise errors.InvalidParameter("now must be a finite number")
        try:
            counter = self._counter(now).to_bytes(_COUNTER_LEN, "big", signed=True)
        except OverflowError:
            raise errors.InvalidParameter("now is out of range") from None
        return b64url_encode(counter + self._mac(counter))

    def check(self, nonce: object, now: float) -> bool:
        """Whether ``nonce`` is well-formed, authentic (constant-time comparison) and
        was issued in the window containing ``now`` or the one before.  Never raises."""
        if not isinstance(nonce, str) or len(nonce) != NONCE_LEN:
            return False
        if not isinstance(now, int | float) or not math.isfinite(now):
            return False
        try:
            raw = b64url_decode(nonce)
        except JoseError:
            return False
        counter_bytes = raw[:_COUNTER_LEN]
        counter = int.from_bytes(counter_bytes, "big", signed=True)
        current = self._counter(now)
        if counter not in (current, current - 1):
            return False
        return hmac.compare_digest(raw[_COUNTER_LEN:], self._mac(counter_bytes))

    def __repr__(self) -> str:
        return f"NonceIssuer(window={self._window})"
