"""``make clean``: stop this checkout's stack, then delete its state, after a confirmation.

    python -m stack.clean [--force]

What goes: the state directory (``STACK_HOME``, ``.stack/``: the services' data, logs,
pid files, rendered configuration, resolved classpaths, the registry's unpacked
distribution, Airflow's home, the stream's checkpoints, bench's tools) and the
checkpoints when ``SPARK_CHECKPOINT_DIR`` puts them elsewhere. What stays: the caches
that other checkouts and projects share (``~/.m2``, uv's and pip's), and ``.venv``;
the end of the run says how to remove those by hand.

Only the standard library, the settings and ``stack.process`` (no client libraries):
``make clean`` runs it with any python3, so a checkout whose ``.venv`` is broken can
still be cleaned.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from config.settings import PROJECT_ROOT, SettingsError, load_settings
from stack import process
from stack.paths import StackPaths

# Never removed, whatever the settings say: shared caches and the places that hold them.
SHARED_CACHES = ("~/.m2", "~/.cache/uv", "~/.cache/pip", "~/.cache")
KEEP_HINT = (
    "kept (shared with other checkouts): ~/.m2 (Maven's jars; `rm -rf ~/.m2/repository` "
    "empties it for every Maven project), the uv and pip caches (`uv cache clean`, "
    "`pip cache purge`), and .venv (`rm -rf .venv`)"
)


class CleanRefused(RuntimeError):
    """A path to remove is a shared cache, the home directory or the checkout itself."""


@dataclass(frozen=True)
class Removal:
    path: Path
    size_bytes: int


def protected(home: Path | None = None) -> list[Path]:
    """Paths that ``make clean`` never removes, nor any directory that contains them."""
    home = home or Path.home()
    caches = [home / c.removeprefix("~/") for c in SHARED_CACHES]
    return [Path("/"), home, PROJECT_ROOT, PROJECT_ROOT / ".venv", *caches]


def state_dirs(paths: StackPaths, checkpoint_dir: Path) -> list[Path]:
    """The state of this checkout's stack: its home, and the checkpoints if kept elsewhere."""
    dirs = [paths.home]
    if not checkpoint_dir.resolve().is_relative_to(paths.home.resolve()):
        dirs.append(checkpoint_dir)
    return dirs


def select(dirs: Iterable[Path], keep: Sequence[Path]) -> list[Path]:
    """The existing ``dirs``; refuses any that is, or contains, a path of ``keep``."""
    chosen = []
    for path in dirs:
        resolved = path.resolve()
        for kept in keep:
            kept_resolved = kept.resolve()
            if resolved == kept_resolved or kept_resolved.is_relative_to(resolved):
                raise CleanRefused(f"{path} is or holds {kept}, which make clean never "
                                   "removes: point STACK_HOME/SPARK_CHECKPOINT_DIR elsewhere")
        if path.exists():
            chosen.append(path)
    return chosen


def size_of(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for child in path.rglob("*"):
        try:
            if child.is_file() and not child.is_symlink():
                total += child.lstat().st_size
        except OSError:
            continue  # vanished while counting (a service still flushing): size only
    return total


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def stop_everything(pids_dir: Path, out: Callable[[str], None]) -> None:
    """Stop every process with a pid file here (the services, the stream, any job)."""
    for pidfile in sorted(pids_dir.glob("*.pid")) if pids_dir.is_dir() else ():
        if process.stop(pidfile):
            out(f"  stopped {pidfile.stem}")


def confirmed(ask: Callable[[str], str]) -> bool:
    return ask("type 'delete' to stop the stack and delete them: ").strip() == "delete"


def clean(
    paths: StackPaths, checkpoint_dir: Path, *, force: bool,
    ask: Callable[[str], str] = input, out: Callable[[str], None] = print,
) -> int:
    targets = select(state_dirs(paths, checkpoint_dir), protected())
    removals = [Removal(p, size_of(p)) for p in targets]
    if not removals:
        out(f"nothing to remove: {paths.home} does not exist")
        out(KEEP_HINT)
        return 0
    out("make clean removes this checkout's stack state:")
    for r in removals:
        out(f"  {human(r.size_bytes):>10}  {r.path}")
    out(f"  {human(sum(r.size_bytes for r in removals)):>10}  in all")
    if not force and not confirmed(ask):
        out("nothing removed")
        return 1
    out("stopping the stack (every process with a pid file here)")
    stop_everything(paths.pids_dir, out)
    for r in removals:
        if r.path.is_dir():
            shutil.rmtree(r.path)
        else:
            r.path.unlink()
        out(f"  removed {r.path}")
    out(KEEP_HINT)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.clean", description=__doc__)
    parser.add_argument("--force", action="store_true", help="do not ask (make clean FORCE=1)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(check_profile=False)
        return clean(StackPaths.from_settings(settings), Path(settings.spark_checkpoint_dir),
                     force=args.force)
    except (SettingsError, CleanRefused, OSError, EOFError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
