"""A candidate from git: ref validation, the blob at a ref, and the check page using it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from console.app import create_app
from console.git_candidate import (
    GitCandidateError,
    local_branches,
    resolve,
    schema_at,
    validate_ref,
)
from tests.unit.test_console_app import SANDBOX, V2, FakeSources, record

SUBJECT = "sandbox-value"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout whose main has V2 and whose branch 'promote' turns age into a long."""
    repo = tmp_path / "checkout"
    (repo / "schemas").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    avsc = repo / "schemas" / f"{SUBJECT}.avsc"
    avsc.write_text(V2)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v2")
    git(repo, "checkout", "-q", "-b", "promote")
    avsc.write_text(record({"name": "age", "type": "long"},
                           {"name": "email", "type": ["null", "string"], "default": None}))
    git(repo, "commit", "-q", "-am", "promote age")
    git(repo, "checkout", "-q", "main")
    return repo


@pytest.mark.parametrize("ref", ["main", "promote", "HEAD~0", "main^{commit}", "v1.2-rc/x",
                                 "a1b2c3d", "@{0}"])
def test_ordinary_refs_are_accepted(ref: str) -> None:
    assert validate_ref(ref) == ref


@pytest.mark.parametrize("ref", ["--output=/tmp/x", "-n", "", "main..promote", "main;ls",
                                 "a b", "$(id)", "main:secrets", "x\n-p"])
def test_options_ranges_and_odd_characters_are_refused(ref: str) -> None:
    with pytest.raises(GitCandidateError):
        validate_ref(ref)


def test_the_schema_at_a_branch_and_a_commit(repo: Path) -> None:
    assert local_branches(repo) == ["main", "promote"]
    text, commit = schema_at(repo, "promote", SUBJECT)
    assert json.loads(text)["fields"][1]["type"] == "long"
    assert commit == git(repo, "rev-parse", "promote")
    assert schema_at(repo, commit[:10], SUBJECT)[0] == text
    assert json.loads(schema_at(repo, "main", SUBJECT)[0]) == json.loads(V2)


def test_unknown_refs_missing_files_and_odd_subjects_say_why(repo: Path) -> None:
    with pytest.raises(GitCandidateError, match="no such branch or commit"):
        resolve(repo, "nope")
    with pytest.raises(GitCandidateError, match="does not exist at main"):
        schema_at(repo, "main", "other-value")
    with pytest.raises(GitCandidateError, match="cannot name a file"):
        schema_at(repo, "main", "../../etc/passwd")
    assert local_branches(repo / "schemas" / "not-a-repo-dir") == []


def test_the_check_page_judges_a_branch_like_a_pasted_schema(repo: Path) -> None:
    sources = FakeSources(histories={SUBJECT: SANDBOX})
    client = TestClient(create_app(sources, repo=repo))
    form = client.get("/check")
    assert '<option value="promote">' in form.text  # the local branches are offered

    page = client.post("/check", data={"subject": SUBJECT, "ref": "promote"})
    assert page.status_code == 200
    assert 'id="git-source"' in page.text and "promote" in page.text
    assert "not Cassandra-safe" in page.text  # int -> long, as when pasted

    refused = client.post("/check", data={"subject": SUBJECT, "ref": "--output=/tmp/x"})
    assert 'id="git-problem"' in refused.text and "cannot start with" in refused.text
    missing = client.post("/check", data={"subject": "other-value", "ref": "main"})
    assert "does not exist at main" in missing.text

