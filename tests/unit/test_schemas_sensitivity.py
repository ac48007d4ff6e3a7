"""The sidecar's [sensitivity] labels (catalog + gate) and the credential-name rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contract.catalog import ContractError, load_contract, load_contract_file
from schematool.gate.lint import credential_words, lint_schema
from schematool.gate.sidecar import sensitivity_problems, sidecar_findings

SIDECAR = """subject = "people-value"
topic = "people"
compatibility = "BACKWARD"

[kafka]
partitions = 1
replication_factor = 1
rejects_topic = "people.rejected"

[cassandra]
keyspace = "ks"
table = "people"
partition_key = ["id"]
"""


def field(name: str, avro_type: Any = "string") -> dict[str, Any]:
    return {"name": name, "type": avro_type, "doc": f"the {name}"}


def write(tmp_path: Path, sensitivity: str, *fields: dict[str, Any], top: str = "") -> Path:
    schemas = tmp_path / "schemas"
    schemas.mkdir(exist_ok=True)
    avsc = schemas / "people-value.avsc"
    avsc.write_text(json.dumps({
        "type": "record", "name": "Person", "namespace": "t",
        "fields": [field("id"), *(fields or (field("email"), field("city")))],
    }))
    avsc.with_suffix(".toml").write_text(top + SIDECAR + sensitivity)
    return avsc


def test_labels_are_parsed_in_label_order(tmp_path: Path) -> None:
    contract = load_contract_file(write(
        tmp_path, '[sensitivity]\npublic = ["city"]\npersonal = ["email"]\n'
                  'pseudonymous = ["id"]\n'))
    assert contract.sensitivity == (("personal", ("email",)), ("pseudonymous", ("id",)),
                                    ("public", ("city",)))
    assert contract.labelled("personal") == ("email",)
    assert contract.labels == {"email": "personal", "id": "pseudonymous", "city": "public"}


def test_no_section_means_no_labels(tmp_path: Path) -> None:
    contract = load_contract_file(write(tmp_path, ""))
    assert contract.sensitivity == () and contract.labelled("personal") == ()


@pytest.mark.parametrize(("top", "section"), [
    ('sensitivity = "personal"\n', ""),
    ("", '[sensitivity]\npersonal = "email"\n'),
    ("", '[sensitivity]\npersonal = ["email", 3]\n'),
])
def test_a_malformed_section_is_a_contract_error(tmp_path: Path, top: str, section: str) -> None:
    with pytest.raises(ContractError, match="sensitivity"):
        load_contract_file(write(tmp_path, section, top=top))


def test_the_gate_refuses_a_label_for_a_field_the_schema_lacks(tmp_path: Path) -> None:
    contract = load_contract_file(write(
        tmp_path, '[sensitivity]\npersonal = ["email", "phone"]\n'))
    findings = sidecar_findings(tmp_path, contract)
    assert [(f.file, f.path, f.rule) for f in findings] == [
        ("schemas/people-value.toml", "phone", "sensitivity-fields")]
    assert "not a top-level field" in findings[0].message
    assert findings[0].line == SIDECAR.count("\n") + 2  # the `personal = ` line


def test_the_gate_refuses_a_field_with_two_labels_and_an_unknown_label(tmp_path: Path) -> None:
    contract = load_contract_file(write(
        tmp_path, '[sensitivity]\npersonal = ["email"]\npublic = ["email"]\n'
                  'secretive = ["city"]\n'))
    assert [(label, name) for label, name, _ in sensitivity_problems(contract)] == [
        ("public", "email")]
    rules = [(f.path, f.rule) for f in sidecar_findings(tmp_path, contract)]
    assert ("email", "sensitivity-fields") in rules
    assert ("", "sidecar-keys") in rules  # sensitivity.secretive: not a label


def test_the_committed_contract_labels_every_field() -> None:
    contract = load_contract()
    assert sorted(contract.labels) == sorted(contract.field_names)
    assert sensitivity_problems(contract) == []
    assert {"email", "phone", "dob", "first_name", "last_name", "address", "post_code"} <= set(
        contract.labelled("personal"))


@pytest.mark.parametrize(("name", "words"), [
    ("password", ["password"]),
    ("password_hash", ["hash", "password"]),
    ("userpassword", ["userpassword"]),
    ("passwd", ["passwd"]),
    ("login_salt", ["salt"]),
    ("auth_token", ["token"]),
    ("client_secret", ["secret"]),
    ("api_key", ["api_key"]),
    ("apikey", ["apikey"]),
    ("private_key", ["private_key"]),
    ("md5", ["md5"]),
    # whole segments only: these are not credentials
    ("hashtag", []),
    ("hashtags_used", []),
    ("tokenizer", []),
    ("secretary", []),
    ("key", []),
    ("api_version", []),
    ("post_code", []),
])
def test_credential_words_match_whole_segments(name: str, words: list[str]) -> None:
    assert credential_words(name) == words


def test_a_credential_in_a_nested_record_is_refused() -> None:
    login = {"type": "record", "name": "Login", "fields": [field("username"),
                                                           field("session_token")]}
    schema = {"type": "record", "name": "Person", "namespace": "t",
              "fields": [field("id"), field("login", login), field("hashtag")]}
    found = {(f.path, f.rule) for f in lint_schema(json.dumps(schema), "s.avsc",
                                                   partition_key=["id"])}
    assert ("login.session_token", "no-credentials") in found
    assert not any(path == "hashtag" for path, _ in found)
