"""The architecture as code: import-linter's contracts ([tool.importlinter] in pyproject.toml),
and the commands that must not load Spark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT, load_settings
from stack import process
from stack.paths import StackPaths
from stack.services import Context
from stack.supervise import STARTING
from userstream.demo import NativeServices

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.mark.parametrize("contract", ["layers", "pure-core"])
def test_import_contract_is_kept(contract: str) -> None:
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--contract", contract],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


def test_stack_status_and_the_demo_do_not_import_pyspark() -> None:
    code = (
        "import sys, stack.__main__, userstream.__main__, userstream.demo, ops.status, "
        "schematool.__main__; "
        "sys.exit('pyspark' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_native_services_reads_the_stream_from_its_pidfile_and_log(tmp_path: Path) -> None:
    settings = load_settings({"STACK_HOME": str(tmp_path)})
    services = NativeServices(Context(settings, StackPaths.from_settings(settings)))
    assert services.stream_pid() is None
    assert services.stream_starts() == 0
    services.logs_dir.mkdir(parents=True)
    services.log("stream").write_text(f"{STARTING} a\nx\n{STARTING} a\n")
    assert services.stream_starts() == 2
    pidfile = tmp_path / "pids" / "stream.pid"
    record = process.spawn(["sleep", "300"], pidfile=pidfile, log=tmp_path / "sleep.log")
    try:
        assert services.stream_pid() == record.pid
    finally:
        process.stop(pidfile)
