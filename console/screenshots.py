"""``python -m console.screenshots``: the pictures in docs/console.md, taken, not drawn.

Runs the console against the stack of the current settings, in Debian's headless Chromium,
and writes ``docs/console/{subjects,diff,check,drift,pipeline,dead-letters}.png``. For the diff it
registers two versions of a sandbox subject (``console_screenshots_<hex>-value``) and
deletes it afterwards; nothing else is written anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from config.clients import schema_registry_client
from config.settings import Settings, load_settings
from console.browser import BrowserUnavailable, ConsoleDidNotStart, chromium, console_process
from console.settings import REPO
from contract.catalog import load_contract

OUT = REPO / "docs" / "console"
WAIT_S = 30.0


def _sandbox_versions() -> tuple[str, str]:
    def schema(*extra: dict[str, Any]) -> str:
        fields = [
            {"name": "id", "type": "string", "doc": "the key"},
            {"name": "score", "type": "int", "doc": "a score"},
            {"name": "nick", "type": ["null", "string"], "default": None, "doc": "old name"},
            *extra,
        ]
        return json.dumps({"type": "record", "name": "Sandbox", "namespace": "docs.console",
                           "fields": fields})

    v1 = schema()
    v2 = json.loads(schema({"name": "email", "type": ["null", "string"], "default": None,
                            "doc": "email"}))
    v2["fields"][1]["type"] = "long"  # an Avro promotion Cassandra cannot follow
    v2["fields"][2] = {"name": "nickname", "type": ["null", "string"], "default": None,
                       "aliases": ["nick"], "doc": "renamed"}
    return v1, json.dumps(v2)


@contextmanager
def sandbox_subject(settings: Settings) -> Iterator[str]:
    from confluent_kafka.schema_registry import Schema

    subject = f"console_screenshots_{uuid.uuid4().hex[:8]}-value"
    client = schema_registry_client(settings)
    client.set_compatibility(subject, "BACKWARD")
    try:
        for text in _sandbox_versions():
            client.register_schema(subject, Schema(text, "AVRO"))
        yield subject
    finally:
        client.delete_subject(subject)
        client.delete_subject(subject, permanent=True)


def _candidate() -> str:
    """The committed contract with ``phone`` as bytes: Avro-compatible, not Cassandra-safe."""
    schema = json.loads(load_contract().schema_str)
    for field in schema["fields"]:
        if field["name"] == "phone":
            field["type"] = ["null", "bytes"]
    return json.dumps(schema, indent=2)


def _wait(driver: Any, selector: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.find_elements("css selector", selector), f"{selector} on {driver.current_url}"
    )


def _full_page(driver: Any, path: Path) -> None:
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1360, min(max(int(height) + 40, 600), 4000))
    driver.save_screenshot(str(path))
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def take(settings: Settings, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings.as_env(show_secrets=True)}
    contract = load_contract()
    with sandbox_subject(settings) as subject, console_process(env) as url, chromium() as d:
        d.get(f"{url}/subjects")
        _wait(d, f'section[data-subject="{subject}"] tr[data-version="2"]')
        _full_page(d, out / "subjects.png")
        d.get(f"{url}/subjects/{subject}/diff?a=1&b=2")
        _wait(d, "tr.change")
        _full_page(d, out / "diff.png")
        d.get(f"{url}/check?subject={contract.subject}")
        d.find_element("name", "schema").send_keys(_candidate())
        d.find_element("css selector", "#candidate-form button").click()
        _wait(d, "#safety-verdict")
        _full_page(d, out / "check.png")
        d.get(f"{url}/drift")
        _wait(d, "tr.drift-item")
        _full_page(d, out / "drift.png")
        d.get(f"{url}/pipeline")
        _wait(d, "tr.partition td.end-offset")
        _wait(d, "body[data-charts-rendered]")
        _full_page(d, out / "pipeline.png")
        d.get(f"{url}/dead-letters")
        _wait(d, "table.dead-letters tbody tr")
        _full_page(d, out / "dead-letters.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    try:
        take(load_settings(), args.out)
    except (BrowserUnavailable, ConsoleDidNotStart) as exc:
        print(f"console.screenshots: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
