"""Kafka's own performance tools: the limits our clients are compared to.

``ConsumerPerformance`` runs from the stack's Kafka classpath (the broker's 4.1.1).
``ProducerPerformance`` runs from kafka-tools 4.2 (``stack/maven/bench-tools``), whose
``--warmup-records`` (KIP-1052) prints a second, steady-state summary that leaves the
first records out: the tool's JVM is then warm (JIT, connections, the idempotent
producer's id) when its figure is taken, as our producer's Python is. Both run on the Java
Kafka runs on. Connection (and security) settings come from :class:`Settings`, written to
a properties file, never on the command line.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from stack import maven
from stack.java import find_java
from stack.paths import StackPaths

PRODUCER_PERFORMANCE = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERFORMANCE = "org.apache.kafka.tools.ConsumerPerformance"
TOOL_TIMEOUT_S = 300.0

PRODUCER_TOOLS = "bench-tools"  # the classpath of ProducerPerformance (stack/maven/)
_PRODUCER_FINAL = re.compile(
    r"(?P<records>\d+)(?P<steady> steady state)? records sent, (?P<rate>[\d.]+) records/sec "
    r"\((?P<mb>[\d.]+) MB/sec\), (?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, "
    r"(?P<p50>\d+) ms 50th, (?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th, (?P<p999>\d+) ms 99.9th"
)


class KafkaToolError(RuntimeError):
    """A Kafka tool failed or printed something we cannot read; the message shows its output."""


@dataclass(frozen=True)
class ProducerPerf:
    records: int
    records_per_s: float
    mb_per_s: float
    avg_latency_ms: float
    max_latency_ms: float
    p50_ms: int
    p95_ms: int
    p99_ms: int
    steady_state: bool = False  # the summary without the warm-up records


@dataclass(frozen=True)
class ConsumerPerf:
    messages: int
    mb: float
    fetch_seconds: float  # excludes the group join (rebalance) time
    records_per_s: float  # fetch.nMsg.sec
    mb_per_s: float  # fetch.MB.sec


def parse_producer_performance(output: str) -> ProducerPerf:
    """The final summary of ``ProducerPerformance`` (progress lines lack percentiles): the
    steady-state one when the tool had warm-up records, else the whole run's."""
    matches = list(_PRODUCER_FINAL.finditer(output))
    if not matches:
        raise KafkaToolError(f"no ProducerPerformance summary in its output:\n{_tail(output)}")
    m = next((m for m in reversed(matches) if m["steady"]), matches[-1])
    return ProducerPerf(
        records=int(m["records"]),
        records_per_s=float(m["rate"]),
        mb_per_s=float(m["mb"]),
        avg_latency_ms=float(m["avg"]),
        max_latency_ms=float(m["max"]),
        p50_ms=int(m["p50"]),
        p95_ms=int(m["p95"]),
        p99_ms=int(m["p99"]),
        steady_state=m["steady"] is not None,
    )


def parse_consumer_performance(output: str) -> ConsumerPerf:
    """The header and the row of ``ConsumerPerformance`` (comma-separated, after log noise)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("start.time") and i + 1 < len(lines):
            header = [h.strip() for h in line.split(",")]
            values = [v.strip() for v in lines[i + 1].split(",")]
            if len(values) != len(header):
                break
            row = dict(zip(header, values, strict=True))
            try:
                return ConsumerPerf(
                    messages=int(row["data.consumed.in.nMsg"]),
                    mb=float(row["data.consumed.in.MB"]),
                    fetch_seconds=float(row["fetch.time.ms"]) / 1000,
                    records_per_s=float(row["fetch.nMsg.sec"]),
                    mb_per_s=float(row["fetch.MB.sec"]),
                )
            except (KeyError, ValueError) as exc:
                raise KafkaToolError(
                    f"unexpected ConsumerPerformance columns ({exc}):\n{_tail(output)}"
                ) from exc
    raise KafkaToolError(f"no ConsumerPerformance result in its output:\n{_tail(output)}")


def _tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])


def java_client_properties(settings: Settings, extra: Mapping[str, object]) -> str:
    """Java client properties: the connection settings Spark's Kafka source also uses."""
    props = {key.removeprefix("kafka."): value
             for key, value in settings.spark_kafka_options().items()}
    props.update({k: str(v) for k, v in extra.items()})
    return "".join(f"{k}={_escape(str(v))}\n" for k, v in props.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _java_command(settings: Settings, main: str, args: list[str],
                  classpath: str = "kafka") -> list[str]:
    java = find_java("Kafka tools", 17, 23)
    jars = maven.classpath(classpath, StackPaths.from_settings(settings))
    return [str(java.executable), "-Xmx512m", "-cp", ":".join(str(j) for j in jars), main, *args]


def _run(argv: list[str], what: str, timeout: float) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise KafkaToolError(f"{what} did not finish within {timeout:.0f} s") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise KafkaToolError(f"{what} exited {done.returncode}:\n{_tail(output)}")
    return output


def producer_performance(
    settings: Settings, topic: str, *, records: int, record_size: int,
    producer_props: Mapping[str, object], warmup_records: int = 0,
    timeout: float = TOOL_TIMEOUT_S,
) -> ProducerPerf:
    """``records`` after ``warmup_records`` more (sent first, left out of the figure)."""
    with tempfile.NamedTemporaryFile("w", suffix=".properties") as conf:
        conf.write(java_client_properties(settings, producer_props))
        conf.flush()
        warmup = ["--warmup-records", str(warmup_records)] if warmup_records else []
        argv = _java_command(settings, PRODUCER_PERFORMANCE, [
            "--topic", topic, "--num-records", str(records + warmup_records),
            "--record-size", str(record_size), "--throughput", "-1",
            "--command-config", conf.name, *warmup,
        ], classpath=PRODUCER_TOOLS)
        return parse_producer_performance(_run(argv, "ProducerPerformance", timeout))


def consumer_performance(
    settings: Settings, topic: str, *, messages: int, timeout: float = TOOL_TIMEOUT_S,
) -> ConsumerPerf:
    with tempfile.NamedTemporaryFile("w", suffix=".properties") as conf:
        conf.write(java_client_properties(settings, {"auto.offset.reset": "earliest"}))
        conf.flush()
        argv = _java_command(settings, CONSUMER_PERFORMANCE, [
            "--bootstrap-server", settings.kafka_bootstrap_servers, "--topic", topic,
            "--messages", str(messages), "--consumer.config", conf.name, "--timeout", "30000",
        ])
        return parse_consumer_performance(_run(argv, "ConsumerPerformance", timeout))


def tool_version(settings: Settings, classpath: str = PRODUCER_TOOLS) -> str:
    """The kafka-tools version ``classpath`` runs (ProducerPerformance's by default; the
    broker's and ConsumerPerformance's with ``"kafka"``)."""
    for jar in maven.classpath(classpath, StackPaths.from_settings(settings)):
        m = re.fullmatch(r"kafka-tools-(\d.+)\.jar", Path(jar).name)
        if m:
            return m.group(1)
    return "unknown"
