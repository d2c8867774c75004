"""A single-party Groth16 setup -- for DEVELOPMENT only (see :func:`dev_setup`).

The keys are exactly those snarkjs would hold after ``zkey new`` on a powers-of-tau
file with secret tau, alpha, beta, followed by one contribution with secret delta
(and with gamma = the chosen gamma instead of snarkjs's fixed generator): same
sections, same point semantics, same domain, same coefficient section (see
:mod:`.formats`), and the section-10 circuit hash computed as ``zkey new`` computes
it (BLAKE2b-512 over the key before any contribution: gamma = delta = 1).
"""

from __future__ import annotations

import hashlib
import random
import secrets
import struct
import sys
import time
from collections.abc import Callable
from typing import TextIO, cast

from .. import _native, errors
from ..circuit import R1CS, CompiledCircuit
from ..curve import G1, G2
from ..field import R
from .formats import encode_coefficients, points_to_mont
from .keys import Coefficient, ProvingKey, VerifyingKey, circuit_id

__all__ = ["dev_setup", "domain_log_size"]

#: ``progress(phase, fraction_done)``
ProgressFn = Callable[[str, float], None]
_GENERATOR = 5  # the multiplicative generator snarkjs/ffjavascript use for roots of unity
_TWO_ADICITY = 28
_CHUNK = 1 << 13


def domain_log_size(r1cs: R1CS) -> int:
    """log2 of the evaluation domain snarkjs uses: the smallest power of two
    strictly above ``constraints + n_public`` (one extra A row per public signal
    and the constant wire)."""
    need = r1cs.n_constraints + r1cs.n_public
    if need < 1:
        raise errors.InvalidInput("setup: the circuit has no constraints and no public signals")
    return need.bit_length()


class _Bar:
    """A progress bar on stderr, drawn only on a terminal and only after 1 s."""

    def __init__(self, stream: TextIO | None = None, delay: float = 1.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self.delay = delay
        try:
            self.tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.drawn = False

    def __call__(self, phase: str, frac: float) -> None:
        if not self.tty or time.monotonic() - self.start < self.delay:
            return
        width = 30
        done = int(width * min(max(frac, 0.0), 1.0))
        line = f"\rzkattest dev setup [{'#' * done}{'.' * (width - done)}] {frac:4.0%} {phase:<12}"
        self.stream.write(line)
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * 70 + "\r")
            self.stream.flush()


def _rand_nonzero(rng: random.Random | None) -> int:
    if rng is None:
        return secrets.randbelow(R - 1) + 1
    return rng.randrange(1, R)


def dev_setup(
    r1cs: R1CS | CompiledCircuit,
    *,
    rng: random.Random | None = None,
    progress: ProgressFn | bool | None = None,
    nthreads: int | None = None,
) -> tuple[ProvingKey, VerifyingKey]:
    """Generate a proving and a verifying key for ``r1cs`` -- FOR DEVELOPMENT ONLY.

    One party draws the toxic waste (tau, alpha, beta, gamma, delta) from
    :mod:`secrets` and anyone who learns it can forge proofs for every statement of
    this circuit.  Production keys come from a multi-party ceremony (a snarkjs
    ``.zkey`` read with :func:`~zkattest.groth16.read_zkey`).

    Wiping, honestly: the secrets live only in local Python ints that are deleted
    when the keys are made, and the scalar buffers handed to the native core are
    bytearrays zeroed after use.  Python cannot overwrite an int's memory, the
    native boundary makes an immutable copy of each buffer, and freed memory is not
    cleared, so copies may persist in the process until reused.  Do not run it in
    a process whose memory others can read.

    ``r1cs``: an :class:`~zkattest.circuit.R1CS` (or a compiled circuit, whose
    ``.r1cs`` is used); the keys record its :func:`circuit_id`.  ``rng``: a seeded
    :class:`random.Random` for reproducible TEST keys only (never for real use).
    ``progress``: ``None`` = a bar on stderr when it is a terminal and the setup
    runs for more than a second; ``False`` = silent; a callable gets
    ``(phase, fraction)``.
    """
    if isinstance(r1cs, CompiledCircuit):
        r1cs = r1cs.r1cs
    if not isinstance(r1cs, R1CS):
        raise errors.InvalidInput("dev_setup needs an R1CS or a compiled circuit")
    if r1cs.prime != R:
        raise errors.InvalidInput("dev_setup: the circuit is not over BN254's scalar field")
    log_n = domain_log_size(r1cs)
    if log_n > _TWO_ADICITY - 1:
        raise errors.InvalidParameter(f"setup: domain 2^{log_n} is too large (max 2^27)")
    n = 1 << log_n

    bar: _Bar | None = None
    if progress is None or progress is True:
        bar = _Bar()
        report: ProgressFn = bar
    elif progress is False:
        report = _silent
    elif callable(progress):
        report = progress
    else:
        raise errors.InvalidInput("progress must be None, a bool or a callable")

    # toxic waste: tau must avoid the 2n-point domain (so every Lagrange value exists)
    while True:
        tau = _rand_nonzero(rng)
        if pow(tau, 2 * n, R) != 1:
            break
    alpha = _rand_nonzero(rng)
    beta = _rand_nonzero(rng)
    gamma = _rand_nonzero(rng)
    delta = _rand_nonzero(rng)
    try:
        pk = _keys_from_toxic(r1cs, tau, alpha, beta, gamma, delta, report, nthreads)
    finally:
        del tau, alpha, beta, gamma, delta
        if bar is not None:
            bar.close()
    return pk, pk.verifying_key()


def _silent(phase: str, frac: float) -> None:
    return None


def _lagrange_at(tau: int, log_n: int, odd_of_double: bool = False) -> list[int]:
    """L_j(tau) over the n-point domain, or (``odd_of_double``) the values
    L_{2j+1}(tau) of the 2n-point domain's basis, j < n:
    L_j(tau) = (tau^N - 1)/N * x_j/(tau - x_j) for domain size N and points x_j."""
    n = 1 << log_n
    size = 2 * n if odd_of_double else n
    omega_size = pow(_GENERATOR, (R - 1) // size, R)
    if odd_of_double:
        step = omega_size * omega_size % R  # points x_j = w^(2j+1) = w * (w^2)^j
        x = omega_size
    else:
        step = omega_size
        x = 1
    xs = []
    diffs = bytearray(32 * n)
    for j in range(n):
        xs.append(x)
        diffs[32 * j : 32 * j + 32] = ((tau - x) % R).to_bytes(32, "little")
        x = x * step % R
    inv = _native.fr_batch_inv(cast(bytes, diffs))
    _wipe(diffs)
    z = (pow(tau, size, R) - 1) * pow(size, -1, R) % R
    out = [
        z * xs[j] % R * int.from_bytes(inv[32 * j : 32 * j + 32], "little") % R for j in range(n)
    ]
    return out


def _wipe(buf: bytearray) -> None:
    buf[:] = bytes(len(buf))


def _encode(values: list[int]) -> bytearray:
    out = bytearray(32 * len(values))
    for i, v in enumerate(values):
        out[32 * i : 32 * i + 32] = (v % R).to_bytes(32, "little")
    return out


def _muls(
    g2: bool, scalars: list[int], report: ProgressFn, phase: str, nthreads: int | None
) -> bytes:
    """[s]G for every scalar (native fixed-base batches), in chunks for progress."""
    base = _native.g2_generator() if g2 else _native.g1_generator()
    fn = _native.g2_muls if g2 else _native.g1_muls
    parts = []
    total = max(len(scalars), 1)
    for i in range(0, len(scalars), _CHUNK):
        buf = _encode(scalars[i : i + _CHUNK])
        try:
            parts.append(fn(base, cast(bytes, buf), nthreads))  # no extra copy
        finally:
            _wipe(buf)
        report(phase, min(i + _CHUNK, total) / total)
    return b"".join(parts)


def _to_u(points: bytes, g2: bool) -> bytes:
    """snarkjs's "uncompressed" form used for hashing: big-endian coordinates, an
    Fq2 as c1 || c0, infinity all zero."""
    size = 128 if g2 else 64
    out = []
    for i in range(0, len(points), size):
        p = points[i : i + size]
        if not any(p):
            out.append(p)
        elif g2:
            out.append(p[32:64][::-1] + p[0:32][::-1] + p[96:128][::-1] + p[64:96][::-1])
        else:
            out.append(p[0:32][::-1] + p[32:64][::-1])
    return b"".join(out)


def _hashed_h_count(n: int) -> int:
    chunk = 1 << 14
    per = min(n - 1, chunk)
    chunks = -(-(n - 1) // chunk)
    return per * chunks


def _u32be(n: int) -> bytes:
    return struct.pack(">I", n)


def _keys_from_toxic(
    r1cs: R1CS,
    tau: int,
    alpha: int,
    beta: int,
    gamma: int,
    delta: int,
    report: ProgressFn = _silent,
    nthreads: int | None = None,
) -> ProvingKey:
    """The keys for given toxic values (tests call this directly)."""
    m = r1cs.n_constraints
    n_vars = r1cs.n_wires
    npub = r1cs.n_public
    log_n = domain_log_size(r1cs)
    n = 1 << log_n
    report("lagrange", 0.0)
    lag = _lagrange_at(tau, log_n)
    # u_i, v_i, w_i: the QAP polynomials of wire i at tau
    u = [0] * n_vars
    v = [0] * n_vars
    w = [0] * n_vars
    coefs: list[Coefficient] = []
    for k, (ra, rb, rc) in enumerate(r1cs.constraints):
        lk = lag[k]
        for i, c in ra:
            u[i] += c * lk
            coefs.append(Coefficient(0, k, i, c))
        for i, c in rb:
            v[i] += c * lk
            coefs.append(Coefficient(1, k, i, c))
        for i, c in rc:
            w[i] += c * lk
    for s in range(npub + 1):  # snarkjs: row m + s is "signal s * 1 = 0" in A only
        u[s] += lag[m + s]
        coefs.append(Coefficient(0, m + s, s, 1))
    u = [x % R for x in u]
    v = [x % R for x in v]
    w = [x % R for x in w]
    report("lagrange", 1.0)
    h_vals = _lagrange_at(tau, log_n, odd_of_double=True)
    del lag

    inv_gamma = pow(gamma, -1, R)
    inv_delta = pow(delta, -1, R)
    k_vals = [(beta * u[i] + alpha * v[i] + w[i]) % R for i in range(n_vars)]
    ic_vals = [k * inv_gamma % R for k in k_vals[: npub + 1]]
    c_vals = [k * inv_delta % R for k in k_vals[npub + 1 :]]
    h_final = [x * inv_delta % R for x in h_vals]
    # the circuit hash covers the key before the contribution (gamma = delta = 1)
    # and H as [tau^i (tau^n - 1)]_1 as zkey new hashes them: n - 1 points, except
    # that above 2^14 its chunked loop reads whole chunks of 2^14, so n points
    zn = (pow(tau, n, R) - 1) % R
    hash_h = []
    t = 1
    for _ in range(_hashed_h_count(n)):
        hash_h.append(t * zn % R)
        t = t * tau % R

    g1_scalars = [alpha, beta, delta, *ic_vals, *c_vals, *u, *v, *h_final, *k_vals, *hash_h]
    g2_scalars = [beta, gamma, delta, *v]
    del k_vals, ic_vals, c_vals, h_final, hash_h, h_vals, u, v, w, zn, t
    g1 = _muls(False, g1_scalars, report, "G1 points", nthreads)
    g2 = _muls(True, g2_scalars, report, "G2 points", nthreads)
    del g1_scalars, g2_scalars

    pos1 = 0

    def take1(count: int) -> bytes:
        nonlocal pos1
        out = g1[pos1 : pos1 + 64 * count]
        pos1 += 64 * count
        return out

    alpha1 = G1._trusted(take1(1))
    beta1 = G1._trusted(take1(1))
    delta1 = G1._trusted(take1(1))
    ic_pts = take1(npub + 1)
    c_pts = take1(n_vars - npub - 1)
    a_pts = take1(n_vars)
    b1_pts = take1(n_vars)
    h_pts = take1(n)
    k_pts = take1(n_vars)  # unscaled IC then C, for the circuit hash
    hh_pts = take1(_hashed_h_count(n))
    beta2 = G2._trusted(g2[0:128])
    gamma2 = G2._trusted(g2[128:256])
    delta2 = G2._trusted(g2[256:384])
    b2_pts = g2[384:]
    report("writing", 0.0)

    hasher = hashlib.blake2b(digest_size=64)
    gen1 = _native.g1_generator()
    gen2 = _native.g2_generator()
    hasher.update(_to_u(alpha1.to_bytes(), False))
    hasher.update(_to_u(beta1.to_bytes(), False))
    hasher.update(_to_u(beta2.to_bytes(), True))
    hasher.update(_to_u(gen2, True))  # gamma2 = 1 before contributions
    hasher.update(_to_u(gen1, False))  # delta1
    hasher.update(_to_u(gen2, True))  # delta2
    for count, pts, is_g2 in (
        (npub + 1, k_pts[: 64 * (npub + 1)], False),
        (n - 1, hh_pts, False),
        (n_vars - npub - 1, k_pts[64 * (npub + 1) :], False),
        (n_vars, a_pts, False),
        (n_vars, b1_pts, False),
        (n_vars, b2_pts, True),
    ):
        hasher.update(_u32be(count))
        hasher.update(_to_u(pts, is_g2))
    mpc_params = hasher.digest() + struct.pack("<I", 0)

    pk = ProvingKey(
        n_vars=n_vars,
        n_public=npub,
        log_domain=log_n,
        alpha1=alpha1,
        beta1=beta1,
        beta2=beta2,
        gamma2=gamma2,
        delta1=delta1,
        delta2=delta2,
        ic=tuple(G1._trusted(ic_pts[i : i + 64]) for i in range(0, len(ic_pts), 64)),
        coefs=encode_coefficients(coefs),
        a=points_to_mont(a_pts),
        b1=points_to_mont(b1_pts),
        b2=points_to_mont(b2_pts),
        c=points_to_mont(c_pts),
        h=points_to_mont(h_pts),
        mpc_params=mpc_params,
        circuit_id=circuit_id(r1cs),
    )
    report("writing", 1.0)
    return pk
