"""Resolve the stack's JVM artifacts from Maven Central, once, into Maven's own cache.

Each service has a pom under ``stack/maven/<service>/``. We never copy jars into
the repository: Maven downloads them into ``~/.m2`` (kept between runs), and we
record the resolved classpath in ``<stack home>/classpath/<service>.txt``. A
classpath file newer than its pom is reused, so after the first run nothing
touches the network.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

from stack.paths import StackPaths

POM_DIR = Path(__file__).resolve().parent / "maven"
CLASSPATH_SERVICES = ("kafka", "cassandra", "spark", "bench-tools")


class ArtifactError(RuntimeError):
    """An artifact could not be resolved; the message says which and why."""


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ArtifactError(
            "Maven (mvn) is not on PATH: install it (Debian: apt-get install maven) "
            "to let the stack resolve Kafka, Cassandra, Spark jars and the registry"
        )
    return mvn


def _run_maven(args: list[str], pom: Path, log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [_mvn(), "-B", "-q", "-f", str(pom), *args]
    with log.open("w") as out:
        rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT)
    if rc != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise ArtifactError(f"Maven failed for {pom} (exit {rc}); see {log}:\n{tail}")


def classpath(service: str, paths: StackPaths) -> list[Path]:
    """The jars of ``service`` (kafka, cassandra, spark), resolving them on first use."""
    if service not in CLASSPATH_SERVICES:
        raise ValueError(f"unknown classpath service {service!r}")
    pom = POM_DIR / service / "pom.xml"
    out = paths.classpath_dir / f"{service}.txt"
    fresh = out.exists() and out.stat().st_mtime >= pom.stat().st_mtime
    if fresh:
        jars = [Path(p) for p in out.read_text().strip().split(":") if p]
        if all(j.exists() for j in jars):
            return jars
    paths.classpath_dir.mkdir(parents=True, exist_ok=True)
    _run_maven(
        ["dependency:build-classpath", f"-Dmdep.outputFile={out}"],
        pom,
        paths.logs_dir / f"maven-{service}.log",
    )
    return [Path(p) for p in out.read_text().strip().split(":") if p]


def spark_jars(paths: StackPaths) -> list[Path]:
    """Jars to hand to pyspark: the connectors minus what pyspark already ships.

    pyspark's own ``jars/`` carries Spark, Scala, Hadoop client and common
    libraries; a second copy of any of them on the classpath only invites
    version clashes, so those are dropped by artifact name.
    """
    spec = importlib.util.find_spec("pyspark")  # where it is, without loading it (0.8 s)
    if spec is None or spec.origin is None:
        raise ArtifactError("pyspark is not installed (make install)")
    shipped = {_artifact_name(p.name) for p in (Path(spec.origin).parent / "jars").glob("*.jar")}
    return [j for j in classpath("spark", paths) if _artifact_name(j.name) not in shipped]


def _artifact_name(jar: str) -> str:
    """``kafka-clients-3.4.1.jar`` -> ``kafka-clients``: the name without its version.

    The version starts at the first ``-<digits>.``; names may hold digits too
    (``spark-sql-kafka-0-10_2.12``).
    """
    stem = jar.removesuffix(".jar")
    match = re.search(r"-\d+\.", stem)
    return stem[: match.start()] if match else stem


def registry_distribution(paths: StackPaths) -> Path:
    """The unpacked Apicurio Registry distribution (contains ``quarkus-run.jar``)."""
    pom = POM_DIR / "registry" / "pom.xml"
    version = _pom_property(pom, "apicurio.version")
    target = paths.dist_dir / f"apicurio-registry-{version}"
    if (target / "quarkus-run.jar").exists():
        return target
    download = paths.dist_dir / "download"
    _run_maven(
        [
            "dependency:copy-dependencies",
            f"-DoutputDirectory={download}",
            "-Dmdep.useRepositoryLayout=false",
        ],
        pom,
        paths.logs_dir / "maven-registry.log",
    )
    tarballs = sorted(download.glob(f"apicurio-registry-app-{version}*.tar.gz"))
    if not tarballs:
        raise ArtifactError(f"Maven resolved no apicurio-registry-app {version} tarball")
    partial = target.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(partial, filter="data")
    partial.rename(target)
    shutil.rmtree(download, ignore_errors=True)
    return target


def _pom_property(pom: Path, name: str) -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find(f"m:properties/m:{name}", ns)
    if node is None or not node.text:
        raise ArtifactError(f"{pom}: no property {name}")
    return node.text.strip()
