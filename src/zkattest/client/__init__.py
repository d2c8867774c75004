"""Clients of a zkattest service: OAuth (private_key_jwt + DPoP) for relying parties."""

from __future__ import annotations

from .oauth import OAuthSession, TokenError, client_assertion, dpop_proof

__all__ = ["OAuthSession", "TokenError", "client_assertion", "dpop_proof"]
