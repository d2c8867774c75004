"""OAuth errors: one exception carrying the RFC 6749 ``error`` code and HTTP status.

``error`` is a registered OAuth error code (RFC 6749 §5.2, RFC 6750 §3.1, RFC 8693,
RFC 8707 ``invalid_target``, RFC 9449 ``invalid_dpop_proof`` / ``use_dpop_nonce``);
``reason`` is a finer machine-readable cause (``htm_mismatch``, ``replayed_jti``...)
for logs, tests and problem details.  Descriptions never contain tokens, keys or
other secrets.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import errors

__all__ = ["OAuthError"]


class OAuthError(errors.InvalidInput):
    """A request failed OAuth validation.

    ``status`` is the HTTP status the service answers with (400 for token endpoint
    errors except ``invalid_client`` 401; 401 for resource requests without valid
    credentials; 403 ``insufficient_scope``/``access_denied``); ``headers`` are extra
    response headers (``WWW-Authenticate``, ``DPoP-Nonce``).
    """

    def __init__(
        self,
        error: str,
        description: str,
        *,
        reason: str | None = None,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.reason = reason or error
        self.status = status
        self.headers: dict[str, str] = dict(headers or {})
