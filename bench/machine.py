"""What the benchmark ran on: hardware, versions, and how busy the machine already was."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib.metadata import version
from pathlib import Path

import confluent_kafka

from config.clients import cassandra_session
from config.settings import Settings
from stack import maven
from stack.java import find_java
from stack.paths import StackPaths


def cpu_model(cpuinfo: str) -> str:
    """The first ``model name`` of /proc/cpuinfo. Pure."""
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return match.group(1).strip() if match else "unknown"


def mem_total_gib(meminfo: str) -> float:
    match = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    return int(match.group(1)) / 2**20 if match else 0.0


def jar_version(jars: list[Path], artifact: str) -> str:
    """``spark-cassandra-connector_2.12-3.5.1.jar`` -> ``3.5.1`` for that artifact. Pure."""
    pattern = re.compile(re.escape(artifact) + r"-(\d[\w.\-]*)\.jar")
    for jar in jars:
        match = pattern.fullmatch(jar.name)
        if match:
            return match.group(1)
    return "unknown"


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _java_version(executable: Path) -> str:
    done = subprocess.run([str(executable), "-version"], capture_output=True, text=True,
                          timeout=30, check=False)
    first = (done.stderr or done.stdout).strip().splitlines()
    return first[0] if first else "unknown"


def _cassandra_version(settings: Settings) -> str:
    with cassandra_session(settings) as session:
        row = session.execute("SELECT release_version FROM system.local").one()
    return str(row.release_version) if row else "unknown"


def describe(settings: Settings) -> dict[str, str]:
    paths = StackPaths.from_settings(settings)
    kafka_jars = maven.classpath("kafka", paths)
    spark_jars = maven.classpath("spark", paths)
    load = os.getloadavg()
    return {
        "CPU": cpu_model(_read("/proc/cpuinfo")),
        "cores (nproc)": str(os.cpu_count()),
        "memory": f"{mem_total_gib(_read('/proc/meminfo')):.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "load average at start (1/5/15 min)": f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
        "Python": platform.python_version(),
        "Java (Kafka, Spark, tools)": _java_version(find_java("Kafka", 17, 23).executable),
        "Kafka (broker, tools)": jar_version(kafka_jars, "kafka-clients"),
        "Cassandra": _cassandra_version(settings),
        "Spark (pyspark)": version("pyspark"),
        "spark-cassandra-connector": jar_version(spark_jars, "spark-cassandra-connector_2.12"),
        "confluent-kafka / librdkafka": f"{confluent_kafka.__version__} / "
                                        f"{confluent_kafka.libversion()[0]}",
        "Spark master": settings.spark_master,
    }
