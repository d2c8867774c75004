"""Malformed input is never a 500: every refusal is a 4xx RFC 9457 problem, and a
malformed presentation consumes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from zkattest.credentials import Credential, Holder
from zkattest.service import Resources, create_app

from .conftest import (
    LEAP_BIRTHDATE,
    assert_problem,
    bearer,
    create,
    create_body,
    delegated_body,
    fetch,
    path_of,
    present,
    proof_body,
    prove,
    read,
    with_db,
)

JSON = {"Content-Type": "application/json"}
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
BIG = "1" * 80  # 80 digits: beyond any field element
HUGE = "1" + "0" * 10000  # 10^10000: beyond Python's default int-from-str limit


def _post(c: TestClient[Litestar], path: str, raw: bytes, **headers: str) -> httpx.Response:
    return c.post(path, content=raw, headers={**JSON, **headers})


def _nested(depth: int, inner: bytes = b"1") -> bytes:
    return b'{"a":' * depth + inner + b"}" * depth


# -- POST /v1/verifications -------------------------------------------------------------------

GOOD = create_body("v" * 43)


def _with(**kw: Any) -> bytes:
    return json.dumps({**GOOD, **kw}).encode()


def _raw_min_age(number: str) -> bytes:
    return (
        b'{"predicate":"age_gte","params":{"min_age":'
        + number.encode()
        + b'},"audience":"https://shop.example","code_challenge":"'
        + str(GOOD["code_challenge"]).encode()
        + b'"}'
    )


CREATE_BAD: dict[str, bytes] = {
    "not_json": b"{not json",
    "truncated": _with()[:-1],
    "trailing_garbage": _with() + b"x",
    "empty": b"",
    "null": b"null",
    "array": b"[]",
    "string": b'"age_gte"',
    "invalid_utf8": b'{"predicate":"\xff"}',
    "missing_fields": b'{"predicate":"age_gte"}',
    "missing_params": json.dumps({k: v for k, v in GOOD.items() if k != "params"}).encode(),
    "unknown_field": _with(extra=1),
    "unknown_param": _with(params={"min_age": 18, "max_age": 30}),
    "unknown_predicate": _with(predicate="age_lte"),
    "plain_pkce": _with(code_challenge_method="plain"),
    "short_challenge": _with(code_challenge="A" * 42),
    "challenge_bad_chars": _with(code_challenge="+" * 43),
    "empty_audience": _with(audience=""),
    "audience_with_space": _with(audience="https://shop example"),
    "audience_too_long": _with(audience="a" * 256),
    "audience_wrong_type": _with(audience=["https://shop.example"]),
    "params_wrong_type": _with(params=[18]),
    "min_age_bool": _with(params={"min_age": True}),
    "min_age_list": _with(params={"min_age": [18]}),
    "min_age_object": _with(params={"min_age": {}}),
    "min_age_null": _with(params={"min_age": None}),
    "min_age_negative": _with(params={"min_age": -1}),
    "min_age_too_big": _with(params={"min_age": 151}),
    "min_age_float": _raw_min_age("18.5"),
    "min_age_exp": _raw_min_age("1e309"),
    "min_age_neg_exp": _raw_min_age("-1e309"),
    "min_age_80_digits": _raw_min_age(BIG),
    "min_age_huge": _raw_min_age(HUGE),
    "min_age_huge_negative": _raw_min_age("-" + HUGE),
    "min_age_2_64": _raw_min_age(str(2**64)),
    "min_age_nan": _raw_min_age("NaN"),
    "min_age_leading_zero": _raw_min_age("018"),
    "nested_object": _nested(1000),
    "nested_array": b"[" * 5000 + b"]" * 5000,
    "nested_in_field": _with()[:-1] + b',"params2":' + b"[" * 3000 + b"]" * 3000 + b"}",
}


@pytest.mark.parametrize("case", sorted(CREATE_BAD))
def test_create_malformed(client: TestClient[Litestar], case: str) -> None:
    assert_problem(_post(client, "/v1/verifications", CREATE_BAD[case]), 400)


def test_oversize_body(client: TestClient[Litestar], res: Resources) -> None:
    raw = _with(audience="a" * (res.config.max_body_bytes + 1))
    assert_problem(_post(client, "/v1/verifications", raw), 413)
    # also without a Content-Length (chunked): the limit holds on the stream
    chunks = [raw[i : i + 4096] for i in range(0, len(raw), 4096)]
    r = client.post("/v1/verifications", content=iter(chunks), headers=JSON)
    assert_problem(r, 413)


@pytest.mark.parametrize(
    "ctype",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/octet-stream",
    ],
)
def test_wrong_content_type(client: TestClient[Litestar], ctype: str) -> None:
    """A JSON API refuses other media types (415), even when the bytes are JSON."""
    raw = _with()
    assert_problem(
        client.post("/v1/verifications", content=raw, headers={"Content-Type": ctype}), 415
    )
    r = client.post(
        "/v1/attestations/verify",
        content=b'{"attestation":"a.b.c","audience":"x"}',
        headers={"Content-Type": ctype},
    )
    assert_problem(r, 415)


def test_presentation_wrong_content_type(
    client: TestClient[Litestar], res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    """JSON bytes under another media type are refused (415) and consume nothing."""
    c = client
    created = create(c)
    hreq = fetch(c, created)
    for mode_body in (
        proof_body(prove(res, holder, leap_cred, hreq)),
        delegated_body(leap_cred, holder.secret),
    ):
        r = c.post(
            path_of(hreq["presentation_uri"]),
            content=json.dumps(mode_body).encode(),
            headers={"Content-Type": "text/plain", **bearer(hreq["presentation_token"])},
        )
        assert_problem(r, 415)
        assert read(c, created)["status"] == "pending"


def test_wrong_method_and_route(client: TestClient[Litestar]) -> None:
    assert_problem(client.put("/v1/verifications", json=GOOD), 405)
    assert_problem(client.delete("/v1/verifications/abc"), 405)
    assert_problem(client.get("/v1/nothing-here"), 404)
    assert_problem(client.get("/v2/verifications"), 404)


# -- path ids ---------------------------------------------------------------------------------

ODD_IDS = [
    "%00",
    "%20",
    "..%2F..%2Fetc",
    "%C3%A9",
    "%FF",
    "a%0Ab",
    "'%20OR%201=1--",
    "x" * 65,
    "x" * 4000,
    "%25",
    "*",
]


@pytest.mark.parametrize("odd", ODD_IDS)
def test_odd_path_ids(client: TestClient[Litestar], odd: str) -> None:
    c = client
    params = {"code_verifier": "v" * 43}
    assert_problem(c.get(f"/v1/verifications/{odd}", params=params), 404)
    assert_problem(c.get(f"/v1/requests/{odd}"), 404)
    assert_problem(c.get(f"/v1/agents/{odd}"), 404)
    assert_problem(c.get(f"/v1/circuits/{odd}/verification_key"), 404)
    r = c.post(
        f"/v1/verifications/{odd}/presentation",
        json={"mode": "proof", "presentation": {}},
        headers=bearer("A" * 43),
    )
    assert r.status_code in (404, 422), r.text
    assert_problem(r, r.status_code)


def test_huge_query_values(client: TestClient[Litestar]) -> None:
    created = create(client)
    assert_problem(client.get(created.read_path, params={"code_verifier": "v" * 10000}), 400)
    r = client.get(
        created.read_path, params=[("code_verifier", "v" * 43), ("code_verifier", "w" * 43)]
    )
    assert r.status_code in (400, 403), r.text
    assert_problem(r, r.status_code)


# -- POST /v1/attestations/verify -------------------------------------------------------------

VERIFY_BAD: dict[str, bytes] = {
    "not_json": b"{",
    "missing": b"{}",
    "no_audience": b'{"attestation":"a.b.c"}',
    "empty_attestation": b'{"attestation":"","audience":"x"}',
    "attestation_too_long": json.dumps({"attestation": "a" * 32769, "audience": "x"}).encode(),
    "attestation_number": b'{"attestation":1,"audience":"x"}',
    "nonce_number": b'{"attestation":"a.b.c","audience":"x","nonce":12}',
    "nonce_negative": b'{"attestation":"a.b.c","audience":"x","nonce":"-1"}',
    "nonce_leading_zero": b'{"attestation":"a.b.c","audience":"x","nonce":"01"}',
    "nonce_80_digits": json.dumps({"attestation": "a.b.c", "audience": "x", "nonce": BIG}).encode(),
    "nonce_huge": json.dumps({"attestation": "a.b.c", "audience": "x", "nonce": HUGE}).encode(),
    "nonce_huge_number": b'{"attestation":"a.b.c","audience":"x","nonce":' + HUGE.encode() + b"}",
    "nonce_float": b'{"attestation":"a.b.c","audience":"x","nonce":1e309}',
    "unknown_field": b'{"attestation":"a.b.c","audience":"x","extra":true}',
    "nested": _nested(2000),
}


@pytest.mark.parametrize("case", sorted(VERIFY_BAD))
def test_verify_malformed(client: TestClient[Litestar], case: str) -> None:
    assert_problem(_post(client, "/v1/attestations/verify", VERIFY_BAD[case]), 400)


@pytest.mark.parametrize(
    "token",
    ["a.b.c", "....", "eyJ" * 100, "a" * 32768, "x.y", "\u00e9.\u00e9.\u00e9", HUGE[:30000]],
)
def test_verify_garbage_token_is_not_valid(client: TestClient[Litestar], token: str) -> None:
    r = client.post("/v1/attestations/verify", json={"attestation": token, "audience": "x"})
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is False


# -- POST /v1/verifications/{id}/presentation -------------------------------------------------


@pytest.fixture
def pending(
    client: TestClient[Litestar], res: Resources, holder: Holder, leap_cred: Credential
) -> Iterator[tuple[TestClient[Litestar], Any, dict[str, Any], dict[str, Any]]]:
    """A fetched verification and a valid presentation for it; after the test, the
    verification must still be pending and take that presentation (nothing was
    consumed by the malformed ones)."""
    created = create(client)
    hreq = fetch(client, created)
    pres = prove(res, holder, leap_cred, hreq)
    yield client, created, hreq, pres
    assert read(client, created)["status"] == "pending"
    r = present(client, hreq, proof_body(pres))
    assert r.status_code == 200, r.text


def _pres_variants(pres: dict[str, Any]) -> dict[str, Any]:
    """Malformed presentations (each refused before anything is consumed).  A point
    at infinity or an unknown circuit id are well-formed: refused after the check
    (test_refusals)."""

    def edit(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(json.dumps(pres))
        node = out
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        return out

    def drop(key: str) -> dict[str, Any]:
        return {k: v for k, v in pres.items() if k != key}

    pub = ("public",)
    return {
        "version_2": edit(("v",), 2),
        "version_0": edit(("v",), 0),
        "version_string": edit(("v",), "1"),
        "no_version": drop("v"),
        "no_proof": drop("proof"),
        "no_public": drop("public"),
        "unknown_member": {**pres, "extra": 1},
        "public_not_list": edit(pub, "1,2,3"),
        "public_leading_zero": edit((*pub, 1), "0" + pres["public"][1]),
        "public_negative": edit((*pub, 1), "-1"),
        "public_80_digits": edit((*pub, 1), BIG),
        "public_huge": edit((*pub, 1), HUGE),
        "public_r": edit((*pub, 1), str(R)),
        "public_float": edit((*pub, 1), 1.5),
        "public_int": edit((*pub, 1), 7),
        "public_hex": edit((*pub, 1), "0x10"),
        "public_spaces": edit((*pub, 1), " 1"),
        "pi_a_off_curve": edit(("proof", "pi_a"), ["1", "3", "1"]),
        "pi_c_off_curve": edit(("proof", "pi_c"), ["5", "7", "1"]),
        "pi_a_x_not_reduced": edit(
            ("proof", "pi_a"),
            [str(int(pres["proof"]["pi_a"][0]) + Q), pres["proof"]["pi_a"][1], "1"],
        ),
        "pi_a_huge": edit(("proof", "pi_a"), [HUGE, "2", "1"]),
        "pi_a_80_digits": edit(("proof", "pi_a"), [BIG, "2", "1"]),
        "pi_a_negative": edit(("proof", "pi_a"), ["-1", "2", "1"]),
        "pi_a_short": edit(("proof", "pi_a"), ["1"]),
        "pi_a_numbers": edit(("proof", "pi_a"), [1, 2, 1]),
        "pi_b_off_curve": edit(("proof", "pi_b"), [["1", "2"], ["3", "4"], ["1", "0"]]),
        "pi_b_flat": edit(("proof", "pi_b"), ["1", "2", "1"]),
        "proof_not_object": edit(("proof",), [1, 2, 3]),
        "protocol_plonk": edit(("proof", "protocol"), "plonk"),
        "circuit_id_number": edit(("circuit_id",), 5),
    }


Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583


def test_presentation_malformed_proof_mode(
    pending: tuple[TestClient[Litestar], Any, dict[str, Any], dict[str, Any]],
) -> None:
    c, _created, hreq, pres = pending
    for name, bad in _pres_variants(pres).items():
        r = present(c, hreq, proof_body(bad))
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
        assert_problem(r, r.status_code)
        assert r.status_code in (400, 422), (name, r.text)


def test_presentation_malformed_delegated_mode(
    pending: tuple[TestClient[Litestar], Any, dict[str, Any], dict[str, Any]],
    leap_cred: Credential,
    holder: Holder,
) -> None:
    c, _created, hreq, _pres = pending
    good = delegated_body(leap_cred, holder.secret)
    cred = good["credential"]
    variants: dict[str, Any] = {
        "secret_zero": {**good, "holder_secret": "0"},
        "secret_r": {**good, "holder_secret": str(R)},
        "secret_78_digits": {**good, "holder_secret": "9" * 78},
        "secret_80_digits": {**good, "holder_secret": BIG},
        "secret_huge": {**good, "holder_secret": HUGE},
        "secret_negative": {**good, "holder_secret": "-" + good["holder_secret"]},
        "secret_leading_zero": {**good, "holder_secret": "0" + good["holder_secret"]},
        "secret_number": {**good, "holder_secret": 5},
        "secret_float": {**good, "holder_secret": 1.5},
        "secret_null": {**good, "holder_secret": None},
        "secret_missing": {k: v for k, v in good.items() if k != "holder_secret"},
        "credential_missing": {k: v for k, v in good.items() if k != "credential"},
        "credential_list": {**good, "credential": [cred]},
        "credential_v2": {**good, "credential": {**cred, "v": 2}},
        "credential_unknown_member": {**good, "credential": {**cred, "x": 1}},
        "credential_expires_string": {**good, "credential": {**cred, "expires": "20300101"}},
        "credential_bad_date": {**good, "credential": {**cred, "expires": 20301345}},
        "credential_attr_huge": {
            **good,
            "credential": {**cred, "attrs": [HUGE, *cred["attrs"][1:]]},
        },
        "credential_7_attrs": {**good, "credential": {**cred, "attrs": cred["attrs"][:7]}},
        "credential_issuer_off_curve": {
            **good,
            "credential": {**cred, "issuer": {"Ax": "1", "Ay": "2"}},
        },
        "credential_r8_off_curve": {
            **good,
            "credential": {**cred, "signature": {**cred["signature"], "R8x": "1", "R8y": "2"}},
        },
        "credential_s_huge": {
            **good,
            "credential": {**cred, "signature": {**cred["signature"], "S": str(R * 10)}},
        },
        "mixed_modes": {**good, "presentation": {}},
        "unknown_mode": {**good, "mode": "telepathy"},
        "mode_missing": {k: v for k, v in good.items() if k != "mode"},
        "mode_number": {**good, "mode": 1},
        "mode_case": {**good, "mode": "Delegated"},
        "not_object": [good],
        "null": None,
        "nested": json.loads(_nested(200).decode()),
    }
    path = path_of(hreq["presentation_uri"])
    auth = bearer(hreq["presentation_token"])
    for name, bad in variants.items():
        r = _post(c, path, json.dumps(bad).encode(), **auth)
        assert r.status_code in (400, 422), (name, r.status_code, r.text[:300])
        assert_problem(r, r.status_code)
        assert good["holder_secret"] not in r.text
        assert str(LEAP_BIRTHDATE) not in r.text


RAW_PRESENTATION_CASES = [
    "truncated",
    "not_json",
    "invalid_utf8",
    "big_int_number",
    "huge_int_number",
    "inf_number",
    "nested_deep",
    "nested_in_proof",
]


@pytest.mark.parametrize("case", RAW_PRESENTATION_CASES)
def test_presentation_raw_malformed(
    pending: tuple[TestClient[Litestar], Any, dict[str, Any], dict[str, Any]], case: str
) -> None:
    c, _created, hreq, pres = pending
    path = path_of(hreq["presentation_uri"])
    auth = bearer(hreq["presentation_token"])
    body = json.dumps(proof_body(pres), separators=(",", ":")).encode()
    assert body.count(b'"v":1}') == 1
    raws = {
        "truncated": body[:-1],
        "not_json": b"mode=proof",
        "invalid_utf8": body.replace(b'"protocol"', b'"pro\xfftocol"'),
        "big_int_number": body.replace(b'"v":1}', b'"v":' + BIG.encode() + b"}"),
        "huge_int_number": body.replace(b'"v":1}', b'"v":' + HUGE.encode() + b"}"),
        "inf_number": body.replace(b'"v":1}', b'"v":1e309}'),
        "nested_deep": b'{"mode":"proof","presentation":' + _nested(3000) + b"}",
        "nested_in_proof": body.replace(
            b'"protocol"', b'"x":' + b"[" * 3000 + b"]" * 3000 + b',"protocol"'
        ),
    }
    raw = raws[case]
    assert raw != body
    r = c.post(path, content=raw, headers={**JSON, **auth})
    assert r.status_code in (400, 422), (r.status_code, r.text[:300])
    assert_problem(r, r.status_code)


# -- random JSON at every POST endpoint (hypothesis) ------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["age_gte", "proof", "delegated", "S256", BIG, HUGE[:400], "-1", "0"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "mode",
                    "presentation",
                    "credential",
                    "holder_secret",
                    "predicate",
                    "params",
                    "min_age",
                    "audience",
                    "code_challenge",
                    "attestation",
                    "nonce",
                    "v",
                    "proof",
                    "public",
                    "circuit_id",
                    "pi_a",
                    "pi_b",
                    "pi_c",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


def _near(template: dict[str, Any]) -> Any:
    """Dicts with the endpoint's own keys (each value: the valid one or random)."""
    return st.fixed_dictionaries(
        {}, optional={k: st.just(v) | json_values for k, v in template.items()}
    )


@pytest.fixture(scope="module")
def fuzz_target(
    resources: Resources,
    tmp_path_factory: pytest.TempPathFactory,
    holder: Holder,
    leap_cred: Credential,
) -> Iterator[tuple[TestClient[Litestar], dict[str, Any], dict[str, Any]]]:
    res = with_db(resources, tmp_path_factory.mktemp("fuzz"))
    with TestClient(create_app(resources=res)) as c:
        hreq = fetch(c, create(c))
        pres = prove(res, holder, leap_cred, hreq)
        yield c, hreq, pres


def _check_any(r: Any) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert_problem(r, r.status_code)


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()  # NaN/Infinity come out as invalid JSON: good


@settings(max_examples=150)
@given(value=json_values | _near(GOOD))
def test_fuzz_create(
    fuzz_target: tuple[TestClient[Litestar], dict[str, Any], dict[str, Any]], value: Any
) -> None:
    c, _, _ = fuzz_target
    _check_any(_post(c, "/v1/verifications", _encode(value)))


@settings(max_examples=150)
@given(value=json_values | _near({"attestation": "a.b.c", "audience": "x", "nonce": "1"}))
def test_fuzz_verify(
    fuzz_target: tuple[TestClient[Litestar], dict[str, Any], dict[str, Any]], value: Any
) -> None:
    c, _, _ = fuzz_target
    _check_any(_post(c, "/v1/attestations/verify", _encode(value)))


@settings(max_examples=150)
@given(data=st.data())
def test_fuzz_presentation(
    fuzz_target: tuple[TestClient[Litestar], dict[str, Any], dict[str, Any]], data: st.DataObject
) -> None:
    c, hreq, pres = fuzz_target
    value = data.draw(
        json_values
        | _near({"mode": "proof", "presentation": pres})
        | _near({"mode": "proof", "presentation": {**pres, "public": ["1"] * 9}})
        | st.fixed_dictionaries({"mode": st.just("proof"), "presentation": _near(pres)})
        | _near({"mode": "delegated", "credential": {}, "holder_secret": "1"})
    )
    r = _post(
        c,
        path_of(hreq["presentation_uri"]),
        _encode(value),
        **bearer(hreq["presentation_token"]),
    )
    _check_any(r)
    # the valid presentation is among the drawn values only with luck; either way no 500


@settings(max_examples=150)
@given(
    raw=st.binary(max_size=300)
    | st.builds(
        lambda doc, cut, junk: doc[:cut] + junk + doc[cut:],
        json_values.map(lambda v: json.dumps(v).encode()),
        st.integers(0, 50),
        st.binary(min_size=1, max_size=4),
    ),
    endpoint=st.sampled_from(["create", "verify", "presentation"]),
)
def test_fuzz_raw_bytes(
    fuzz_target: tuple[TestClient[Litestar], dict[str, Any], dict[str, Any]],
    raw: bytes,
    endpoint: str,
) -> None:
    """Arbitrary bytes (invalid UTF-8, broken JSON) as a JSON body: 4xx, never 500."""
    c, hreq, _ = fuzz_target
    path = {
        "create": "/v1/verifications",
        "verify": "/v1/attestations/verify",
        "presentation": path_of(hreq["presentation_uri"]),
    }[endpoint]
    _check_any(_post(c, path, raw, **bearer(hreq["presentation_token"])))
