"""Credentials: issue (:class:`Issuer`), prove (:class:`Holder`) and check
(:class:`Verifier`) the statement of DESIGN.md ("The statement", circuit ``age_gte``).

A complete flow::

    keys = KeyStore()                    # $ZKATTEST_KEY_DIR or ~/.local/share/zkattest
    keys.dev_setup("age_gte")            # development keys, once (= zkattest setup age_gte)
    issuer, holder = Issuer.generate(), Holder()
    cred = issuer.issue({"birthdate": 20080229}, holder.commitment, expires=20300101)
    req = Request.age_gte(18, nonce="n-1", rp_scope="shop.example", today=20260301)
    pres = holder.present(cred, req, keys=keys)
    d = Verifier([issuer.public_key], keys=keys).check(pres, req)   # d.valid, d.result

Formats: :mod:`.credential` (canonical JSON, strings as field elements); slots:
:mod:`.schemas`; keys on disk: :mod:`.keystore`.  Secrets (holder secret, issuer
seed, attribute values) never appear in a ``repr``, an error message or a log line.
"""

from __future__ import annotations

from .credential import (
    N_ATTRS,
    Credential,
    CredentialError,
    Decision,
    ExpiredCredential,
    InvalidRequest,
    InvalidSignature,
    IssuerKey,
    MalformedCredential,
    Presentation,
    Reason,
    Request,
    WrongHolder,
    to_field,
)
from .holder import Holder
from .issuer import KTY, Issuer, read_public_key, verify_credential
from .keystore import KeyStore, MissingKeys, default_key_dir
from .schemas import PERSON, Schema
from .verifier import Verifier

__all__ = [
    "KTY",
    "N_ATTRS",
    "PERSON",
    "Credential",
    "CredentialError",
    "Decision",
    "ExpiredCredential",
    "Holder",
    "InvalidRequest",
    "InvalidSignature",
    "Issuer",
    "IssuerKey",
    "KeyStore",
    "MalformedCredential",
    "MissingKeys",
    "Presentation",
    "Reason",
    "Request",
    "Schema",
    "Verifier",
    "WrongHolder",
    "default_key_dir",
    "read_public_key",
    "to_field",
    "verify_credential",
]
