"""``python -m console``: serve the console at CONSOLE_HOST:CONSOLE_PORT (loopback:9021)."""

from __future__ import annotations

import sys

from config.settings import SettingsError, load_settings
from console.app import create_app
from console.settings import load_console_settings
from console.sources import LiveSources


def main() -> int:
    import uvicorn  # inner: the tests build the app without a server

    try:
        console = load_console_settings()
        settings = load_settings()
    except SettingsError as exc:
        print(f"console: {exc}", file=sys.stderr)
        return 2
    app = create_app(LiveSources(settings, console.repo))
    print(f"console: {console.url}", flush=True)
    uvicorn.run(app, host=console.host, port=console.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
