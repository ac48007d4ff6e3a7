"""Fixtures shared by every tier.

``stack``: the real native stack (Kafka, registry, Cassandra, Airflow, local
randomuser API), started once per test session, or reused when already up.
Only integration and e2e tests ask for it; unit tests never start a service.
The services this fixture started are stopped at the end (KEEP_STACK=1 keeps them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from config.settings import Settings, load_settings
from stack import launcher
from stack.paths import StackPaths
from stack.services import Context
from stack.spark import with_spark_runtime


@pytest.fixture(scope="session")
def stack_context() -> Context:
    settings = load_settings()
    return Context(settings, StackPaths.from_settings(settings))


@pytest.fixture(scope="session")
def stack(stack_context: Context) -> Iterator[Settings]:
    ctx = stack_context
    started = launcher.up(ctx)  # a no-op for services already running
    yield with_spark_runtime(ctx.settings)  # jobs run in-process get the stack's jars
    if started and os.environ.get("KEEP_STACK") != "1":
        launcher.down(ctx, started)
