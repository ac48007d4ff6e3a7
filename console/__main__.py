"""``python -m console``: serve the console at CONSOLE_HOST:CONSOLE_PORT (loopback:9021), in
the foreground (for development; `make up` runs it as the stack's ``console`` service).

``python -m console url`` (`make console`) prints where it is and whether it answers:
exit 0 when it does, 1 when it does not.
"""

from __future__ import annotations

import argparse
import sys

from config.settings import Settings, SettingsError, load_settings
from console.health import healthz_problem
from console.settings import console_settings


def serve(settings: Settings) -> int:
    import uvicorn  # inner: the tests build the app without a server

    # Inner: the app's clients take a second to import, which `url` need not pay.
    from console.app import create_app
    from console.sources import LiveSources

    console = console_settings(settings)
    from console.dead_letters import live_deps
    from console.pipeline_sources import LivePipelineSources

    app = create_app(LiveSources(settings, console.repo), dead_letters=live_deps(settings),
                     pipeline=LivePipelineSources(settings))
    print(f"console: {console.url}", flush=True)
    uvicorn.run(app, host=console.host, port=console.port, log_level="warning")
    return 0


def where(settings: Settings) -> int:
    url = settings.console_url
    problem = healthz_problem(url)
    if problem is None:
        print(f"console: {url} (answers)")
        return 0
    print(f"console: {url} does not answer ({problem}); `make up` starts it, "
          "`python -m console` runs it in the foreground")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", choices=("serve", "url"), default="serve")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"console: {exc}", file=sys.stderr)
        return 2
    return where(settings) if args.action == "url" else serve(settings)


if __name__ == "__main__":
    sys.exit(main())
