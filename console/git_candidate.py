"""A candidate schema from git: a subject's ``.avsc`` at a branch or commit of this checkout.

The ref comes from a web form, so it is checked before git sees it: a ref that starts with
``-`` (an option) or holds anything a ref name cannot hold is refused, and git resolves it
with ``rev-parse --verify --end-of-options`` to one commit, whose blob is then read by its
hash. The subject names the file ``schemas/<subject>.avsc``, and is checked too.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

# What the form may name: branch and tag names, hashes, and HEAD~2 / main^ / @{1} forms.
REF = re.compile(r"^[A-Za-z0-9_@][A-Za-z0-9_./@{}^~+-]{0,199}$")
SUBJECT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")
SCHEMAS_DIR = "schemas"
GIT_TIMEOUT_S = 10.0


class GitCandidateError(ValueError):
    """The ref or the subject is refused, or git has no such commit or file; says which."""


def validate_ref(ref: str) -> str:
    ref = ref.strip()
    if not ref:
        raise GitCandidateError("no git ref given")
    if ref.startswith("-"):
        raise GitCandidateError(f"git ref {ref!r} refused: a ref cannot start with '-'")
    if not REF.match(ref) or ".." in ref:
        raise GitCandidateError(
            f"git ref {ref!r} refused: letters, digits and _ . / @ {{ }} ^ ~ + - only, "
            "one ref (no range)"
        )
    return ref


def validate_subject(subject: str) -> str:
    if not SUBJECT.match(subject) or ".." in subject:
        raise GitCandidateError(f"subject {subject!r} cannot name a file in {SCHEMAS_DIR}/")
    return subject


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitCandidateError(f"git {args[0]} in {repo} failed: {exc}") from exc


def local_branches(repo: Path) -> list[str]:
    """This checkout's local branches (empty when it is not a git checkout)."""
    done = _git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/")
    return sorted(line for line in done.stdout.splitlines() if line) if done.returncode == 0 \
        else []


def resolve(repo: Path, ref: str) -> str:
    """The commit ``ref`` names, as a full hash."""
    ref = validate_ref(ref)
    done = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    commit = done.stdout.strip()
    if done.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40,64}", commit):
        raise GitCandidateError(f"git ref {ref!r}: no such branch or commit in this checkout")
    return commit


def schema_at(repo: Path, ref: str, subject: str) -> tuple[str, str]:
    """``schemas/<subject>.avsc`` at ``ref``: (its text, the commit it was read from)."""
    path = f"{SCHEMAS_DIR}/{validate_subject(subject)}.avsc"
    commit = resolve(repo, ref)
    done = _git(repo, "cat-file", "blob", f"{commit}:{path}")
    if done.returncode != 0:
        raise GitCandidateError(f"{path} does not exist at {ref} ({commit[:12]})")
    return done.stdout, commit
