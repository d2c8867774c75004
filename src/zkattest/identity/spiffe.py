"""SPIFFE IDs (SPIFFE-ID specification, github.com/spiffe/spiffe, standards/SPIFFE-ID.md).

``spiffe://<trust-domain><path>``: scheme exactly ``spiffe`` (lowercase); trust domain
non-empty, at most 255 bytes, only ``[a-z0-9._-]`` (so no uppercase, port, userinfo,
percent-encoding); path empty or ``/``-separated segments of ``[a-zA-Z0-9._-]``, none
empty, ``.`` or ``..`` (so no trailing slash); no query or fragment; the whole ID at
most 2048 bytes.  Parsing never normalises: a string is either exactly a SPIFFE ID's
canonical form or refused.

Our micro-agents are ``spiffe://<trust-domain>/agent/<task>/<agent-id>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from .jose import JoseError

__all__ = [
    "MAX_ID_BYTES",
    "MAX_TRUST_DOMAIN_BYTES",
    "SpiffeId",
    "SpiffeIdError",
    "validate_trust_domain",
]

MAX_ID_BYTES: Final = 2048
MAX_TRUST_DOMAIN_BYTES: Final = 255
_SCHEME: Final = "spiffe://"
_TRUST_DOMAIN: Final = re.compile(r"[a-z0-9._-]+")
_SEGMENT: Final = re.compile(r"[a-zA-Z0-9._-]+")


class SpiffeIdError(JoseError):
    """Not a valid SPIFFE ID or trust domain name (``reason`` "bad_spiffe_id")."""

    def __init__(self, detail: str) -> None:
        super().__init__("bad_spiffe_id", detail)


def validate_trust_domain(name: str) -> str:
    """Return ``name`` if it is a valid trust domain name, else raise :class:`SpiffeIdError`."""
    if not isinstance(name, str) or not name:
        raise SpiffeIdError("trust domain is empty or not a string")
    if len(name) > MAX_TRUST_DOMAIN_BYTES:
        raise SpiffeIdError(f"trust domain longer than {MAX_TRUST_DOMAIN_BYTES} bytes")
    if not name.isascii() or _TRUST_DOMAIN.fullmatch(name) is None:
        raise SpiffeIdError("trust domain may contain only a-z 0-9 . _ -")
    return name


def _validate_segment(segment: str) -> None:
    if not isinstance(segment, str) or not segment:
        raise SpiffeIdError("empty path segment")
    if not segment.isascii() or _SEGMENT.fullmatch(segment) is None:
        raise SpiffeIdError("path segment may contain only a-z A-Z 0-9 . _ -")
    if segment in (".", ".."):
        raise SpiffeIdError("path segment may not be '.' or '..'")


@dataclass(frozen=True, slots=True)
class SpiffeId:
    """A validated SPIFFE ID; ``str(id)`` is its canonical URI.

    ``path`` is ``""`` (the trust domain's own ID) or starts with ``/``.
    """

    trust_domain: str
    path: str = ""

    def __post_init__(self) -> None:
        validate_trust_domain(self.trust_domain)
        if not isinstance(self.path, str):
            raise SpiffeIdError("path must be a string")
        if self.path:
            if self.path[0] != "/":
                raise SpiffeIdError("path must start with '/'")
            for segment in self.path[1:].split("/"):
                _validate_segment(segment)
        if len(_SCHEME) + len(self.trust_domain) + len(self.path) > MAX_ID_BYTES:
            raise SpiffeIdError(f"SPIFFE ID longer than {MAX_ID_BYTES} bytes")

    @classmethod
    def parse(cls, text: str) -> SpiffeId:
        """Parse the canonical form; anything else raises :class:`SpiffeIdError`."""
        if not isinstance(text, str):
            raise SpiffeIdError("a SPIFFE ID is a str")
        if len(text) > MAX_ID_BYTES or not text.isascii():
            raise SpiffeIdError(f"SPIFFE ID is not ASCII of at most {MAX_ID_BYTES} bytes")
        if not text.startswith(_SCHEME):
            raise SpiffeIdError("scheme must be 'spiffe://'")
        trust_domain, slash, rest = text[len(_SCHEME) :].partition("/")
        return cls(trust_domain, slash + rest)

    @classmethod
    def agent(cls, trust_domain: str, task: str, agent_id: str) -> SpiffeId:
        """``spiffe://<trust_domain>/agent/<task>/<agent_id>``; ``task`` and
        ``agent_id`` are single path segments."""
        _validate_segment(task)
        _validate_segment(agent_id)
        return cls(trust_domain, f"/agent/{task}/{agent_id}")

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path[1:].split("/")) if self.path else ()

    def member_of(self, trust_domain: str) -> bool:
        return self.trust_domain == trust_domain

    def __str__(self) -> str:
        return f"{_SCHEME}{self.trust_domain}{self.path}"
