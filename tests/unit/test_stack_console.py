"""The console as a service of the native stack: its settings, and a real `python -m console`
started, probed, shown and stopped by the launcher (no other service needed)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT, SettingsError, load_settings
from console.settings import load_console_settings
from stack import launcher
from stack.paths import StackPaths
from stack.services import ALL_SERVICES, Console, Context, by_name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_console_settings_are_loopback_on_control_centers_port_with_a_hidden_token() -> None:
    settings = load_settings({"CONSOLE_ADMIN_TOKEN": "s3cr3t-token"})
    assert (settings.console_host, settings.console_port) == ("127.0.0.1", 9021)
    assert settings.console_url == "http://127.0.0.1:9021/"
    assert settings.as_env()["CONSOLE_ADMIN_TOKEN"] == "***"
    assert "s3cr3t-token" not in repr(settings)
    view = load_console_settings({"CONSOLE_PORT": "9400"})  # the console's view of the same
    assert (view.host, view.port, view.url) == ("127.0.0.1", 9400, "http://127.0.0.1:9400/")


@pytest.mark.parametrize(
    ("host", "url"),
    [("0.0.0.0", "http://localhost:9021/"), ("::", "http://localhost:9021/"),
     ("::1", "http://[::1]:9021/"), ("localhost", "http://localhost:9021/")],
)
def test_the_url_is_where_a_browser_here_finds_it(host: str, url: str) -> None:
    assert load_settings({"CONSOLE_HOST": host}).console_url == url


@pytest.mark.parametrize(
    ("env", "message"),
    [({"CONSOLE_PORT": "0"}, "CONSOLE_PORT must be 1-65535"),
     ({"CONSOLE_PORT": "65536"}, "CONSOLE_PORT must be 1-65535"),
     ({"CONSOLE_PORT": "x"}, "CONSOLE_PORT='x' is not an integer"),
     ({"CONSOLE_HOST": " "}, "CONSOLE_HOST is empty")],
)
def test_invalid_console_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_the_console_is_external_only_when_named() -> None:
    # CONSOLE_HOST is where it listens: every interface is still this machine's console.
    assert "console" not in load_settings({"CONSOLE_HOST": "0.0.0.0"}).external_services()
    assert "console" in load_settings({"STACK_EXTERNAL": "console"}).external_services()


def test_make_up_starts_the_console_by_default() -> None:
    assert "console" in [s.name for s in ALL_SERVICES]
    assert isinstance(by_name("console"), Console)


def test_the_launcher_starts_probes_shows_and_stops_a_real_console(tmp_path: Path) -> None:
    port = free_port()
    env = {"STACK_HOME": str(tmp_path), "CONSOLE_PORT": str(port)}
    settings = load_settings(env)
    ctx = Context(settings, StackPaths.from_settings(settings))
    console = Console()
    try:
        assert launcher.up(ctx, [console]) == [console]
        [row] = launcher.status(ctx, [console])
        assert (row.address, row.healthy) == (f"http://127.0.0.1:{port}/", True)
        where = subprocess.run([sys.executable, "-m", "console", "url"], env=env, cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=30, check=False)
        assert (where.returncode, where.stdout.strip()) == (
            0, f"console: http://127.0.0.1:{port}/ (answers)")
    finally:
        launcher.down(ctx, [console])
    [row] = launcher.status(ctx, [console])
    assert row.problem == "not running"
    assert console.probe(ctx) is not None
    where = subprocess.run([sys.executable, "-m", "console", "url"], env=env, cwd=PROJECT_ROOT,
                           capture_output=True, text=True, timeout=30, check=False)
    assert where.returncode == 1 and "does not answer" in where.stdout
