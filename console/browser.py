"""Running the console in a child process and driving Debian's Chromium at it (Selenium).

Used by the real-browser tests and by :mod:`console.screenshots`. Selenium (a dev
dependency) talks to Debian's ``chromedriver`` given by path, so Selenium Manager never
downloads a driver or a browser. Chromium's flags keep it off the network: this machine
refuses its background connections (see the machine notes on Chromium).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("CONSOLE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CONSOLE_CHROMEDRIVER", "/usr/bin/chromedriver"))
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1360,1000",
)
START_TIMEOUT_S = 30.0


class BrowserUnavailable(RuntimeError):
    """Chromium, chromedriver or Selenium is missing; the message says what to install."""


class ConsoleDidNotStart(RuntimeError):
    """The console process exited or did not answer before its deadline."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def console_process(env: Mapping[str, str], port: int | None = None) -> Iterator[str]:
    """``python -m console`` on a free loopback port with ``env``; yields its base URL and
    stops it (this process only) on exit."""
    port = port or free_port()
    child_env = {**env, "CONSOLE_HOST": "127.0.0.1", "CONSOLE_PORT": str(port)}
    repo = Path(__file__).resolve().parent.parent
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(repo), child_env.get("PYTHONPATH", "")) if p
    )
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "console"], env=child_env, cwd=repo, stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(url, proc, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Any) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise ConsoleDidNotStart(
                f"python -m console exited with {proc.returncode}: {log.read().decode()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise ConsoleDidNotStart(f"the console at {url} did not answer within {START_TIMEOUT_S} s")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium driven by Selenium, with a fresh profile, quit on exit."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            raise BrowserUnavailable(f"{path} is missing: apt-get install {package}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise BrowserUnavailable("selenium is not installed (a dev dependency)") from exc
    with tempfile.TemporaryDirectory(prefix="console-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()
