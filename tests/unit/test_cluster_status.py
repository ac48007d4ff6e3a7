"""`make status` in the cluster topology: the engines' views of their nodes, as lines."""

from __future__ import annotations

from typing import Any

import requests

from config.settings import load_settings
from stack.cluster_status import partition_lines, spark_lines
from stack.services.spark_cluster import master_address


def test_a_short_isr_is_named() -> None:
    lines = partition_lines("t", {1: (2, [1, 2, 3], [2, 3]), 0: (1, [1, 2, 3], [1, 2, 3]),
                                  2: (-1, [1, 2, 3], [])})
    assert lines[0] == "  t[0] leader 1, replicas [1, 2, 3], isr [1, 2, 3]"
    assert "isr [2, 3] (ISR short" in lines[1]
    assert "leader NONE" in lines[2]


class _Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def json(self) -> dict[str, Any]:
        return self.body


def test_spark_workers_and_apps_from_the_masters_json() -> None:
    settings = load_settings({"STACK_TOPOLOGY": "cluster", "STACK_HOME": "/nonexistent"})
    assert master_address(settings).json_url == "http://127.0.0.1:8090/json/"
    body = {"url": "spark://127.0.0.1:7077", "status": "ALIVE",
            "workers": [{"host": "127.0.0.1", "port": 40001, "state": "ALIVE", "cores": 1,
                         "coresused": 1, "memory": 1024, "memoryused": 768},
                        {"host": "127.0.0.1", "port": 40002, "state": "DEAD", "cores": 1}],
            "activeapps": [{"name": "userstream-streaming", "id": "app-1", "state": "RUNNING",
                            "cores": 2}]}
    lines = spark_lines(settings, get=lambda url, timeout: _Answer(body))
    assert lines[0] == "spark: master spark://127.0.0.1:7077 ALIVE, 2 worker(s)"
    assert "40001 ALIVE, cores 1/1, memory 768/1024 MiB" in lines[1]
    assert "40002 DEAD" in lines[2]
    assert "app userstream-streaming (app-1) RUNNING, cores 2" in lines[3]


def test_a_master_that_does_not_answer_is_a_line() -> None:
    settings = load_settings({"STACK_TOPOLOGY": "cluster", "STACK_HOME": "/nonexistent"})
    assert "is not one standalone master" in spark_lines(
        load_settings({"STACK_HOME": "/nonexistent"}))[0]

    def refuse(url: str, timeout: float) -> Any:
        raise requests.ConnectionError("refused")

    [line] = spark_lines(settings, get=refuse)
    assert "did not answer: ConnectionError" in line
