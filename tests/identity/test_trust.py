"""The trust-domain key file (race-safe creation, mode 0600, never overwritten) and the
SPIFFE trust bundle / JWKS documents."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey, KeySet

from zkattest import errors
from zkattest.identity import (
    EcKey,
    EcPublicKey,
    InsecureKeyFile,
    JoseError,
    SpiffeIdError,
    TrustBundle,
    TrustDomainKey,
    sign_compact,
)
from zkattest.identity import trust as trust_mod

TD = "zk.test"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------- key file


def test_create_then_load(tmp_path: Path) -> None:
    path = tmp_path / "data" / "trust-domain.key.pem"
    first = TrustDomainKey.load_or_create(path, TD)
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert first.kid == first.key.public().thumbprint()
    assert first.trust_domain == TD
    again = TrustDomainKey.load_or_create(str(path), TD)
    assert again.kid == first.kid
    assert again.key.public() == first.key.public()
    assert sorted(os.listdir(path.parent)) == [path.name]  # no temporary left behind
    assert "PRIVATE" not in repr(first)
    assert first.key.to_pem().decode().splitlines()[1] not in repr(first)


def test_mode_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "k.pem"
        TrustDomainKey.load_or_create(path, TD)
    finally:
        os.umask(old)
    assert mode(path) == 0o600


def _race_worker(paths: list[str], barrier: Any, out: Any) -> None:
    for p in paths:
        barrier.wait(timeout=120)
        out.put((p, TrustDomainKey.load_or_create(p, TD).kid))


def test_two_processes_create_at_once(tmp_path: Path) -> None:
    """Processes (spawned) start together on each of several fresh paths: for every
    path all of them end with the same key."""
    ctx = multiprocessing.get_context("spawn")
    nproc, paths = 3, [str(tmp_path / f"d{i}" / "key.pem") for i in range(12)]
    barrier = ctx.Barrier(nproc)
    out = ctx.Queue()
    procs = [ctx.Process(target=_race_worker, args=(paths, barrier, out)) for _ in range(nproc)]
    for p in procs:
        p.start()
    try:
        results = [out.get(timeout=180) for _ in range(nproc * len(paths))]
    finally:
        for p in procs:
            p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * nproc
    kids: dict[str, set[str]] = {}
    for path, kid in results:
        kids.setdefault(path, set()).add(kid)
    assert set(kids) == set(paths)
    for path, found in kids.items():
        assert len(found) == 1, path
        assert TrustDomainKey.load_or_create(path, TD).kid in found
        assert mode(Path(path)) == 0o600
        assert os.listdir(Path(path).parent) == ["key.pem"]


def test_threads_create_at_once(tmp_path: Path) -> None:
    paths = [tmp_path / f"k{i}.pem" for i in range(20)]
    with ThreadPoolExecutor(8) as pool:
        for path in paths:
            kids = set(pool.map(lambda p: TrustDomainKey.load_or_create(p, TD).kid, [path] * 8))
            assert len(kids) == 1
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)


def test_loser_loads_the_winners_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "k.pem"
    winner = EcKey.generate()
    real_create = trust_mod._create

    def lose(p: Path, pem: bytes) -> bool:
        assert real_create(p, winner.to_pem())  # another process gets there first
        return real_create(p, pem)

    monkeypatch.setattr(trust_mod, "_create", lose)
    assert TrustDomainKey.load_or_create(path, TD).kid == winner.public().thumbprint()


@pytest.mark.parametrize("code", [errno.EPERM, errno.ENOTSUP])
def test_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    def no_link(src: Any, dst: Any) -> None:
        raise OSError(code, "links not supported")

    monkeypatch.setattr(os, "link", no_link)
    path = tmp_path / "k.pem"
    kid = TrustDomainKey.load_or_create(path, TD).kid
    assert mode(path) == 0o600
    assert os.listdir(tmp_path) == ["k.pem"]
    assert TrustDomainKey.load_or_create(path, TD).kid == kid


def test_other_link_errors_propagate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(src: Any, dst: Any) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "link", broken)
    with pytest.raises(OSError):
        TrustDomainKey.load_or_create(tmp_path / "k.pem", TD)
    assert os.listdir(tmp_path) == []


def _pem(sk: Any) -> bytes:
    out: bytes = sk.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return out


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage\n",
        b"-----BEGIN PRIVATE KEY-----\n",
        _pem(ec.generate_private_key(ec.SECP256R1()))[:100],
        _pem(ec.generate_private_key(ec.SECP384R1())),
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        b"\x00" * 70_000,
    ],
)
def test_corrupted_key_file_is_an_error_and_kept(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(content)
    path.chmod(0o600)
    before = path.stat()
    with pytest.raises(errors.MalformedFile) as e:
        TrustDomainKey.load_or_create(path, TD)
    assert str(path) in str(e.value)
    assert isinstance(e.value, errors.ZkAttestError)
    assert path.read_bytes() == content
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert os.listdir(tmp_path) == ["k.pem"]


@pytest.mark.parametrize("bad_mode", [0o644, 0o640, 0o604, 0o660, 0o666, 0o601])
def test_insecure_mode_refused(tmp_path: Path, bad_mode: int) -> None:
    path = tmp_path / "k.pem"
    TrustDomainKey.load_or_create(path, TD)
    content = path.read_bytes()
    path.chmod(bad_mode)
    with pytest.raises(InsecureKeyFile) as e:
        TrustDomainKey.load_or_create(path, TD)
    assert isinstance(e.value, errors.ZkAttestError)
    assert isinstance(e.value, PermissionError)
    assert path.read_bytes() == content
    assert mode(path) == bad_mode


def test_owner_read_only_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    kid = TrustDomainKey.load_or_create(path, TD).kid
    path.chmod(0o400)
    assert TrustDomainKey.load_or_create(path, TD).kid == kid


def test_path_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(errors.MalformedFile):
        TrustDomainKey.load_or_create(tmp_path, TD)


def test_symlink_to_key_is_followed(tmp_path: Path) -> None:
    real = tmp_path / "real.pem"
    kid = TrustDomainKey.load_or_create(real, TD).kid
    link = tmp_path / "link.pem"
    link.symlink_to(real)
    assert TrustDomainKey.load_or_create(link, TD).kid == kid


@pytest.mark.parametrize("td", ["", "Zk.Test", "zk.test:80", "a/b"])
def test_bad_trust_domain(tmp_path: Path, td: str) -> None:
    with pytest.raises(SpiffeIdError):
        TrustDomainKey.load_or_create(tmp_path / "k.pem", td)
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- bundle


@pytest.fixture(scope="module")
def tdk(tmp_path_factory: pytest.TempPathFactory) -> TrustDomainKey:
    return TrustDomainKey.load_or_create(tmp_path_factory.mktemp("td") / "k.pem", TD)


@pytest.fixture(scope="module")
def bundle(tdk: TrustDomainKey) -> TrustBundle:
    return tdk.bundle(3, 300)


def test_spiffe_json_shape(tdk: TrustDomainKey, bundle: TrustBundle) -> None:
    jwk = tdk.key.public().jwk()
    doc = bundle.to_spiffe_json()
    assert doc == {
        "keys": [
            {
                "kty": "EC",
                "crv": "P-256",
                "x": jwk["x"],
                "y": jwk["y"],
                "kid": tdk.kid,
                "use": "jwt-svid",
            }
        ],
        "spiffe_sequence": 3,
        "spiffe_refresh_hint": 300,
    }
    assert list(doc) == ["keys", "spiffe_sequence", "spiffe_refresh_hint"]
    json.dumps(doc)


def test_jwks_shape_and_stock_libraries(tdk: TrustDomainKey, bundle: TrustBundle) -> None:
    doc = bundle.to_jwks()
    assert doc == {
        "keys": [
            {**tdk.key.public().jwk(), "kid": tdk.kid, "use": "sig", "alg": "ES256"},
        ]
    }
    tok = sign_compact({"hello": "world"}, tdk.key, typ="JWT", kid=tdk.kid)
    key = jwt.PyJWKSet.from_dict(doc)[tdk.kid]
    assert jwt.decode(tok, key, algorithms=["ES256"]) == {"hello": "world"}
    ks = KeySet.import_key_set(cast(Any, doc))
    assert ks.get_by_kid(tdk.kid).thumbprint() == tdk.kid


def test_bundle_extra_keys(tdk: TrustDomainKey) -> None:
    old = EcKey.generate().public()
    b = tdk.bundle(4, 60, extra_keys={old.thumbprint(): old})
    assert set(b.keys) == {tdk.kid, old.thumbprint()}
    assert b.key(old.thumbprint()) == old


def test_round_trip(bundle: TrustBundle) -> None:
    doc = bundle.to_spiffe_json()
    for data in (doc, json.dumps(doc), json.dumps(doc).encode()):
        again = TrustBundle.from_spiffe_json(TD, data)
        assert dict(again.keys) == dict(bundle.keys)
        assert (again.sequence, again.refresh_hint) == (3, 300)
        assert again.to_spiffe_json() == doc


def test_optional_sequence_and_hint(bundle: TrustBundle) -> None:
    doc = {"keys": bundle.to_spiffe_json()["keys"]}
    b = TrustBundle.from_spiffe_json(TD, doc)
    assert (b.sequence, b.refresh_hint) == (None, None)
    assert b.to_spiffe_json() == doc


def _entry(pub: EcPublicKey, **extra: Any) -> dict[str, Any]:
    return {**pub.jwk(), "kid": pub.thumbprint(), "use": "jwt-svid", **extra}


def test_ignored_entries(tdk: TrustDomainKey) -> None:
    pub = tdk.key.public()
    other = EcKey.generate().public()
    p384 = ECKey.generate_key("P-384").as_dict(private=False)
    doc = {
        "keys": [
            _entry(pub),
            {**_entry(other), "use": "x509-svid", "x5c": ["AAAA"]},  # x509 authority
            {k: v for k, v in _entry(other, kid="nouse").items() if k != "use"},  # no use
            _entry(other, use="sig", kid="sig"),  # unknown use
            _entry(other, use="JWT-SVID", kid="case"),  # use is case-sensitive
            {"kty": "RSA", "use": "jwt-svid", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {"kty": "OKP", "crv": "Ed25519", "use": "jwt-svid", "kid": "okp", "x": "AA"},
            {"kty": "oct", "use": "jwt-svid", "kid": "oct", "k": "AAAA"},
            {**p384, "use": "jwt-svid", "kid": "p384"},
            {"kty": "NEW", "use": "jwt-svid", "kid": "new"},
        ]
    }
    b = TrustBundle.from_spiffe_json(TD, doc)
    assert dict(b.keys) == {pub.thumbprint(): pub}


def _bad_docs(pub: EcPublicKey) -> list[Any]:
    e = _entry(pub)
    return [
        None,
        [],
        "not json",
        b"[1]",
        b'{"keys": [], "keys": []}',
        b"\xff",
        {},
        {"keys": None},
        {"keys": {"a": e}},
        {"keys": ["entry"]},
        {"keys": [{k: v for k, v in e.items() if k != "kty"}]},
        {"keys": [{**e, "kty": 5}]},
        {"keys": [{k: v for k, v in e.items() if k != "kid"}]},
        {"keys": [{**e, "kid": ""}]},
        {"keys": [{**e, "kid": 5}]},
        {"keys": [e, e]},
        {"keys": [{**e, "x": e["x"][:-1]}]},
        {"keys": [{k: v for k, v in e.items() if k != "crv"}]},
        {"keys": [{**e, "crv": 7}]},
        {"keys": [{**e, "d": "AAAA"}]},
        {"keys": [{**e, "alg": "RS256"}]},
        {"keys": [e], "spiffe_sequence": -1},
        {"keys": [e], "spiffe_sequence": "1"},
        {"keys": [e], "spiffe_sequence": True},
        {"keys": [e], "spiffe_sequence": 1.5},
        {"keys": [e], "spiffe_refresh_hint": -300},
        {"keys": [e], "spiffe_refresh_hint": "5m"},
    ]


def test_malformed_bundles(tdk: TrustDomainKey) -> None:
    for doc in _bad_docs(tdk.key.public()):
        with pytest.raises(JoseError):
            TrustBundle.from_spiffe_json(TD, doc)


def test_bundle_for_bad_trust_domain(bundle: TrustBundle) -> None:
    with pytest.raises(SpiffeIdError):
        TrustBundle.from_spiffe_json("Bad Domain", bundle.to_spiffe_json())


def test_resolve(tdk: TrustDomainKey, bundle: TrustBundle) -> None:
    assert bundle.resolve({"kid": tdk.kid}) == tdk.key.public()
    for header in ({}, {"kid": None}, {"kid": 5}, {"kid": "other"}, {"kid": [tdk.kid]}):
        with pytest.raises(JoseError) as e:
            bundle.resolve(header)
        assert e.value.reason == "unknown_kid"
    with pytest.raises(JoseError):
        bundle.key("nope")


def test_constructor_checks() -> None:
    pub = EcKey.generate().public()
    for keys in ({"": pub}, {5: pub}, {"k": "not a key"}):
        with pytest.raises(JoseError):
            TrustBundle(TD, keys)  # type: ignore[arg-type]
    with pytest.raises(JoseError):
        TrustBundle(TD, {"k": pub}, sequence=-1)
    with pytest.raises(SpiffeIdError):
        TrustBundle("", {"k": pub})


def test_keys_are_read_only(bundle: TrustBundle) -> None:
    with pytest.raises(TypeError):
        bundle.keys["x"] = EcKey.generate().public()  # type: ignore[index]


@pytest.fixture(autouse=True)
def _no_leftover_children() -> Iterator[None]:
    yield
    assert multiprocessing.active_children() == []
