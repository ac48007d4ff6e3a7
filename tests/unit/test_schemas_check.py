"""`python -m schematool check|generate` and git history, on a temporary git repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from schematool.__main__ import main
from schematool.gate.history import HistoryError, earlier_versions, file_history

SUBJECT = "people-value"
AVSC = f"schemas/{SUBJECT}.avsc"
SIDECAR = f"schemas/{SUBJECT}.toml"
CQL = "cql/ks.people.cql"


def sidecar(partition_key: str = '["id"]') -> str:
    return f"""subject = "{SUBJECT}"
topic = "people"
compatibility = "BACKWARD"

[kafka]
partitions = 1
replication_factor = 1
rejects_topic = "people.rejected"

[cassandra]
keyspace = "ks"
table = "people"
partition_key = {partition_key}
clustering_key = []
ttl_seconds = 0
"""


def person(*extra: dict[str, Any]) -> str:
    fields = [
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}, "doc": "key"},
        {"name": "name", "type": "string", "doc": "full name"},
        *extra,
    ]
    schema = {"type": "record", "name": "Person", "namespace": "t", "doc": "p", "fields": fields}
    return json.dumps(schema, indent=2) + "\n"


AGE = {"name": "age", "type": ["null", "int"], "default": None, "doc": "age in years"}
AGE_AS_TEXT = {"name": "age", "type": ["null", "string"], "default": None, "doc": "age"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def write(repo: Path, path: str, text: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text, encoding="utf-8")


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture(autouse=True)
def _plain_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


@pytest.fixture
def repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A repository with version 1 of one contract and its generated CQL committed."""
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "test@example.com")
    git(tmp_path, "config", "user.name", "test")
    write(tmp_path, AVSC, person())
    write(tmp_path, SIDECAR, sidecar())
    assert cli(capsys, "generate", "--repo", str(tmp_path))[0] == 0
    commit(tmp_path, "v1")
    return tmp_path


def evolve(repo: Path, capsys: pytest.CaptureFixture[str], text: str, message: str = "") -> None:
    """Write a new version with its CQL regenerated; commit it when a message is given."""
    write(repo, AVSC, text)
    assert cli(capsys, "generate", "--repo", str(repo))[0] == 0
    if message:
        commit(repo, message)


# -- check -----------------------------------------------------------------------------


def test_compatible_history_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evolve(repo, capsys, person(AGE), "v2: add optional age")
    code, out = cli(capsys, "check", "--repo", str(repo))
    assert code == 0, out
    assert "BACKWARD against 1 of 1 earlier version(s)" in out
    assert out.strip().endswith("schemas check: ok")


def test_breaking_working_tree_change_fails_with_the_field_path(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evolve(repo, capsys, person(AGE), "v2")
    write(repo, AVSC, person(AGE, {"name": "height", "type": "int", "doc": "no default"}))
    code, out = cli(capsys, "check", "--repo", str(repo))
    assert code == 1
    assert f"{AVSC}:" in out and "[avro-backward] height:" in out
    assert "[cql-drift]" in out and CQL in out  # the CQL was not regenerated either


def test_type_change_is_refused_by_avro_and_by_cassandra_safety(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evolve(repo, capsys, person(AGE), "v2")
    evolve(repo, capsys, person(AGE_AS_TEXT))
    code, out = cli(capsys, "check", "--repo", str(repo))
    assert code == 1
    assert "[avro-backward] age:" in out and "[cql-type-changed] age:" in out
    assert "cql-drift" not in out


def test_github_format_adds_annotations_with_file_and_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evolve(repo, capsys, person({"name": "age", "type": "int", "doc": "required"}))
    code, out = cli(capsys, "check", "--repo", str(repo), "--format", "github")
    assert code == 1
    line = person({"name": "age", "type": "int"}).splitlines().index('      "name": "age",') + 1
    assert f"::error file={AVSC},line={line},title=avro-backward::age: BACKWARD" in out


def test_base_ref_ignores_versions_only_on_the_branch(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    evolve(repo, capsys, person(AGE), "feature: age as int")
    evolve(repo, capsys, person(AGE_AS_TEXT), "feature: age as text after all")
    # Against the branch's own history the type change shows...
    assert cli(capsys, "check", "--repo", str(repo))[0] == 1
    # ...but main never had age: for the pull request it is simply a new optional field.
    code, out = cli(capsys, "check", "--repo", str(repo), "--base", "main")
    assert code == 0, out


def test_primary_key_change_in_the_sidecar_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, SIDECAR, sidecar('["name"]'))
    assert cli(capsys, "generate", "--repo", str(repo))[0] == 0
    code, out = cli(capsys, "check", "--repo", str(repo))
    assert code == 1
    assert f"{SIDECAR}:" in out and "[primary-key-changed]" in out


def test_lint_findings_fail_the_check(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evolve(repo, capsys, person({"name": "password", "type": ["null", "string"], "default": None}))
    code, out = cli(capsys, "check", "--repo", str(repo))
    assert code == 1
    assert "[field-doc] password:" in out and "[no-credentials] password:" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type": "record", "name": "Person", "fields": [', "not valid JSON"),
        (
            person({"name": "d", "type": {"type": "long", "logicalType": "nanos"}, "doc": "d"}),
            "unknown logical type 'nanos'",
        ),
    ],
)
def test_malformed_schema_is_one_line_naming_the_file(
    repo: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    write(repo, AVSC, text)
    code, out = cli(capsys, "check", "--repo", str(repo))
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith(AVSC)]
    assert len(problems) == 1 and expected in problems[0]
    # generate cannot write anything from it: a one-line error, no traceback
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "schematool", "generate", "--repo", str(repo)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and AVSC in done.stderr and expected in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_base_ref_is_an_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = cli(capsys, "check", "--repo", str(repo), "--base", "origin/nope")
    assert code == 2 and "unknown git ref 'origin/nope'" in out


# -- generate --check: the drift check ----------------------------------------------------


def test_generate_check_passes_then_names_the_drifting_file(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "generate", "--check", "--repo", str(repo)) == (
        0,
        "cql/ is up to date (2 files)\n",
    )
    path = repo / CQL
    path.write_text(path.read_text().replace(" text,", " varchar,", 1))
    code, out = cli(capsys, "generate", "--check", "--repo", str(repo))
    assert code == 1 and out.startswith(f"{CQL} differs")
    assert "varchar" in path.read_text()  # --check writes nothing
    assert cli(capsys, "generate", "--repo", str(repo)) == (0, f"wrote {CQL}\n")
    assert cli(capsys, "generate", "--check", "--repo", str(repo))[0] == 0


def test_generate_check_notices_a_schema_change(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, AVSC, person(AGE))
    code, out = cli(capsys, "generate", "--check", "--repo", str(repo))
    assert code == 1 and CQL in out


def test_stale_generated_files_are_reported_and_removed_hand_written_kept(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "cql/ks.gone.cql", "-- generated from schemas/gone.avsc, do not edit\n")
    write(repo, "cql/handmade.cql", "-- a hand-written helper\nSELECT 1;\n")
    code, out = cli(capsys, "generate", "--check", "--repo", str(repo))
    assert code == 1 and "cql/ks.gone.cql is generated from no schema" in out
    assert "handmade" not in out
    assert cli(capsys, "generate", "--repo", str(repo)) == (0, "removed cql/ks.gone.cql\n")
    assert (repo / "cql/handmade.cql").exists()


def test_generated_files_have_the_header(repo: Path) -> None:
    text = (repo / CQL).read_text()
    assert text.startswith(
        f"-- generated from {AVSC} and its .toml sidecar, do not edit; run make cql\n"
    )
    assert "CREATE KEYSPACE IF NOT EXISTS ks" in text and "'replication_factor': 1" in text
    assert (
        "CREATE TABLE IF NOT EXISTS ks.dead_letters"
        in (repo / "cql/ks.dead_letters.cql").read_text()
    )


# -- history ---------------------------------------------------------------------------


def test_history_is_oldest_first_and_follows_renames(repo: Path) -> None:
    write(repo, AVSC, person(AGE))
    commit(repo, "v2")
    git(repo, "mv", AVSC, "schemas/renamed.avsc")
    commit(repo, "rename")
    versions = file_history(repo, "schemas/renamed.avsc")
    assert [json.loads(v.text)["fields"][-1]["name"] for v in versions] == ["name", "age", "age"]
    assert [v.path for v in versions] == [AVSC, AVSC, "schemas/renamed.avsc"]


def test_history_from_a_base_ref(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, AVSC, person(AGE))
    commit(repo, "v2 on the branch")
    assert len(file_history(repo, AVSC)) == 2
    assert len(file_history(repo, AVSC, base="main")) == 1


def test_earlier_versions_drop_the_current_one_and_repeats(repo: Path) -> None:
    write(repo, AVSC, person(AGE))
    commit(repo, "v2")
    versions = file_history(repo, AVSC)
    assert earlier_versions(versions, person(AGE)) == versions[:1]
    assert earlier_versions(versions, person()) == versions  # back to v1: v2 is earlier
    assert earlier_versions([*versions, versions[-1]], "other") == versions


def test_history_without_commits_or_outside_git(tmp_path: Path) -> None:
    with pytest.raises(HistoryError):
        file_history(tmp_path, AVSC)
    git(tmp_path, "init", "-q")
    assert file_history(tmp_path, AVSC) == []
