"""Earlier versions of a file, read from git history.

Works on any repository path (the checks run on this one; the tests on a temporary one).
With ``base`` (``origin/main`` on a pull request) only versions reachable from that ref count:
the commits of the pull request itself were never registered, so they are not "earlier".
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


class HistoryError(RuntimeError):
    """git could not tell the history; the message says what to fix."""


@dataclass(frozen=True)
class FileVersion:
    commit: str
    path: str  # the file's path at that commit, relative to the repository root
    text: str

    @property
    def label(self) -> str:
        return f"commit {self.commit[:10]}"


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise HistoryError("git is not installed (needed to read earlier schema versions)") from exc
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        raise HistoryError(f"git {' '.join(args[:2])} in {repo}: {reason}")
    return done.stdout


def _has_commit(repo: Path, ref: str) -> bool:
    try:
        _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except HistoryError:
        return False
    return True


def file_history(repo: Path, path: str | Path, base: str | None = None) -> list[FileVersion]:
    """Every committed version of ``path`` reachable from ``base`` (default HEAD), oldest first.

    Follows renames. A repository without commits has no history; an unknown ``base`` or a
    shallow clone (whose history is incomplete) raises :class:`HistoryError`.
    """
    repo = Path(repo)
    ref = base or "HEAD"
    if not _has_commit(repo, ref):
        if base is None:
            _git(repo, "rev-parse", "--git-dir")  # not a repository at all: raise
            return []  # a repository without commits yet
        raise HistoryError(f"unknown git ref {base!r} in {repo} (fetch it first?)")
    if _git(repo, "rev-parse", "--is-shallow-repository").strip() == "true":
        raise HistoryError(
            f"{repo} is a shallow clone: earlier schema versions are missing "
            "(git fetch --unshallow, or actions/checkout with fetch-depth: 0)"
        )
    relative = Path(path)
    if relative.is_absolute():
        relative = relative.relative_to(repo.resolve())
    log = _git(
        repo, "log", "--follow", "--format=%x00%H", "--name-status", ref, "--", relative.as_posix()
    )
    versions: list[FileVersion] = []
    for chunk in log.split("\x00")[1:]:
        lines = [line for line in chunk.splitlines() if line.strip()]
        commit, changes = lines[0].strip(), lines[1:]
        if not changes:
            continue
        status, *paths = changes[-1].split("\t")
        if status.startswith("D"):
            continue  # deleted in this commit: no version to read
        text = _git(repo, "show", f"{commit}:{paths[-1]}")
        versions.append(FileVersion(commit, paths[-1], text))
    versions.reverse()
    return versions


def earlier_versions(
    versions: Sequence[FileVersion],
    current_text: str,
    same: Callable[[str, str], bool] = lambda a, b: a == b,
) -> list[FileVersion]:
    """The versions before the current one: trailing copies of it and repeats are dropped.

    Without ``base``, HEAD's own version is in the history; it is the current version, not an
    earlier one. ``same`` decides when two texts are the same schema.
    """
    distinct: list[FileVersion] = []
    for version in versions:
        if distinct and same(distinct[-1].text, version.text):
            continue
        distinct.append(version)
    while distinct and same(distinct[-1].text, current_text):
        distinct.pop()
    return distinct
