"""The secure profile's users and passwords: one file the stack writes, every client reads.

``make up PROFILE=secure`` generates a password per user the first time (``ensure``) into
``<STACK_HOME>/secrets/credentials.json`` (directory 0700, file 0600); the services are
configured with them and the clients pick theirs by role (:func:`for_role`). The passwords
are never in code, in a command line, in a log or in Airflow's XCom: a client gets its own
as a :class:`~config.settings.Secret`.

Who is who (least privilege, each user only what its role does)::

    role       Kafka (SCRAM-SHA-512)     registry (basic auth)   Cassandra
    admin      admin: super user         registry-admin          userstream_migrator
    producer   producer: write topics    registry-reader         (none: never touches it)
    stream     stream: read topics       registry-reader         userstream_pipeline

``admin`` is the operator's shell (``make schemas``, ``make status``, ``make forget``...),
``producer`` the DAG's tasks (pushed to Airflow's Connections), ``stream`` the Spark job.
Cassandra's superuser ``userstream_superuser`` only creates the other roles; the default
``cassandra`` superuser is dropped.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from config.private_file import write_private
from config.settings import Secret

ROLES = ("admin", "producer", "stream")

KAFKA_USERS = {"admin": "admin", "producer": "producer", "stream": "stream"}
REGISTRY_ADMIN = "registry-admin"
REGISTRY_READER = "registry-reader"
REGISTRY_USERS = {"admin": REGISTRY_ADMIN, "producer": REGISTRY_READER, "stream": REGISTRY_READER}
CASSANDRA_SUPERUSER = "userstream_superuser"
CASSANDRA_MIGRATOR = "userstream_migrator"
CASSANDRA_PIPELINE = "userstream_pipeline"
CASSANDRA_USERS = {"admin": CASSANDRA_MIGRATOR, "producer": "", "stream": CASSANDRA_PIPELINE}
# Every user the file holds a password for, by service.
USERS: Mapping[str, tuple[str, ...]] = {
    "kafka": tuple(KAFKA_USERS.values()),
    "registry": (REGISTRY_ADMIN, REGISTRY_READER),
    "cassandra": (CASSANDRA_SUPERUSER, CASSANDRA_MIGRATOR, CASSANDRA_PIPELINE),
}
FILE_NAME = "credentials.json"
DIR_MODE = 0o700


class CredentialsError(RuntimeError):
    """The credentials file is missing, unreadable or incomplete; the message says why."""


@dataclass(frozen=True)
class RoleCredentials:
    """What one role logs in with; an empty user: the role does not use that service."""

    role: str
    kafka_user: str
    kafka_password: Secret
    registry_user: str
    registry_password: Secret
    cassandra_user: str
    cassandra_password: Secret

    @property
    def registry_user_info(self) -> Secret:
        return Secret(f"{self.registry_user}:{self.registry_password.reveal()}")


@dataclass(frozen=True)
class StackCredentials:
    """Every user's password, by service then user."""

    passwords: Mapping[str, Mapping[str, Secret]]

    def password(self, service: str, user: str) -> Secret:
        try:
            return self.passwords[service][user]
        except KeyError:
            raise CredentialsError(f"no password for {service} user {user!r}") from None

    def for_role(self, role: str) -> RoleCredentials:
        if role not in ROLES:
            raise CredentialsError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        cassandra = CASSANDRA_USERS[role]
        return RoleCredentials(
            role=role,
            kafka_user=KAFKA_USERS[role],
            kafka_password=self.password("kafka", KAFKA_USERS[role]),
            registry_user=REGISTRY_USERS[role],
            registry_password=self.password("registry", REGISTRY_USERS[role]),
            cassandra_user=cassandra,
            cassandra_password=self.password("cassandra", cassandra) if cassandra else Secret(""),
        )

    def every_secret(self) -> list[str]:
        """Each password in plain text: for the tests that grep for them, nothing else."""
        return [s.reveal() for users in self.passwords.values() for s in users.values()]


def path_under(stack_home: Path) -> Path:
    return stack_home / "secrets" / FILE_NAME


def generate() -> StackCredentials:
    """A fresh password per user (32 URL-safe characters: no quote a JAAS string would break
    on, no ``:`` a basic-auth user info would split on)."""
    return StackCredentials({service: {user: Secret(secrets.token_urlsafe(24)) for user in users}
                             for service, users in USERS.items()})


def load(stack_home: Path) -> StackCredentials:
    """The credentials ``make up PROFILE=secure`` wrote under ``stack_home``."""
    path = path_under(stack_home)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise CredentialsError(
            f"no credentials at {path}: `make up PROFILE=secure` creates them"
        ) from None
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"{path}: unreadable ({exc.__class__.__name__})") from None
    try:
        loaded = StackCredentials({service: {user: Secret(str(raw[service][user]))
                                             for user in users}
                                   for service, users in USERS.items()})
    except (KeyError, TypeError):
        raise CredentialsError(
            f"{path} lacks a user of {dict(USERS)}: delete it with the stack's data "
            "(`make clean`) and `make up PROFILE=secure` again"
        ) from None
    return loaded


def ensure(stack_home: Path) -> StackCredentials:
    """The credentials under ``stack_home``, generated and written (0600) the first time."""
    path = path_under(stack_home)
    if path.exists():
        return load(stack_home)
    creds = generate()
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    path.parent.chmod(DIR_MODE)
    text = json.dumps({service: {user: secret.reveal() for user, secret in users.items()}
                       for service, users in creds.passwords.items()}, indent=1)
    write_private(path, text)
    return creds
