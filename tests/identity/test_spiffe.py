"""SPIFFE IDs: the canonical form round-trips; everything the SPIFFE-ID specification
excludes is refused."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest import errors
from zkattest.identity import JoseError, SpiffeId, SpiffeIdError, validate_trust_domain
from zkattest.identity.spiffe import MAX_ID_BYTES, MAX_TRUST_DOMAIN_BYTES

TRUST_DOMAIN = st.from_regex(r"[a-z0-9._-]{1,40}", fullmatch=True)
SEGMENT = st.from_regex(r"[a-zA-Z0-9._-]{1,24}", fullmatch=True).filter(
    lambda s: s not in (".", "..")
)


@given(TRUST_DOMAIN, st.lists(SEGMENT, max_size=6))
def test_round_trip(trust_domain: str, segments: list[str]) -> None:
    path = "".join("/" + s for s in segments)
    sid = SpiffeId(trust_domain, path)
    text = str(sid)
    assert text == f"spiffe://{trust_domain}{path}"
    again = SpiffeId.parse(text)
    assert again == sid
    assert str(again) == text
    assert again.segments == tuple(segments)
    assert hash(again) == hash(sid)


@given(TRUST_DOMAIN, SEGMENT, SEGMENT)
def test_agent_round_trip(trust_domain: str, task: str, agent_id: str) -> None:
    sid = SpiffeId.agent(trust_domain, task, agent_id)
    assert str(sid) == f"spiffe://{trust_domain}/agent/{task}/{agent_id}"
    assert SpiffeId.parse(str(sid)) == sid
    assert sid.segments == ("agent", task, agent_id)
    assert sid.member_of(trust_domain)


@pytest.mark.parametrize(
    "text",
    [
        "spiffe://example.org",
        "spiffe://example.org/a",
        "spiffe://example.org/a/B/c-d_e.f",
        "spiffe://a-b_c.d/x",
        "spiffe://1.2.3.4/x",
        "spiffe://example.org/.a/a./...",
        "spiffe://zkattest.local/agent/age_gte/01J9ZQ3K7V",
    ],
)
def test_valid(text: str) -> None:
    assert str(SpiffeId.parse(text)) == text


INVALID = [
    ("", "empty"),
    ("spiffe://", "empty trust domain"),
    ("spiffe:///a", "empty trust domain"),
    ("spiffe:///", "empty trust domain"),
    ("https://example.org/a", "wrong scheme"),
    ("http://example.org/a", "wrong scheme"),
    ("SPIFFE://example.org/a", "uppercase scheme"),
    ("Spiffe://example.org/a", "uppercase scheme"),
    ("spiffe:/example.org/a", "missing slash"),
    ("spiffe:example.org/a", "no authority"),
    ("spiffe//example.org/a", "no colon"),
    ("example.org/a", "no scheme"),
    (" spiffe://example.org/a", "leading space"),
    ("spiffe://Example.org/a", "uppercase trust domain"),
    ("spiffe://EXAMPLE.ORG", "uppercase trust domain"),
    ("spiffe://example.org/", "trailing slash"),
    ("spiffe://example.org/a/", "trailing slash"),
    ("spiffe://example.org//a", "empty segment"),
    ("spiffe://example.org/a//b", "empty segment"),
    ("spiffe://example.org/.", "dot segment"),
    ("spiffe://example.org/..", "dot-dot segment"),
    ("spiffe://example.org/a/./b", "dot segment"),
    ("spiffe://example.org/a/../b", "dot-dot segment"),
    ("spiffe://example.org/a?x=1", "query"),
    ("spiffe://example.org?x=1", "query"),
    ("spiffe://example.org/a?", "empty query"),
    ("spiffe://example.org/a#frag", "fragment"),
    ("spiffe://example.org#frag", "fragment"),
    ("spiffe://example.org:8443/a", "port"),
    ("spiffe://example.org:/a", "empty port"),
    ("spiffe://user@example.org/a", "userinfo"),
    ("spiffe://user:pw@example.org/a", "userinfo"),
    ("spiffe://@example.org/a", "empty userinfo"),
    ("spiffe://example.org/a%20b", "percent-encoding"),
    ("spiffe://example.org/%41", "percent-encoding"),
    ("spiffe://ex%41mple.org/a", "percent-encoding in trust domain"),
    ("spiffe://example.org/a b", "space"),
    ("spiffe://example.org/a\n", "newline"),
    ("spiffe://example.org/a\x00", "NUL"),
    ("spiffe://exa mple.org/a", "space in trust domain"),
    ("spiffe://exämple.org/a", "non-ASCII trust domain"),
    ("spiffe://example.org/ä", "non-ASCII path"),
    ("spiffe://[::1]/a", "IP literal"),
    ("spiffe://example.org\\a", "backslash"),
    ("spiffe://example.org/a\\b", "backslash"),
    ("spiffe://example.org/a+b", "plus"),
    ("spiffe://example.org/a~b", "tilde (unreserved in URIs, not in SPIFFE)"),
    ("spiffe://example.org/a:b", "colon in path"),
    ("spiffe://" + "a" * (MAX_TRUST_DOMAIN_BYTES + 1), "trust domain > 255 bytes"),
    ("spiffe://example.org/" + "a" * (MAX_ID_BYTES - len("spiffe://example.org/") + 1), "> 2048"),
    ("spiffe://example.org" + "/abcdefgh" * 300, "> 2048"),
]


@pytest.mark.parametrize(("text", "why"), INVALID, ids=[w for _, w in INVALID])
def test_invalid(text: str, why: str) -> None:
    with pytest.raises(SpiffeIdError) as e:
        SpiffeId.parse(text)
    assert e.value.reason == "bad_spiffe_id"
    assert isinstance(e.value, JoseError)
    assert isinstance(e.value, errors.InvalidInput)
    assert isinstance(e.value, ValueError)


def test_length_limits_exact() -> None:
    prefix = "spiffe://example.org/"
    text = prefix + "a" * (MAX_ID_BYTES - len(prefix))
    assert len(text) == MAX_ID_BYTES
    assert str(SpiffeId.parse(text)) == text
    td = "a" * MAX_TRUST_DOMAIN_BYTES
    assert SpiffeId.parse(f"spiffe://{td}/x").trust_domain == td
    assert validate_trust_domain(td) == td
    with pytest.raises(SpiffeIdError):
        validate_trust_domain(td + "a")


@pytest.mark.parametrize("value", [None, b"spiffe://example.org/a", 5, ["spiffe://x/a"]])
def test_parse_non_str(value: Any) -> None:
    with pytest.raises(SpiffeIdError):
        SpiffeId.parse(value)


@pytest.mark.parametrize(
    ("trust_domain", "path"),
    [
        ("Example.org", "/a"),
        ("", "/a"),
        ("example.org", "a"),
        ("example.org", "/"),
        ("example.org", "/a/"),
        ("example.org", "/a/../b"),
        ("example.org", "/a?b"),
        ("example.org:80", "/a"),
        ("example.org", 5),
        (5, "/a"),
    ],
)
def test_constructor_validates(trust_domain: Any, path: Any) -> None:
    with pytest.raises(SpiffeIdError):
        SpiffeId(trust_domain, path)


@pytest.mark.parametrize(
    ("task", "agent_id"),
    [
        ("", "a"),
        ("a", ""),
        ("a/b", "c"),
        ("a", "b/c"),
        ("..", "a"),
        ("a", "."),
        ("a b", "c"),
        ("a", "%41"),
    ],
)
def test_agent_segments_validated(task: str, agent_id: str) -> None:
    with pytest.raises(SpiffeIdError):
        SpiffeId.agent("example.org", task, agent_id)


@pytest.mark.parametrize(
    "name", ["", "Example", "a:1", "a/b", "a@b", "a%2e", "ä", "a b", None, 5, b"example.org"]
)
def test_validate_trust_domain_rejects(name: Any) -> None:
    with pytest.raises(SpiffeIdError):
        validate_trust_domain(name)


def test_root_id_and_membership() -> None:
    root = SpiffeId.parse("spiffe://example.org")
    assert root.path == ""
    assert root.segments == ()
    assert root.member_of("example.org")
    assert not root.member_of("example.com")
    assert not SpiffeId.parse("spiffe://example.org.evil/a").member_of("example.org")


def test_frozen() -> None:
    sid = SpiffeId.parse("spiffe://example.org/a")
    with pytest.raises(AttributeError):
        sid.path = "/b"  # type: ignore[misc]


@given(st.text(max_size=120))
def test_fuzz_only_spiffe_errors(text: str) -> None:
    try:
        sid = SpiffeId.parse(text)
    except SpiffeIdError:
        return
    assert str(sid) == text


@given(st.text(alphabet="spife:/.aZ9_-%?#@[]", max_size=60))
def test_fuzz_uri_alphabet(text: str) -> None:
    try:
        sid = SpiffeId.parse(text)
    except SpiffeIdError:
        return
    assert str(sid) == text
    assert "?" not in text and "#" not in text and "%" not in text and "@" not in text
