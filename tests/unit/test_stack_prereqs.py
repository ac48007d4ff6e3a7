"""stack.prereqs: each need checked from fake probes, and the fix it prints."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from stack import prereqs
from stack.java import JavaNotFound
from stack.prereqs import GIB, JDK17_PACKAGE, Probes, check_all, packages_to_install, report


def _java(majors: list[int]):
    def find(service: str, low: int, high: int) -> str:
        for major in majors:
            if low <= major <= high:
                return f"{major} at /jvm/{major}"
        raise JavaNotFound(f"{service} needs Java {low}..{high}")
    return find


def machine(**overrides: object) -> Probes:
    """A Linux machine that has everything, as root with apt; overrides take parts away."""
    tools = {"mvn": "/usr/bin/mvn", "apt-get": "/usr/bin/apt-get"}
    base = Probes(
        system=lambda: "Linux",
        proc_readable=lambda: True,
        python=lambda: (3, 11),
        in_venv=lambda: True,
        which=tools.get,
        java=_java([17]),
        mem_available=lambda: 12 * GIB,
        disk_free=lambda path: 50 * GIB,
        stack_running=lambda: False,
        is_root=lambda: True,
        apt_has=lambda package: True,
        env=lambda name: None,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def refusing(probes: Probes) -> dict[str, prereqs.Finding]:
    return {f.need: f for f in check_all(probes) if f.refuses}


def test_a_complete_machine_passes() -> None:
    findings = check_all(machine())
    assert all(f.ok for f in findings), findings
    assert report(findings, out=lambda line: None)


def test_not_linux_is_refused_alone() -> None:
    findings = check_all(machine(system=lambda: "Darwin", proc_readable=lambda: False))
    assert [f.need for f in findings] == ["Linux with /proc"]
    assert findings[0].refuses and "Linux" in findings[0].fix


def test_only_java_21_refuses_kafka_cassandra_spark_with_the_apt_command() -> None:
    missing = refusing(machine(java=_java([21])))
    assert set(missing) == {"Java 11..17 for Cassandra 5.0", "Java 8..17 for Spark 3.5"}
    fix = missing["Java 8..17 for Spark 3.5"].fix
    assert fix == f"apt-get install -y {JDK17_PACKAGE}"


def test_java_17_without_a_distribution_package_points_at_temurin() -> None:
    missing = refusing(machine(java=_java([]), apt_has=lambda package: False))
    assert len(missing) == 3
    assert all("Temurin 17" in f.fix and "JAVA17_HOME" in f.fix for f in missing.values())
    assert packages_to_install(list(missing.values())) == []


def test_non_root_gets_the_sudo_command() -> None:
    missing = refusing(machine(java=_java([]), is_root=lambda: False, which={}.get))
    assert missing["Maven (mvn)"].fix.startswith("unpack Apache Maven")  # no apt
    missing = refusing(machine(java=_java([]), is_root=lambda: False))
    assert missing["Java 17..23 for Kafka 4"].fix == f"sudo apt-get install -y {JDK17_PACKAGE}"


def test_missing_maven_and_jdk_install_jdk_first() -> None:
    tools = {"apt-get": "/usr/bin/apt-get"}
    findings = check_all(machine(java=_java([]), which=tools.get))
    assert packages_to_install(findings) == [JDK17_PACKAGE, "maven"]


def test_memory_below_minimum_refuses_and_names_the_override() -> None:
    missing = refusing(machine(mem_available=lambda: 3 * GIB))
    assert "STACK_MIN_AVAILABLE_GIB=3" in missing["free memory"].fix


def test_memory_between_minimum_and_recommendation_warns() -> None:
    findings = {f.need: f for f in check_all(machine(mem_available=lambda: 5 * GIB))}
    assert not findings["free memory"].ok and not findings["free memory"].refuses


def test_memory_override_and_a_running_stack() -> None:
    low = {"mem_available": lambda: 2 * GIB}
    assert not refusing(machine(**low, env={"STACK_MIN_AVAILABLE_GIB": "1"}.get))
    assert not refusing(machine(**low, stack_running=lambda: True))
    with pytest.raises(prereqs.PrerequisitesMissing, match="expected a number"):
        check_all(machine(env={"STACK_MIN_AVAILABLE_GIB": "lots"}.get))


def test_disk_counts_the_smaller_of_home_and_state() -> None:
    def free(path: Path) -> int:
        return 1 * GIB if path == Path.home() else 100 * GIB
    assert "free disk" in refusing(machine(disk_free=free))


def test_python_is_judged_in_the_venv_only() -> None:
    assert "Python 3.11" in refusing(machine(python=lambda: (3, 12)))
    assert not refusing(machine(python=lambda: (3, 12), in_venv=lambda: False))


def test_require_raises_with_every_fix() -> None:
    with pytest.raises(prereqs.PrerequisitesMissing) as caught:
        prereqs.require(machine(java=_java([]), which={}.get), out=lambda line: None)
    text = str(caught.value)
    assert "MISSING" in text and "Temurin" in text and "maven" in text


def test_java_needs_match_the_services() -> None:
    from stack.spark import SPARK_JAVA_RANGE

    assert ("Spark 3.5", *SPARK_JAVA_RANGE) in prereqs.JAVA_NEEDS


def test_browser_is_checked_only_when_asked_and_installed_by_apt() -> None:
    no_browser = machine()  # which() knows mvn and apt-get only
    assert all("Chromium" not in f.need for f in check_all(no_browser))
    findings = check_all(no_browser, browser=True)
    browser = next(f for f in findings if "Chromium" in f.need)
    assert browser.refuses and "chromium, chromedriver" in browser.detail
    assert packages_to_install(findings) == ["chromium", "chromium-driver"]
    tools = {"apt-get": "/a", "mvn": "/m", "chromium": "/c", "chromedriver": "/d"}
    assert all(f.ok for f in check_all(machine(which=tools.get), browser=True))


def test_with_every_service_external_java_maven_and_memory_only_warn() -> None:
    env = {"STACK_EXTERNAL": "all"}.get
    bare = machine(java=_java([]), which={}.get, mem_available=lambda: 1 * GIB, env=env)
    findings = check_all(bare)
    assert not [f for f in findings if f.refuses]
    assert all("STACK_EXTERNAL=all" in f.fix for f in findings if not f.ok)
