"""Errors of the state store.

Messages name tables, columns and constraints, never the values of a row (row values
include token hashes and attestations).
"""

from __future__ import annotations

from ..errors import ZkAttestError

__all__ = ["Conflict", "IncompatibleSchema", "StoreError", "StoreUnavailable"]


class StoreError(ZkAttestError):
    """The store failed to do what was asked."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or used right now (locked, I/O error, connection
    refused or lost, statement timed out, store closed).  Transient: the same call may
    succeed later (a PostgreSQL store's pool reconnects by itself)."""


class Conflict(StoreError):
    """A record could not be written because it collides with one already stored
    (duplicate id, request token hash, SPIFFE ID, SVID jti, ...)."""


class IncompatibleSchema(StoreError):
    """The database was written by a newer zkattest (its schema revision is unknown here)."""
