"""Loading policy directories: user policies, JSON schemas, and every broken case."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from zkattest.errors import InvalidParameter
from zkattest.policy import DEFAULT_DENY, PolicyDecision, PolicyEngine, PolicyError
from zkattest.policy.loader import MAX_FILE_BYTES, split_policies

from .conftest import SHOP, principal, request

MakeDir = Callable[..., Path]
DEFAULT_SCHEMA = (
    Path(__file__).resolve().parents[2] / "src/zkattest/policy/default/zkattest.cedarschema"
)


def load_error(directory: Path) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        PolicyEngine.load(directory)
    assert isinstance(info.value, InvalidParameter)
    return info.value


# -------------------------------------------------------------------- user policies


def test_user_policies_extend_the_defaults(policy_dir: MakeDir) -> None:
    d = policy_dir(
        {
            "zz-local.cedar": """
// people may not ask for verifications in this deployment
@id("no-persons")
forbid (principal, action in Action::"predicate", resource)
when { principal.kind == "person" };

// the partner shop may ask for age_gte without registering the predicate
@id("partner-shop")
permit (principal == Client::"partner \\"shop\\"", action == Action::"age_gte", resource);
"""
        }
    )
    engine = PolicyEngine.load(d)
    assert engine.policy_ids[-2:] == ("no-persons", "partner-shop")
    assert engine.locations["no-persons"] == "zz-local.cedar:3"
    assert engine.locations["partner-shop"] == "zz-local.cedar:8"
    assert engine.source == str(d.resolve())
    person = principal(kind="person")
    assert engine.decide(request(principal=person)) == PolicyDecision("deny", ("no-persons",))
    partner = principal(client_id='partner "shop"', predicates=frozenset())
    assert engine.decide(request(principal=partner)) == PolicyDecision("allow", ("partner-shop",))
    # the partner's audience is still unrestricted by the registration: the permit says so
    d2 = engine.decide(request(principal=partner, audience="https://elsewhere.example"))
    assert d2 == PolicyDecision("allow", ("partner-shop",))
    # a partner-like id is not the partner
    other = principal(client_id="partner shop", predicates=frozenset())
    assert engine.decide(request(principal=other)).policy_ids == (DEFAULT_DENY,)


def test_a_new_predicate_joins_the_group(policy_dir: MakeDir) -> None:
    schema = DEFAULT_SCHEMA.read_text().replace(
        "  min_age?: Long,", "  min_age?: Long,\n  max_age?: Long,"
    )
    schema += (
        "\naction age_lt in [predicate] appliesTo "
        "{ principal: [Client], resource: [Audience], context: Ctx };\n"
    )
    d = policy_dir(
        {
            "age_lt.cedar": """
@id("registered-age-lt")
permit (principal, action == Action::"age_lt", resource)
when { principal.predicates.contains("age_lt") && context.params has max_age };
"""
        }
    )
    (d / "zkattest.cedarschema").write_text(schema)
    engine = PolicyEngine.load(d)
    p = principal(predicates=frozenset({"age_lt"}))
    ok = request(principal=p, action="age_lt", params={"max_age": 16})
    assert engine.decide(ok) == PolicyDecision("allow", ("registered-age-lt",))
    # the group-wide rate limit covers the new predicate too
    limited = request(principal=p, action="age_lt", params={"max_age": 16}, rate=601)
    assert engine.decide(limited) == PolicyDecision("deny", ("rate-limit",))
    # registered for age_lt only: age_gte is still denied
    assert engine.decide(request(principal=p)).policy_ids == (DEFAULT_DENY,)


def _json_schema() -> str:
    def entity(name: str) -> dict[str, str]:
        return {"type": "Entity", "name": name}

    def strings() -> dict[str, object]:
        return {"type": "Set", "element": {"type": "String"}}

    applies = {
        "principalTypes": ["Client"],
        "resourceTypes": ["Audience"],
        "context": {"type": "Ctx"},
    }
    ctx = {
        "stage": {"type": "String"},
        "subject": {"type": "String"},
        "chain": strings(),
        "depth": {"type": "Long"},
        "params": {"type": "Params"},
        "rate": {"type": "Long"},
        "risk": {"type": "Long"},
        "mode": {"type": "String"},
        "approved": {"type": "Boolean"},
    }
    doc = {
        "": {
            "commonTypes": {
                "Params": {
                    "type": "Record",
                    "attributes": {"min_age": {"type": "Long", "required": False}},
                },
                "Ctx": {"type": "Record", "attributes": ctx},
            },
            "entityTypes": {
                "Audience": {},
                "Client": {
                    "shape": {
                        "type": "Record",
                        "attributes": {
                            "name": {"type": "String"},
                            "kind": {"type": "String"},
                            "predicates": strings(),
                            "audiences": {"type": "Set", "element": entity("Audience")},
                        },
                    }
                },
            },
            "actions": {
                "predicate": {},
                "step_up": {"appliesTo": applies},
                "delegate": {"appliesTo": applies},
                "age_gte": {"memberOf": [{"id": "predicate"}], "appliesTo": applies},
            },
        }
    }
    return json.dumps(doc, indent=2)


def test_json_schema(policy_dir: MakeDir) -> None:
    d = policy_dir()
    (d / "zkattest.cedarschema").unlink()
    (d / "zkattest.cedarschema.json").write_text(_json_schema())
    engine = PolicyEngine.load(d)
    assert engine.schema_file == "zkattest.cedarschema.json"
    assert engine.decide(request()) == PolicyDecision("allow", ("registered-age-gte",))
    assert engine.decide(request(depth=2)).outcome == "step_up"


def test_dotfiles_are_ignored(policy_dir: MakeDir) -> None:
    d = policy_dir({".#access.cedar": "not cedar at all", ".old.cedarschema": "nor this"})
    os.symlink(d / "missing", d / ".#lock.cedar")
    assert len(PolicyEngine.load(d).policy_ids) == 7


def test_only_cedar_files_are_read(policy_dir: MakeDir) -> None:
    d = policy_dir({"README.md": "@id( broken", "access.cedar.bak": "broken ;"})
    assert len(PolicyEngine.load(d).policy_ids) == 7


def test_policy_ids_may_be_readable_text(policy_dir: MakeDir) -> None:
    d = policy_dir(
        {
            "x.cedar": '@id("Shop: age 18+ (ünïcode) \\"quoted\\"")\n'
            "permit(principal, action, resource);"
        }
    )
    assert 'Shop: age 18+ (ünïcode) "quoted"' in PolicyEngine.load(d).policy_ids


# -------------------------------------------------------------------- broken cases


def test_syntax_error_names_file_lines_and_policy(policy_dir: MakeDir) -> None:
    d = policy_dir(
        {
            "broken.cedar": """// first is fine
@id("fine")
permit (principal, action == Action::"age_gte", resource);

@id("oops")
permit (principal, action, resource)
when { context.rate == };

@id("after")
permit (principal, action, resource);
"""
        }
    )
    err = load_error(d)
    msg = str(err)
    assert msg.startswith("broken.cedar, lines 5-7 (policy 'oops'): syntax error: ")
    assert "unexpected token" in msg
    assert (err.file, err.policy_id, err.line) == ("broken.cedar", "oops", 5)


def test_unterminated_string(policy_dir: MakeDir) -> None:
    d = policy_dir(
        {"broken.cedar": '@id("a")\npermit (principal, action, resource)\nwhen { "x };\n'}
    )
    err = load_error(d)
    assert str(err).startswith("broken.cedar, lines 1-3 (policy 'a'): syntax error: ")
    assert err.line == 1


def test_unterminated_last_policy(policy_dir: MakeDir) -> None:
    d = policy_dir({"broken.cedar": '@id("a") permit (principal, action, resource);\n\n@id("b")\n'})
    err = load_error(d)
    assert str(err).startswith("broken.cedar, line 3 (policy 'b'): syntax error: ")


def test_unknown_attribute_is_a_schema_violation(policy_dir: MakeDir) -> None:
    d = policy_dir(
        {
            "bad.cedar": """
@id("good")
permit (principal, action == Action::"age_gte", resource);

@id("typo")
forbid (principal, action, resource)
when { principal.birthdate == "1990-01-01" };
"""
        }
    )
    err = load_error(d)
    msg = str(err)
    assert msg.startswith("bad.cedar: does not match the schema (1 problem):\n")
    assert "bad.cedar, line 5 (policy 'typo'): attribute `birthdate`" in msg
    assert "policy0" not in msg and "policy1" not in msg
    assert (err.file, err.policy_id, err.line) == ("bad.cedar", "typo", 5)


def test_several_schema_violations_are_listed(policy_dir: MakeDir) -> None:
    d = policy_dir(
        {
            "bad.cedar": """
@id("one") permit (principal, action == Action::"age_lt", resource);
@id("two") permit (principal, action, resource) when { context.rate == "fast" };
"""
        }
    )
    msg = str(load_error(d))
    assert msg.startswith("bad.cedar: does not match the schema (3 problems):\n")
    assert "(policy 'one'): unrecognized action `Action::\"age_lt\"`" in msg
    assert "(policy 'two'): " in msg


def test_optional_parameter_must_be_checked(policy_dir: MakeDir) -> None:
    d = policy_dir(
        {
            "p.cedar": '@id("p") forbid (principal, action, resource)\n'
            "when { context.params.min_age > 1 };"
        }
    )
    msg = str(load_error(d))
    assert "(policy 'p'): unable to guarantee safety of access to optional attribute" in msg


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("permit (principal, action, resource);", "line 1"),
        ("\n\n@id\npermit (principal, action, resource);", "lines 3-4"),
        ('@id("")\npermit (principal, action, resource);', "lines 1-2"),
        ('@other("x")\npermit (principal, action, resource);', "lines 1-2"),
    ],
)
def test_missing_id(policy_dir: MakeDir, text: str, lines: str) -> None:
    err = load_error(policy_dir({"noid.cedar": text}))
    assert str(err).startswith(f'noid.cedar, {lines}: the policy has no @id("...") annotation')
    assert (err.file, err.policy_id, err.line) == ("noid.cedar", None, int(lines.split()[1][0]))


def test_duplicate_id_in_one_file(policy_dir: MakeDir) -> None:
    text = (
        '@id("x") permit (principal, action, resource);\n'
        '@id("x") forbid (principal, action, resource);'
    )
    err = load_error(policy_dir({"dup.cedar": text}))
    assert str(err).startswith("dup.cedar, line 2: duplicate policy id 'x' (also at dup.cedar:1)")


def test_duplicate_id_across_files(policy_dir: MakeDir) -> None:
    text = '\n@id("rate-limit")\nforbid (principal, action, resource) when { context.rate > 5 };'
    err = load_error(policy_dir({"mine.cedar": text}))
    msg = str(err)
    assert msg.startswith(
        "mine.cedar, lines 2-3: duplicate policy id 'rate-limit' (also at limits.cedar:"
    )
    assert (err.file, err.policy_id, err.line) == ("mine.cedar", "rate-limit", 2)


def test_duplicate_annotation_is_a_syntax_error(policy_dir: MakeDir) -> None:
    text = '@id("a") @id("b") permit (principal, action, resource);'
    msg = str(load_error(policy_dir({"two.cedar": text})))
    assert "two.cedar, line 1 (policy 'a'): syntax error: duplicate annotation" in msg


@pytest.mark.parametrize(
    "pid", ["default-deny", "evaluation-error", " padded", "tab\there", "x" * 129]
)
def test_bad_or_reserved_ids(policy_dir: MakeDir, pid: str) -> None:
    text = "@id(" + json.dumps(pid) + ") permit (principal, action, resource);"
    msg = str(load_error(policy_dir({"ids.cedar": text})))
    assert msg.startswith("ids.cedar, line 1: policy id ")


def test_templates_are_refused(policy_dir: MakeDir) -> None:
    text = (
        '@id("ok") permit (principal, action, resource);\n'
        '@id("t")\npermit (principal == ?principal, action, resource);'
    )
    err = load_error(policy_dir({"tpl.cedar": text}))
    assert str(err).startswith("tpl.cedar, lines 2-3: templates (policies with ?principal")
    assert err.policy_id == "t"


def test_no_schema(policy_dir: MakeDir) -> None:
    d = policy_dir()
    (d / "zkattest.cedarschema").unlink()
    msg = str(load_error(d))
    assert "no schema file (*.cedarschema or *.cedarschema.json)" in msg
    assert "zkattest policy init" in msg


def test_two_schemas(policy_dir: MakeDir) -> None:
    d = policy_dir({"other.cedarschema.json": _json_schema()})
    msg = str(load_error(d))
    assert "more than one schema file (other.cedarschema.json, zkattest.cedarschema)" in msg


def test_empty_directory(tmp_path: Path) -> None:
    assert "no schema file" in str(load_error(tmp_path))


def test_schema_without_policy_files(policy_dir: MakeDir) -> None:
    d = policy_dir()
    for p in d.glob("*.cedar"):
        p.unlink()
    assert "no policy files (*.cedar)" in str(load_error(d))


def test_policy_files_without_policies(policy_dir: MakeDir) -> None:
    d = policy_dir()
    for p in d.glob("*.cedar"):
        p.write_text("// nothing here yet\n")
    assert "the *.cedar files hold no policy" in str(load_error(d))


def test_missing_directory(tmp_path: Path) -> None:
    assert "not a directory" in str(load_error(tmp_path / "nope"))
    (tmp_path / "file").write_text("x")
    assert "not a directory" in str(load_error(tmp_path / "file"))


def test_unreadable_policy_file(policy_dir: MakeDir) -> None:
    d = policy_dir()
    os.symlink(d / "missing-target", d / "dangling.cedar")
    err = load_error(d)
    assert str(err).startswith("dangling.cedar: cannot read: ")
    assert err.file == "dangling.cedar"


def test_directory_named_like_a_policy(policy_dir: MakeDir) -> None:
    d = policy_dir()
    (d / "sub.cedar").mkdir()
    assert str(load_error(d)).startswith("sub.cedar: cannot read: ")


def test_not_utf8(policy_dir: MakeDir) -> None:
    d = policy_dir()
    (d / "latin1.cedar").write_bytes(
        b'// ok\n// caf\xe9\n@id("x") permit (principal, action, resource);'
    )
    assert str(load_error(d)) == "latin1.cedar, line 2: not UTF-8 text"


def test_oversized_file(policy_dir: MakeDir) -> None:
    d = policy_dir({"huge.cedar": "//" + "x" * MAX_FILE_BYTES})
    assert str(load_error(d)).startswith(f"huge.cedar: larger than {MAX_FILE_BYTES} bytes")


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ("entity Client = { name: Strin };", "failed to resolve type: Strin"),
        ("entity Client = {", "error parsing schema"),
    ],
)
def test_invalid_schema(policy_dir: MakeDir, schema: str, needle: str) -> None:
    d = policy_dir()
    (d / "zkattest.cedarschema").write_text(schema)
    msg = str(load_error(d))
    assert msg.startswith("zkattest.cedarschema: invalid schema: ")
    assert needle in msg


def test_invalid_json_schema(policy_dir: MakeDir) -> None:
    d = policy_dir()
    (d / "zkattest.cedarschema").unlink()
    (d / "s.cedarschema.json").write_text('{"": {"entityTypes": [}}')
    assert str(load_error(d)).startswith("s.cedarschema.json: invalid schema: ")


def test_schema_missing_an_action_the_service_uses(policy_dir: MakeDir) -> None:
    d = policy_dir()
    schema = DEFAULT_SCHEMA.read_text()
    start = schema.index("action step_up")
    end = schema.index(";", start) + 1
    (d / "zkattest.cedarschema").write_text(schema[:start] + schema[end:])
    for p in d.glob("step_up.cedar"):
        p.unlink()
    msg = str(load_error(d))
    assert msg.startswith("zkattest.cedarschema: does not accept the requests zkattest sends:")
    assert '`Action::"step_up"` does not exist' in msg


def test_schema_missing_a_client_attribute(policy_dir: MakeDir) -> None:
    d = policy_dir()
    schema = DEFAULT_SCHEMA.read_text().replace("  kind: String,\n", "")
    (d / "zkattest.cedarschema").write_text(schema)
    msg = str(load_error(d))
    assert msg.startswith("zkattest.cedarschema: the Client entity zkattest sends")


def test_schema_with_a_context_the_service_does_not_send(policy_dir: MakeDir) -> None:
    d = policy_dir()
    schema = DEFAULT_SCHEMA.read_text().replace(
        "  approved: Bool,", "  approved: Bool,\n  ip: String,"
    )
    (d / "zkattest.cedarschema").write_text(schema)
    msg = str(load_error(d))
    assert "does not accept the requests zkattest sends" in msg
    assert "ip" in msg


# --------------------------------------------------------------------- the splitter


def test_split_policies_ignores_separators_in_strings_and_comments() -> None:
    text = (
        "// a; comment\n"
        '@id("a;b") permit (principal, action, resource) when { "x;\\"y//" == "z" };\n'
        "\n"
        "// next\n"
        "forbid (principal, action, resource)\n"
        'when { "multi\n'
        'line" == "" };  // trailing; comment\n'
        "// only a comment; at the end\n"
    )
    spans = split_policies(text)
    assert [(s.first_line, s.last_line) for s in spans] == [(2, 2), (5, 7)]
    assert spans[0].text.endswith('== "z" };')
    assert spans[1].lines() == "lines 5-7"


def test_split_policies_edge_cases() -> None:
    assert split_policies("") == []
    assert split_policies("  // x\n\n") == []
    (tail,) = split_policies('permit (principal, action, resource) when { "open')
    assert (tail.first_line, tail.last_line) == (1, 1)
    assert [s.first_line for s in split_policies(";\n;")] == [1, 2]


def test_engine_repr(engine: PolicyEngine) -> None:
    assert repr(engine).endswith("default', 7 policies)")
    assert SHOP


# ------------------------------------------------------------- random policy text

_TOKENS = st.sampled_from(
    [
        "permit",
        "forbid",
        "(",
        ")",
        "principal",
        "action",
        "resource",
        ",",
        ";",
        "when",
        "unless",
        "{",
        "}",
        '@id("a")',
        '@id("b")',
        "@id(",
        '"',
        '"x;y"',
        "\\",
        "//",
        "\n",
        " ",
        "==",
        "&&",
        "context.rate",
        "context.params.min_age",
        "principal.kind",
        '"person"',
        "1",
        "9223372036854775808",
        "?principal",
        'Action::"age_gte"',
        "in",
        "has",
    ]
)
_ONE_POLICY = st.builds(
    "{}{} ({}, {}, {}){};".format,
    st.sampled_from(['@id("p") ', '@id("q") ', '@id("r") ', '@id("default-deny") ', "@id ", ""]),
    st.sampled_from(["permit", "forbid", "permit", "forbid", "permt"]),
    st.sampled_from(["principal", 'principal == Client::"a\\"b"', "principal == ?principal"]),
    st.sampled_from(
        [
            "action",
            'action == Action::"age_gte"',
            'action in Action::"predicate"',
            'action == Action::"nope"',
        ]
    ),
    st.sampled_from(["resource", "resource == ?resource", 'resource == Audience::"x"']),
    st.sampled_from(
        [
            "",
            " when { context.rate > 600 }",
            " when { context.params.min_age > 1 }",
            " when { context.params has min_age && context.params.min_age > 1 }",
            ' unless { principal.kind == "person" }',
            " when { principal.age > 1 }",
            ' when { context.rate == "x" }',
            " when { context.rate * 9223372036854775807 > 0 }",
        ]
    ),
)
_POLICIES = st.lists(_ONE_POLICY, min_size=1, max_size=3).map("\n".join)
_POLICY_TEXT = st.one_of(
    _POLICIES,
    _POLICIES,
    _POLICIES,
    st.lists(_TOKENS, max_size=40).map(" ".join),
    st.lists(_TOKENS, max_size=40).map("".join),
    st.text(max_size=60),
)


@settings(max_examples=150)
@given(text=_POLICY_TEXT)
def test_random_policy_text_loads_or_raises_policy_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        shutil.copyfile(DEFAULT_SCHEMA, d / "zkattest.cedarschema")
        (d / "fuzz.cedar").write_text(text, encoding="utf-8")
        try:
            engine = PolicyEngine.load(d)
        except PolicyError as exc:
            assert str(exc).startswith(("fuzz.cedar", str(d.resolve())))
            event(str(exc).split(": ")[1][:24])
            return
        event("loaded")
        assert engine.policy_ids
        assert engine.decide(request()).outcome in ("allow", "deny", "step_up")


@given(text=_POLICY_TEXT)
def test_split_policies_covers_the_text(text: str) -> None:
    spans = split_policies(text)
    joined = "".join(s.text for s in spans)
    assert text.startswith(joined)
    # what follows the last policy holds no policy text
    assert split_policies(text[len(joined) :]) == []
    lines = [(s.first_line, s.last_line) for s in spans]
    assert all(a <= b for a, b in lines)
    assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(lines))
    assert all(b <= text.count("\n") + 1 for _, b in lines)
