"""What every service of the native stack is: prepared, started, probed (stack/services)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from urllib.parse import urlparse

from config.settings import Settings
from stack.paths import StackPaths

CONF_TEMPLATES = Path(__file__).resolve().parent.parent / "conf"


class ServiceError(RuntimeError):
    """A service could not be prepared or started; the message names it."""


@dataclass(frozen=True)
class Context:
    settings: Settings
    paths: StackPaths


@dataclass(frozen=True)
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


def render(template: str, target: Path, **values: object) -> Path:
    """Fill ``stack/conf/<template>`` with ``values`` into ``target``."""
    text = Template((CONF_TEMPLATES / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()}
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def port_of(url: str) -> int:
    parsed = urlparse(url)
    return parsed.port or (443 if parsed.scheme == "https" else 80)


class Service:
    name: str = ""
    start_timeout: float = 120.0
    # Whether an external one can be probed from here: a service with an address can.
    probed_when_external: bool = True

    def port(self, ctx: Context) -> int:
        raise NotImplementedError

    def address(self, ctx: Context) -> str:
        return f"localhost:{self.port(ctx)}"

    def bind_host(self, ctx: Context) -> str:
        """The address its port is on: the cluster's Cassandra nodes share a port, each on
        its own loopback address."""
        return "127.0.0.1"

    def prepare(self, ctx: Context) -> None:
        """Resolve artifacts and write configuration; idempotent."""

    def command(self, ctx: Context) -> Command:
        raise NotImplementedError

    def probe(self, ctx: Context) -> str | None:
        """None when the service answers a real request, else why not."""
        raise NotImplementedError

    def external(self, ctx: Context) -> bool:
        """Whether it runs elsewhere: probed only, never started or stopped here."""
        return self.name in ctx.settings.external_services()

    def after_start(self, ctx: Context) -> None:
        """Runs once a service of this stack is healthy (e.g. set registry defaults)."""

    def configure(self, ctx: Context) -> str:
        """Runs once the service answers, ours or external: what the pipeline needs of it.

        Returns a line to show, or "".
        """
        return ""

    def login_hint(self, ctx: Context) -> str:
        return ""
