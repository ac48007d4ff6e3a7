"""The stack's profiles: ``plain`` (the default) and ``secure`` (``make ... PROFILE=secure``).

In the secure profile every hop is authenticated and encrypted: Kafka SASL_SSL with
SCRAM-SHA-512, the registry over HTTPS with basic auth, Cassandra over TLS with a password
(docs/best-practices.md, "Security"). The profile only changes *defaults*: an unset setting
takes the secure value (:func:`secure_defaults`, the stack's CA and its ``STACK_ROLE``'s
credentials); a setting given explicitly wins, and :meth:`Settings.validate` refuses one
that would send anything in the clear.

A stack's data is made for one profile (Kafka's log dirs are formatted with the SCRAM
users, Cassandra keeps its roles): ``make up`` stamps ``<STACK_HOME>/profile``, and every
command whose profile differs is refused before it reaches a service (:func:`check_stamp`),
instead of failing later on a handshake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from config import credentials
from config.settings import Secret, Settings  # it imports this module inside load_settings
from config.stamp import Stamp

PROFILES = ("plain", "secure")
CA_FILE = Path("tls") / "ca.pem"  # stack.tls writes it; the one CA every client trusts
SECURE_REGISTRY_URL = "https://localhost:8081/apis/ccompat/v7"


class ProfileMismatch(ValueError):
    """This command's profile is not the one the stack's data was made with."""


def ca_path(stack_home: Path) -> Path:
    return stack_home / CA_FILE


def role_settings(creds: credentials.RoleCredentials) -> dict[str, str | Secret]:
    """The settings a role's credentials fill in, by field name (:func:`as_role`); as
    environment variables (:func:`secure_defaults`) the names are in capitals, as
    :func:`~config.settings.load_settings` reads them. An empty value: the role does not
    use that service."""
    return {
        "kafka_sasl_username": creds.kafka_user,
        "kafka_sasl_password": creds.kafka_password,
        "schema_registry_basic_auth_user_info": creds.registry_user_info,
        "cassandra_username": creds.cassandra_user,
        "cassandra_password": creds.cassandra_password,
    }


def secure_defaults(stack_home: Path, role_credentials: credentials.RoleCredentials | None,
                    ) -> dict[str, str]:
    """The secure profile's value of each setting it changes, as environment variables (a
    service the role does not use: its settings left unset)."""
    ca = str(ca_path(stack_home))
    env = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SSL_CA_LOCATION": ca,
        "SCHEMA_REGISTRY_URL": SECURE_REGISTRY_URL,
        "SCHEMA_REGISTRY_SSL_CA_LOCATION": ca,
        "CASSANDRA_SSL_CA_LOCATION": ca,
    }
    if role_credentials is not None:
        env |= {name.upper(): value.reveal() if isinstance(value, Secret) else value
                for name, value in role_settings(role_credentials).items() if value}
    return env


def profile_environment(environ: Mapping[str, str], stack_home: Path) -> dict[str, str]:
    """``environ`` with the profile's defaults under it (an explicit value wins).

    The credentials are read only when the environment names no Kafka user of its own: a
    client given its credentials (an Airflow task, a deployment) needs no stack here.
    """
    env = dict(environ)
    if env.get("STACK_PROFILE", "plain") != "secure":
        return env
    creds = None
    if not env.get("KAFKA_SASL_USERNAME"):
        try:
            creds = credentials.load(stack_home).for_role(env.get("STACK_ROLE") or "admin")
        except credentials.CredentialsError as exc:
            raise ProfileMismatch(f"STACK_PROFILE=secure: {exc}") from None
    return {**secure_defaults(stack_home, creds), **env}


def as_role(settings: Settings, role: str) -> Settings:
    """``settings`` with ``role``'s credentials in the secure profile (else unchanged)."""
    if settings.stack_profile != "secure":
        return settings
    creds = credentials.load(Path(settings.stack_home)).for_role(role)
    fields: dict[str, Any] = role_settings(creds)  # each of the type of its field
    return replace(settings, stack_role=role, **fields)


# The profile the stack's data was made for (config/stamp.py).
STAMP = Stamp("profile", "plain", "PROFILE", "a STACK_HOME and ports of its own")
stamp_of, write_stamp, check_stamp = STAMP.of, STAMP.write, STAMP.check
