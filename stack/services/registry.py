"""Apicurio Registry, through its Confluent-compatible API.

The plain profile serves HTTP on loopback with no authentication. The secure profile
(config/profile.py) serves HTTPS only, with the stack's CA-signed certificate
(stack/tls.py), and HTTP basic auth against Quarkus' embedded users, whose roles Apicurio's
own role-based authorization reads (``role-source=token``): ``registry-admin`` is
``sr-admin`` (everything), ``registry-reader`` is ``sr-readonly`` (reads, look-ups by
content, compatibility against a version; a registration is 403). An anonymous request is
401. The users' passwords are stored as DIGEST-SHA-512 hashes, in a 0600 file.

The management interface (``/health``, ``/metrics``: storage readiness, JVM and HTTP
request metrics, no schema) listens on loopback only, port + 1000, over TLS in the secure
profile; it asks for no credentials.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from string import Template

import requests

from config import credentials
from config.private_file import write_private
from stack import maven
from stack.java import find_java
from stack.services.base import (
    CONF_TEMPLATES,
    Command,
    Context,
    Service,
    ServiceError,
    port_of,
    render,
)
from stack.tls import TlsPaths

# Quarkus' embedded realm: the digests are of "user:realm:password"; its name is fixed when
# the distribution is built (quarkus.security.users.embedded.realm-name).
REALM = "Quarkus"
DIGEST = "sha512"


def password_digest(user: str, password: str, realm: str = REALM) -> str:
    """What Quarkus' embedded realm compares a basic-auth password with (hex)."""
    return hashlib.new(DIGEST, f"{user}:{realm}:{password}".encode()).hexdigest()


def secure_properties(ctx: Context, port: int) -> str:
    """The secure profile's listener, users and access rules (stack/conf/registry)."""
    home = Path(ctx.settings.stack_home)
    tls = TlsPaths.under(home)
    for needed in (tls.cert("registry"), tls.key("registry")):
        if not needed.is_file():
            raise ServiceError(f"registry: {needed} is missing (`make up PROFILE=secure` makes it)")
    try:
        creds = credentials.load(home)
        admin = creds.password("registry", credentials.REGISTRY_ADMIN).reveal()
        reader = creds.password("registry", credentials.REGISTRY_READER).reveal()
    except credentials.CredentialsError as exc:
        raise ServiceError(f"registry: {exc}") from None
    template = Template((CONF_TEMPLATES / "registry" / "secure.properties").read_text())
    return template.substitute(
        port=port,
        cert_file=tls.cert("registry"),
        key_file=tls.key("registry"),
        admin_user=credentials.REGISTRY_ADMIN,
        admin_hash=password_digest(credentials.REGISTRY_ADMIN, admin),
        reader_user=credentials.REGISTRY_READER,
        reader_hash=password_digest(credentials.REGISTRY_READER, reader),
    )


class Registry(Service):
    """Apicurio Registry, used through its Confluent-compatible API (ccompat v7)."""

    name = "registry"
    start_timeout = 90.0
    default_compatibility = "BACKWARD"

    def port(self, ctx: Context) -> int:
        return port_of(ctx.settings.schema_registry_url)

    def address(self, ctx: Context) -> str:
        return ctx.settings.schema_registry_url

    def _secure(self, ctx: Context) -> bool:
        return ctx.settings.stack_profile == "secure"

    def _conf(self, ctx: Context) -> list[Path]:
        """The files Quarkus reads, base first: ``application`` then the profile's own."""
        conf = ctx.paths.conf_dir / "registry"
        profile = "secure" if self._secure(ctx) else "plain"
        return [conf / "application.properties", conf / f"{profile}.properties"]

    def prepare(self, ctx: Context) -> None:
        maven.registry_distribution(ctx.paths)
        data = ctx.paths.data("registry")
        data.mkdir(parents=True, exist_ok=True)
        base, listener = self._conf(ctx)
        render(
            "registry/application.properties",
            base,
            management_port=self.port(ctx) + 1000,
            data_dir=data,
        )
        if self._secure(ctx):
            write_private(listener, secure_properties(ctx, self.port(ctx)))
        else:
            render("registry/plain.properties", listener, port=self.port(ctx))

    def command(self, ctx: Context) -> Command:
        java = find_java("Apicurio Registry 3.3", 21, 25)
        dist = maven.registry_distribution(ctx.paths)
        # Paths only: no secret on the command line (the users are in the 0600 file).
        locations = ",".join(str(p) for p in self._conf(ctx))
        return Command(
            [
                str(java.executable),
                "-Xms128m",
                "-Xmx384m",
                "-XX:+UseSerialGC",
                f"-Dquarkus.config.locations={locations}",
                "-jar",
                str(dist / "quarkus-run.jar"),
            ],
            cwd=dist,
        )

    def _call(self, ctx: Context, method: str, path: str, *, timeout: float,
              json: object = None) -> requests.Response:
        """One request to the Confluent API with the settings' credentials and CA.

        ``verify`` is given per request: requests lets REQUESTS_CA_BUNDLE override a
        session's own ``verify``, and the stack's CA is in no system bundle.
        """
        auth = ctx.settings.schema_registry_basic_auth_user_info.reveal()
        user, _, password = auth.partition(":")
        return requests.request(
            method,
            f"{ctx.settings.schema_registry_url}{path}",
            auth=(user, password) if auth else None,
            verify=ctx.settings.schema_registry_ssl_ca_location or True,
            json=json,
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"} if json else None,
            timeout=timeout,
        )

    def probe(self, ctx: Context) -> str | None:
        try:
            resp = self._call(ctx, "GET", "/subjects", timeout=3)
        except requests.exceptions.SSLError:
            return "GET /subjects failed: TLS handshake refused (SCHEMA_REGISTRY_SSL_CA_LOCATION?)"
        except requests.RequestException as exc:
            return f"GET /subjects failed: {exc.__class__.__name__}"
        if resp.status_code in (401, 403):
            return (f"GET /subjects answered {resp.status_code}: check "
                    "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO")
        if resp.status_code != 200:
            return f"GET /subjects answered {resp.status_code}"
        return None

    def after_start(self, ctx: Context) -> None:
        # Incompatible registrations are refused unless a subject says otherwise.
        # A global config change needs the registry's admin (sr-admin) in the secure profile.
        resp = self._call(
            ctx,
            "PUT",
            "/config",
            json={"compatibility": self.default_compatibility},
            timeout=10,
        )
        if resp.status_code != 200:
            raise ServiceError(
                f"registry: setting global compatibility failed: {resp.status_code} {resp.text}"
            )
