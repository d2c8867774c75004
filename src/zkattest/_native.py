"""The boundary: the only module that imports the compiled core ``zkattest._zkcore``.

A 1:1 thin layer (pynacl style): every ``zka_X`` of ``native/include/zkattest.h``
is exposed here as ``X``.  Inputs are ``bytes`` (arrays concatenated) and ints;
outputs are returned as ``bytes``.  Lengths are checked before the call and every
non-OK status becomes a :mod:`zkattest.errors` exception.  cffi releases the GIL
around every call into the core, so long calls (MSM, NTT, batches) run in
parallel with other Python threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from . import errors
from ._zkcore import ffi, lib

EXPECTED_VERSION = 0x000100

if lib.zka_version() != EXPECTED_VERSION:  # pragma: no cover - build mismatch
    raise ImportError(
        f"zkattest native core version {lib.zka_version():#x} does not match "
        f"the Python package ({EXPECTED_VERSION:#x}); reinstall zkattest"
    )

FR_BYTES: int = lib.ZKA_FR_BYTES
FQ_BYTES: int = lib.ZKA_FQ_BYTES
FQ2_BYTES: int = 2 * FQ_BYTES
FQ6_BYTES: int = 6 * FQ_BYTES
FQ12_BYTES: int = lib.ZKA_FQ12_BYTES
G1_BYTES: int = lib.ZKA_G1_BYTES
G2_BYTES: int = lib.ZKA_G2_BYTES
G1_COMPRESSED_BYTES: int = lib.ZKA_G1_COMPRESSED_BYTES
G2_COMPRESSED_BYTES: int = lib.ZKA_G2_COMPRESSED_BYTES
NTT_MAX_LOG: int = lib.ZKA_NTT_MAX_LOG
POSEIDON_MIN_T: int = lib.ZKA_POSEIDON_MIN_T
POSEIDON_MAX_T: int = lib.ZKA_POSEIDON_MAX_T
CPU_ADX: int = lib.ZKA_CPU_ADX
CPU_BMI2: int = lib.ZKA_CPU_BMI2
CPU_AVX512IFMA: int = lib.ZKA_CPU_AVX512IFMA

_STATUS: dict[int, tuple[type[errors.ZkAttestError], str]] = {
    lib.ZKA_ERR_NULL: (errors.NativeMisuse, "a required pointer was NULL"),
    lib.ZKA_ERR_LENGTH: (errors.InvalidLength, "length or count not allowed"),
    lib.ZKA_ERR_PARAM: (errors.InvalidParameter, "parameter out of range"),
    lib.ZKA_ERR_NONCANONICAL: (
        errors.NonCanonicalEncoding,
        "field element encoding is not below the modulus",
    ),
    lib.ZKA_ERR_NOT_ON_CURVE: (errors.NotOnCurve, "point is not on the curve"),
    lib.ZKA_ERR_NOT_IN_SUBGROUP: (
        errors.NotInSubgroup,
        "point is not in the prime-order subgroup",
    ),
    lib.ZKA_ERR_ENCODING: (errors.MalformedEncoding, "malformed point encoding"),
    lib.ZKA_ERR_NOT_INVERTIBLE: (errors.NotInvertible, "zero has no inverse"),
    lib.ZKA_ERR_NO_SQRT: (errors.NoSquareRoot, "element is not a square"),
    lib.ZKA_ERR_NOMEM: (errors.OutOfMemory, "native core is out of memory"),
    lib.ZKA_ERR_THREAD: (errors.ThreadError, "native core could not start threads"),
}


def check(status: int, what: str = "") -> None:
    """Raise the exception that matches a non-OK status."""
    if status == lib.ZKA_OK:
        return
    cls, msg = _STATUS.get(status, (errors.NativeError, f"unknown native status {status}"))
    raise cls(f"{what}: {msg}" if what else msg)


def _bytes(name: str, data: bytes, size: int) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise errors.InvalidInput(f"{name}: expected bytes, got {type(data).__name__}")
    if len(data) != size:
        raise errors.InvalidLength(f"{name}: expected {size} bytes, got {len(data)}")
    # no copy of bytes/bytearray: a caller can wipe its bytearray after the call
    return data if isinstance(data, bytes | bytearray) else bytes(data)


def _array(name: str, data: bytes, elem: int) -> tuple[bytes, int]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise errors.InvalidInput(f"{name}: expected bytes, got {type(data).__name__}")
    if len(data) % elem:
        raise errors.InvalidLength(f"{name}: length {len(data)} is not a multiple of {elem}")
    return (data if isinstance(data, bytes | bytearray) else bytes(data)), len(data) // elem


def _threads(nthreads: int | None) -> int:
    if nthreads is None:
        env = os.environ.get("ZKATTEST_THREADS", "0")
        try:
            nthreads = int(env)
        except ValueError:
            raise errors.InvalidParameter("ZKATTEST_THREADS must be an integer") from None
    if not 0 <= nthreads <= 256:
        raise errors.InvalidParameter("nthreads must be in 0..256 (0 = all cores)")
    return nthreads


def _uint(name: str, value: int, bits: int) -> int:
    """An integer argument of a C unsigned type (``bits`` wide): out of range is a
    library error here, not cffi's OverflowError."""
    if not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise errors.InvalidParameter(f"{name} must be an integer in 0..2**{bits}-1")
    return value


def _ptr(ctype: str, data: bytes) -> Any:
    return ffi.from_buffer(ctype + " *", data)


def _unary(fn: Any, ctype: str, size: int, out_size: int | None = None) -> Callable[[bytes], bytes]:
    out_size = size if out_size is None else out_size
    name = fn.__name__

    def op(a: bytes) -> bytes:
        a = _bytes("a", a, size)
        out = ffi.new(f"uint8_t[{out_size}]")
        check(fn(ffi.cast(ctype + " *", out), _ptr(ctype, a)), name)
        return bytes(ffi.buffer(out))

    op.__name__ = name.removeprefix("zka_")
    return op


def _binary(fn: Any, ctype: str, size: int) -> Callable[[bytes, bytes], bytes]:
    name = fn.__name__

    def op(a: bytes, b: bytes) -> bytes:
        a = _bytes("a", a, size)
        b = _bytes("b", b, size)
        out = ffi.new(f"uint8_t[{size}]")
        check(fn(ffi.cast(ctype + " *", out), _ptr(ctype, a), _ptr(ctype, b)), name)
        return bytes(ffi.buffer(out))

    op.__name__ = name.removeprefix("zka_")
    return op


def _nullary(fn: Any, ctype: str, size: int) -> Callable[[], bytes]:
    def op() -> bytes:
        out = ffi.new(f"uint8_t[{size}]")
        check(fn(ffi.cast(ctype + " *", out)), fn.__name__)
        return bytes(ffi.buffer(out))

    op.__name__ = fn.__name__.removeprefix("zka_")
    return op


def _validator(fn: Any, ctype: str, size: int) -> Callable[[bytes], None]:
    def op(a: bytes) -> None:
        a = _bytes("a", a, size)
        check(fn(_ptr(ctype, a)), fn.__name__)

    op.__name__ = fn.__name__.removeprefix("zka_")
    return op


# ---------------------------------------------------------------- library
def version() -> int:
    return int(lib.zka_version())


def cpu_features() -> int:
    return int(lib.zka_cpu_features())


def default_threads() -> int:
    return int(lib.zka_default_threads())


# ---------------------------------------------------------------- fields
def _field(prefix: str, ctype: str) -> dict[str, Any]:
    size = 32
    ns: dict[str, Any] = {}
    ns["check"] = _validator(getattr(lib, f"zka_{prefix}_check"), ctype, size)
    for op in ("add", "sub", "mul"):
        ns[op] = _binary(getattr(lib, f"zka_{prefix}_{op}"), ctype, size)
    for op in ("neg", "sqr", "inv"):
        ns[op] = _unary(getattr(lib, f"zka_{prefix}_{op}"), ctype, size)
    reduce_fn = getattr(lib, f"zka_{prefix}_reduce")
    pow_fn = getattr(lib, f"zka_{prefix}_pow")
    batch_fn = getattr(lib, f"zka_{prefix}_batch_inv")

    def reduce(data: bytes) -> bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise errors.InvalidInput("reduce: expected bytes")
        data = bytes(data)
        out = ffi.new(f"{ctype} *")
        check(reduce_fn(out, data, len(data)), f"{prefix}_reduce")
        return bytes(ffi.buffer(out))

    def pow_(a: bytes, e: bytes) -> bytes:
        a = _bytes("a", a, size)
        if not isinstance(e, bytes | bytearray | memoryview):
            raise errors.InvalidInput("pow: exponent must be bytes")
        e = bytes(e)
        out = ffi.new(f"{ctype} *")
        check(pow_fn(out, _ptr(ctype, a), e, len(e)), f"{prefix}_pow")
        return bytes(ffi.buffer(out))

    def batch_inv(values: bytes) -> bytes:
        values, n = _array("values", values, size)
        out = ffi.new(f"uint8_t[{max(len(values), 1)}]")
        check(batch_fn(ffi.cast(ctype + " *", out), _ptr(ctype, values), n), f"{prefix}_batch_inv")
        return bytes(ffi.buffer(out, len(values)))

    ns["reduce"] = reduce
    ns["pow"] = pow_
    ns["batch_inv"] = batch_inv
    return {f"{prefix}_{k}": v for k, v in ns.items()}


_FR = _field("fr", "zka_fr")
_FQ = _field("fq", "zka_fq")
fr_check: Callable[[bytes], None] = _FR["fr_check"]
fr_add: Callable[[bytes, bytes], bytes] = _FR["fr_add"]
fr_sub: Callable[[bytes, bytes], bytes] = _FR["fr_sub"]
fr_mul: Callable[[bytes, bytes], bytes] = _FR["fr_mul"]
fr_neg: Callable[[bytes], bytes] = _FR["fr_neg"]
fr_sqr: Callable[[bytes], bytes] = _FR["fr_sqr"]
fr_inv: Callable[[bytes], bytes] = _FR["fr_inv"]
fr_reduce: Callable[[bytes], bytes] = _FR["fr_reduce"]
fr_pow: Callable[[bytes, bytes], bytes] = _FR["fr_pow"]
fr_batch_inv: Callable[[bytes], bytes] = _FR["fr_batch_inv"]
fq_check: Callable[[bytes], None] = _FQ["fq_check"]
fq_add: Callable[[bytes, bytes], bytes] = _FQ["fq_add"]
fq_sub: Callable[[bytes, bytes], bytes] = _FQ["fq_sub"]
fq_mul: Callable[[bytes, bytes], bytes] = _FQ["fq_mul"]
fq_neg: Callable[[bytes], bytes] = _FQ["fq_neg"]
fq_sqr: Callable[[bytes], bytes] = _FQ["fq_sqr"]
fq_inv: Callable[[bytes], bytes] = _FQ["fq_inv"]
fq_reduce: Callable[[bytes], bytes] = _FQ["fq_reduce"]
fq_pow: Callable[[bytes, bytes], bytes] = _FQ["fq_pow"]
fq_batch_inv: Callable[[bytes], bytes] = _FQ["fq_batch_inv"]


def fq_sqrt(a: bytes) -> bytes:
    a = _bytes("a", a, FQ_BYTES)
    out = ffi.new("zka_fq *")
    check(lib.zka_fq_sqrt(out, _ptr("zka_fq", a)), "fq_sqrt")
    return bytes(ffi.buffer(out))


def fq_mul_loop(x: bytes, y: bytes, iters: int) -> bytes:
    """x <- x*y, iters times (benchmark helper)."""
    x = _bytes("x", x, FQ_BYTES)
    y = _bytes("y", y, FQ_BYTES)
    buf = ffi.new("zka_fq *")
    ffi.memmove(buf, x, FQ_BYTES)
    check(lib.zka_fq_mul_loop(buf, _ptr("zka_fq", y), _uint("iters", iters, 64)), "fq_mul_loop")
    return bytes(ffi.buffer(buf))


# ---------------------------------------------------------------- towers
fq2_add = _binary(lib.zka_fq2_add, "zka_fq2", FQ2_BYTES)
fq2_sub = _binary(lib.zka_fq2_sub, "zka_fq2", FQ2_BYTES)
fq2_mul = _binary(lib.zka_fq2_mul, "zka_fq2", FQ2_BYTES)
fq2_sqr = _unary(lib.zka_fq2_sqr, "zka_fq2", FQ2_BYTES)
fq2_inv = _unary(lib.zka_fq2_inv, "zka_fq2", FQ2_BYTES)
fq2_sqrt = _unary(lib.zka_fq2_sqrt, "zka_fq2", FQ2_BYTES)
fq6_mul = _binary(lib.zka_fq6_mul, "zka_fq6", FQ6_BYTES)
fq6_inv = _unary(lib.zka_fq6_inv, "zka_fq6", FQ6_BYTES)
fq12_mul = _binary(lib.zka_fq12_mul, "zka_fq12", FQ12_BYTES)
fq12_sqr = _unary(lib.zka_fq12_sqr, "zka_fq12", FQ12_BYTES)
fq12_inv = _unary(lib.zka_fq12_inv, "zka_fq12", FQ12_BYTES)
fq12_conj = _unary(lib.zka_fq12_conj, "zka_fq12", FQ12_BYTES)


def fq12_frobenius(a: bytes, power: int) -> bytes:
    a = _bytes("a", a, FQ12_BYTES)
    out = ffi.new("zka_fq12 *")
    power = _uint("power", power, 32)
    check(lib.zka_fq12_frobenius(out, _ptr("zka_fq12", a), power), "fq12_frobenius")
    return bytes(ffi.buffer(out))


# ---------------------------------------------------------------- groups
def _group(g: str, size: int, csize: int) -> dict[str, Any]:
    ctype = f"zka_{g}"
    ns: dict[str, Any] = {
        "generator": _nullary(getattr(lib, f"zka_{g}_generator"), ctype, size),
        "check": _validator(getattr(lib, f"zka_{g}_check"), ctype, size),
        "add": _binary(getattr(lib, f"zka_{g}_add"), ctype, size),
        "double": _unary(getattr(lib, f"zka_{g}_double"), ctype, size),
        "neg": _unary(getattr(lib, f"zka_{g}_neg"), ctype, size),
    }
    mul_fn = getattr(lib, f"zka_{g}_mul_var")
    comp_fn = getattr(lib, f"zka_{g}_compress")
    decomp_fn = getattr(lib, f"zka_{g}_decompress")
    msm_fn = getattr(lib, f"zka_{g}s_msm")
    naive_fn = getattr(lib, f"zka_{g}s_msm_naive")

    def mul_var(p: bytes, k: bytes) -> bytes:
        p = _bytes("p", p, size)
        k = _bytes("k", k, FR_BYTES)
        out = ffi.new(f"{ctype} *")
        check(mul_fn(out, _ptr(ctype, p), _ptr("zka_fr", k)), f"{g}_mul_var")
        return bytes(ffi.buffer(out))

    def compress(p: bytes) -> bytes:
        p = _bytes("p", p, size)
        out = ffi.new(f"uint8_t[{csize}]")
        check(comp_fn(out, csize, _ptr(ctype, p)), f"{g}_compress")
        return bytes(ffi.buffer(out))

    def decompress(data: bytes) -> bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise errors.InvalidInput("decompress: expected bytes")
        data = bytes(data)
        out = ffi.new(f"{ctype} *")
        check(decomp_fn(out, data, len(data)), f"{g}_decompress")
        return bytes(ffi.buffer(out))

    def msm(points: bytes, scalars: bytes, nthreads: int | None = None) -> bytes:
        points, n = _array("points", points, size)
        scalars, m = _array("scalars", scalars, FR_BYTES)
        if n != m:
            raise errors.InvalidLength(f"{n} points but {m} scalars")
        out = ffi.new(f"{ctype} *")
        check(
            msm_fn(out, _ptr(ctype, points), _ptr("zka_fr", scalars), n, _threads(nthreads)),
            f"{g}s_msm",
        )
        return bytes(ffi.buffer(out))

    def msm_naive(points: bytes, scalars: bytes) -> bytes:
        points, n = _array("points", points, size)
        scalars, m = _array("scalars", scalars, FR_BYTES)
        if n != m:
            raise errors.InvalidLength(f"{n} points but {m} scalars")
        out = ffi.new(f"{ctype} *")
        check(naive_fn(out, _ptr(ctype, points), _ptr("zka_fr", scalars), n), f"{g}s_msm_naive")
        return bytes(ffi.buffer(out))

    muls_fn = getattr(lib, f"zka_{g}_muls")

    def muls(base: bytes, scalars: bytes, nthreads: int | None = None) -> bytes:
        """[k * base for k in scalars] (batch fixed-base multiplication)."""
        base = _bytes("base", base, size)
        scalars, n = _array("scalars", scalars, FR_BYTES)
        out = ffi.new(f"uint8_t[{max(n * size, 1)}]")
        check(
            muls_fn(
                ffi.cast(ctype + " *", out),
                _ptr(ctype, base),
                _ptr("zka_fr", scalars),
                n,
                _threads(nthreads),
            ),
            f"{g}_muls",
        )
        return bytes(ffi.buffer(out, n * size))

    ns.update(mul_var=mul_var, compress=compress, decompress=decompress, muls=muls)
    res = {f"{g}_{k}": v for k, v in ns.items()}
    res[f"{g}s_msm"] = msm
    res[f"{g}s_msm_naive"] = msm_naive
    return res


_G1 = _group("g1", G1_BYTES, G1_COMPRESSED_BYTES)
_G2 = _group("g2", G2_BYTES, G2_COMPRESSED_BYTES)
g1_generator: Callable[[], bytes] = _G1["g1_generator"]
g1_check: Callable[[bytes], None] = _G1["g1_check"]
g1_add: Callable[[bytes, bytes], bytes] = _G1["g1_add"]
g1_double: Callable[[bytes], bytes] = _G1["g1_double"]
g1_neg: Callable[[bytes], bytes] = _G1["g1_neg"]
g1_mul_var: Callable[[bytes, bytes], bytes] = _G1["g1_mul_var"]
g1_compress: Callable[[bytes], bytes] = _G1["g1_compress"]
g1_decompress: Callable[[bytes], bytes] = _G1["g1_decompress"]
g1s_msm: Callable[[bytes, bytes, int | None], bytes] = _G1["g1s_msm"]
g1_muls: Callable[[bytes, bytes, int | None], bytes] = _G1["g1_muls"]
g1s_msm_naive: Callable[[bytes, bytes], bytes] = _G1["g1s_msm_naive"]
g2_generator: Callable[[], bytes] = _G2["g2_generator"]
g2_check: Callable[[bytes], None] = _G2["g2_check"]
g2_add: Callable[[bytes, bytes], bytes] = _G2["g2_add"]
g2_double: Callable[[bytes], bytes] = _G2["g2_double"]
g2_neg: Callable[[bytes], bytes] = _G2["g2_neg"]
g2_mul_var: Callable[[bytes, bytes], bytes] = _G2["g2_mul_var"]
g2_compress: Callable[[bytes], bytes] = _G2["g2_compress"]
g2_decompress: Callable[[bytes], bytes] = _G2["g2_decompress"]
g2s_msm: Callable[[bytes, bytes, int | None], bytes] = _G2["g2s_msm"]
g2_muls: Callable[[bytes, bytes, int | None], bytes] = _G2["g2_muls"]
g2s_msm_naive: Callable[[bytes, bytes], bytes] = _G2["g2s_msm_naive"]
g2_check_on_curve = _validator(lib.zka_g2_check_on_curve, "zka_g2", G2_BYTES)
g2_in_subgroup = _validator(lib.zka_g2_in_subgroup, "zka_g2", G2_BYTES)


def msm_window(n: int) -> int:
    return int(lib.zka_msm_window(_uint("n", n, 64)))


# ---------------------------------------------------------------- NTT
class NttDomain:
    """An owned native NTT domain (twiddles precomputed once; immutable; thread-safe)."""

    __slots__ = ("_ptr", "log_n", "n")

    def __init__(self, log_n: int) -> None:
        if not isinstance(log_n, int) or not 0 <= log_n <= NTT_MAX_LOG:
            raise errors.InvalidParameter(f"log_n must be in 0..{NTT_MAX_LOG}")
        pp = ffi.new("zka_ntt_domain **")
        check(lib.zka_ntt_domain_new(pp, log_n), "ntt_domain_new")
        self._ptr = ffi.gc(pp[0], lib.zka_ntt_domain_free)
        self.log_n = log_n
        self.n = 1 << log_n

    def omega(self) -> bytes:
        out = ffi.new("zka_fr *")
        check(lib.zka_ntt_domain_omega(out, self._ptr), "ntt_domain_omega")
        return bytes(ffi.buffer(out))

    def _run(self, fn: Any, data: bytes, shift: bytes | None, nthreads: int | None) -> bytes:
        data, n = _array("data", data, FR_BYTES)
        if n != self.n:
            raise errors.InvalidLength(f"data has {n} elements, domain has {self.n}")
        buf = ffi.new(f"uint8_t[{max(len(data), 1)}]")
        ffi.memmove(buf, data, len(data))
        arr = ffi.cast("zka_fr *", buf)
        if shift is None:
            check(fn(arr, n, self._ptr, _threads(nthreads)), fn.__name__)
        else:
            shift = _bytes("shift", shift, FR_BYTES)
            check(fn(arr, n, self._ptr, _ptr("zka_fr", shift), _threads(nthreads)), fn.__name__)
        return bytes(ffi.buffer(buf, len(data)))

    def forward(self, data: bytes, nthreads: int | None = None) -> bytes:
        return self._run(lib.zka_ntt_forward, data, None, nthreads)

    def inverse(self, data: bytes, nthreads: int | None = None) -> bytes:
        return self._run(lib.zka_ntt_inverse, data, None, nthreads)

    def coset_forward(self, data: bytes, shift: bytes, nthreads: int | None = None) -> bytes:
        return self._run(lib.zka_ntt_coset_forward, data, shift, nthreads)

    def coset_inverse(self, data: bytes, shift: bytes, nthreads: int | None = None) -> bytes:
        return self._run(lib.zka_ntt_coset_inverse, data, shift, nthreads)


# ---------------------------------------------------------------- Poseidon
def poseidon_hash(inputs: bytes) -> bytes:
    inputs, n = _array("inputs", inputs, FR_BYTES)
    out = ffi.new("zka_fr *")
    check(lib.zka_poseidon_hash(out, _ptr("zka_fr", inputs), n), "poseidon_hash")
    return bytes(ffi.buffer(out))


def poseidon_hashes(inputs: bytes, arity: int) -> bytes:
    inputs, n = _array("inputs", inputs, FR_BYTES)
    arity = _uint("arity", arity, 64)
    if arity <= 0 or n % arity:
        raise errors.InvalidLength("inputs must hold a whole number of rows of `arity` elements")
    count = n // arity
    out = ffi.new(f"uint8_t[{max(count * FR_BYTES, 1)}]")
    check(
        lib.zka_poseidon_hashes(ffi.cast("zka_fr *", out), count, _ptr("zka_fr", inputs), n, arity),
        "poseidon_hashes",
    )
    return bytes(ffi.buffer(out, count * FR_BYTES))


def poseidon_permute(state: bytes) -> bytes:
    state, t = _array("state", state, FR_BYTES)
    buf = ffi.new(f"uint8_t[{max(len(state), 1)}]")
    ffi.memmove(buf, state, len(state))
    check(lib.zka_poseidon_permute(ffi.cast("zka_fr *", buf), t), "poseidon_permute")
    return bytes(ffi.buffer(buf, len(state)))


def poseidon_rounds(t: int) -> tuple[int, int]:
    f = ffi.new("uint32_t *")
    p = ffi.new("uint32_t *")
    check(lib.zka_poseidon_rounds(f, p, _uint("t", t, 64)), "poseidon_rounds")
    return int(f[0]), int(p[0])


def poseidon_constants(t: int) -> tuple[bytes, bytes]:
    full, partial = poseidon_rounds(t)
    n_rc = (full + partial) * t
    rc = ffi.new(f"zka_fr[{n_rc}]")
    mds = ffi.new(f"zka_fr[{t * t}]")
    check(lib.zka_poseidon_constants(rc, n_rc, mds, t * t, t), "poseidon_constants")
    return bytes(ffi.buffer(rc)), bytes(ffi.buffer(mds))


# ---------------------------------------------------------------- pairing
def pairing(p: bytes, q: bytes) -> bytes:
    p = _bytes("p", p, G1_BYTES)
    q = _bytes("q", q, G2_BYTES)
    out = ffi.new("zka_fq12 *")
    check(lib.zka_pairing(out, _ptr("zka_g1", p), _ptr("zka_g2", q)), "pairing")
    return bytes(ffi.buffer(out))


def miller_loop(p: bytes, q: bytes) -> bytes:
    p = _bytes("p", p, G1_BYTES)
    q = _bytes("q", q, G2_BYTES)
    out = ffi.new("zka_fq12 *")
    check(lib.zka_miller_loop(out, _ptr("zka_g1", p), _ptr("zka_g2", q)), "miller_loop")
    return bytes(ffi.buffer(out))


def final_exponentiation(f: bytes) -> bytes:
    f = _bytes("f", f, FQ12_BYTES)
    out = ffi.new("zka_fq12 *")
    check(lib.zka_final_exponentiation(out, _ptr("zka_fq12", f)), "final_exponentiation")
    return bytes(ffi.buffer(out))


def pairing_check(ps: bytes, qs: bytes) -> bool:
    ps, n = _array("ps", ps, G1_BYTES)
    qs, m = _array("qs", qs, G2_BYTES)
    if n != m:
        raise errors.InvalidLength(f"{n} G1 points but {m} G2 points")
    ok = ffi.new("int *")
    check(lib.zka_pairing_check(ok, _ptr("zka_g1", ps), _ptr("zka_g2", qs), n), "pairing_check")
    return bool(ok[0])


class G2Prepared:
    """Precomputed Miller-loop lines of a fixed G2 point (immutable, thread-safe)."""

    __slots__ = ("_ptr", "point")

    def __init__(self, q: bytes) -> None:
        q = _bytes("q", q, G2_BYTES)
        pp = ffi.new("zka_g2_prepared **")
        check(lib.zka_g2_prepare(pp, _ptr("zka_g2", q)), "g2_prepare")
        self._ptr = ffi.gc(pp[0], lib.zka_g2_prepared_free)
        self.point = q


def pairing_check_prepared(ps: bytes, qs: list[bytes | G2Prepared]) -> bool:
    """Pair i uses qs[i]: raw G2 bytes or a G2Prepared."""
    ps, n = _array("ps", ps, G1_BYTES)
    if n != len(qs):
        raise errors.InvalidLength(f"{n} G1 points but {len(qs)} G2 entries")
    raw = bytearray(n * G2_BYTES)
    preps = ffi.new(f"zka_g2_prepared *[{max(n, 1)}]")
    for i, q in enumerate(qs):
        if isinstance(q, G2Prepared):
            preps[i] = q._ptr
        else:
            raw[i * G2_BYTES : (i + 1) * G2_BYTES] = _bytes("q", q, G2_BYTES)
            preps[i] = ffi.NULL
    rawb = bytes(raw)
    ok = ffi.new("int *")
    check(
        lib.zka_pairing_check_prepared(ok, _ptr("zka_g1", ps), _ptr("zka_g2", rawb), preps, n),
        "pairing_check_prepared",
    )
    # keep prepared objects alive until after the call
    del qs
    return bool(ok[0])


# ---------------------------------------------------------------- Groth16 prover
class Groth16ProvingKey:
    """A native proving-key handle parsed from .zkey bytes (immutable, thread-safe)."""

    __slots__ = ("_ptr", "log_domain", "n_public", "n_vars")

    def __init__(self, zkey: bytes) -> None:
        if not isinstance(zkey, bytes | bytearray | memoryview):
            raise errors.InvalidInput("zkey: expected bytes")
        pp = ffi.new("zka_groth16_pk **")
        check(lib.zka_groth16_pk_from_zkey(pp, ffi.from_buffer(zkey), len(zkey)), "zkey")
        self._ptr = ffi.gc(pp[0], lib.zka_groth16_pk_free)
        nv = ffi.new("uint32_t *")
        npub = ffi.new("uint32_t *")
        ld = ffi.new("uint32_t *")
        check(lib.zka_groth16_pk_info(nv, npub, ld, self._ptr), "groth16_pk_info")
        self.n_vars = int(nv[0])
        self.n_public = int(npub[0])
        self.log_domain = int(ld[0])

    def prove(
        self, witness: bytes, r: bytes, s: bytes, nthreads: int | None = None
    ) -> tuple[bytes, bytes, bytes]:
        """(pi_a, pi_b, pi_c) as canonical G1/G2/G1 encodings.

        The witness buffer is passed to C without a copy, so a caller holding it
        in a bytearray can wipe it afterwards.
        """
        if not isinstance(witness, bytes | bytearray | memoryview):
            raise errors.InvalidInput("witness: expected bytes")
        if len(witness) % FR_BYTES:
            raise errors.InvalidLength("witness: length is not a multiple of 32")
        n = len(witness) // FR_BYTES
        r = _bytes("r", r, FR_BYTES)
        s = _bytes("s", s, FR_BYTES)
        a = ffi.new("zka_g1 *")
        b = ffi.new("zka_g2 *")
        c = ffi.new("zka_g1 *")
        check(
            lib.zka_groth16_prove(
                a,
                b,
                c,
                self._ptr,
                ffi.from_buffer("zka_fr *", witness),
                n,
                _ptr("zka_fr", r),
                _ptr("zka_fr", s),
                _threads(nthreads),
            ),
            "groth16_prove",
        )
        return bytes(ffi.buffer(a)), bytes(ffi.buffer(b)), bytes(ffi.buffer(c))
