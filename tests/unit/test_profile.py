"""The secure profile: its defaults, credentials and stamp (config/profile, credentials)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from config import credentials
from config.profile import as_role, stamp_of, write_stamp
from config.settings import SettingsError, load_settings
from stack import secure


def _secure_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    secure.prepare({"STACK_PROFILE": "secure", "STACK_HOME": str(home)})
    return home


def test_prepare_writes_the_ca_and_private_credentials_once(tmp_path: Path) -> None:
    home = _secure_home(tmp_path)
    path = credentials.path_under(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    first = credentials.load(home)
    assert secure.prepare({"STACK_PROFILE": "secure", "STACK_HOME": str(home)}) == []
    assert credentials.load(home) == first
    secrets = first.every_secret()
    assert len(set(secrets)) == len(secrets) == 8
    assert all(len(s) >= 32 and ":" not in s and '"' not in s for s in secrets)


def test_the_plain_profile_prepares_nothing(tmp_path: Path) -> None:
    assert secure.prepare({"STACK_HOME": str(tmp_path / "h")}) == []
    assert not (tmp_path / "h").exists()


@pytest.mark.parametrize(("role", "kafka", "registry", "cassandra"), [
    ("admin", "admin", "registry-admin", "userstream_migrator"),
    ("producer", "producer", "registry-reader", ""),
    ("stream", "stream", "registry-reader", "userstream_pipeline"),
])
def test_each_role_gets_its_own_users(tmp_path: Path, role: str, kafka: str, registry: str,
                                      cassandra: str) -> None:
    home = _secure_home(tmp_path)
    settings = load_settings({"STACK_PROFILE": "secure", "STACK_HOME": str(home),
                              "STACK_ROLE": role})
    creds = credentials.load(home)
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert settings.kafka_sasl_username == kafka
    assert settings.kafka_sasl_password == creds.password("kafka", kafka)
    assert settings.schema_registry_url.startswith("https://")
    assert settings.schema_registry_basic_auth_user_info.reveal().startswith(f"{registry}:")
    assert settings.cassandra_username == cassandra
    assert settings.cassandra_ssl_ca_location == str(home / "tls" / "ca.pem")
    assert as_role(load_settings({"STACK_PROFILE": "secure", "STACK_HOME": str(home)}),
                   role) == settings


def test_secrets_stay_hidden_in_the_settings_views(tmp_path: Path) -> None:
    home = _secure_home(tmp_path)
    settings = load_settings({"STACK_PROFILE": "secure", "STACK_HOME": str(home)})
    shown = repr(settings) + str(settings.as_env())
    for secret in credentials.load(home).every_secret():
        assert secret not in shown


def test_explicit_settings_win_but_may_not_undo_the_profile(tmp_path: Path) -> None:
    home = _secure_home(tmp_path)
    env = {"STACK_PROFILE": "secure", "STACK_HOME": str(home)}
    moved = load_settings({**env, "SCHEMA_REGISTRY_URL": "https://localhost:18081/apis/ccompat/v7"})
    assert moved.schema_registry_url == "https://localhost:18081/apis/ccompat/v7"
    for name, value in (("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
                        ("SCHEMA_REGISTRY_URL", "http://localhost:8081/apis/ccompat/v7")):
        with pytest.raises(SettingsError, match=f"STACK_PROFILE=secure refuses.*{name}"):
            load_settings({**env, name: value})


def test_secure_without_credentials_says_which_command_makes_them(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="make up PROFILE=secure"):
        load_settings({"STACK_PROFILE": "secure", "STACK_HOME": str(tmp_path)})


def test_a_command_of_the_other_profile_is_refused(tmp_path: Path) -> None:
    home = _secure_home(tmp_path)
    write_stamp(home, "secure")
    with pytest.raises(SettingsError, match="runs the secure profile.*PROFILE=secure"):
        load_settings({"STACK_HOME": str(home)})
    load_settings({"STACK_HOME": str(home)}, check_profile=False)  # make clean still can
    plain = tmp_path / "plain"
    (plain / "data").mkdir(parents=True)  # data from before profiles: plain
    assert stamp_of(plain) == "plain"
    with pytest.raises(SettingsError, match="runs the plain profile"):
        load_settings({"STACK_HOME": str(plain), "STACK_PROFILE": "secure"})


def test_unknown_profile_or_role_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="STACK_PROFILE"):
        load_settings({"STACK_HOME": str(tmp_path), "STACK_PROFILE": "tight"})
    with pytest.raises(SettingsError, match="STACK_ROLE"):
        load_settings({"STACK_HOME": str(tmp_path), "STACK_ROLE": "root"})


def test_a_roles_credentials_name_settings_fields(tmp_path: Path) -> None:
    """One table serves both: its names are Settings fields, in capitals the variables."""
    from dataclasses import fields

    from config.profile import role_settings, secure_defaults
    from config.settings import Settings

    creds = credentials.load(_secure_home(tmp_path)).for_role("producer")
    table = role_settings(creds)
    assert set(table) <= {f.name for f in fields(Settings)}
    env = secure_defaults(tmp_path, creds)
    assert {k for k in env if k.lower() in table} == {
        "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO"}
