"""The iden3 binary formats ``.r1cs`` (version 1) and ``.wtns`` (version 2).

Both are iden3 containers: a 4-byte magic, a u32 version, a u32 section count, then
sections ``(u32 type, u64 size, bytes)``, all little-endian.  Field elements are
``n8``-byte little-endian integers in standard (not Montgomery) form.

``.r1cs`` sections: 1 header (n8, prime, nWires, nPubOut, nPubIn, nPrvIn, nLabels as
u64, mConstraints), 2 constraints (per constraint A, B, C: u32 count then
``(u32 wire, n8-byte coeff)`` pairs), 3 wire-to-label map (u64 per wire).  Sections
may come in any order; unknown section types are ignored, as the spec says.

``.wtns`` sections: 1 header (n8, prime, nWitness), 2 values.

Readers are strict: anything inconsistent raises
:class:`~zkattest.errors.MalformedFile` with a message saying what; a prime other
than BN254's r raises it too (this library only works over BN254 Fr).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from ..errors import MalformedFile, WitnessError
from .lc import R
from .r1cs import R1CS, Row

__all__ = [
    "dump_r1cs",
    "dump_wtns",
    "load_r1cs",
    "load_wtns",
    "read_r1cs",
    "read_wtns",
    "write_r1cs",
    "write_wtns",
]

N8 = 32
_R_BYTES = R.to_bytes(N8, "little")
_MAX_SECTIONS = 64


def parse_container(
    data: bytes, magic: bytes, version: int, what: str
) -> dict[int, tuple[int, int]]:
    """Parse an iden3 binary container (r1cs, wtns, zkey): ``{type: (offset, size)}``.

    Rejects a wrong magic or version, truncation, duplicate sections and trailing
    bytes with :class:`MalformedFile`.
    """
    if len(data) < 12:
        raise MalformedFile(f"{what}: file too short ({len(data)} bytes) for a header")
    if data[:4] != magic:
        raise MalformedFile(f"{what}: wrong magic {data[:4]!r}, expected {magic!r}")
    ver, nsec = struct.unpack_from("<II", data, 4)
    if ver != version:
        raise MalformedFile(f"{what}: unsupported version {ver}, expected {version}")
    if nsec > _MAX_SECTIONS:
        raise MalformedFile(f"{what}: implausible section count {nsec}")
    pos = 12
    sections: dict[int, tuple[int, int]] = {}
    for _ in range(nsec):
        if pos + 12 > len(data):
            raise MalformedFile(f"{what}: truncated section header at byte {pos}")
        stype, size = struct.unpack_from("<IQ", data, pos)
        pos += 12
        if size > len(data) - pos:
            raise MalformedFile(
                f"{what}: section {stype} claims {size} bytes, only {len(data) - pos} remain"
            )
        if stype in sections:
            raise MalformedFile(f"{what}: section {stype} appears twice")
        sections[stype] = (pos, size)
        pos += size
    if pos != len(data):
        raise MalformedFile(f"{what}: {len(data) - pos} trailing bytes after the last section")
    return sections


def _need(
    sections: dict[int, tuple[int, int]], stype: int, what: str, name: str
) -> tuple[int, int]:
    if stype not in sections:
        raise MalformedFile(f"{what}: missing {name} section ({stype})")
    return sections[stype]


def _field_header(data: bytes, off: int, size: int, what: str) -> int:
    """Check n8 and the prime; return the offset just after the prime."""
    if size < 4:
        raise MalformedFile(f"{what}: header section too short")
    n8: int = struct.unpack_from("<I", data, off)[0]
    if n8 != N8:
        raise MalformedFile(f"{what}: field element size {n8} bytes, expected {N8} (BN254)")
    if size < 4 + n8:
        raise MalformedFile(f"{what}: header section too short for the prime")
    prime = int.from_bytes(data[off + 4 : off + 4 + n8], "little")
    if prime != R:
        raise MalformedFile(f"{what}: prime {prime} is not the BN254 scalar field order")
    return off + 4 + n8


# --------------------------------------------------------------------- r1cs
def dump_r1cs(r1cs: R1CS) -> bytes:
    """Serialize to the iden3 ``.r1cs`` binary format (version 1)."""
    if r1cs.prime != R:
        raise MalformedFile("only BN254 Fr circuits can be written")
    header = (
        struct.pack("<I", N8)
        + _R_BYTES
        + struct.pack(
            "<IIIIQI",
            r1cs.n_wires,
            r1cs.n_pub_out,
            r1cs.n_pub_in,
            r1cs.n_prv_in,
            r1cs.n_labels,
            r1cs.n_constraints,
        )
    )
    parts: list[bytes] = []
    pack_u32 = struct.Struct("<I").pack
    for con in r1cs.constraints:
        for row in con:
            parts.append(pack_u32(len(row)))
            for wi, c in row:
                parts.append(pack_u32(wi))
                parts.append(c.to_bytes(N8, "little"))
    cons = b"".join(parts)
    labels = struct.pack(f"<{r1cs.n_wires}Q", *r1cs.wire_to_label)
    out = [b"r1cs", struct.pack("<II", 1, 3)]
    for stype, body in ((1, header), (2, cons), (3, labels)):
        out.append(struct.pack("<IQ", stype, len(body)))
        out.append(body)
    return b"".join(out)


def load_r1cs(data: bytes) -> R1CS:
    """Parse an iden3 ``.r1cs`` (version 1) over BN254 Fr."""
    what = "r1cs"
    data = bytes(data)
    secs = parse_container(data, b"r1cs", 1, what)
    if 4 in secs or 5 in secs:
        raise MalformedFile(f"{what}: custom gates (PLONK sections 4/5) are not supported")
    hoff, hsize = _need(secs, 1, what, "header")
    if hsize != 4 + N8 + 4 * 4 + 8 + 4:
        raise MalformedFile(f"{what}: header section has {hsize} bytes, expected {N8 + 32}")
    p = _field_header(data, hoff, hsize, what)
    n_wires, n_out, n_pub, n_prv, n_labels, m = struct.unpack_from("<IIIIQI", data, p)
    if n_wires < 1:
        raise MalformedFile(f"{what}: no wires (wire 0, the constant, must exist)")
    if 1 + n_out + n_pub + n_prv > n_wires:
        raise MalformedFile(f"{what}: more inputs and outputs than wires")
    if n_labels < n_wires:
        raise MalformedFile(f"{what}: fewer labels ({n_labels}) than wires ({n_wires})")

    coff, csize = _need(secs, 2, what, "constraints")
    # each constraint takes at least 12 bytes (three counts)
    if m * 12 > csize:
        raise MalformedFile(f"{what}: constraints section too small for {m} constraints")
    end = coff + csize
    pos = coff
    u32 = struct.Struct("<I").unpack_from
    constraints: list[tuple[Row, Row, Row]] = []
    term_size = 4 + N8
    for k in range(m):
        rows: list[Row] = []
        for _ in range(3):
            if pos + 4 > end:
                raise MalformedFile(f"{what}: constraint {k} runs past its section")
            (nnz,) = u32(data, pos)
            pos += 4
            if nnz * term_size > end - pos:
                raise MalformedFile(f"{what}: constraint {k} runs past its section")
            terms: dict[int, int] = {}
            for _ in range(nnz):
                (wi,) = u32(data, pos)
                c = int.from_bytes(data[pos + 4 : pos + term_size], "little")
                pos += term_size
                if wi >= n_wires:
                    raise MalformedFile(f"{what}: constraint {k} uses wire {wi} >= {n_wires}")
                if c >= R:
                    raise MalformedFile(f"{what}: constraint {k} has a coefficient >= r")
                if wi in terms:
                    raise MalformedFile(f"{what}: constraint {k} repeats wire {wi}")
                if c:
                    terms[wi] = c
            rows.append(tuple(sorted(terms.items())))
        constraints.append((rows[0], rows[1], rows[2]))
    if pos != end:
        raise MalformedFile(f"{what}: {end - pos} unused bytes in the constraints section")

    if 3 in secs:
        loff, lsize = secs[3]
        if lsize != 8 * n_wires:
            raise MalformedFile(
                f"{what}: wire-to-label section has {lsize} bytes, expected {8 * n_wires}"
            )
        labels = struct.unpack_from(f"<{n_wires}Q", data, loff)
        if labels[0] != 0:
            raise MalformedFile(f"{what}: wire 0 must map to label 0")
        if any(lb >= n_labels for lb in labels):
            raise MalformedFile(f"{what}: a wire maps to a label >= nLabels")
    else:
        raise MalformedFile(f"{what}: missing wire-to-label section (3)")
    return R1CS(
        n_wires=n_wires,
        n_pub_out=n_out,
        n_pub_in=n_pub,
        n_prv_in=n_prv,
        constraints=tuple(constraints),
        n_labels=n_labels,
        wire_to_label=tuple(labels),
    )


def write_r1cs(path: str | Path, r1cs: R1CS) -> None:
    Path(path).write_bytes(dump_r1cs(r1cs))


def read_r1cs(path: str | Path) -> R1CS:
    return load_r1cs(Path(path).read_bytes())


# --------------------------------------------------------------------- wtns
def dump_wtns(witness: Sequence[int]) -> bytes:
    """Serialize a witness to iden3 ``.wtns`` (version 2)."""
    n = len(witness)
    body = bytearray()
    for i, v in enumerate(witness):
        if not isinstance(v, int) or not 0 <= v < R:
            raise WitnessError(f"wtns: witness[{i}] is not a canonical field element")
        body += v.to_bytes(N8, "little")
    header = struct.pack("<I", N8) + _R_BYTES + struct.pack("<I", n)
    return b"".join(
        [
            b"wtns",
            struct.pack("<II", 2, 2),
            struct.pack("<IQ", 1, len(header)),
            header,
            struct.pack("<IQ", 2, len(body)),
            bytes(body),
        ]
    )


def load_wtns(data: bytes) -> list[int]:
    """Parse an iden3 ``.wtns`` (version 2) over BN254 Fr."""
    what = "wtns"
    data = bytes(data)
    secs = parse_container(data, b"wtns", 2, what)
    hoff, hsize = _need(secs, 1, what, "header")
    if hsize != 4 + N8 + 4:
        raise MalformedFile(f"{what}: header section has {hsize} bytes, expected {N8 + 8}")
    p = _field_header(data, hoff, hsize, what)
    (n,) = struct.unpack_from("<I", data, p)
    voff, vsize = _need(secs, 2, what, "witness")
    if vsize != n * N8:
        raise MalformedFile(f"{what}: witness section has {vsize} bytes, expected {n * N8}")
    out = []
    for i in range(n):
        v = int.from_bytes(data[voff + i * N8 : voff + (i + 1) * N8], "little")
        if v >= R:
            raise MalformedFile(f"{what}: witness[{i}] is not below r")
        out.append(v)
    return out


def write_wtns(path: str | Path, witness: Sequence[int]) -> None:
    Path(path).write_bytes(dump_wtns(witness))


def read_wtns(path: str | Path) -> list[int]:
    return load_wtns(Path(path).read_bytes())
