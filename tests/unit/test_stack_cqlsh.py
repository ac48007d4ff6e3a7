"""make cqlsh: cqlsh on the settings' first Cassandra host and port; a password never on argv."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from config.settings import Secret, load_settings
from stack.cqlsh import cqlsh_argv


def test_host_port_and_args() -> None:
    settings = replace(load_settings(), cassandra_hosts="10.0.0.5, 10.0.0.6", cassandra_port=9142)
    argv = cqlsh_argv(settings, ["-e", "SELECT 1"], Path("/venv/bin"))
    assert argv == ["/venv/bin/cqlsh", "10.0.0.5", "9142", "-e", "SELECT 1"]


def test_a_username_is_passed_and_the_password_is_asked_for() -> None:
    settings = replace(load_settings(), cassandra_username="ops",
                       cassandra_password=Secret("s3cret"))
    argv = cqlsh_argv(settings, [], Path("/venv/bin"))
    assert argv[-2:] == ["-u", "ops"] and "s3cret" not in argv
