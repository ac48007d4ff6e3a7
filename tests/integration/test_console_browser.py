"""The console in a real browser (Debian's headless Chromium, Selenium) on the real stack.

A sandbox contract (unique names, removed afterwards) gets its v2 applied by make schemas'
command while its page is open, and the page shows it and its diff without a reload; a
candidate that breaks Cassandra safety gets that verdict; a stopped registry shows a banner,
and the page recovers.
The registry outage is real: the stack's registry is stopped by its pid file and started again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.clients import cassandra_session, schema_registry_client
from config.settings import Settings
from config.stack_paths import StackPaths
from console.browser import chromium, console_process
from console.settings import REPO
from contract.catalog import load_contract
from contract.wire import frame
from ops.demo import prepare
from schematool.sandbox import sandbox as sandbox_contract
from stack import launcher
from stack.services import Context, by_name
from tests.support import wait_until
from userstream.demo import NativeServices

pytestmark = pytest.mark.integration

WAIT_S = 30.0  # the panel polls every 5 s


def stack_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **settings.as_env(show_secrets=True)}


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def css(driver: Any, selector: str) -> list[Any]:
    return list(driver.find_elements("css selector", selector))


NOTE = {"name": "console_note", "type": ["null", "string"], "default": None,
        "doc": "added by the console's browser test"}


def test_pages_follow_make_schemas_and_judge_a_candidate(stack: Settings, browser: Any) -> None:
    """v2 of a sandbox contract, applied by make schemas' own command while the page is open,
    appears with its diff; a candidate that breaks Cassandra safety gets that verdict."""
    with sandbox_contract(stack, prefix="console_v2", partitions=1) as box, \
            console_process(stack_env(stack)) as url:
        subject = box.contract.subject
        client = schema_registry_client(stack)
        browser.get(f"{url}/subjects")
        section = f'section[data-subject="{subject}"]'
        wait_until(lambda: css(browser, f'{section} tr[data-version="1"]'), timeout=WAIT_S,
                   message="the sandbox subject's v1 on the page")
        browser.execute_script("window.notReloaded = true")

        # v2 in the contract's directory, then `make schemas` (python -m schematool apply).
        v2 = json.loads(box.contract.schema_str)
        v2["fields"].append(NOTE)
        box.contract.avsc_path.write_text(json.dumps(v2, indent=2))
        applied = subprocess.run(
            [sys.executable, "-m", "schematool", "apply"],
            env={**stack_env(stack), "CONTRACTS_DIR": str(box.directory)},
            capture_output=True, text=True, timeout=300, check=False)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        wait_until(lambda: css(browser, f'{section} tr[data-version="2"]'), timeout=WAIT_S,
                   message="v2 on the open page")
        assert browser.execute_script("return window.notReloaded === true")

        # Its diff: one field added with a default, compatible and Cassandra-safe.
        css(browser, f"{section} a.diff-link")[0].click()
        change = wait_until(
            lambda: css(browser, 'tr.change[data-path="console_note"]'), timeout=WAIT_S,
            message="the diff page",
        )[0]
        assert change.get_attribute("data-label") == "added with default"
        assert "compatible (BACKWARD)" in change.text and "safe: a new column" in change.text

        # A candidate that Avro accepts (string -> bytes) but Cassandra cannot follow.
        browser.get(f"{url}/check")
        browser.find_element("name", "subject").send_keys(subject)
        promoted = json.loads(json.dumps(v2))
        promoted["fields"][-1]["type"] = ["null", "bytes"]
        browser.find_element("name", "schema").send_keys(json.dumps(promoted))
        browser.find_element("css selector", "#candidate-form button").click()
        safety = wait_until(lambda: css(browser, "#safety-verdict"), timeout=WAIT_S,
                            message="the candidate's verdicts")[0]
        assert "not Cassandra-safe" in safety.text
        assert "compatible at BACKWARD" in css(browser, "#compat-verdict")[0].text
        assert "type-promotion" in browser.page_source
        # Checking registered nothing.
        assert client.get_versions(subject) == [1, 2]

        # Drift: one row per service for the contract, each green or red.
        browser.get(f"{url}/drift")
        rows = wait_until(lambda: css(browser, "tr.drift-item"), timeout=WAIT_S,
                          message="the drift rows")
        services = {r.get_attribute("data-service") for r in rows}
        assert {"registry", "kafka", "cassandra"} <= services
        assert all({"ok", "bad"} & set(r.get_attribute("class").split()) for r in rows)


def test_a_stopped_registry_shows_a_banner_and_the_page_recovers(
    stack: Settings, stack_context: Context, browser: Any
) -> None:
    """A real outage: the stack's registry process is stopped while the page is open; its
    panels show the banner (no trace, the other services' rows still answer), and once it
    is started again the same open page shows the subjects again without a reload."""
    registry = by_name("registry")
    # A subject of its own: on a fresh stack no other may be registered yet.
    with sandbox_contract(stack, prefix="console_outage", partitions=1) as box, \
            console_process(stack_env(stack)) as url:
        subject = f'section[data-subject="{box.contract.subject}"]'
        browser.get(f"{url}/drift")
        wait_until(lambda: css(browser, 'tr.drift-item[data-service="registry"]'),
                   timeout=WAIT_S, message="the drift page")
        browser.get(f"{url}/subjects")
        wait_until(lambda: css(browser, subject), timeout=WAIT_S,
                   message="the subjects before the outage")
        browser.execute_script("window.notReloaded = true")
        launcher.down(stack_context, [registry])
        try:
            banner = wait_until(lambda: css(browser, '.banner[data-service="registry"]'),
                                timeout=WAIT_S, message="the registry banner")[0]
            assert "registry" in banner.text and "Traceback" not in browser.page_source
            assert browser.execute_script("return window.notReloaded === true")
            browser.get(f"{url}/drift")
            rows = wait_until(lambda: css(browser, 'tr.drift-item[data-service="registry"]'),
                              timeout=WAIT_S, message="the drift page in the outage")
            assert "down" in rows[0].get_attribute("class")
            kafka = css(browser, 'tr.drift-item[data-service="kafka"]')[0]
            assert "down" not in kafka.get_attribute("class")  # the others still answer
            browser.get(f"{url}/subjects")
            wait_until(lambda: css(browser, '.banner[data-service="registry"]'),
                       timeout=WAIT_S, message="the banner on a fresh load")
            browser.execute_script("window.notReloaded = true")
        finally:
            launcher.up(stack_context, [registry])
        wait_until(lambda: css(browser, subject)
                   and not css(browser, '.banner[data-service="registry"]'),
                   timeout=WAIT_S * 2, message="the subjects back after the restart")
        assert browser.execute_script("return window.notReloaded === true")


STREAM_WAIT_S = 240.0  # a stream started by the fixture first starts Spark


@pytest.fixture
def stream(stack: Settings, stack_context: Context) -> Iterator[None]:
    """The supervised stream, as make demo prepares it (schemas applied, make stream-up);
    stopped afterwards only if this fixture started it."""
    was_running = launcher.status(stack_context, [by_name("stream")])[0].pid is not None
    prepare(NativeServices(stack_context), print)
    yield
    if not was_running and os.environ.get("KEEP_STACK") != "1":
        launcher.down(stack_context, [by_name("stream")])


def test_pipeline_page_follows_the_stream_without_a_reload(
    stack: Settings, stream: None, browser: Any
) -> None:
    contract = load_contract()
    records = f'tr.partition[data-topic="{contract.topic}"]'

    # Read in one script: htmx swaps the panels every 5 s, and an element found by one
    # WebDriver call may be gone ("stale") by the next.
    def end_offsets() -> int:
        return int(browser.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]))"
            ".reduce((n, c) => n + parseInt(c.textContent, 10), 0);",
            f"{records} td.end-offset"))

    def batch_state() -> tuple[str, int]:
        """The newest batch the page shows (time and id) and its input rows."""
        latest, rows = browser.execute_script(
            "var s = document.getElementById('batch-summary');"
            "var r = document.querySelector('tr.batch td.input-rows');"
            "return [s ? s.dataset.latest : '', r ? parseInt(r.textContent, 10) : 0];")
        return str(latest or ""), int(rows or 0)

    def chart_labels() -> list[str]:
        """The rows chart's labels (the batches' times); empty when it is not drawn."""
        return list(browser.execute_script(
            "var c = window.Chart && Chart.getChart(document.getElementById('chart-rows'));"
            "return c ? c.data.labels : [];") or [])

    assert StackPaths.from_settings(stack).log("stream").exists()
    with console_process(stack_env(stack)) as url:
        browser.get(f"{url}/pipeline")
        wait_until(lambda: css(browser, f"{records} td.end-offset"), timeout=WAIT_S,
                   message="the topics table with end offsets")
        browser.execute_script("window.notReloaded = true")
        before = end_offsets()
        # A stream just started may have no batch yet: then there is no chart either.
        latest, _ = batch_state()

        env = {**stack_env(stack), "RANDOMUSER_SOURCE": "local"}
        subprocess.run([sys.executable, "-m", "producers", "produce", "--count", "20"],
                       env=env, cwd=REPO, check=True, capture_output=True, timeout=120)

        # The panels poll: the new records' end offsets, then a batch that read them.
        wait_until(lambda: end_offsets() >= before + 20, timeout=WAIT_S,
                   message="the end offsets to grow by the 20 records")

        def newer_batch() -> str | None:
            now, rows = batch_state()
            return now if now and now != latest and rows > 0 else None

        newest = wait_until(newer_batch, timeout=STREAM_WAIT_S,
                            message="a micro-batch newer than the page's first one")
        wait_until(lambda: browser.execute_script("return !!(window.Chart && Chart.getChart("
                                                  "document.getElementById('chart-rows')))"),
                   timeout=WAIT_S, message="the rows chart drawn on its canvas")
        assert int(css(browser, "canvas#chart-rows")[0].get_attribute("width")) > 0
        wait_until(lambda: chart_labels()[-1:] == [newest.split()[0]], timeout=WAIT_S,
                   message="the chart to end with the new batch")
        assert browser.execute_script("return window.notReloaded === true")
        assert "Traceback" not in browser.page_source


ADMIN_TOKEN = "console-browser-test-token"
REPLAY_WAIT_S = 600.0  # replay starts a Spark application of its own


def sink_poison(contract_schema: dict[str, Any]) -> bytes:
    """A record that decodes but Cassandra would refuse (an id that is no uuid): stage sink."""
    import io
    from datetime import UTC, datetime

    import fastavro

    record = {"id": "not-a-uuid", "first_name": "Ada", "last_name": "L", "gender": None,
              "address": None, "post_code": None, "email": None, "username": "console_dl",
              "dob": datetime(1990, 1, 2, tzinfo=UTC), "registered_date": None, "phone": None,
              "picture": None}
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(contract_schema), record)
    return out.getvalue()


def test_dead_letters_are_browsed_decoded_and_replayed(
    stack: Settings, browser: Any, tmp_path: Path
) -> None:
    """A sandbox's stream dead-letters a poison frame and a bad row; the page lists both with
    their reasons, decodes the row's value, and replays it with the admin token (it still
    fails: the replay says so, and the dead letter stays)."""
    from confluent_kafka import Producer

    with sandbox_contract(stack, prefix="console_dl", partitions=1) as box:
        contract = box.contract
        schema_id = schema_registry_client(stack).get_latest_version(contract.subject).schema_id
        producer = Producer(stack.kafka_client_config())
        for value in (b"\x7fconsole-poison", frame(schema_id, sink_poison(contract.schema))):
            producer.produce(contract.topic, value=value, key=b"k", partition=0)
        assert producer.flush(30) == 0
        env = {**stack_env(stack), "CONTRACTS_DIR": str(box.directory),
               "SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
               "CONSOLE_ADMIN_TOKEN": ADMIN_TOKEN}
        streamed = subprocess.run(
            [sys.executable, "-m", "stack", "spark", "streaming", "run", "--available-now",
             f"--subject={contract.subject}"], env=env, capture_output=True, text=True,
            timeout=REPLAY_WAIT_S, check=False)
        assert streamed.returncode == 0, streamed.stderr[-3000:]

        with console_process(env) as url:
            browser.get(f"{url}/dead-letters?subject={contract.subject}")
            rows = wait_until(lambda: css(browser, "tr.dead-letter"), timeout=WAIT_S,
                              message="the sandbox's dead letters")
            by_stage = {r.get_attribute("data-stage"): r for r in rows}
            assert set(by_stage) == {"frame", "sink"}
            assert "unknown magic byte 0x7f" in by_stage["frame"].text
            assert "is not a uuid" in by_stage["sink"].text

            # The row's value, decoded with its writer schema; the poison frame says why not.
            by_stage["sink"].find_element("css selector", "a.open").click()
            record = wait_until(lambda: css(browser, "#decoded-record"), timeout=WAIT_S,
                                message="the decoded value")[0]
            assert json.loads(record.text)["id"] == "not-a-uuid"
            assert "is not a uuid" in css(browser, "#stored-reason")[0].text
            browser.back()
            frame_row = wait_until(lambda: css(browser, 'tr.dead-letter[data-stage="frame"]'),
                                   timeout=WAIT_S, message="the list again")[0]
            frame_row.find_element("css selector", "a.open").click()
            problem = wait_until(lambda: css(browser, "#decode-problem"), timeout=WAIT_S,
                                 message="why the poison frame does not decode")[0]
            assert "unknown magic byte 0x7f" in problem.text

            # Replay the sink stage's dead letters: the count first, then with the token.
            browser.get(f"{url}/dead-letters?subject={contract.subject}&stage=sink")
            wait_until(lambda: css(browser, "#replay-form button"), timeout=WAIT_S,
                       message="the replay button")[0].click()
            count = wait_until(lambda: css(browser, "#replay-count"), timeout=WAIT_S,
                               message="the confirmation")[0]
            assert count.text.startswith("1 dead letter")
            browser.find_element("name", "token").send_keys(ADMIN_TOKEN)
            browser.find_element("css selector", "#replay-confirm button").click()
            result = wait_until(lambda: css(browser, "#replay-result"), timeout=REPLAY_WAIT_S,
                                message="the replay's result")[0]
            assert "replay finished (exit 0)" in result.text
            output = css(browser, "#replay-output")[0].text
            assert '"event": "replay"' in output and '"selected": 1' in output
            assert '"still_failing": 1' in output

        with cassandra_session(stack) as session:
            [still] = list(session.execute(
                f"SELECT stage, replayed_at FROM {contract.keyspace}.dead_letters "
                "WHERE topic = %s AND partition = 0 AND error_class = 'invalid_uuid' "
                "ALLOW FILTERING", (contract.topic,)))
        assert still.stage == "sink" and still.replayed_at is None
