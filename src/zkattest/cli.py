"""The ``zkattest`` command: Groth16 setup, prove and verify over snarkjs-compatible files.

Exit status: 0 success (``verify``: the proof is valid; ``check``: a valid decision,
yes or no), 1 ``verify``: the proof is invalid, ``check``: the presentation is
invalid, 2 usage error or unreadable/malformed input (one line on stderr saying why).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__, errors

__all__ = ["main"]

_NAME = re.compile(r"[a-z_][a-z0-9_]*")

_DESCRIPTION = """\
Zero-knowledge proofs (Groth16 over BN254) with files snarkjs reads and writes:
.r1cs and .wtns (iden3), .zkey (proving key), verification_key.json, proof.json,
public.json.

  zkattest setup age_gte --out keys/          # development keys for a circuit
  zkattest prove --zkey keys/circuit.zkey --circuit age_gte --input input.json \\
                 --proof proof.json --public public.json
  zkattest verify --vk keys/verification_key.json --public public.json --proof proof.json

Credentials (keys of built-in circuits in the key store: $ZKATTEST_KEY_DIR, else
$XDG_DATA_HOME/zkattest or ~/.local/share/zkattest; fill it with `zkattest setup age_gte`):

  zkattest keygen --issuer issuer.json --public issuer.pub.json
  zkattest keygen --holder holder.json          # prints the holder commitment
  zkattest issue --key issuer.json --holder holder.json --birthdate 20080229 \\
                 --expires 20300101 --out cred.json
  zkattest request --min-age 18 --nonce N --scope shop.example --out request.json
  zkattest present --holder holder.json --credential cred.json --request request.json \\
                   --out presentation.json
  zkattest check --issuer issuer.pub.json --request request.json \\
                 --presentation presentation.json   # prints the decision as JSON

Exit status: 0 ok (verify: valid; check: a valid yes or no), 1 verify: invalid
proof, check: invalid presentation, 2 usage error or malformed input.
Threads: $ZKATTEST_THREADS (default: all cores).
"""


class _Fail(Exception):
    """A user-facing error: one line, exit status 2."""


def _builtin_names() -> list[str]:
    try:
        pkg = importlib.import_module("zkattest.circuits")
    except ImportError:  # pragma: no cover - broken install
        return []
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.ispkg)


def _builtin(name: str) -> Any:
    """The compiled built-in circuit ``name`` (a CompiledCircuit)."""
    names = _builtin_names()
    if not _NAME.fullmatch(name) or name not in names:
        raise _Fail(f"unknown circuit {name!r} (built-in: {', '.join(names) or 'none'})")
    mod = importlib.import_module(f"zkattest.circuits.{name}")
    compiled = getattr(mod, "compiled", None)
    if not callable(compiled):
        raise _Fail(f"zkattest.circuits.{name} has no compiled()")
    return compiled()


def _info(msg: str) -> None:
    print(msg, file=sys.stderr)


# ---------------------------------------------------------------- setup
def _cmd_setup(args: argparse.Namespace) -> int:
    from .circuit import dump_r1cs, load_r1cs
    from .groth16 import circuit_id, dev_setup, write_verification_key, write_zkey

    src = args.circuit
    path = Path(src)
    if src.endswith(".r1cs") or path.exists():
        try:
            r1cs_bytes = path.read_bytes()
        except OSError as e:
            raise _Fail(f"cannot read {src}: {e.strerror or e}") from None
        r1cs = load_r1cs(r1cs_bytes)
    else:
        r1cs = _builtin(src).r1cs
        r1cs_bytes = dump_r1cs(r1cs)
    if args.out is None:
        return _setup_keystore(args)
    out = Path(args.out)
    targets = [out / "circuit.r1cs", out / "circuit.zkey", out / "verification_key.json"]
    if not args.force:
        existing = [str(t) for t in targets if t.exists()]
        if existing:
            raise _Fail(f"{existing[0]} exists (use --force to overwrite)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _Fail(f"cannot create {out}: {e.strerror or e}") from None
    t0 = time.perf_counter()
    pk, vk = dev_setup(r1cs, progress=None if not args.quiet else False)
    cid = circuit_id(r1cs_bytes)
    vk = vk.with_circuit_id(cid)
    try:
        targets[0].write_bytes(r1cs_bytes)
        write_zkey(targets[1], pk)
        write_verification_key(targets[2], vk)
    except OSError as e:
        raise _Fail(f"cannot write to {out}: {e.strerror or e}") from None
    if not args.quiet:
        _info(
            f"{r1cs.n_constraints} constraints, {r1cs.n_wires} wires, {r1cs.n_public} public, "
            f"domain 2^{pk.log_domain}; setup {time.perf_counter() - t0:.2f} s"
        )
        _info(f"circuit_id {cid}")
        _info("development keys (single-party setup): do not use them in production")
        for t in targets:
            print(t)
    return 0


def _setup_keystore(args: argparse.Namespace) -> int:
    from .credentials import KeyStore

    name = args.circuit
    if name not in _builtin_names() or not _NAME.fullmatch(name):
        raise _Fail(f"the key store holds built-in circuits only; use --out DIR for {name}")
    store = KeyStore(args.keystore)
    if store.has(name) and not args.force:
        raise _Fail(f"{store.path} already has keys for {name} (use --force to overwrite)")
    t0 = time.perf_counter()
    try:
        vk = store.dev_setup(name, force=True)
    except OSError as e:
        raise _Fail(f"cannot write to {store.path}: {e.strerror or e}") from None
    if not args.quiet:
        _info(f"setup {time.perf_counter() - t0:.2f} s; circuit_id {vk.circuit_id}")
        _info("development keys (single-party setup): do not use them in production")
        for t in store.files(name):
            print(t)
    return 0


# ---------------------------------------------------------------- credentials
def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise _Fail(f"cannot read {what} {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise _Fail(f"{what} {path} is not UTF-8 text") from None


def _write(path: str, data: bytes, *, secret: bool = False) -> None:
    try:
        if secret:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data + b"\n")
        else:
            Path(path).write_bytes(data + b"\n")
    except FileExistsError:
        raise _Fail(f"{path} exists (refusing to overwrite a secret)") from None
    except OSError as e:
        raise _Fail(f"cannot write {path}: {e.strerror or e}") from None


def _cmd_keygen(args: argparse.Namespace) -> int:
    from .credentials import Holder, Issuer

    if (args.issuer is None) == (args.holder is None):
        raise _Fail("give exactly one of --issuer FILE or --holder FILE")
    if args.holder is not None:
        holder = Holder()
        _write(args.holder, holder.to_json(), secret=True)
        print(holder.commitment)
        return 0
    if args.seed is not None:
        try:
            seed = bytes.fromhex(_read_text(args.seed, "seed file").strip())
        except ValueError:
            raise _Fail(f"{args.seed}: expected 64 hex digits") from None
        issuer = Issuer(seed)
    else:
        issuer = Issuer.generate()
    try:
        issuer.save(args.issuer)
    except FileExistsError:
        raise _Fail(f"{args.issuer} exists (refusing to overwrite a secret)") from None
    if args.public is not None:
        _write(args.public, json.dumps(issuer.key_file(private=False), indent=1).encode())
    return 0


def _cmd_issue(args: argparse.Namespace) -> int:
    from .credentials import Holder, Issuer

    issuer = Issuer.load(args.key)
    if (args.commitment is None) == (args.holder is None):
        raise _Fail("give exactly one of --commitment C or --holder holder.json")
    if args.holder is not None:
        commitment = Holder.from_json(_read_text(args.holder, "holder file")).commitment
    else:
        if not re.fullmatch(r"0|[1-9][0-9]{0,77}", args.commitment):
            raise _Fail("--commitment must be a decimal field element")
        commitment = int(args.commitment)
    attributes: dict[str, int] = {"birthdate": args.birthdate}
    for item in args.attr or []:
        name, sep, value = item.partition("=")
        if not sep or not value.isdigit():
            raise _Fail(f"--attr expects NAME=INTEGER (attribute {name!r})")
        attributes[name] = int(value)
    cred = issuer.issue(attributes, commitment, args.expires)
    _write(args.out, cred.to_json())
    return 0


def _cmd_request(args: argparse.Namespace) -> int:
    from .credentials import Request

    req = Request.age_gte(args.min_age, nonce=args.nonce, rp_scope=args.scope, today=args.today)
    _write(args.out, req.to_json())
    return 0


def _cmd_present(args: argparse.Namespace) -> int:
    from .credentials import Credential, Holder, KeyStore, Request

    holder = Holder.from_json(_read_text(args.holder, "holder file"))
    cred = Credential.from_json(_read_text(args.credential, "credential"))
    req = Request.from_json(_read_text(args.request, "request"))
    pres = holder.present(cred, req, keys=KeyStore(args.keystore))
    _write(args.out, pres.to_json())
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .credentials import KeyStore, Presentation, Request, Verifier, read_public_key

    issuers = [read_public_key(p) for p in args.issuer]
    req = Request.from_json(_read_text(args.request, "request"))
    pres = Presentation.from_json(_read_text(args.presentation, "presentation"))
    verifier = Verifier(issuers, keys=KeyStore(args.keystore), max_skew_days=args.max_skew_days)
    d = verifier.check(pres, req)
    print(
        json.dumps(
            {
                "valid": d.valid,
                "result": d.result,
                "reason": None if d.reason is None else str(d.reason),
                "nullifier": None if d.nullifier is None else str(d.nullifier),
            }
        )
    )
    return 0 if d.valid else 1


# ---------------------------------------------------------------- prove
def _cmd_prove(args: argparse.Namespace) -> int:
    from .circuit import read_wtns
    from .groth16 import prove, read_zkey, write_proof, write_public

    if (args.witness is None) == (args.input is None):
        raise _Fail("give exactly one of --witness W.wtns or --input input.json")
    if args.input is not None and args.circuit is None:
        raise _Fail("--input needs --circuit NAME (a built-in circuit)")
    pk = read_zkey(args.zkey)
    if args.witness is not None:
        witness = read_wtns(args.witness)
    else:
        cc = _builtin(args.circuit)
        if (cc.r1cs.n_wires, cc.r1cs.n_public) != (pk.n_vars, pk.n_public):
            raise _Fail(f"{args.zkey} is not a key for circuit {args.circuit}")
        try:
            inputs = json.loads(Path(args.input).read_text(encoding="utf-8"))
        except OSError as e:
            raise _Fail(f"cannot read {args.input}: {e.strerror or e}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise _Fail(f"{args.input} is not valid JSON ({e})") from None
        if not isinstance(inputs, dict):
            raise _Fail(f"{args.input}: expected a JSON object of named inputs")
        witness = cc.solve(inputs)
    if len(witness) != pk.n_vars:
        raise _Fail(f"the witness has {len(witness)} values, the key expects {pk.n_vars}")
    t0 = time.perf_counter()
    proof, public = prove(pk, witness, nthreads=args.threads)
    dt = time.perf_counter() - t0
    try:
        write_proof(args.proof, proof)
        write_public(args.public, public)
    except OSError as e:
        raise _Fail(f"cannot write output: {e.strerror or e}") from None
    if not args.quiet:
        _info(f"proved in {dt * 1000:.1f} ms; {len(public)} public signals")
    return 0


# ---------------------------------------------------------------- verify
def _cmd_verify(args: argparse.Namespace) -> int:
    from .groth16 import read_proof, read_public, read_verification_key, verify

    vk = read_verification_key(args.vk)
    public = read_public(args.public)
    proof = read_proof(args.proof)
    if len(public) != vk.n_public:
        raise _Fail(f"{args.public} has {len(public)} signals, the key expects {vk.n_public}")
    if args.circuit_id is not None and vk.circuit_id != args.circuit_id:
        print(f"invalid: the key is for circuit {vk.circuit_id or '(unrecorded)'}")
        return 1
    if verify(vk, public, proof):
        print("valid")
        return 0
    print("invalid: the proof does not verify for these public signals")
    return 1


# ---------------------------------------------------------------- parser
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zkattest",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"zkattest {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser(
        "setup",
        help="make development Groth16 keys for a circuit",
        description=(
            "Run a single-party Groth16 setup (FOR DEVELOPMENT ONLY: one process knows "
            "the toxic waste while it runs; production keys come from a multi-party "
            "ceremony, e.g. a snarkjs .zkey).  Writes DIR/circuit.r1cs, DIR/circuit.zkey "
            "(the proving key, snarkjs format) and DIR/verification_key.json (snarkjs "
            "format plus the circuit_id, sha256 of the .r1cs).  Without --out, a "
            "built-in circuit's keys go to the key store as NAME.r1cs, NAME.zkey and "
            "NAME.verification_key.json, where the credential commands find them."
        ),
    )
    s.add_argument(
        "circuit",
        metavar="CIRCUIT",
        help="a built-in circuit name (" + ", ".join(_builtin_names()) + ") or a .r1cs file",
    )
    s.add_argument(
        "--out",
        metavar="DIR",
        help="output directory (default: the key store, for a built-in circuit)",
    )
    s.add_argument(
        "--keystore",
        metavar="DIR",
        help="key store directory when --out is not given (default: $ZKATTEST_KEY_DIR, "
        "else $XDG_DATA_HOME/zkattest or ~/.local/share/zkattest)",
    )
    s.add_argument("--force", action="store_true", help="overwrite existing files")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress or summary")
    s.set_defaults(func=_cmd_setup)

    pr = sub.add_parser(
        "prove",
        help="make a proof from a proving key and a witness",
        description=(
            "Prove with a .zkey (ours or snarkjs's).  The witness is either a full "
            ".wtns file (--witness, e.g. from circom's witness generator) or, for a "
            "built-in circuit, computed here from named inputs (--input input.json with "
            "--circuit NAME).  Writes proof.json and public.json in snarkjs format."
        ),
    )
    pr.add_argument("--zkey", required=True, metavar="K", help="proving key (.zkey)")
    pr.add_argument("--witness", metavar="W.wtns", help="full witness (.wtns)")
    pr.add_argument("--input", metavar="input.json", help="named inputs of a built-in circuit")
    pr.add_argument("--circuit", metavar="NAME", help="the built-in circuit of --input")
    pr.add_argument("--proof", required=True, metavar="proof.json", help="proof output")
    pr.add_argument("--public", required=True, metavar="public.json", help="public signals output")
    pr.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    pr.add_argument("-q", "--quiet", action="store_true", help="no timing summary")
    pr.set_defaults(func=_cmd_prove)

    v = sub.add_parser(
        "verify",
        help="check a proof against a verification key and public signals",
        description=(
            "Verify a Groth16 proof (snarkjs JSON files).  Prints 'valid' and exits 0, "
            "or prints 'invalid: why' and exits 1; malformed files exit 2.  With "
            "--circuit-id, the key must record that circuit identity."
        ),
    )
    v.add_argument("--vk", required=True, metavar="verification_key.json", help="verifying key")
    v.add_argument("--public", required=True, metavar="public.json", help="public signals")
    v.add_argument("--proof", required=True, metavar="proof.json", help="the proof")
    v.add_argument("--circuit-id", metavar="ID", help="required circuit identity (sha256:...)")
    v.set_defaults(func=_cmd_verify)
    _credential_parsers(sub)
    _clients_parsers(sub)
    _policy_parsers(sub)
    _db_parsers(sub)
    _audit_parsers(sub)
    return p


def _yyyymmdd(text: str) -> int:
    if not re.fullmatch(r"[0-9]{8}", text):
        # the value is not echoed: it may be a birthdate
        raise argparse.ArgumentTypeError("expected a date as YYYYMMDD")
    return int(text)


def _credential_parsers(sub: Any) -> None:
    ks_help = "key store directory (default: $ZKATTEST_KEY_DIR, else ~/.local/share/zkattest)"
    k = sub.add_parser(
        "keygen",
        help="make an issuer key file or a holder secret file",
        description=(
            "--issuer FILE: a Baby Jubjub EdDSA-Poseidon key file (JSON, kty "
            "zkattest-babyjub-eddsa-poseidon, mode 0600), from fresh randomness or "
            "--seed (a file of 64 hex digits); --public FILE also writes the public key.  "
            "--holder FILE: a holder secret file (mode 0600); prints its commitment.  "
            "Never overwrites an existing file."
        ),
    )
    k.add_argument("--issuer", metavar="FILE", help="issuer private key file to create")
    k.add_argument("--public", metavar="FILE", help="with --issuer: public key file to write")
    k.add_argument(
        "--seed", metavar="FILE", help="with --issuer: a file holding a 32-byte hex seed"
    )
    k.add_argument("--holder", metavar="FILE", help="holder secret file to create")
    k.set_defaults(func=_cmd_keygen)

    i = sub.add_parser(
        "issue",
        help="sign a credential (person schema) for a holder",
        description="Sign a v1 credential (person schema) and write its canonical JSON.",
    )
    i.add_argument("--key", required=True, metavar="issuer.json", help="issuer private key file")
    i.add_argument(
        "--holder", metavar="holder.json", help="holder secret file (for its commitment)"
    )
    i.add_argument("--commitment", metavar="C", help="the holder commitment (decimal)")
    i.add_argument("--birthdate", required=True, type=_yyyymmdd, metavar="YYYYMMDD")
    i.add_argument("--expires", required=True, type=_yyyymmdd, metavar="YYYYMMDD")
    i.add_argument(
        "--attr", action="append", metavar="NAME=INT", help="another person-schema slot (repeat)"
    )
    i.add_argument("--out", required=True, metavar="cred.json", help="credential output")
    i.set_defaults(func=_cmd_issue)

    r = sub.add_parser(
        "request",
        help="write a relying party's age_gte request",
        description=(
            "Write an age_gte request.  --nonce and --scope are strings mapped to field "
            "elements by sha256 (see zkattest.credentials.credential)."
        ),
    )
    r.add_argument("--min-age", required=True, type=int, metavar="N")
    r.add_argument("--nonce", required=True, metavar="TEXT")
    r.add_argument("--scope", required=True, metavar="TEXT", help="the relying party's scope")
    r.add_argument("--today", type=_yyyymmdd, metavar="YYYYMMDD", help="default: today (UTC)")
    r.add_argument("--out", required=True, metavar="request.json")
    r.set_defaults(func=_cmd_request)

    pr = sub.add_parser(
        "present",
        help="prove a request from a credential (holder side)",
        description="Prove the request over the credential with the key store's age_gte key.",
    )
    pr.add_argument("--holder", required=True, metavar="holder.json")
    pr.add_argument("--credential", required=True, metavar="cred.json")
    pr.add_argument("--request", required=True, metavar="request.json")
    pr.add_argument("--out", required=True, metavar="presentation.json")
    pr.add_argument("--keystore", metavar="DIR", help=ks_help)
    pr.set_defaults(func=_cmd_present)

    c = sub.add_parser(
        "check",
        help="check a presentation against a request (verifier side)",
        description=(
            "Print the decision as JSON ({valid, result, reason, nullifier}); exit 0 "
            "for a valid decision (yes or no), 1 for an invalid presentation."
        ),
    )
    c.add_argument(
        "--issuer",
        required=True,
        action="append",
        metavar="KEY",
        help="trusted issuer key file (repeat)",
    )
    c.add_argument("--request", required=True, metavar="request.json")
    c.add_argument("--presentation", required=True, metavar="presentation.json")
    c.add_argument("--max-skew-days", type=int, default=1, metavar="N", help="default 1")
    c.add_argument("--keystore", metavar="DIR", help=ks_help)
    c.set_defaults(func=_cmd_check)
    _service_parsers(sub)


def _service_parsers(sub: Any) -> None:
    sv = sub.add_parser(
        "serve",
        help="run the verification service (HTTP, default 127.0.0.1:8080)",
        description=(
            "Run the verification service.  Zero configuration: state in the data "
            "directory ($ZKATTEST_DATA_DIR, else ~/.local/share/zkattest/service), keys "
            "created on first start.  Settings: a TOML file (--config, $ZKATTEST_CONFIG, "
            "or <data_dir>/zkattest.toml), ZKATTEST_<KEY> environment variables, then "
            "these flags."
        ),
    )
    sv.add_argument("--config", metavar="FILE", help="TOML configuration file")
    sv.add_argument("--host", help="listen address (default 127.0.0.1)")
    sv.add_argument("--port", type=int, help="listen port (default 8080)")
    sv.add_argument("--data-dir", metavar="DIR", help="state directory")
    sv.add_argument("--public-url", metavar="URL", help="base URL holders reach us at")
    sv.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    sv.add_argument("--log-format", choices=["json", "text"], help="log lines (default json)")
    sv.set_defaults(func=_cmd_serve)

    d = sub.add_parser(
        "demo",
        help="issuer -> holder -> relying party against a running server",
        description=(
            "Run the whole flow against a running `zkattest serve` (same data directory: "
            "the demo issues with the server's development issuer) and print each step "
            "and the signed result."
        ),
    )
    d.add_argument("--url", default="http://127.0.0.1:8080", help="server base URL")
    d.add_argument("--data-dir", metavar="DIR", help="the server's data directory")
    d.add_argument("--config", metavar="FILE", help="the server's TOML configuration")
    d.add_argument("--min-age", type=int, default=18)
    d.add_argument("--birthdate", type=int, default=20000229, help="YYYYMMDD (default 20000229)")
    d.add_argument("--audience", default="https://shop.example", help="the relying party")
    d.add_argument("--delegated", action="store_true", help="let a micro-agent prove")
    d.set_defaults(func=_cmd_demo)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .service import load_config
    from .service.server import serve

    cfg = load_config(
        args.config,
        overrides={
            "host": args.host,
            "port": args.port,
            "data_dir": args.data_dir,
            "public_url": args.public_url,
            "log_level": args.log_level,
            "log_format": args.log_format,
        },
    )
    serve(cfg)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .service import load_config
    from .service.demo import run_demo

    cfg = load_config(args.config, overrides={"data_dir": args.data_dir})
    run_demo(
        args.url.rstrip("/"),
        data_dir=cfg.data_path,
        key_dir=cfg.key_path,
        min_age=args.min_age,
        birthdate=args.birthdate,
        audience=args.audience,
        delegated=args.delegated,
    )
    return 0


# ---------------------------------------------------------------- clients
def _clients_parsers(sub: Any) -> None:
    where = argparse.ArgumentParser(add_help=False)
    g = where.add_mutually_exclusive_group()
    g.add_argument("--file", metavar="PATH", help="registry file (.json; .toml is read-only)")
    g.add_argument(
        "--data-dir", metavar="DIR", help="use DIR/clients.json (default: the service data dir)"
    )
    c = sub.add_parser(
        "clients",
        help="register, list and remove OAuth clients",
        description=(
            "Edit the client registry read by `zkattest serve` (default "
            "<data_dir>/clients.json; data_dir is $ZKATTEST_DATA_DIR, else "
            "~/.local/share/zkattest/service).  Changes take effect without a restart."
        ),
    )
    cs = c.add_subparsers(dest="clients_cmd", metavar="{add,list,remove}", required=True)
    a = cs.add_parser(
        "add",
        parents=[where],
        help="register a client",
        description=(
            "Register a client with its public key(s): --jwks FILE (a JWK Set) or --jwk "
            "FILE (one public JWK).  Private keys are refused.  An existing id is an "
            "error unless --replace."
        ),
    )
    a.add_argument("client_id", metavar="ID", help="client id: 1..64 of A-Z a-z 0-9 . _ ~ -")
    k = a.add_mutually_exclusive_group(required=True)
    k.add_argument("--jwks", metavar="FILE", help='JWK Set file {"keys": [...]}')
    k.add_argument("--jwk", metavar="FILE", help="one public JWK file")
    a.add_argument("--name", help="display name (default: the id)")
    a.add_argument("--kind", choices=["agent", "person"], default="agent")
    a.add_argument(
        "--predicate", action="append", default=[], metavar="P", help="predicate id (repeat)"
    )
    a.add_argument(
        "--audience", action="append", default=[], metavar="URI", help="RP audience (repeat)"
    )
    a.add_argument(
        "--delegate",
        action="append",
        default=[],
        metavar="ID",
        help="a client that may act on its behalf (repeat)",
    )
    a.add_argument(
        "--approved-by",
        action="append",
        default=[],
        metavar="ID",
        help="a client that may approve its step-up requests (repeat)",
    )
    a.add_argument(
        "--approver", action="store_true", help="it may hold the approve scope (a person)"
    )
    a.add_argument(
        "--admin", action="store_true", help="it may hold the audit scope (read the audit trail)"
    )
    a.add_argument("--replace", action="store_true", help="replace a client with this id")
    a.set_defaults(func=_cmd_clients_add)
    ls = cs.add_parser(
        "list", parents=[where], help="list the clients", description="List the clients."
    )
    ls.add_argument("--json", action="store_true", help="print the registry as JSON")
    ls.set_defaults(func=_cmd_clients_list)
    rm = cs.add_parser(
        "remove",
        parents=[where],
        help="unregister a client",
        description="Unregister a client; exit 1 if it is not registered.",
    )
    rm.add_argument("client_id", metavar="ID")
    rm.set_defaults(func=_cmd_clients_remove)


def _registry(args: argparse.Namespace) -> Any:
    from .oauth.clients import ClientRegistry

    if args.file:
        return ClientRegistry(args.file)
    if args.data_dir:
        return ClientRegistry(Path(args.data_dir) / "clients.json")
    from .service.config import default_data_dir

    return ClientRegistry(default_data_dir() / "clients.json")


_PRIVATE_JWK = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def _read_jwks(args: argparse.Namespace) -> dict[str, Any]:
    path = args.jwks or args.jwk
    try:
        obj = json.loads(_read_text(path, "key file"))
    except json.JSONDecodeError:
        raise _Fail(f"{path} is not valid JSON") from None
    if not isinstance(obj, dict):
        raise _Fail(f"{path}: expected a JSON object")
    if args.jwk is not None:
        if "keys" in obj:
            raise _Fail(f"{path} is a JWK Set: use --jwks")
        jwks: dict[str, Any] = {"keys": [obj]}
    else:
        if not isinstance(obj.get("keys"), list):
            raise _Fail(f'{path}: expected a JWK Set {{"keys": [...]}} (use --jwk for one key)')
        jwks = obj
    for i, key in enumerate(jwks["keys"]):
        if isinstance(key, dict) and any(m in key for m in _PRIVATE_JWK):
            which = "" if args.jwk is not None else f" (key #{i + 1})"
            raise _Fail(
                f"{path} holds a private key{which}: register the public key only "
                "(drop the private members)"
            )
    return jwks


def _cmd_clients_add(args: argparse.Namespace) -> int:
    from .oauth.clients import client_from_json

    registry = _registry(args)
    entry = {
        "client_id": args.client_id,
        "name": args.name if args.name is not None else args.client_id,
        "kind": args.kind,
        "jwks": _read_jwks(args),
        "predicates": args.predicate,
        "audiences": args.audience,
        "delegates": args.delegate,
        "approvers": args.approved_by,
        "approver": args.approver,
        "admin": args.admin,
    }
    client = client_from_json(entry)
    registry.add(client, replace=args.replace)
    _info(f"{'replaced' if args.replace else 'added'} client {client.client_id} in {registry.path}")
    return 0


def _cmd_clients_list(args: argparse.Namespace) -> int:
    from .oauth.clients import client_to_json

    registry = _registry(args)
    registry.load()
    clients = registry.list()
    if args.json:
        print(json.dumps({"clients": [client_to_json(c) for c in clients]}, indent=2))
        return 0
    rows = [["ID", "KIND", "NAME", "PREDICATES", "AUDIENCES", "DELEGATES", "KEYS"]]
    for c in clients:
        rows.append(
            [
                c.client_id,
                c.kind,
                c.name,
                ",".join(sorted(c.predicates)) or "-",
                ",".join(sorted(c.audiences)) or "-",
                ",".join(sorted(c.delegates)) or "-",
                ",".join(k.thumbprint() for k in c.jwks.keys),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _cmd_clients_remove(args: argparse.Namespace) -> int:
    registry = _registry(args)
    if not registry.remove(args.client_id):
        print(f"zkattest: error: no client {args.client_id!r} in {registry.path}", file=sys.stderr)
        return 1
    _info(f"removed client {args.client_id} from {registry.path}")
    return 0


def _policy_parsers(sub: Any) -> None:
    pol = sub.add_parser(
        "policy",
        help="check or copy the Cedar policies",
        description=(
            "Cedar policies decide who may ask for which verification (allow, deny or "
            "step-up).  `zkattest serve` loads policy_dir (default: the shipped "
            "policies) and refuses to start when they do not validate."
        ),
    )
    ps = pol.add_subparsers(dest="policy_cmd", metavar="{check,init}", required=True)
    c = ps.add_parser("check", help="validate a policy directory against its schema")
    c.add_argument("directory", nargs="?", metavar="DIR", help="default: the shipped policies")
    c.set_defaults(func=_cmd_policy_check)
    i = ps.add_parser("init", help="copy the shipped policies and schema into DIR to edit")
    i.add_argument("directory", metavar="DIR")
    i.set_defaults(func=_cmd_policy_init)


def _cmd_policy_check(args: argparse.Namespace) -> int:
    from .policy import commands

    return commands.check(args.directory)


def _cmd_policy_init(args: argparse.Namespace) -> int:
    from .policy import commands

    return commands.init(args.directory)


def _db_parsers(sub: Any) -> None:
    def url(args: argparse.Namespace) -> str:
        if args.database_url:
            return str(args.database_url)
        from .service import load_config

        cfg = load_config(args.config, overrides={"data_dir": args.data_dir})
        return cfg.db_url

    def upgrade(args: argparse.Namespace) -> int:
        from .store import commands

        return commands.upgrade(url(args))

    def current(args: argparse.Namespace) -> int:
        from .store import commands

        return commands.current(url(args))

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--database-url",
        metavar="URL",
        help="sqlite:///path or postgresql://user@host/db[?schema=...] (default: the "
        "service's database_url, else <data_dir>/zkattest.db)",
    )
    where.add_argument("--config", metavar="FILE", help="the server's TOML configuration")
    where.add_argument("--data-dir", metavar="DIR", help="the server's data directory")
    db = sub.add_parser(
        "db",
        help="migrate or inspect the state database",
        description=(
            "The store's schema is versioned with Alembic.  `zkattest serve` migrates the "
            "database when it starts; `db upgrade` does it ahead of time (e.g. before "
            "rolling out replicas), `db current` only reports.  Databases made by older "
            "zkattest versions are adopted in place."
        ),
    )
    ds = db.add_subparsers(dest="db_cmd", metavar="{upgrade,current}", required=True)
    u = ds.add_parser(
        "upgrade",
        parents=[where],
        help="migrate the database to this version's schema",
        description="Apply pending migrations (under a lock: replicas may run it at once).",
    )
    u.set_defaults(func=upgrade)
    c = ds.add_parser(
        "current",
        parents=[where],
        help="print the database's schema revision",
        description=(
            "Print the schema revision; exit 0 when it is this version's, 1 when an "
            "upgrade is pending (or the database does not exist yet)."
        ),
    )
    c.set_defaults(func=current)


# ---------------------------------------------------------------- audit
def _audit_parsers(sub: Any) -> None:
    au = sub.add_parser(
        "audit",
        help="verify, export the audit trail; print the audit key",
        description=(
            "The service records every token, policy decision, approval and agent step "
            "as a hash-chained audit event; checkpoints signed by the audit key "
            "(<data_dir>/audit.key.pem) vouch for the chains.  `export` writes the trail "
            "from the database as JSON lines, `verify` checks such a file offline "
            "against the audit public key (`key`, or GET /v1/audit/key)."
        ),
    )
    aus = au.add_subparsers(dest="audit_cmd", metavar="{verify,export,key}", required=True)
    v = aus.add_parser(
        "verify",
        help="check a trail file against the audit public key",
        description=(
            "Check every hash, link and signed checkpoint of a JSON-lines trail; print a "
            "summary and the first broken link.  Exit 0: it verifies (events after the "
            "last checkpoint are reported as unsigned), 1: it is broken (or unsigned "
            "events with --require-signed), 2: unusable input."
        ),
    )
    v.add_argument("file", metavar="FILE", help="the trail (JSON lines)")
    v.add_argument(
        "--key", required=True, metavar="PEM|JWK", help="the audit public key (PEM, JWK or JWKS)"
    )
    v.add_argument("--json", action="store_true", help="print the report as one JSON object")
    v.add_argument("--require-signed", action="store_true", help="unsigned events are an error")
    v.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="JWS",
        help="a checkpoint from an earlier run the trail must reach (repeat)",
    )
    v.set_defaults(func=_cmd_audit_verify)

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--config", metavar="FILE", help="the server's TOML configuration")
    where.add_argument("--data-dir", metavar="DIR", help="the server's data directory")
    e = aus.add_parser(
        "export",
        parents=[where],
        help="write the trail in the database as JSON lines",
        description=(
            "Write every record of the trail (each chain in seq order, checkpoints after "
            "the events they cover) to --out or stdout, one JSON object per line, in "
            "exactly the form `audit verify` reads.  Exit 1 if a stored row is not a "
            "valid record (it is written as a line every verifier reports)."
        ),
    )
    e.add_argument(
        "--database-url",
        metavar="URL",
        help="sqlite:///path or postgresql://... (default: the service's database)",
    )
    e.add_argument("--out", metavar="FILE", help="write here (replaced atomically)")
    e.set_defaults(func=_cmd_audit_export)
    k = aus.add_parser(
        "key",
        parents=[where],
        help="print the audit public key",
        description="Print the public half of <data_dir>/audit.key.pem (PEM or JWK).",
    )
    k.add_argument("--format", choices=["pem", "jwk"], default="pem")
    k.set_defaults(func=_cmd_audit_key)


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from .audit import commands

    return commands.verify(
        args.file,
        args.key,
        json_output=args.json,
        require_signed=args.require_signed,
        anchors=args.anchor,
    )


def _server_config(args: argparse.Namespace) -> Any:
    from .service import load_config

    return load_config(args.config, overrides={"data_dir": args.data_dir})


def _cmd_audit_export(args: argparse.Namespace) -> int:
    import asyncio
    import tempfile

    from .service.audit import export_trail
    from .store import open_store

    url = str(args.database_url or _server_config(args).db_url)
    m = re.fullmatch(r"sqlite:///(.+)", url)
    if m is not None and m.group(1) != ":memory:" and not Path(m.group(1)).is_file():
        raise _Fail(f"no database at {m.group(1)}")

    async def export(out: Any) -> tuple[int, int]:
        store = await open_store(url)
        try:
            return await export_trail(store, out)
        finally:
            await store.close()

    if args.out is None:
        n, bad = asyncio.run(export(sys.stdout.buffer))
        sys.stdout.buffer.flush()
    else:
        target = Path(args.out)
        fd, tmp = tempfile.mkstemp(prefix=".audit-export-", dir=target.parent or ".")
        try:
            with os.fdopen(fd, "wb") as f:
                n, bad = asyncio.run(export(f))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    _info(f"exported {n} audit records" + (f" to {args.out}" if args.out else ""))
    if bad:
        _info(f"zkattest: {bad} stored row(s) are not valid audit records")
        return 1
    return 0


def _cmd_audit_key(args: argparse.Namespace) -> int:
    from .audit import public_jwk, public_pem
    from .identity.trust import load_or_create_key
    from .service.bootstrap import audit_key_path

    path = audit_key_path(_server_config(args))
    if not path.is_file():
        raise _Fail(f"no audit key at {path} (the service creates it when it first starts)")
    key = load_or_create_key(path)
    try:
        if args.format == "jwk":
            print(json.dumps(public_jwk(key), indent=2))
        else:
            sys.stdout.write(public_pem(key).decode("ascii"))
    finally:
        key.destroy()
    return 0


def _die(msg: str) -> NoReturn:
    print(f"zkattest: error: {msg}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zkattest`` console script."""
    args = _parser().parse_args(argv)
    try:
        rc: int = args.func(args)
    except _Fail as e:
        _die(str(e))
    except errors.ZkAttestError as e:
        _die(str(e) or type(e).__name__)
    except OSError as e:
        _die(f"{e.filename or ''}: {e.strerror or e}".lstrip(": "))
    except KeyboardInterrupt:
        print("zkattest: interrupted", file=sys.stderr)
        return 130
    return rc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
