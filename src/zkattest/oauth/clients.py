"""The client registry: a JSON (or read-only TOML) file of registered OAuth clients.

Format (``clients.json``; members other than these are refused, so a typo is an
error rather than a silently ignored setting)::

    {"clients": [
      {"client_id": "shop",                      # [A-Za-z0-9._~-]{1,64}; no ':'
       "name": "Ticket shop",                    # optional, default: the client_id
       "kind": "agent",                          # "agent" (default) or "person"
       "jwks": {"keys": [<public JWK>, ...]},    # 1..32 public keys (identity.jwk)
       "predicates": ["age_gte"],                # predicate ids it may ask
       "audiences": ["https://shop.example"],    # RP audiences it may name
       "delegates": ["agent-7"],                 # clients that may act for it
       "approvers": ["alice-phone"],             # clients that may approve its step-ups
       "approver": false,                        # it may hold the "approve" scope
       "admin": false}                           # it may hold the "audit" scope
    ]}

A ``.toml`` file with the same structure (``[[clients]]`` tables) is read too, but
never written: :meth:`ClientRegistry.add` and :meth:`ClientRegistry.remove` refuse it.

Checks here are syntactic.  Predicate ids must look like ids
(``[a-z][a-z0-9_]{0,31}``); whether the service knows such a predicate is the
service's check (this layer imports nothing above it).  Delegates and approvers are
client ids and may name clients not registered yet.  Audiences are absolute URIs
(``http``/``https`` ones with a host) without a fragment.

:meth:`ClientRegistry.get` costs one ``os.stat`` per call; when the file changed
(device, inode, size, mtime or ctime) it is read again.  A file that became invalid
is logged (``zkattest.oauth``, a warning without key material) and the last good
registry stays in force; a file that disappeared means no clients.

Writers take an exclusive ``flock`` on ``<file>.lock``, re-read the file under it,
write a temporary file in the same directory (mode 0600), ``fsync`` it, rename it
over the registry and ``fsync`` the directory: readers see the old or the new
file, never a torn one, and concurrent writers (two CLI invocations) lose nothing.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import json
import logging
import os
import re
import tempfile
import threading
import tomllib
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Literal, NoReturn

from .. import errors
from ..identity.jose import JoseError
from ..identity.jwk import Jwks
from .base import Client

__all__ = [
    "CLIENT_ID",
    "PREDICATE_ID",
    "ClientRegistry",
    "ClientRegistryError",
    "client_from_json",
    "client_to_json",
]

#: a client id: RFC 3986 unreserved characters (no ':' — ids appear in Cedar entity ids)
CLIENT_ID: Final = re.compile(r"[A-Za-z0-9._~-]{1,64}")
#: what a predicate id looks like (the service checks that it exists)
PREDICATE_ID: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: largest registry file read, in bytes
MAX_FILE_SIZE: Final = 4 * 1024 * 1024
#: most entries in one list field (predicates, audiences, delegates, approvers)
MAX_LIST: Final = 256
_MAX_NAME: Final = 128
_MAX_URI: Final = 2048
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_FIELDS: Final = frozenset(
    {
        "client_id",
        "name",
        "kind",
        "jwks",
        "predicates",
        "audiences",
        "delegates",
        "approvers",
        "approver",
        "admin",
    }
)
_KINDS: Final = ("agent", "person")
_log = logging.getLogger("zkattest.oauth")

_Sig = tuple[int, int, int, int, int]


class ClientRegistryError(errors.InvalidParameter):
    """The registry file (or a client record) is invalid; the message names the file,
    the client and the field, never key material."""


class _Bad(Exception):
    """Internal: one field is invalid (the message names the field)."""


# --------------------------------------------------------------------------- records


def _printable(s: str) -> bool:
    return s.isprintable()


def _str_list(obj: Mapping[str, Any], field: str, check: Callable[[str], str | None]) -> list[str]:
    value = obj.get(field, [])
    if not isinstance(value, list):
        raise _Bad(f"{field}: must be a list of strings")
    if len(value) > MAX_LIST:
        raise _Bad(f"{field}: more than {MAX_LIST} entries")
    seen: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _Bad(f"{field}[{i}]: must be a string")
        problem = check(item)
        if problem is not None:
            raise _Bad(f"{field}[{i}]: {problem}")
        if item in seen:
            raise _Bad(f"{field}[{i}]: duplicate {item!r}")
        seen.add(item)
    return value


def _check_predicate(p: str) -> str | None:
    if PREDICATE_ID.fullmatch(p) is None:
        return "a predicate id is [a-z][a-z0-9_]{0,31}"
    return None


def _check_client_ref(c: str) -> str | None:
    if CLIENT_ID.fullmatch(c) is None:
        return "a client id is 1..64 of A-Z a-z 0-9 . _ ~ -"
    return None


def _check_audience(a: str) -> str | None:
    if not 0 < len(a) <= _MAX_URI:
        return f"an audience is 1..{_MAX_URI} characters"
    if not a.isascii() or not a.isprintable() or " " in a:
        return "an audience is a URI (printable ASCII, no spaces)"
    scheme, colon, rest = a.partition(":")
    if not colon or _SCHEME.fullmatch(scheme) is None or not rest:
        return "an audience is an absolute URI (scheme:...)"
    if "#" in a:
        return "an audience has no fragment"
    if scheme.lower() in ("http", "https"):
        try:
            parts = urllib.parse.urlsplit(a)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            return "an http(s) audience must be a valid URL"
        if not rest.startswith("//") or not parts.hostname:
            return "an http(s) audience needs a host"
    return None


def _fields(obj: Mapping[str, Any]) -> Client:
    unknown = sorted(set(obj) - _FIELDS)
    if unknown:
        raise _Bad(f"{unknown[0]}: unknown field")
    cid = obj["client_id"]
    name = obj.get("name", cid)
    if not isinstance(name, str) or not 0 < len(name) <= _MAX_NAME or not _printable(name):
        raise _Bad(f"name: must be 1..{_MAX_NAME} printable characters")
    kind = obj.get("kind", "agent")
    if kind not in _KINDS:
        raise _Bad('kind: must be "agent" or "person"')
    if "jwks" not in obj:
        raise _Bad("jwks: missing (a JWK Set of the client's public keys)")
    raw_jwks = obj["jwks"]
    if not isinstance(raw_jwks, Mapping):
        raise _Bad('jwks: must be a JWK Set object {"keys": [...]}')
    try:
        jwks = Jwks.from_json(raw_jwks)
    except JoseError as e:
        raise _Bad(f"jwks: {e}") from None
    predicates = _str_list(obj, "predicates", _check_predicate)
    audiences = _str_list(obj, "audiences", _check_audience)
    delegates = _str_list(obj, "delegates", _check_client_ref)
    approvers = _str_list(obj, "approvers", _check_client_ref)
    if cid in delegates:
        raise _Bad("delegates: a client cannot be its own delegate")
    if cid in approvers:
        raise _Bad("approvers: a client cannot approve its own requests")
    approver = obj.get("approver", False)
    if type(approver) is not bool:
        raise _Bad("approver: must be true or false")
    admin = obj.get("admin", False)
    if type(admin) is not bool:
        raise _Bad("admin: must be true or false")
    k: Literal["agent", "person"] = "person" if kind == "person" else "agent"
    return Client(
        client_id=cid,
        name=name,
        jwks=jwks,
        kind=k,
        predicates=frozenset(predicates),
        audiences=frozenset(audiences),
        delegates=frozenset(delegates),
        approvers=frozenset(approvers),
        approver=approver,
        admin=admin,
    )


def _client_id_of(obj: object) -> str:
    if not isinstance(obj, Mapping):
        raise _Bad("must be an object")
    cid = obj.get("client_id")
    if not isinstance(cid, str) or CLIENT_ID.fullmatch(cid) is None:
        raise _Bad("client_id: missing, or not 1..64 of A-Z a-z 0-9 . _ ~ -")
    return cid


def client_from_json(obj: Mapping[str, Any]) -> Client:
    """One registry entry as a :class:`Client`; raises :class:`ClientRegistryError`
    naming the client and the field."""
    try:
        cid = _client_id_of(obj)
    except _Bad as e:
        raise ClientRegistryError(f"client: {e}") from None
    try:
        return _fields(obj)
    except _Bad as e:
        raise ClientRegistryError(f"client {cid!r}: {e}") from None


def client_to_json(client: Client) -> dict[str, Any]:
    """The registry entry of ``client`` (lists sorted, every field present)."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "kind": client.kind,
        "jwks": client.jwks.to_json(),
        "predicates": sorted(client.predicates),
        "audiences": sorted(client.audiences),
        "delegates": sorted(client.delegates),
        "approvers": sorted(client.approvers),
        "approver": client.approver,
        "admin": client.admin,
    }


_MAX_NESTING = 64
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'[^'\n]*'")
_BRACKETS = re.compile(r"[\[\]{}]")


def _nesting(text: str) -> int:
    """The deepest bracket nesting outside string literals (an upper bound is all we
    need: a registry nests 5 levels)."""
    depth = deepest = 0
    for m in _BRACKETS.finditer(_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _parse(data: bytes, *, toml: bool, source: str) -> dict[str, Client]:
    def fail(msg: str) -> NoReturn:
        raise ClientRegistryError(f"{source}: {msg}")

    if len(data) > MAX_FILE_SIZE:
        fail(f"larger than {MAX_FILE_SIZE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fail("not UTF-8 text")
    if _nesting(text) > _MAX_NESTING:
        # refuse before any recursive decoder sees it: the C JSON scanner can overflow
        # the C stack when the interpreter's recursion limit has been raised
        fail(f"not valid JSON or TOML: nested deeper than {_MAX_NESTING} levels")
    top: object
    if toml:
        try:
            top = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            fail(f"not valid TOML ({e})")
        except RecursionError:
            fail("not valid TOML")
    else:
        try:
            top = json.loads(text, object_pairs_hook=_unique)
        except _Duplicate as e:
            fail(f"duplicate member name {e}")
        except json.JSONDecodeError as e:
            fail(f"not valid JSON (line {e.lineno}, column {e.colno})")
        except (ValueError, RecursionError):
            fail("not valid JSON")
    if not isinstance(top, dict):
        fail('the registry is an object {"clients": [...]}')
    if not set(top) <= {"clients"}:
        fail(f"unknown top-level member {sorted(set(top) - {'clients'})[0]!r}")
    entries = top.get("clients", [])
    if not isinstance(entries, list):
        fail('"clients" must be a list')
    clients: dict[str, Client] = {}
    for i, entry in enumerate(entries):
        try:
            cid = _client_id_of(entry)
        except _Bad as e:
            fail(f"client #{i + 1}: {e}")
        if cid in clients:
            fail(f"client {cid!r}: client_id: registered twice")
        try:
            clients[cid] = _fields(entry)
        except _Bad as e:
            fail(f"client {cid!r}: {e}")
    return clients


class _Duplicate(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _Duplicate(repr(k))
            seen.add(k)
    return d


def _dump(clients: Mapping[str, Client]) -> bytes:
    doc = {"clients": [client_to_json(clients[c]) for c in sorted(clients)]}
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _sig(st: os.stat_result) -> _Sig:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


# --------------------------------------------------------------------------- registry


class ClientRegistry:
    """The registered clients, from ``path`` (``.json``, or ``.toml`` read-only).

    ``get`` is a :data:`~zkattest.oauth.base.ClientLookup`.  Thread-safe.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._toml = self._path.suffix.lower() == ".toml"
        self._lock = threading.Lock()
        self._clients: dict[str, Client] = {}
        #: the file state the cache reflects (``None``: no file); ``False``: never read
        self._seen: _Sig | Literal[False] | None = False

    @property
    def path(self) -> Path:
        return self._path

    @property
    def lock_path(self) -> Path:
        return self._path.with_name(self._path.name + ".lock")

    # ---------------------------------------------------------------- reading
    def _stat(self) -> _Sig | None:
        try:
            return _sig(os.stat(self._path))
        except FileNotFoundError:
            return None

    def _read(self) -> tuple[_Sig | None, dict[str, Client]]:
        """The file as it is now (missing: no clients).  Raises ClientRegistryError."""
        try:
            with open(self._path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_size > MAX_FILE_SIZE:
                    raise ClientRegistryError(f"{self._path}: larger than {MAX_FILE_SIZE} bytes")
                data = f.read(MAX_FILE_SIZE + 1)
        except FileNotFoundError:
            return None, {}
        except OSError as e:
            raise ClientRegistryError(f"cannot read {self._path}: {e.strerror or e}") from None
        return _sig(st), _parse(data, toml=self._toml, source=str(self._path))

    def load(self) -> None:
        """Read the file now; raise :class:`ClientRegistryError` if it is invalid (the
        cached registry is then unchanged).  A missing file is an empty registry."""
        sig, clients = self._read()
        with self._lock:
            self._clients, self._seen = clients, sig

    def _refresh(self) -> None:
        sig = self._stat()
        if sig == self._seen:
            return
        with self._lock:
            if sig == self._seen:
                return
            try:
                new_sig, clients = self._read()
            except ClientRegistryError as e:
                # keep the last good registry; say so once per change of the file
                self._seen = sig
                _log.warning("client registry not reloaded, keeping the previous one: %s", e)
                return
            self._clients, self._seen = clients, new_sig

    def get(self, client_id: str) -> Client | None:
        """The client ``client_id``, or ``None``; re-reads the file if it changed."""
        self._refresh()
        if not isinstance(client_id, str):
            return None
        return self._clients.get(client_id)

    def list(self) -> builtins.list[Client]:
        """Every client, sorted by id (re-reads the file if it changed)."""
        self._refresh()
        clients = self._clients
        return [clients[c] for c in sorted(clients)]

    # ---------------------------------------------------------------- writing
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._toml:
            raise ClientRegistryError(
                f"{self._path} is a TOML registry: zkattest reads TOML but writes only "
                "JSON; edit it by hand, or move the clients to a .json file"
            )
        parent = self._path.parent
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _write(self, clients: Mapping[str, Client]) -> None:
        data = _dump(clients)
        parent = self._path.parent
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{self._path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def _update(self, change: Callable[[dict[str, Client]], bool]) -> bool:
        with self._locked():
            _, clients = self._read()  # the file as it is now, not our cache
            changed = change(clients)
            if changed:
                self._write(clients)
            sig = self._stat()
        with self._lock:
            self._clients, self._seen = clients, sig
        return changed

    def add(self, client: Client, *, replace: bool = False) -> None:
        """Register ``client`` (validated like a file entry).  An existing id raises
        :class:`ClientRegistryError` unless ``replace``."""
        if not isinstance(client, Client):
            raise ClientRegistryError("add() takes a Client")
        checked = client_from_json(client_to_json(client))

        def change(clients: dict[str, Client]) -> bool:
            if checked.client_id in clients and not replace:
                raise ClientRegistryError(
                    f"client {checked.client_id!r} is already registered in {self._path}"
                )
            clients[checked.client_id] = checked
            return True

        self._update(change)

    def remove(self, client_id: str) -> bool:
        """Unregister ``client_id``; ``False`` if it was not registered."""

        def change(clients: dict[str, Client]) -> bool:
            return clients.pop(client_id, None) is not None

        return self._update(change)
