"""dev_setup: every key point against a plain-Python evaluation of its definition."""

from __future__ import annotations

import io
import random

import pytest

from zkattest import errors
from zkattest.circuit import R1CS, Circuit
from zkattest.curve import G1, G2
from zkattest.field import R
from zkattest.groth16 import circuit_id, dev_setup
from zkattest.groth16.formats import decode_coefficients
from zkattest.groth16.setup import _Bar, _keys_from_toxic, domain_log_size

from .conftest import Keys, toy_circuit


def _lagrange_naive(tau: int, points: list[int], j: int) -> int:
    num, den = 1, 1
    for k, x in enumerate(points):
        if k != j:
            num = num * (tau - x) % R
            den = den * (points[j] - x) % R
    return num * pow(den, -1, R) % R


def test_domain_rule() -> None:
    # smallest power of two >= constraints + public + 1 (snarkjs zkey new)
    def r1cs(m: int, npub: int) -> R1CS:
        row = (((0, 1),), ((0, 1),), ((0, 1),))
        return R1CS(
            n_wires=npub + 1, n_pub_out=npub, n_pub_in=0, n_prv_in=0, constraints=(row,) * m
        )

    assert domain_log_size(r1cs(1, 0)) == 1
    assert domain_log_size(r1cs(1, 1)) == 2
    assert domain_log_size(r1cs(2, 1)) == 2
    assert domain_log_size(r1cs(3, 1)) == 3
    assert domain_log_size(r1cs(4132, 9)) == 13
    assert domain_log_size(r1cs(4087, 8)) == 12
    assert domain_log_size(r1cs(4087, 9)) == 13
    with pytest.raises(errors.InvalidInput):
        domain_log_size(r1cs(0, 0))


def test_keys_match_their_definition() -> None:
    cc = toy_circuit()
    r1cs = cc.r1cs
    tau, alpha, beta, gamma, delta = 1234567, 89, 1011, 1213, 1415
    pk = _keys_from_toxic(r1cs, tau, alpha, beta, gamma, delta)
    m, nv, npub = r1cs.n_constraints, r1cs.n_wires, r1cs.n_public
    n = pk.domain_size
    assert n == 1 << domain_log_size(r1cs)
    assert (pk.n_vars, pk.n_public) == (nv, npub)
    omega = pow(5, (R - 1) // n, R)
    dom = [pow(omega, j, R) for j in range(n)]
    lag = [_lagrange_naive(tau, dom, j) for j in range(n)]
    u, v, w = [0] * nv, [0] * nv, [0] * nv
    for k, (ra, rb, rc) in enumerate(r1cs.constraints):
        for acc, row in ((u, ra), (v, rb), (w, rc)):
            for i, c in row:
                acc[i] = (acc[i] + c * lag[k]) % R
    for s in range(npub + 1):  # snarkjs's extra A rows
        u[s] = (u[s] + lag[m + s]) % R
    g1, g2 = G1.generator(), G2.generator()
    assert pk.alpha1 == g1 * alpha and pk.beta1 == g1 * beta and pk.delta1 == g1 * delta
    assert pk.beta2 == g2 * beta and pk.gamma2 == g2 * gamma and pk.delta2 == g2 * delta
    assert pk.a_points() == [g1 * x for x in u]
    assert pk.b1_points() == [g1 * x for x in v]
    assert pk.b2_points(check_subgroup=True) == [g2 * x for x in v]
    k_vals = [(beta * u[i] + alpha * v[i] + w[i]) % R for i in range(nv)]
    assert list(pk.ic) == [g1 * (k * pow(gamma, -1, R)) for k in k_vals[: npub + 1]]
    assert pk.c_points() == [g1 * (k * pow(delta, -1, R)) for k in k_vals[npub + 1 :]]
    w2 = pow(5, (R - 1) // (2 * n), R)
    dom2 = [pow(w2, j, R) for j in range(2 * n)]
    h = [_lagrange_naive(tau, dom2, 2 * i + 1) * pow(delta, -1, R) % R for i in range(n)]
    assert pk.h_points() == [g1 * x for x in h]
    # the unused private input has zero polynomials: infinity points, stored as zeros
    unused = cc.wire("unused")
    assert pk.a_points()[unused].is_identity()
    assert pk.a[64 * unused : 64 * unused + 64] == bytes(64)
    # coefficient section: A and B entries per constraint, then the extra A rows
    coefs = decode_coefficients(pk.coefs)
    expect = []
    for k, (ra, rb, _rc) in enumerate(r1cs.constraints):
        expect += [(0, k, i, c) for i, c in ra] + [(1, k, i, c) for i, c in rb]
    expect += [(0, m + s, s, 1) for s in range(npub + 1)]
    assert [tuple(c) for c in coefs] == expect
    assert pk.coefficients() == coefs
    # section 10: a 64-byte circuit hash and no contributions
    assert len(pk.mpc_params) == 68 and pk.mpc_params[64:] == bytes(4)
    assert pk.circuit_id == circuit_id(r1cs)


def test_vk_matches_pk(toy: Keys) -> None:
    vk, pk = toy.vk, toy.pk
    assert vk == pk.verifying_key()
    assert vk.n_public == toy.cc.r1cs.n_public == 3
    assert vk.circuit_id == circuit_id(toy.cc.r1cs)


def test_seeded_rng_reproducible_and_secrets_fresh() -> None:
    cc = toy_circuit()
    a, _ = dev_setup(cc.r1cs, rng=random.Random(7), progress=False)
    b, _ = dev_setup(cc, rng=random.Random(7), progress=False)
    assert a.to_zkey_bytes() == b.to_zkey_bytes()
    c, _ = dev_setup(cc.r1cs, progress=False)
    d, _ = dev_setup(cc.r1cs, progress=False)
    assert c.alpha1 != d.alpha1 and c.delta2 != d.delta2


def test_progress_callback_and_bar() -> None:
    seen: list[tuple[str, float]] = []
    dev_setup(toy_circuit().r1cs, progress=lambda p, f: seen.append((p, f)))
    assert seen and seen[-1][1] == 1.0
    assert all(0.0 <= f <= 1.0 for _, f in seen)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    bar = _Bar(out, delay=0.0)
    bar("G1 points", 0.5)
    bar.close()
    assert "50%" in out.getvalue()
    quiet = io.StringIO()  # not a terminal: nothing drawn
    bar = _Bar(quiet, delay=0.0)
    bar("x", 0.5)
    bar.close()
    assert quiet.getvalue() == ""


def test_setup_rejects_bad_input() -> None:
    with pytest.raises(errors.InvalidInput):
        dev_setup("not a circuit", progress=False)  # type: ignore[arg-type]
    c = Circuit("empty")
    c.private_input("a")
    with pytest.raises(errors.InvalidInput):
        dev_setup(c.compile().r1cs, progress=False)
