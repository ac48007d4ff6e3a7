"""bench.kafka_tools: reading what Kafka's ProducerPerformance and ConsumerPerformance print."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.kafka_tools import (
    KafkaToolError,
    java_client_properties,
    parse_consumer_performance,
    parse_producer_performance,
)
from config.settings import Secret, load_settings

PRODUCER_OUTPUT = """\
SLF4J: Failed to load class "org.slf4j.impl.StaticLoggerBinder".
249985 records sent, 49997.0 records/sec (11.92 MB/sec), 612.3 ms avg latency, 1402.0 ms max \
latency.
50000 records sent, 14828.0 records/sec (9.90 MB/sec), 1182.10 ms avg latency, 1693.00 ms max \
latency, 1253 ms 50th, 1575 ms 95th, 1660 ms 99th, 1661 ms 99.9th.
"""

CONSUMER_OUTPUT = """\
SLF4J: Failed to load class "org.slf4j.impl.StaticLoggerBinder".
SLF4J: Defaulting to no-operation (NOP) logger implementation
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, \
rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-11-26 06:46:38:567, 2026-11-26 06:46:39:939, 33.3786, 24.3284, 50000, 36443.1487, 504, \
868, 38.4546, 57603.6866
"""


def test_producer_summary_is_the_line_with_percentiles() -> None:
    perf = parse_producer_performance(PRODUCER_OUTPUT)
    assert (perf.records, perf.records_per_s, perf.mb_per_s) == (50000, 14828.0, 9.90)
    assert (perf.avg_latency_ms, perf.max_latency_ms) == (1182.10, 1693.00)
    assert (perf.p50_ms, perf.p95_ms, perf.p99_ms) == (1253, 1575, 1660)


@pytest.mark.parametrize("output", ["", "Exception in thread main\n",
                                    "249985 records sent, 49997.0 records/sec (11.92 MB/sec), "
                                    "612.3 ms avg latency, 1402.0 ms max latency.\n"])
def test_producer_output_without_a_summary_is_an_error(output: str) -> None:
    with pytest.raises(KafkaToolError, match="no ProducerPerformance summary"):
        parse_producer_performance(output)


def test_consumer_result_excludes_the_group_join() -> None:
    perf = parse_consumer_performance(CONSUMER_OUTPUT)
    assert perf.messages == 50000
    assert perf.records_per_s == pytest.approx(57603.6866)  # fetch.nMsg.sec, not nMsg.sec
    assert perf.fetch_seconds == pytest.approx(0.868)
    assert perf.mb == pytest.approx(33.3786)


@pytest.mark.parametrize("output", ["", "start.time, end.time\n",
                                    CONSUMER_OUTPUT.replace("fetch.nMsg.sec", "other")])
def test_consumer_output_we_cannot_read_is_an_error(output: str) -> None:
    with pytest.raises(KafkaToolError):
        parse_consumer_performance(output)


def test_java_properties_carry_the_connection_settings_and_the_extras() -> None:
    settings = load_settings({"KAFKA_BOOTSTRAP_SERVERS": "broker:9092"})
    text = java_client_properties(settings, {"acks": "all", "linger.ms": 20})
    lines = text.splitlines()
    assert "bootstrap.servers=broker:9092" in lines
    assert "security.protocol=PLAINTEXT" in lines
    assert "acks=all" in lines and "linger.ms=20" in lines


def test_java_properties_spell_sasl_for_the_java_client() -> None:
    settings = replace(load_settings({}), kafka_security_protocol="SASL_PLAINTEXT",
                       kafka_sasl_mechanism="PLAIN", kafka_sasl_username="u",
                       kafka_sasl_password=Secret("p"))
    text = java_client_properties(settings, {})
    assert "sasl.mechanism=PLAIN" in text.splitlines()
    assert 'username="u" password="p"' in text


WARMED_OUTPUT = PRODUCER_OUTPUT + """\
Warmup first 100000 records. Steady state results will print after the complete test summary.
300000 records sent, 150000.000000 records/sec (35.76 MB/sec), 20.10 ms avg latency, 300.00 ms \
max latency, 15 ms 50th, 40 ms 95th, 60 ms 99th, 90 ms 99.9th.
200000 steady state records sent, 180000.500000 records/sec (42.91 MB/sec), 12.30 ms avg \
latency, 120.00 ms max latency, 10 ms 50th, 30 ms 95th, 45 ms 99th, 80 ms 99.9th.
"""


def test_the_steady_state_summary_wins_when_the_tool_warmed_up() -> None:
    perf = parse_producer_performance(WARMED_OUTPUT)
    assert perf.steady_state
    assert (perf.records, perf.records_per_s, perf.p99_ms) == (200000, 180000.5, 45)
    assert not parse_producer_performance(PRODUCER_OUTPUT).steady_state
