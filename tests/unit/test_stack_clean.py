"""stack.clean: what make clean removes, what it never touches, and the confirmation."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT
from stack.clean import CleanRefused, clean, protected, select, state_dirs
from stack.paths import StackPaths


def test_state_is_the_stack_home_and_checkpoints_kept_elsewhere(tmp_path: Path) -> None:
    paths = StackPaths(tmp_path / ".stack")
    assert state_dirs(paths, tmp_path / ".stack" / "checkpoints") == [paths.home]
    assert state_dirs(paths, tmp_path / "ck") == [paths.home, tmp_path / "ck"]


def test_select_keeps_only_existing_dirs(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert select([tmp_path / "a", tmp_path / "b"], keep=[]) == [tmp_path / "a"]


@pytest.mark.parametrize("where", ["~/.m2", "~/.cache/uv", "~", "~/.cache", "/"])
def test_shared_caches_and_their_parents_are_refused(where: str) -> None:
    target = Path(where).expanduser()
    with pytest.raises(CleanRefused):
        select([target], protected())


def test_a_dir_holding_the_checkout_or_venv_is_refused() -> None:
    with pytest.raises(CleanRefused):
        select([PROJECT_ROOT], protected())
    with pytest.raises(CleanRefused):
        select([PROJECT_ROOT.parent], protected())
    assert select([PROJECT_ROOT / ".stack-not-there"], protected()) == []


def test_clean_asks_then_removes_with_sizes(tmp_path: Path) -> None:
    home = tmp_path / "state"
    (home / "logs").mkdir(parents=True)
    (home / "logs" / "kafka.log").write_bytes(b"x" * 2048)
    lines: list[str] = []
    code = clean(StackPaths(home), home / "checkpoints", force=False,
                 ask=lambda prompt: "no", out=lines.append)
    assert code == 1 and home.exists() and "nothing removed" in lines
    assert any("2.0 KiB" in line and str(home) in line for line in lines)
    code = clean(StackPaths(home), home / "checkpoints", force=False,
                 ask=lambda prompt: "delete", out=lines.append)
    assert code == 0 and not home.exists()
    assert any("~/.m2" in line for line in lines)


def test_force_does_not_ask_and_removes_external_checkpoints(tmp_path: Path) -> None:
    home, checkpoints = tmp_path / "state", tmp_path / "ck"
    home.mkdir()
    (checkpoints / "q").mkdir(parents=True)

    def never(prompt: str) -> str:
        raise AssertionError("asked despite --force")

    assert clean(StackPaths(home), checkpoints, force=True, ask=never, out=lambda s: None) == 0
    assert not home.exists() and not checkpoints.exists()
