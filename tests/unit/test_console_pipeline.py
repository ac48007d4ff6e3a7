"""The console's Pipeline page: its views from plain data, its routes with a fake source,
a banner on the affected panel only when Kafka, Cassandra or Airflow does not answer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from config.airflow_api import DagRun
from config.settings import load_settings
from console.app import create_app
from console.pipeline_sources import (
    ContractTopics,
    LivePipelineSources,
    RunSummary,
    StreamLog,
    tail_lines,
)
from console.pipeline_views import batch_series, batches_view, run_link, run_view, topics_view
from contract.catalog import Contract, ContractError, load_contract
from ops.status import TopicPosition
from schematool.migrate.live import TopicState
from schematool.migrate.observe import ServiceUnavailable
from streaming.batch_log import BatchEvent, parse_job_log
from streaming.report import BatchReport
from tests.unit.test_console_app import FakeSources

CONTRACT = load_contract()
AIRFLOW = "http://airflow.test:8080"


def position(committed: dict[int, int] | None = {0: 10, 1: 5, 2: 7}) -> TopicPosition:  # noqa: B006
    lag = "unknown (no committed batch)" if committed is None else "8 records"
    return TopicPosition(CONTRACT.topic, {0: 12, 1: 11, 2: 7}, committed, lag, (),
                         CONTRACT.rejects_topic, {0: 1, 1: 0, 2: 2})


def states(*missing: str) -> dict[str, TopicState]:
    return {n: TopicState(n, None if n in missing else 3, 1)
            for n in (CONTRACT.topic, CONTRACT.rejects_topic)}


def batch(at: float, batch_id: int, rows: int, **extra: object) -> BatchEvent:
    defaults: dict[str, object] = {
        "input_rows": rows, "rows_written": rows, "dead_lettered": 0, "duration_ms": 900,
        "lag_p50_ms": 1200, "lag_p95_ms": 2100, "lag_max_ms": 2500, "batch_id": batch_id,
        "schema_ids": (1,), "reader_version": 1,
    }
    defaults.update(extra)
    return BatchEvent(at=at, **defaults)  # type: ignore[arg-type]


BATCHES = (
    batch(1_764_662_400.0, 7, 100),  # 2025-12-02 08:00:00 UTC
    batch(1_764_662_402.0, 8, 50, rows_written=47, dead_lettered=3,
          dead_lettered_by_stage={"decode": 2, "sink": 1}, schema_ids=(1, 4), reader_version=2),
)
RUN = DagRun("user_automation", "manual__2026-12-02T08:00:00+00:00", "success",
             "2026-12-02T08:00:01Z", "2026-12-02T08:00:40Z", {})
SUMMARY = {"fetched": 30, "subjects": {CONTRACT.subject: {"fetched": 30, "produced": 29,
                                                          "rejected": 1}}}


# -- views ------------------------------------------------------------------------------------


def test_topics_view_has_each_partition_end_offset_and_lag() -> None:
    view = topics_view(ContractTopics(CONTRACT, states(), position()))
    records, rejects = view.topics
    assert (records.name, records.partitions, records.records, records.lag) == (
        CONTRACT.topic, 3, 30, 8)
    assert [(r.partition, r.end, r.committed, r.lag) for r in records.rows] == [
        (0, 12, 10, 2), (1, 11, 5, 6), (2, 7, 7, 0)]
    assert rejects.role == "rejects" and rejects.records == 3
    assert all(r.lag is None and r.committed is None for r in rejects.rows)
    assert view.lag_text == "8 records" and not view.missing


def test_topics_view_without_a_committed_batch_or_a_topic() -> None:
    view = topics_view(ContractTopics(CONTRACT, states(), position(committed=None)))
    assert [r.lag for r in view.topics[0].rows] == [None, None, None]
    assert view.topics[0].lag is None
    missing = topics_view(ContractTopics(CONTRACT, states(CONTRACT.rejects_topic), None))
    assert missing.missing == (CONTRACT.rejects_topic,)
    assert missing.topics[1].partitions is None


def test_batch_series_has_rows_by_stage_latency_and_schemas() -> None:
    series = batch_series(StreamLog("stream.log", True, BATCHES))
    assert series["labels"] == ["08:00:00", "08:00:02"]
    assert series["batch_ids"] == [7, 8]
    rows = {d["label"]: d["data"] for d in series["charts"]["rows"]["datasets"]}
    assert rows == {"input rows": [100, 50], "written": [100, 47],
                    "dead letters: decode": [0, 2], "dead letters: sink": [0, 1]}
    latency = {d["label"]: d["data"] for d in series["charts"]["latency"]["datasets"]}
    assert latency["lag p50"] == [1200, 1200] and latency["lag p95"] == [2100, 2100]
    schemas = {d["label"]: (d["data"], d["kind"])
               for d in series["charts"]["schemas"]["datasets"]}
    assert schemas == {"reader version": ([1, 2], "step"), "writer id 1": ([1, 1], "points"),
                       "writer id 4": ([None, 4], "points")}


def test_batches_view_lists_the_newest_first_and_escapes_its_json() -> None:
    view = batches_view(StreamLog("stream.log", True, (
        *BATCHES, batch(1_764_662_404.0, 9, 1, dead_lettered_by_stage={"</script>": 1}))))
    assert view.count == 3 and view.latest == "08:00:04 #9"
    assert [r.batch_id for r in view.rows] == [9, 8, 7]
    assert view.rows[1].by_stage == "decode 2, sink 1" and view.rows[1].writer_ids == "1, 4"
    assert "</script>" not in view.series
    assert json.loads(view.series)["charts"]["rows"]["datasets"][2]["label"] == (
        "dead letters: </script>")


def test_run_view_counts_per_subject_and_links_into_airflow() -> None:
    view = run_view(AIRFLOW + "/", RunSummary(RUN, SUMMARY))
    assert view.link == (f"{AIRFLOW}/dags/user_automation/runs/"
                         "manual__2026-12-02T08%3A00%3A00%2B00%3A00")
    assert view.fetched == 30
    assert [(s.subject, s.fetched, s.produced, s.rejected) for s in view.subjects] == [
        (CONTRACT.subject, 30, 29, 1)]
    running = run_view(AIRFLOW, RunSummary(DagRun("user_automation", "r2", "running",
                                                   None, None, {}), None))
    assert running.subjects == () and running.fetched is None
    assert run_link(AIRFLOW, "a/b") == f"{AIRFLOW}/dags/user_automation/runs/a%2Fb"


# -- the stream's log -------------------------------------------------------------------------


def batch_line(batch_id: int, rows: int) -> str:
    return json.dumps({"ts": "2026-12-02T08:00:00.000+00:00", "event": "batch",
                       "batch_id": batch_id, "input_rows": rows, "rows_written": rows,
                       "dead_lettered": 0, "dead_lettered_by_stage": {}, "schema_ids": [1],
                       "reader_version": 1, "reader_schema_id": 1, "duration_ms": 5,
                       "lag_max_ms": 9, "lag_p50_ms": 7, "lag_p95_ms": 9})


def test_the_stream_log_is_read_from_stack_home(tmp_path: Path) -> None:
    settings = load_settings({"STACK_HOME": str(tmp_path)})
    source = LivePipelineSources(settings)
    missing = source.stream_log()
    assert not missing.found and missing.path == str(tmp_path / "logs" / "stream.log")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "stream.log").write_text("\n".join([
        "==== supervise: starting", batch_line(1, 10), "\tat org.apache.spark.Whatever",
        '{"ts": "2026-12-02T08:00:01.000+00:00", "event": "query_started"}',
        batch_line(2, 20), ""]))
    log = source.stream_log()
    assert log.found and [(b.batch_id, b.input_rows) for b in log.batches] == [(1, 10), (2, 20)]


def test_tail_lines_drops_the_line_it_cut(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_text("first line\nsecond\nthird\n")
    assert tail_lines(path, max_bytes=1000) == ["first line", "second", "third"]
    assert tail_lines(path, max_bytes=10) == ["third"]


# -- routes with a fake source ----------------------------------------------------------------


@dataclass
class FakePipeline:
    down: set[str] = field(default_factory=set)
    batches: tuple[BatchEvent, ...] = BATCHES
    broken_contracts: bool = False
    airflow_url: str = AIRFLOW

    def _check(self, service: str) -> None:
        if service in self.down:
            raise ServiceUnavailable(service, f"{service}-host:1", "Connection refused")

    def contracts(self) -> list[Contract]:
        if self.broken_contracts:
            raise ContractError("schemas/x.toml: no [cassandra] table")
        return [CONTRACT]

    def topics(self, contract: Contract) -> ContractTopics:
        self._check("kafka")
        return ContractTopics(contract, states(), position())

    def stored(self, contract: Contract) -> tuple[int, int]:
        self._check("cassandra")
        return 1234, 5

    def stream_log(self) -> StreamLog:
        return StreamLog("/stack/logs/stream.log", True, self.batches)

    def dag_runs(self) -> list[RunSummary]:
        self._check("airflow")
        return [RunSummary(RUN, SUMMARY)]


def client(pipeline: FakePipeline) -> TestClient:
    return TestClient(create_app(FakeSources(), pipeline=pipeline))


def test_the_page_shows_every_panel() -> None:
    page = client(FakePipeline()).get("/pipeline")
    assert page.status_code == 200
    html = page.text
    assert f'data-topic="{CONTRACT.topic}" data-partition="0"' in html
    assert '<td class="end-offset">12</td>' in html
    assert '<td class="partition-lag">6</td>' in html
    assert '<span class="lag">8 records</span>' in html
    assert '<td class="rows">1234</td>' in html and '<span class="dead-letters">5</span>' in html
    assert 'canvas id="chart-rows"' in html and "chart.umd.min.js" in html
    assert 'data-count="2" data-latest="08:00:02 #8"' in html
    assert 'class="batch-series"' in html
    assert 'href="http://airflow.test:8080/dags/user_automation/runs/manual__' in html
    assert "<td>29</td>" in html  # produced
    assert 'hx-get="/panels/pipeline/batches"' in html and 'hx-trigger="every 5s"' in html
    assert 'href="/pipeline" class="active"' in html


@pytest.mark.parametrize("name", ["topics", "stored", "batches", "runs"])
def test_each_panel_is_served_alone(name: str) -> None:
    answer = client(FakePipeline()).get(f"/panels/pipeline/{name}")
    assert answer.status_code == 200
    assert "<html" not in answer.text and "banner" not in answer.text


def test_an_unknown_panel_is_a_404() -> None:
    assert client(FakePipeline()).get("/panels/pipeline/nope").status_code == 404


@pytest.mark.parametrize(("service", "panel"), [
    ("kafka", "topics"), ("cassandra", "stored"), ("airflow", "runs"),
])
def test_an_outage_is_a_banner_on_its_panel_only(service: str, panel: str) -> None:
    app = client(FakePipeline(down={service}))
    page = app.get("/pipeline").text
    assert page.count('class="banner"') == 1
    assert f'data-service="{service}"' in page
    assert f"{service} at {service}-host:1 is unreachable" in page
    assert "Traceback" not in page
    assert 'canvas id="chart-rows"' in page  # the other panels still show
    assert f'data-service="{service}"' in app.get(f"/panels/pipeline/{panel}").text
    others = {"topics", "stored", "batches", "runs"} - {panel}
    assert all("banner" not in app.get(f"/panels/pipeline/{p}").text for p in others)


def test_a_broken_contracts_dir_is_a_banner_on_the_panels_that_read_it() -> None:
    app = client(FakePipeline(broken_contracts=True))
    assert 'data-service="schemas/"' in app.get("/panels/pipeline/topics").text
    assert 'data-service="schemas/"' in app.get("/panels/pipeline/stored").text
    assert "banner" not in app.get("/panels/pipeline/runs").text


def test_no_batches_yet_and_no_log_say_so() -> None:
    empty = client(FakePipeline(batches=())).get("/panels/pipeline/batches").text
    assert "No micro-batch" in empty and 'data-count="0"' in empty


def test_without_a_pipeline_source_there_is_no_page() -> None:
    app = TestClient(create_app(FakeSources()))
    assert app.get("/pipeline").status_code == 404
    assert 'href="/pipeline"' not in app.get("/drift").text


def test_each_batch_line_names_its_contract_and_the_table_shows_it() -> None:
    """One job runs a query per contract into one log: the batch line says whose it is."""
    fields = BatchReport.__dataclass_fields__
    assert "subject" not in fields  # named by the processor, not part of the report
    line = ('{"ts": "2026-12-02T08:00:00+00:00", "event": "batch", "subject": "a-value", '
            '"input_rows": 3, "rows_written": 3, "dead_lettered": 0, "duration_ms": 5}')
    old = line.replace('"subject": "a-value", ', "")
    [named, unnamed] = parse_job_log([line, old])
    assert named.subject == "a-value" and unnamed.subject is None
    view = batches_view(StreamLog("job.log", True, (named, unnamed)))
    assert [r.subject for r in view.rows] == ["", "a-value"]  # newest first
