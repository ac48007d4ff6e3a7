"""The console in a real browser (Debian's headless Chromium, Selenium) on the real stack.

A sandbox subject (unique name, deleted afterwards) gets a new version registered while its
page is open, and the page shows it and its diff without a reload; a candidate that breaks
Cassandra safety gets that verdict; a console whose registry does not answer shows a banner.
The shared stack's registry is never stopped: the outage is a console pointed at a closed port.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from config.clients import schema_registry_client
from config.settings import Settings
from console.browser import chromium, console_process, free_port
from tests.support import unique_name, wait_until

pytestmark = pytest.mark.integration

WAIT_S = 30.0  # the panel polls every 5 s


def sandbox_schema(*extra: dict[str, Any]) -> str:
    fields = [
        {"name": "id", "type": "string", "doc": "key"},
        {"name": "age", "type": "int", "doc": "years"},
        *extra,
    ]
    return json.dumps({"type": "record", "name": "ConsoleSandbox", "namespace": "test.console",
                       "fields": fields})


EMAIL = {"name": "email", "type": ["null", "string"], "default": None, "doc": "mail"}


def stack_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **settings.as_env(show_secrets=True)}


@pytest.fixture
def sandbox(stack: Settings) -> Iterator[str]:
    from confluent_kafka.schema_registry import Schema

    subject = f"{unique_name('console_sandbox')}-value"
    client = schema_registry_client(stack)
    client.set_compatibility(subject, "BACKWARD")
    client.register_schema(subject, Schema(sandbox_schema(), "AVRO"))
    try:
        yield subject
    finally:
        client.delete_subject(subject)
        client.delete_subject(subject, permanent=True)


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def css(driver: Any, selector: str) -> list[Any]:
    return list(driver.find_elements("css selector", selector))


def test_pages_follow_the_registry_and_judge_a_candidate(
    stack: Settings, sandbox: str, browser: Any
) -> None:
    from confluent_kafka.schema_registry import Schema

    with console_process(stack_env(stack)) as url:
        browser.get(f"{url}/subjects")
        section = f'section[data-subject="{sandbox}"]'
        wait_until(lambda: css(browser, f'{section} tr[data-version="1"]'), timeout=WAIT_S,
                   message="the sandbox subject's v1 on the page")
        browser.execute_script("window.notReloaded = true")

        # A new version, registered while the page is open, appears by polling.
        client = schema_registry_client(stack)
        client.register_schema(sandbox, Schema(sandbox_schema(EMAIL), "AVRO"))
        wait_until(lambda: css(browser, f'{section} tr[data-version="2"]'), timeout=WAIT_S,
                   message="v2 on the open page")
        assert browser.execute_script("return window.notReloaded === true")

        # Its diff: one field added with a default, compatible and Cassandra-safe.
        css(browser, f"{section} a.diff-link")[0].click()
        change = wait_until(
            lambda: css(browser, 'tr.change[data-path="email"]'), timeout=WAIT_S,
            message="the diff page",
        )[0]
        assert change.get_attribute("data-label") == "added with default"
        assert "compatible (BACKWARD)" in change.text and "safe: a new column" in change.text

        # A candidate that Avro accepts (int -> long) but Cassandra cannot follow.
        browser.get(f"{url}/check")
        browser.find_element("name", "subject").send_keys(sandbox)
        promoted = json.loads(sandbox_schema(EMAIL))
        promoted["fields"][1]["type"] = "long"
        browser.find_element("name", "schema").send_keys(json.dumps(promoted))
        browser.find_element("css selector", "#candidate-form button").click()
        safety = wait_until(lambda: css(browser, "#safety-verdict"), timeout=WAIT_S,
                            message="the candidate's verdicts")[0]
        assert "not Cassandra-safe" in safety.text
        assert "compatible at BACKWARD" in css(browser, "#compat-verdict")[0].text
        assert "type-promotion" in browser.page_source
        # Checking registered nothing.
        assert client.get_versions(sandbox) == [1, 2]

        # Drift: one row per service for the contract, each green or red.
        browser.get(f"{url}/drift")
        rows = wait_until(lambda: css(browser, "tr.drift-item"), timeout=WAIT_S,
                          message="the drift rows")
        services = {r.get_attribute("data-service") for r in rows}
        assert {"registry", "kafka", "cassandra"} <= services
        assert all({"ok", "bad"} & set(r.get_attribute("class").split()) for r in rows)


def test_a_registry_that_does_not_answer_shows_a_banner(stack: Settings, browser: Any) -> None:
    env = stack_env(stack)
    env["SCHEMA_REGISTRY_URL"] = f"http://127.0.0.1:{free_port()}/apis/ccompat/v7"  # closed
    with console_process(env) as url:
        browser.get(f"{url}/subjects")
        banner = wait_until(lambda: css(browser, '.banner[data-service="registry"]'),
                            timeout=WAIT_S, message="the registry banner")[0]
        assert "is unreachable" in banner.text
        assert "Traceback" not in browser.page_source
        browser.get(f"{url}/drift")
        rows = wait_until(lambda: css(browser, 'tr.drift-item[data-service="registry"]'),
                          timeout=WAIT_S, message="the drift page")
        assert "down" in rows[0].get_attribute("class")
        # the other services still answer on their own rows
        kafka = css(browser, 'tr.drift-item[data-service="kafka"]')[0]
        assert "down" not in kafka.get_attribute("class")
