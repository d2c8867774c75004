"""Groth16 files: ``.zkey`` (iden3 binary) and snarkjs's JSON files.

``.zkey`` (groth16), as snarkjs writes it
------------------------------------------
An iden3 container: magic ``zkey``, u32 version 1, u32 section count, then sections
``(u32 type, u64 size, body)``, little-endian.  Field elements of Fq are stored in
Montgomery form (``x * 2^256 mod q``, 32 bytes little-endian); a point is affine
``x || y`` (G2: ``x.c0 || x.c1 || y.c0 || y.c1``), the point at infinity all zero.

1. header: u32 protocol id (1 = groth16)
2. groth16 header: u32 n8q, q, u32 n8r, r, u32 nVars, u32 nPublic, u32 domainSize,
   alpha1, beta1, beta2, gamma2, delta1, delta2
3. IC: nPublic + 1 G1 points, ``[(beta*u_i + alpha*v_i + w_i) / gamma]_1``
4. coefficients: u32 count, then per entry u32 matrix (0 = A, 1 = B), u32 constraint,
   u32 signal, value as 32 bytes little-endian holding ``coef * 2^512 mod r`` (the
   R^2-scaled form snarkjs writes: read as Montgomery it is ``coef * R``).  The A
   entries include one extra row per public signal and the constant wire: row
   ``m + i`` has coefficient 1 for signal ``i``, ``i = 0..nPublic``.
5. A: nVars G1 points ``[u_i(tau)]_1``
6. B1: nVars G1 points ``[v_i(tau)]_1``
7. B2: nVars G2 points ``[v_i(tau)]_2``
8. C: nVars - nPublic - 1 G1 points ``[(beta*u_i + alpha*v_i + w_i) / delta]_1``
   for the private wires
9. H: domainSize G1 points ``[L_{2i+1}(tau) / delta]_1``, the Lagrange basis of the
   2n-point domain at its odd indices
10. MPC parameters: 64-byte circuit hash, u32 contribution count, contributions

Sections are written in numeric order (as ``snarkjs zkey contribute`` does) and
read in any order.  :func:`load_zkey` checks the container, the header, both
primes, every count and size, the coefficient entries and the verifying-key
points (alpha, beta, gamma, delta, IC: canonical, on the curve, in the subgroup);
the large point sections are checked (canonical, on the curve) by the native
parser, which runs eagerly unless ``native=False``.  Any problem raises
:class:`~zkattest.errors.MalformedFile` saying what.

snarkjs JSON
------------
``verification_key.json``: ``protocol`` ``"groth16"``, ``curve`` ``"bn128"``,
``nPublic``, ``vk_alpha_1``, ``vk_beta_2``, ``vk_gamma_2``, ``vk_delta_2``,
``vk_alphabeta_12`` (e(alpha, beta) in Fq12 as snarkjs computes it, see
:data:`SNARKJS_GT_EXPONENT`; written, ignored on read), ``IC``; plus
``circuit_id`` when the key records one (snarkjs ignores fields it does not use).
``proof.json``: ``pi_a``, ``pi_b``, ``pi_c``, ``protocol``, ``curve``.
``public.json``: a list of decimal strings.

Points are projective decimal-string triples: G1 ``[x, y, "1"]``, G2
``[[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]]``; infinity has z = 0 (written as
``["0", "1", "0"]`` / ``[["0","0"],["1","0"],["0","0"]]``).  Readers accept only
z = 1 (affine) or z = 0 (infinity), decimal strings without sign or spaces,
coordinates below q, points on the curve (G2: in the subgroup), public signals
below r; anything else raises :class:`~zkattest.errors.MalformedFile`.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .. import errors
from ..circuit.formats import parse_container
from ..curve import G1, G2
from ..errors import MalformedFile
from ..field import P, R
from .keys import Coefficient, Proof, ProvingKey, VerifyingKey, mont_to_g1, mont_to_g2

__all__ = [
    "decode_coefficients",
    "dump_proof",
    "dump_public",
    "dump_verification_key",
    "dump_zkey",
    "encode_coefficients",
    "load_proof",
    "load_public",
    "load_verification_key",
    "load_zkey",
    "read_proof",
    "read_public",
    "read_verification_key",
    "read_zkey",
    "write_proof",
    "write_public",
    "write_verification_key",
    "write_zkey",
]

N8 = 32
GROTH16_PROTOCOL_ID = 1
ZKEY_VERSION = 1
_MAX_LOG_DOMAIN = 27  # the H section needs the 2n-point domain; Fr has 2-adicity 28
_HEADER2_SIZE = 4 + N8 + 4 + N8 + 12 + 3 * 64 + 3 * 128
_COEF_SIZE = 12 + N8
_RQ = (1 << 256) % P
_RINV_Q = pow(_RQ, -1, P)
_R2_R = pow(1 << 256, 2, R)
_R2INV_R = pow(_R2_R, -1, R)
_COEF = struct.Struct("<III")


# ----------------------------------------------------------------- Montgomery
def g1_to_mont(p: G1) -> bytes:
    """A G1 point as 64 bytes of little-endian Montgomery coordinates (zkey form)."""
    b = p.to_bytes()
    if not any(b):
        return b
    return b"".join(
        (int.from_bytes(b[i : i + 32], "little") * _RQ % P).to_bytes(32, "little") for i in (0, 32)
    )


def g2_to_mont(p: G2) -> bytes:
    """A G2 point as 128 bytes of little-endian Montgomery coordinates (zkey form)."""
    b = p.to_bytes()
    if not any(b):
        return b
    return b"".join(
        (int.from_bytes(b[i : i + 32], "little") * _RQ % P).to_bytes(32, "little")
        for i in range(0, 128, 32)
    )


def points_to_mont(data: bytes) -> bytes:
    """Convert concatenated canonical points (any mix: every 32-byte coordinate is
    converted independently, zero stays zero) to Montgomery form."""
    rq, p = _RQ, P
    return b"".join(
        (int.from_bytes(data[i : i + 32], "little") * rq % p).to_bytes(32, "little")
        for i in range(0, len(data), 32)
    )


def points_from_mont(data: bytes) -> bytes:
    """Inverse of :func:`points_to_mont` (coordinates must be below q)."""
    ri, p = _RINV_Q, P
    out = []
    for i in range(0, len(data), 32):
        v = int.from_bytes(data[i : i + 32], "little")
        if v >= p:
            raise MalformedFile("zkey: a point coordinate is not below q")
        out.append((v * ri % p).to_bytes(32, "little"))
    return b"".join(out)


# --------------------------------------------------------------- coefficients
def encode_coefficients(coefs: Iterable[Coefficient | tuple[int, int, int, int]]) -> bytes:
    """The body of section 4 (count, then entries with R^2-scaled values)."""
    parts = [b""]
    pack = _COEF.pack
    n = 0
    for matrix, constraint, signal, value in coefs:
        parts.append(pack(matrix, constraint, signal))
        parts.append((value % R * _R2_R % R).to_bytes(N8, "little"))
        n += 1
    parts[0] = struct.pack("<I", n)
    return b"".join(parts)


def decode_coefficients(body: bytes) -> list[Coefficient]:
    """Entries of a section-4 body, values back in plain form (no validation
    beyond the layout; :func:`load_zkey` validates)."""
    (n,) = struct.unpack_from("<I", body, 0)
    out = []
    inv = _R2INV_R
    for k in range(n):
        off = 4 + k * _COEF_SIZE
        m, c, s = _COEF.unpack_from(body, off)
        v = int.from_bytes(body[off + 12 : off + _COEF_SIZE], "little")
        out.append(Coefficient(m, c, s, v * inv % R))
    return out


# ---------------------------------------------------------------------- .zkey
def _section(stype: int, body: bytes) -> bytes:
    return struct.pack("<IQ", stype, len(body)) + body


def dump_zkey(pk: ProvingKey) -> bytes:
    """Serialize a proving key as a groth16 ``.zkey`` (sections 1-10)."""
    header2 = b"".join(
        [
            struct.pack("<I", N8),
            P.to_bytes(N8, "little"),
            struct.pack("<I", N8),
            R.to_bytes(N8, "little"),
            struct.pack("<III", pk.n_vars, pk.n_public, pk.domain_size),
            g1_to_mont(pk.alpha1),
            g1_to_mont(pk.beta1),
            g2_to_mont(pk.beta2),
            g2_to_mont(pk.gamma2),
            g1_to_mont(pk.delta1),
            g2_to_mont(pk.delta2),
        ]
    )
    ic = b"".join(g1_to_mont(p) for p in pk.ic)
    sections = [
        (1, struct.pack("<I", GROTH16_PROTOCOL_ID)),
        (2, header2),
        (3, ic),
        (4, pk.coefs),
        (5, pk.a),
        (6, pk.b1),
        (7, pk.b2),
        (8, pk.c),
        (9, pk.h),
        (10, pk.mpc_params),
    ]
    return b"".join(
        [b"zkey", struct.pack("<II", ZKEY_VERSION, len(sections))]
        + [_section(t, b) for t, b in sections]
    )


def _sect(data: bytes, secs: dict[int, tuple[int, int]], stype: int, name: str) -> bytes:
    if stype not in secs:
        raise MalformedFile(f"zkey: missing {name} section ({stype})")
    off, size = secs[stype]
    return data[off : off + size]


def _point(fn: Any, buf: bytes, name: str) -> Any:
    try:
        return fn(buf)
    except MalformedFile:
        raise
    except errors.InvalidInput as e:
        raise MalformedFile(f"zkey: {name} is not a valid point ({e})") from None


def load_zkey(data: bytes, *, circuit_id: str | None = None, native: bool = True) -> ProvingKey:
    """Parse a groth16 ``.zkey`` (ours or snarkjs's) into a :class:`ProvingKey`.

    With ``native`` (default) the C proving-key handle is built now, which checks
    every point of the large sections; the handle is cached on the key.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise errors.InvalidInput("zkey: expected bytes")
    data = bytes(data)
    secs = parse_container(data, b"zkey", ZKEY_VERSION, "zkey")
    h1 = _sect(data, secs, 1, "header")
    if len(h1) != 4:
        raise MalformedFile(f"zkey: header section has {len(h1)} bytes, expected 4")
    (proto,) = struct.unpack("<I", h1)
    if proto != GROTH16_PROTOCOL_ID:
        raise MalformedFile(f"zkey: protocol id {proto} is not groth16 (1)")
    h2 = _sect(data, secs, 2, "groth16 header")
    if len(h2) < 4 or struct.unpack_from("<I", h2)[0] != N8:
        raise MalformedFile("zkey: base field element size is not 32 bytes (BN254)")
    if len(h2) != _HEADER2_SIZE:
        raise MalformedFile(
            f"zkey: groth16 header section has {len(h2)} bytes, expected {_HEADER2_SIZE}"
        )
    if int.from_bytes(h2[4:36], "little") != P:
        raise MalformedFile("zkey: base field prime q is not BN254's")
    if struct.unpack_from("<I", h2, 36)[0] != N8 or int.from_bytes(h2[40:72], "little") != R:
        raise MalformedFile("zkey: scalar field prime r is not BN254's")
    n_vars, n_public, domain_size = struct.unpack_from("<III", h2, 72)
    if n_vars < 1 or n_public >= n_vars:
        raise MalformedFile(f"zkey: nPublic {n_public} must be below nVars {n_vars}")
    if domain_size < 2 or domain_size & (domain_size - 1):
        raise MalformedFile(f"zkey: domain size {domain_size} is not a power of two >= 2")
    log_domain = domain_size.bit_length() - 1
    if log_domain > _MAX_LOG_DOMAIN:
        raise MalformedFile(f"zkey: domain 2^{log_domain} is too large")
    o = 84
    alpha1 = _point(mont_to_g1, h2[o : o + 64], "alpha1")
    beta1 = _point(mont_to_g1, h2[o + 64 : o + 128], "beta1")
    beta2 = _point(mont_to_g2, h2[o + 128 : o + 256], "beta2")
    gamma2 = _point(mont_to_g2, h2[o + 256 : o + 384], "gamma2")
    delta1 = _point(mont_to_g1, h2[o + 384 : o + 448], "delta1")
    delta2 = _point(mont_to_g2, h2[o + 448 : o + 576], "delta2")

    def sized(stype: int, name: str, count: int, elem: int) -> bytes:
        body = _sect(data, secs, stype, name)
        if len(body) != count * elem:
            raise MalformedFile(
                f"zkey: {name} section has {len(body)} bytes, expected {count * elem} "
                f"({count} points)"
            )
        return body

    ic_raw = sized(3, "IC", n_public + 1, 64)
    ic = tuple(
        _point(mont_to_g1, ic_raw[i : i + 64], f"IC[{i // 64}]") for i in range(0, len(ic_raw), 64)
    )
    coefs = _sect(data, secs, 4, "coefficients")
    _check_coefficients(coefs, n_vars, domain_size)
    a = sized(5, "A", n_vars, 64)
    b1 = sized(6, "B1", n_vars, 64)
    b2 = sized(7, "B2", n_vars, 128)
    c = sized(8, "C", n_vars - n_public - 1, 64)
    h = sized(9, "H", domain_size, 64)
    if 10 in secs:
        mpc = _sect(data, secs, 10, "MPC parameters")
        if len(mpc) < 68:
            raise MalformedFile("zkey: MPC parameters section is shorter than 68 bytes")
    else:
        mpc = bytes(68)
    pk = ProvingKey(
        n_vars=n_vars,
        n_public=n_public,
        log_domain=log_domain,
        alpha1=alpha1,
        beta1=beta1,
        beta2=beta2,
        gamma2=gamma2,
        delta1=delta1,
        delta2=delta2,
        ic=ic,
        coefs=coefs,
        a=a,
        b1=b1,
        b2=b2,
        c=c,
        h=h,
        mpc_params=mpc,
        circuit_id=circuit_id,
    )
    if native:
        # the file is canonical iff re-serializing gives the same bytes (section
        # order aside); give the native parser the original bytes when it is ours
        pk._cache["zkey"] = data if _in_order(secs) else dump_zkey(pk)
        _ = pk.native
    return pk


def _in_order(secs: dict[int, tuple[int, int]]) -> bool:
    """Exactly sections 1..10, stored in that order (what dump_zkey writes)."""
    return list(secs) == list(range(1, 11))


def _check_coefficients(body: bytes, n_vars: int, domain_size: int) -> None:
    if len(body) < 4:
        raise MalformedFile("zkey: coefficients section is shorter than its count")
    (n,) = struct.unpack_from("<I", body, 0)
    if len(body) != 4 + n * _COEF_SIZE:
        raise MalformedFile(
            f"zkey: coefficients section has {len(body)} bytes, expected "
            f"{4 + n * _COEF_SIZE} for {n} entries"
        )
    rb = R.to_bytes(N8, "little")[::-1]
    for k, (m, c, s, v) in enumerate(struct.iter_unpack("<III32s", body[4:])):
        if m > 1:
            raise MalformedFile(f"zkey: coefficient {k} names matrix {m} (only 0 = A, 1 = B)")
        if c >= domain_size:
            raise MalformedFile(f"zkey: coefficient {k} names constraint {c} >= domain size")
        if s >= n_vars:
            raise MalformedFile(f"zkey: coefficient {k} names signal {s} >= nVars {n_vars}")
        if v[::-1] >= rb:
            raise MalformedFile(f"zkey: coefficient {k} value is not below r")


def write_zkey(path: str | Path, pk: ProvingKey) -> None:
    Path(path).write_bytes(pk.to_zkey_bytes())


def read_zkey(
    path: str | Path, *, circuit_id: str | None = None, native: bool = True
) -> ProvingKey:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise MalformedFile(f"zkey: cannot read {path}: {e.strerror or e}") from None
    return load_zkey(data, circuit_id=circuit_id, native=native)


# ------------------------------------------------------------------------ JSON
_DEC = re.compile(r"(0|[1-9][0-9]{0,77})")
_CURVE_NAMES = {"BN128", "BN254", "ALTBN128"}


def _dec(x: object, what: str, bound: int) -> int:
    if not isinstance(x, str) or not _DEC.fullmatch(x):
        raise MalformedFile(f"{what}: expected a decimal string, got {_short(x)}")
    v = int(x)
    if v >= bound:
        name = "q" if bound == P else "r"
        raise MalformedFile(f"{what}: value is not below {name}")
    return v


def _short(x: object) -> str:
    s = json.dumps(x) if isinstance(x, str | int | float | bool | type(None)) else type(x).__name__
    return s if len(s) <= 40 else s[:37] + "..."


def _g1_json(p: G1) -> list[str]:
    xy = p.xy
    if xy is None:
        return ["0", "1", "0"]
    return [str(xy[0]), str(xy[1]), "1"]


def _g2_json(p: G2) -> list[list[str]]:
    xy = p.xy
    if xy is None:
        return [["0", "0"], ["1", "0"], ["0", "0"]]
    (x0, x1), (y0, y1) = xy
    return [[str(x0), str(x1)], [str(y0), str(y1)], ["1", "0"]]


def _g1_from_json(obj: object, what: str) -> G1:
    if not isinstance(obj, list) or len(obj) not in (2, 3):
        raise MalformedFile(f"{what}: a G1 point is a list [x, y, z]")
    x = _dec(obj[0], f"{what}.x", P)
    y = _dec(obj[1], f"{what}.y", P)
    z = _dec(obj[2], f"{what}.z", P) if len(obj) == 3 else 1
    # one encoding per point: infinity is exactly [0, 1, 0] (as snarkjs writes it),
    # and the affine (0, 0) -- not on the curve -- is not another name for it
    if z == 0:
        if (x, y) != (0, 1):
            raise MalformedFile(f"{what}: the point at infinity is [0, 1, 0]")
        return G1.identity()
    if z != 1:
        raise MalformedFile(f"{what}: z must be 1 (affine) or 0 (infinity)")
    if (x, y) == (0, 0):
        raise MalformedFile(f"{what}: (0, 0) is not a G1 point")
    try:
        return G1.from_xy(x, y)
    except errors.InvalidInput as e:
        raise MalformedFile(f"{what}: not a valid G1 point ({e})") from None


def _fq2_from_json(obj: object, what: str) -> tuple[int, int]:
    if not isinstance(obj, list) or len(obj) != 2:
        raise MalformedFile(f"{what}: an Fq2 element is a list [c0, c1]")
    return _dec(obj[0], f"{what}[0]", P), _dec(obj[1], f"{what}[1]", P)


def _g2_from_json(obj: object, what: str) -> G2:
    if not isinstance(obj, list) or len(obj) not in (2, 3):
        raise MalformedFile(f"{what}: a G2 point is a list [[x0, x1], [y0, y1], [z0, z1]]")
    x = _fq2_from_json(obj[0], f"{what}.x")
    y = _fq2_from_json(obj[1], f"{what}.y")
    z = _fq2_from_json(obj[2], f"{what}.z") if len(obj) == 3 else (1, 0)
    if z == (0, 0):
        if (x, y) != ((0, 0), (1, 0)):
            raise MalformedFile(f"{what}: the point at infinity is [[0, 0], [1, 0], [0, 0]]")
        return G2.identity()
    if z != (1, 0):
        raise MalformedFile(f"{what}: z must be [1, 0] (affine) or [0, 0] (infinity)")
    if x == (0, 0) and y == (0, 0):
        raise MalformedFile(f"{what}: (0, 0) is not a G2 point")
    try:
        return G2.from_xy(x, y)
    except errors.InvalidInput as e:
        raise MalformedFile(f"{what}: not a valid G2 point ({e})") from None


def _bn_x() -> int:
    """BN254's curve parameter x, recovered from its definition p = 36x^4 + 36x^3 +
    24x^2 + 6x + 1 (the integer fourth root of p/36 is x or x - 1)."""
    lo, hi = 0, 1 << 64
    while lo < hi:  # largest t with 36 t^4 <= p
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if 36 * mid**4 <= P else (lo, mid - 1)
    for x in (lo - 1, lo, lo + 1):
        if 36 * x**4 + 36 * x**3 + 24 * x**2 + 6 * x + 1 == P:
            return x
    raise AssertionError("BN254 parameter not found")  # pragma: no cover


_X = _bn_x()
#: snarkjs's pairing (ffjavascript's final exponentiation chain) is the reduced
#: ate pairing raised to 2x(6x^2 + 3x + 1); vk_alphabeta_12 is written in its
#: convention, so our verification_key.json equals ``snarkjs zkey export
#: verificationkey``'s.  (No verifier uses the field: snarkjs recomputes.)
SNARKJS_GT_EXPONENT = 2 * _X * (6 * _X * _X + 3 * _X + 1)


def _fq12_json(coeffs: Sequence[int]) -> list[list[list[str]]]:
    c = [str(v) for v in coeffs]
    return [[[c[6 * i + 2 * j], c[6 * i + 2 * j + 1]] for j in range(3)] for i in range(2)]


def _field(obj: dict[str, Any], key: str, what: str) -> Any:
    if key not in obj:
        raise MalformedFile(f"{what}: missing field {key!r}")
    return obj[key]


def _check_protocol(obj: dict[str, Any], what: str, *, required: bool) -> None:
    if ("protocol" in obj or required) and _field(obj, "protocol", what) != "groth16":
        raise MalformedFile(f"{what}: protocol is {_short(obj['protocol'])}, not groth16")
    if "curve" in obj or required:
        cv = _field(obj, "curve", what)
        if not isinstance(cv, str) or cv.upper().replace("_", "") not in _CURVE_NAMES:
            raise MalformedFile(f"{what}: curve is {_short(cv)}, not bn128")


def dump_verification_key(vk: VerifyingKey) -> dict[str, Any]:
    """snarkjs's ``verification_key.json`` object (plus ``circuit_id`` if known)."""
    out: dict[str, Any] = {
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.n_public,
        "vk_alpha_1": _g1_json(vk.alpha1),
        "vk_beta_2": _g2_json(vk.beta2),
        "vk_gamma_2": _g2_json(vk.gamma2),
        "vk_delta_2": _g2_json(vk.delta2),
        "vk_alphabeta_12": _fq12_json((vk.alphabeta() ** SNARKJS_GT_EXPONENT).coeffs),
        "IC": [_g1_json(p) for p in vk.ic],
    }
    if vk.circuit_id is not None:
        out["circuit_id"] = vk.circuit_id
    return out


def load_verification_key(obj: object) -> VerifyingKey:
    """Parse a ``verification_key.json`` object (strict; see the module docstring)."""
    what = "verification_key"
    if not isinstance(obj, dict):
        raise MalformedFile(f"{what}: expected a JSON object")
    _check_protocol(obj, what, required=True)
    n = _field(obj, "nPublic", what)
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < 1 << 24:
        raise MalformedFile(f"{what}: nPublic must be a non-negative integer")
    ic_obj = _field(obj, "IC", what)
    if not isinstance(ic_obj, list) or len(ic_obj) != n + 1:
        raise MalformedFile(f"{what}: IC must be a list of nPublic + 1 = {n + 1} points")
    cid = obj.get("circuit_id")
    if cid is not None and not isinstance(cid, str):
        raise MalformedFile(f"{what}: circuit_id must be a string")
    return VerifyingKey(
        alpha1=_g1_from_json(_field(obj, "vk_alpha_1", what), "vk_alpha_1"),
        beta2=_g2_from_json(_field(obj, "vk_beta_2", what), "vk_beta_2"),
        gamma2=_g2_from_json(_field(obj, "vk_gamma_2", what), "vk_gamma_2"),
        delta2=_g2_from_json(_field(obj, "vk_delta_2", what), "vk_delta_2"),
        ic=tuple(_g1_from_json(p, f"IC[{i}]") for i, p in enumerate(ic_obj)),
        circuit_id=cid,
    )


def dump_proof(proof: Proof) -> dict[str, Any]:
    """snarkjs's ``proof.json`` object."""
    return {
        "pi_a": _g1_json(proof.a),
        "pi_b": _g2_json(proof.b),
        "pi_c": _g1_json(proof.c),
        "protocol": "groth16",
        "curve": "bn128",
    }


def load_proof(obj: object) -> Proof:
    """Parse a ``proof.json`` object; every point validated (MalformedFile if not)."""
    what = "proof"
    if not isinstance(obj, dict):
        raise MalformedFile(f"{what}: expected a JSON object")
    _check_protocol(obj, what, required=False)
    return Proof(
        _g1_from_json(_field(obj, "pi_a", what), "pi_a"),
        _g2_from_json(_field(obj, "pi_b", what), "pi_b"),
        _g1_from_json(_field(obj, "pi_c", what), "pi_c"),
    )


def dump_public(signals: Sequence[int]) -> list[str]:
    """snarkjs's ``public.json`` list (decimal strings)."""
    out = []
    for i, v in enumerate(signals):
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < R:
            raise errors.InvalidInput(f"public signal {i} is not an integer in [0, r)")
        out.append(str(v))
    return out


def load_public(obj: object) -> list[int]:
    """Parse a ``public.json`` list (decimal strings, each below r)."""
    if not isinstance(obj, list):
        raise MalformedFile("public: expected a JSON list of decimal strings")
    return [_dec(v, f"public[{i}]", R) for i, v in enumerate(obj)]


_MAX_JSON_CHARS = 1 << 28
_MAX_JSON_DEPTH = 32
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _write_json(path: str | Path, obj: object) -> None:
    Path(path).write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")


def _read_json(path: str | Path, what: str) -> object:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise MalformedFile(f"{what}: cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise MalformedFile(f"{what}: {path} is not UTF-8 text") from None
    if len(text) > _MAX_JSON_CHARS:
        raise MalformedFile(f"{what}: {path} is implausibly large ({len(text)} characters)")
    # snarkjs files nest 4 deep; refuse deep nesting before the parser recurses into it
    depth = 0
    for m in _JSON_TOKENS.finditer(text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth > _MAX_JSON_DEPTH:
                raise MalformedFile(f"{what}: {path} nests deeper than {_MAX_JSON_DEPTH} levels")
        elif tok in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise MalformedFile(f"{what}: {path} is not valid JSON ({e})") from None


def write_verification_key(path: str | Path, vk: VerifyingKey) -> None:
    _write_json(path, dump_verification_key(vk))


def read_verification_key(path: str | Path) -> VerifyingKey:
    return load_verification_key(_read_json(path, "verification_key"))


def write_proof(path: str | Path, proof: Proof) -> None:
    _write_json(path, dump_proof(proof))


def read_proof(path: str | Path) -> Proof:
    return load_proof(_read_json(path, "proof"))


def write_public(path: str | Path, signals: Sequence[int]) -> None:
    _write_json(path, dump_public(signals))


def read_public(path: str | Path) -> list[int]:
    return load_public(_read_json(path, "public"))
