"""bench.security and bench.security_report: the secure stack's environment, the combined
result, the section and its place in docs/performance.md (no services)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.results import StageResult
from bench.security import (
    CLEARED,
    PORTS,
    SecurityConfig,
    combine,
    plain_environment,
    secure_environment,
)
from bench.security_report import (
    MEASURES,
    RUNS_KEY,
    TITLE,
    TLS_NOTE,
    Row,
    carry,
    rows_of,
    section,
    series_key,
    splice,
    spread,
)
from config.settings import PROJECT_ROOT

SHELL = {"PATH": "/usr/bin", "STACK_HOME": "/work/main/.stack", "STACK_PROFILE": "plain",
         "KAFKA_SASL_PASSWORD": "from-the-shell", "CASSANDRA_PORT": "9042",
         "KAFKA_BOOTSTRAP_SERVERS": "localhost:9092", "RANDOMUSER_LOCAL_URL": "http://x:1/api/"}


def run_result(profile: str, **series: list[float]) -> tuple[str, StageResult]:
    result = StageResult(f"security-{profile}", "2026-12-02T11:00:00+00:00")
    result.series = {k.replace("__", "."): v for k, v in series.items()}
    result.notes = [f"{TLS_NOTE}Kafka: TLSv1.3"] if profile == "secure" else ["stream: 100 rows"]
    return profile, result


def test_the_secure_environment_has_its_own_home_ports_and_no_shell_security() -> None:
    env = secure_environment(SHELL, Path("/tmp/b/stack"))
    assert env["STACK_PROFILE"] == "secure" and env["STACK_HOME"] == "/tmp/b/stack"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "localhost:49092"
    assert env["CASSANDRA_PORT"] == "49042"
    assert env["SCHEMA_REGISTRY_URL"].startswith("https://localhost:48081/")
    assert "KAFKA_SASL_PASSWORD" not in env  # the profile's credentials, not the shell's
    assert env["PATH"] == "/usr/bin" and env["PYTHONPATH"] == str(PROJECT_ROOT)
    # the same users: the plain stack's local randomuser server
    assert env["RANDOMUSER_LOCAL_URL"] == SHELL["RANDOMUSER_LOCAL_URL"]


def test_the_secure_ports_are_4xxxx_and_clear_the_shells_own() -> None:
    ports = [v.rsplit(":", 1)[-1].split("/")[0] for v in PORTS.values()]
    assert all(p.startswith("4") and len(p) == 5 for p in ports)
    assert set(PORTS) <= set(CLEARED)


def test_the_plain_environment_is_the_shells() -> None:
    env = plain_environment(SHELL)
    assert {k: env[k] for k in SHELL} == SHELL and env["PYTHONPATH"] == str(PROJECT_ROOT)


def test_the_child_gets_every_size_of_the_config() -> None:
    args = SecurityConfig(produce_records=7, stream_records=9).child_args()
    assert args[args.index("--produce-records") + 1] == "7"
    assert args[args.index("--stream-records") + 1] == "9"


def test_combine_keeps_every_rate_per_profile_and_the_best_as_figure() -> None:
    runs = [run_result("plain", stream__read=[100.0, 120.0]),
            run_result("secure", stream__read=[80.0]),
            run_result("plain", stream__read=[110.0]),
            run_result("secure", stream__read=[90.0, 70.0])]
    result = combine(runs, "2026-12-02T11:00:00+00:00")
    assert result.series[series_key("plain", "stream.read")] == [100.0, 120.0, 110.0]
    assert result.series[series_key("secure", "stream.read")] == [80.0, 90.0, 70.0]
    plain = result.figure("security.plain.stream.read")
    secure = result.figure("security.secure.stream.read")
    assert plain is not None and plain.value == 120.0
    assert secure is not None and secure.value == 90.0
    runs_figure = result.figure(RUNS_KEY)
    assert runs_figure is not None and runs_figure.value == 2
    assert result.notes == ["stream: 100 rows", f"{TLS_NOTE}Kafka: TLSv1.3"]  # once each


def test_spread_is_the_worst_runs_shortfall_from_the_best() -> None:
    assert spread([100.0, 80.0, 90.0]) == pytest.approx(0.2)
    assert spread([5.0]) == 0.0


def test_the_ratio_is_secure_best_over_plain_best() -> None:
    row = Row(MEASURES[0], plain=[100.0, 200.0], secure=[150.0, 50.0])
    assert row.ratio == pytest.approx(0.75)
    assert Row(MEASURES[0], plain=[100.0], secure=[]).ratio is None


def combined() -> StageResult:
    result = combine([run_result("plain", produce__contract_producer=[100_000.0, 90_000.0],
                                 stream__write=[20_000.0]),
                      run_result("secure", produce__contract_producer=[60_000.0],
                                 stream__write=[18_000.0])],
                     "2026-12-02T11:00:00+00:00")
    result.seconds = 420.0
    return result


def test_rows_follow_the_measures_order_and_skip_the_unmeasured() -> None:
    assert [r.measure.key for r in rows_of(combined())] == ["produce.contract_producer",
                                                            "stream.write"]


def test_the_section_shows_both_sides_the_ratio_the_tls_and_why() -> None:
    text = "\n".join(section(combined(), cores=2))
    assert text.startswith(TITLE)
    assert "on 2026-12-02 11:00 UTC" in text  # when the run started
    assert ("| ContractProducer: serialize + produce, acks=all, idempotent (librdkafka) | "
            "Kafka: SASL_SSL, SCRAM-SHA-512 | 100,000 records/s | 90,000 records/s | 10% | "
            "60,000 records/s | 60,000 records/s | 0% | 0.60× |") in text
    assert "| 0.90× |" in text  # the write: 18,000 / 20,000
    assert "- Kafka: TLSv1.3" in text
    assert "40% less throughput (0.60×)" in text  # the largest cost, named
    assert "2-core machine" in text and "competes" in text
    assert "(1 run each)" in text and "Stage time: 420 s." in text


DOC = """# Performance

## Machine

m

## End to end

e

## Reproduce

```sh
make bench
```
"""


def test_splice_adds_the_section_before_reproduce_and_keeps_every_other_line() -> None:
    spliced = splice(DOC, [TITLE, "", "new", ""])
    assert spliced.replace(f"{TITLE}\n\nnew\n\n", "") == DOC
    assert spliced.index(TITLE) < spliced.index("## Reproduce")


def test_splice_replaces_its_own_section_only() -> None:
    once = splice(DOC, [TITLE, "", "first", ""])
    twice = splice(once, [TITLE, "", "second", ""])
    assert twice == once.replace("first", "second")


def test_splice_into_an_empty_document() -> None:
    assert splice("", [TITLE, "", "x", ""]) == f"{TITLE}\n\nx\n"


def test_a_fresh_make_bench_document_keeps_the_previous_security_section() -> None:
    previous = splice(DOC, [TITLE, "", "measured", ""])
    fresh = DOC.replace("e\n", "e2\n")
    assert carry(previous, fresh) == splice(fresh, [TITLE, "", "measured", ""])
    assert carry(DOC, fresh) == fresh  # nothing to carry


@pytest.mark.parametrize(("plain", "secure", "verdict"), [
    ([100.0, 90.0], [80.0, 60.0], "secure slower in every timing"),
    ([100.0, 90.0], [95.0, 60.0], "ranges overlap: within the noise"),
    ([50.0], [60.0], "secure faster in every timing"),
    ([50.0], [], "—"),
])
def test_a_verdict_only_when_the_ranges_do_not_overlap(plain: list[float], secure: list[float],
                                                        verdict: str) -> None:
    assert Row(MEASURES[0], plain=plain, secure=secure).verdict == verdict


def test_no_cost_is_named_when_every_range_overlaps() -> None:
    result = combine([run_result("plain", stream__read=[100.0, 40.0]),
                      run_result("secure", stream__read=[50.0])], "2026-12-02T11:00:00+00:00")
    text = "\n".join(section(result, cores=2))
    assert "The largest cost" not in text
    assert "stayed within the spread" in text and "| ranges overlap: within the noise |" in text


def test_the_secure_stack_is_stopped_when_a_run_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import security
    from config.settings import Settings

    calls: list[tuple[str, ...]] = []

    def stack(env: dict[str, str], *args: str, which: str = "") -> None:
        calls.append((env.get("STACK_PROFILE", "plain"), *args))

    def failing_run(*_args: object) -> StageResult:
        raise security.SecurityBenchError("the plain run exited 1")

    monkeypatch.setattr(security, "stack_command", stack)
    monkeypatch.setattr(security, "negotiated", lambda _settings: [])
    monkeypatch.setattr(security, "measure_in_child", failing_run)
    monkeypatch.setattr("config.settings.load_settings", lambda _env: Settings())
    with pytest.raises(security.SecurityBenchError, match="plain run exited 1"):
        security.run(Settings(), SecurityConfig())
    assert [c[:2] for c in calls] == [("plain", "status"), ("secure", "up"), ("secure", "down")]


def test_a_secure_shell_is_refused() -> None:
    from bench import security
    from config.settings import Settings

    with pytest.raises(security.SecurityBenchError, match="plain profile"):
        security.run(Settings(stack_profile="secure"), SecurityConfig())  # before any stack
