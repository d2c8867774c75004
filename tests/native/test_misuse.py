"""Misuse of the C API is a status, never a crash.

For every exported function taking pointers, passing NULL for any one of them
(with every other argument valid) returns ZKA_ERR_NULL.  The list of functions
and their parameters is read from the public header, so a new export is covered
automatically.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from zkattest import _native

ffi, lib = _native.ffi, _native.lib
HEADER = Path(__file__).resolve().parents[2] / "native" / "include" / "zkattest.h"

# valid values for the non-pointer parameters, by name
SIZES: dict[str, int] = {
    "n": 1,
    "e_len": 1,
    "iters": 1,
    "nthreads": 1,
    "power": 1,
    "t": 3,
    "count": 1,
    "inputs_len": 2,
    "arity": 2,
    "rc_len": 65 * 3,
    "mds_len": 9,
}
ELEMENT_BYTES = {
    "zka_fr": 32,
    "zka_fq": 32,
    "zka_fq2": 64,
    "zka_fq6": 192,
    "zka_fq12": 384,
    "zka_g1": 64,
    "zka_g2": 128,
    "uint8_t": 128,
    "uint32_t": 4,
    "int": 4,
}
SKIP_PARAMS = {("zka_pairing_check_prepared", "qs"), ("zka_pairing_check_prepared", "preps")}


def _prototypes() -> list[tuple[str, list[tuple[str, str]]]]:
    text = HEADER.read_text()
    body = text[text.index("CDEF-BEGIN") : text.index("/* CDEF-END */")]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    out = []
    for m in re.finditer(r"zka_status\s+(zka_\w+)\s*\(([^)]*)\)\s*;", body):
        name, params = m.group(1), m.group(2)
        plist = []
        for p in params.split(","):
            p = " ".join(p.split())
            if not p or p == "void":
                continue
            pm = re.match(r"(.*?)(\w+)$", p)
            assert pm, p
            plist.append((pm.group(1).strip(), pm.group(2)))
        out.append((name, plist))
    return out


def _value(fname: str, ctype: str, pname: str, keep: list[Any]) -> Any:
    if "*" not in ctype:
        if pname in SIZES:
            return SIZES[pname]
        if pname == "in_len":
            return {"zka_g1_decompress": 32, "zka_g2_decompress": 64}.get(fname, 32)
        if pname == "out_len":
            return {"zka_g1_compress": 32, "zka_g2_compress": 64}.get(fname, 32)
        return 1
    base = ctype.replace("const", "").replace("*", "").strip()
    if ctype.count("*") == 2:
        # an out-parameter for an allocated handle, or an array of handles
        buf = ffi.new(f"{base} *[4]")
        keep.append(buf)
        return buf
    if base == "zka_ntt_domain":
        pp = ffi.new("zka_ntt_domain **")
        assert lib.zka_ntt_domain_new(pp, 0) == lib.ZKA_OK
        dom = ffi.gc(pp[0], lib.zka_ntt_domain_free)
        keep.append(dom)
        return dom
    size = ELEMENT_BYTES.get(base, 64) * 200
    buf = ffi.new(f"uint8_t[{size}]")
    keep.append(buf)
    return ffi.cast(f"{base} *", buf)


PROTOS = [p for p in _prototypes() if any("*" in t for t, _ in p[1])]


@pytest.mark.parametrize(("fname", "params"), PROTOS, ids=[p[0] for p in PROTOS])
def test_null_pointer_is_a_status(fname: str, params: list[tuple[str, str]]) -> None:
    fn = getattr(lib, fname)
    for i, (ctype, pname) in enumerate(params):
        if "*" not in ctype or (fname, pname) in SKIP_PARAMS:
            continue
        keep: list[Any] = []
        args = [_value(fname, t, n, keep) for t, n in params]
        args[i] = ffi.NULL
        assert fn(*args) == lib.ZKA_ERR_NULL, f"{fname}: NULL {pname}"


def test_prototypes_found() -> None:
    names = {n for n, _ in PROTOS}
    assert {"zka_fr_add", "zka_g1s_msm", "zka_ntt_forward", "zka_poseidon_hash"} <= names
