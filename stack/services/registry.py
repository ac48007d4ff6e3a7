"""Apicurio Registry, through its Confluent-compatible API."""

from __future__ import annotations

import requests

from stack import maven
from stack.java import find_java
from stack.services.base import Command, Context, Service, ServiceError, port_of, render


class Registry(Service):
    """Apicurio Registry, used through its Confluent-compatible API (ccompat v7)."""

    name = "registry"
    start_timeout = 90.0
    default_compatibility = "BACKWARD"

    def port(self, ctx: Context) -> int:
        return port_of(ctx.settings.schema_registry_url)

    def address(self, ctx: Context) -> str:
        return ctx.settings.schema_registry_url

    def prepare(self, ctx: Context) -> None:
        maven.registry_distribution(ctx.paths)
        data = ctx.paths.data("registry")
        data.mkdir(parents=True, exist_ok=True)
        render(
            "registry/application.properties",
            ctx.paths.conf_dir / "registry" / "application.properties",
            port=self.port(ctx),
            management_port=self.port(ctx) + 1000,
            data_dir=data,
        )

    def command(self, ctx: Context) -> Command:
        java = find_java("Apicurio Registry 3.3", 21, 25)
        dist = maven.registry_distribution(ctx.paths)
        props = ctx.paths.conf_dir / "registry" / "application.properties"
        return Command(
            [
                str(java.executable),
                "-Xms128m",
                "-Xmx384m",
                "-XX:+UseSerialGC",
                f"-Dquarkus.config.locations={props}",
                "-jar",
                str(dist / "quarkus-run.jar"),
            ],
            cwd=dist,
        )

    def _session(self, ctx: Context) -> requests.Session:
        session = requests.Session()
        auth = ctx.settings.schema_registry_basic_auth_user_info.reveal()
        if auth:
            user, _, password = auth.partition(":")
            session.auth = (user, password)
        return session

    def probe(self, ctx: Context) -> str | None:
        try:
            resp = self._session(ctx).get(f"{ctx.settings.schema_registry_url}/subjects", timeout=3)
        except requests.RequestException as exc:
            return f"GET /subjects failed: {exc.__class__.__name__}"
        if resp.status_code != 200:
            return f"GET /subjects answered {resp.status_code}"
        return None

    def after_start(self, ctx: Context) -> None:
        # Incompatible registrations are refused unless a subject says otherwise.
        resp = self._session(ctx).put(
            f"{ctx.settings.schema_registry_url}/config",
            json={"compatibility": self.default_compatibility},
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
            timeout=10,
        )
        if resp.status_code != 200:
            raise ServiceError(
                f"registry: setting global compatibility failed: {resp.status_code} {resp.text}"
            )
