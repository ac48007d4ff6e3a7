"""stack.tls: the local CA, its server certificates, their files and their renewal."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from stack.tls import (
    RENEW_WITHIN,
    SERVER_VALIDITY,
    TRUSTSTORE_PASSWORD,
    Issued,
    ServerSpec,
    TlsPaths,
    build_ca,
    build_server_cert,
    ensure_tls,
    new_key,
    renewal_reason,
    sans_of,
)

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _ca(now: dt.datetime = NOW) -> Issued:
    key = new_key()
    return Issued(key, build_ca(key, now))


def _server(ca: Issued, spec: ServerSpec, now: dt.datetime = NOW) -> Issued:
    key = new_key()
    return Issued(key, build_server_cert(ca, key, spec, now))


def _at(when: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: when


def test_the_chain_verifies_for_every_name_of_the_spec() -> None:
    ca = _ca()
    server = _server(ca, ServerSpec("kafka"))
    store = Store([ca.cert])
    names: list[x509.DNSName | x509.IPAddress] = [x509.DNSName("localhost")]
    names += [x509.IPAddress(ipaddress.ip_address(a))
              for a in ("127.0.0.1", "127.0.0.2", "127.0.0.3")]
    for name in names:
        verifier = PolicyBuilder().store(store).time(NOW).build_server_verifier(name)
        chain = verifier.verify(server.cert, [])
        assert chain[-1] == ca.cert
    other = PolicyBuilder().store(store).time(NOW).build_server_verifier(
        x509.DNSName("example.com"))
    with pytest.raises(VerificationError):
        other.verify(server.cert, [])


def test_a_certificate_of_another_ca_does_not_verify() -> None:
    server = _server(_ca(), ServerSpec("kafka"))
    verifier = PolicyBuilder().store(Store([_ca().cert])).time(NOW).build_server_verifier(
        x509.DNSName("localhost"))
    with pytest.raises(VerificationError):
        verifier.verify(server.cert, [])


def test_sans_are_localhost_and_the_three_loopback_addresses() -> None:
    server = _server(_ca(), ServerSpec("cassandra"))
    assert sans_of(server.cert) == {"DNS:localhost", "IP:127.0.0.1", "IP:127.0.0.2",
                                    "IP:127.0.0.3"}
    assert ServerSpec("cassandra").sans == sans_of(server.cert)


def test_a_server_certificate_never_outlives_its_ca() -> None:
    ca = Issued((k := new_key()), build_ca(k, NOW, validity=dt.timedelta(days=10)))
    server = _server(ca, ServerSpec("kafka"))
    assert server.cert.not_valid_after_utc == ca.cert.not_valid_after_utc


def _handshake(paths: TlsPaths, service: str, hostname: str) -> None:
    """A real TLS handshake in memory: the server presents ``service``'s files, the client
    trusts only the CA file and checks ``hostname``."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(paths.cert(service), paths.key(service))
    client_ctx = ssl.create_default_context(cafile=str(paths.ca_cert))
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        done = 0
        for side, out, peer_in in ((client, c_out, s_in), (server, s_out, c_in)):
            try:
                side.do_handshake()
                done += 1
            except ssl.SSLWantReadError:
                pass
            peer_in.write(out.read())
        if done == 2:
            return
    raise AssertionError("the handshake did not finish")


def test_python_ssl_trusts_the_files_and_checks_the_hostname(tmp_path: Path) -> None:
    ensure_tls(tmp_path, [ServerSpec("registry")], clock=_at(dt.datetime.now(dt.UTC)))
    paths = TlsPaths.under(tmp_path)
    _handshake(paths, "registry", "localhost")
    _handshake(paths, "registry", "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(paths, "registry", "example.com")


def test_files_are_0600_in_a_0700_dir(tmp_path: Path) -> None:
    actions = ensure_tls(tmp_path, clock=_at(NOW))
    paths = TlsPaths.under(tmp_path)
    assert stat.S_IMODE(paths.dir.stat().st_mode) == 0o700
    files = sorted(paths.dir.iterdir())
    assert {f.name for f in files} == {
        "ca.key", "ca.pem", "ca-truststore.p12",
        *(f"{s}{suffix}" for s in ("kafka", "registry", "cassandra")
          for suffix in (".key", ".pem", "-keystore.pem")),
    }
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert [(a.name, a.action) for a in actions] == [
        ("ca", "created"), ("kafka", "created"), ("registry", "created"),
        ("cassandra", "created")]


def test_keystore_holds_key_then_chain_and_truststore_the_ca(tmp_path: Path) -> None:
    ensure_tls(tmp_path, [ServerSpec("kafka")], clock=_at(NOW))
    paths = TlsPaths.under(tmp_path)
    keystore = paths.keystore("kafka").read_bytes()
    assert keystore.startswith(b"-----BEGIN PRIVATE KEY-----")
    chain = x509.load_pem_x509_certificates(keystore[keystore.index(b"-----BEGIN CERT"):])
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    assert chain[1] == ca and chain[0].issuer == ca.subject
    store = pkcs12.load_pkcs12(paths.truststore.read_bytes(), TRUSTSTORE_PASSWORD)
    assert [c.certificate for c in store.additional_certs] == [ca]


def test_nothing_is_rewritten_while_valid(tmp_path: Path) -> None:
    ensure_tls(tmp_path, clock=_at(NOW))
    paths = TlsPaths.under(tmp_path)
    before = {f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in paths.dir.iterdir()}
    later = NOW + SERVER_VALIDITY - RENEW_WITHIN - dt.timedelta(days=1)
    actions = ensure_tls(tmp_path, clock=_at(later))
    assert {a.action for a in actions} == {"kept"}
    after = {f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in paths.dir.iterdir()}
    assert after == before


def test_server_certificates_are_renewed_near_expiry_and_the_ca_kept(tmp_path: Path) -> None:
    ensure_tls(tmp_path, [ServerSpec("kafka")], clock=_at(NOW))
    paths = TlsPaths.under(tmp_path)
    ca_before = paths.ca_cert.read_bytes()
    old = x509.load_pem_x509_certificate(paths.cert("kafka").read_bytes())
    near_end = NOW + SERVER_VALIDITY - RENEW_WITHIN + dt.timedelta(days=1)
    actions = ensure_tls(tmp_path, [ServerSpec("kafka")], clock=_at(near_end))
    assert [(a.name, a.action) for a in actions] == [("ca", "kept"), ("kafka", "renewed")]
    assert "within 30 days" in actions[1].reason
    new = x509.load_pem_x509_certificate(paths.cert("kafka").read_bytes())
    assert new.not_valid_after_utc > old.not_valid_after_utc
    assert paths.ca_cert.read_bytes() == ca_before


def test_an_expired_ca_renews_every_certificate(tmp_path: Path) -> None:
    ensure_tls(tmp_path, [ServerSpec("kafka")], clock=_at(NOW))
    paths = TlsPaths.under(tmp_path)
    ca_before = paths.ca_cert.read_bytes()
    years_later = NOW + dt.timedelta(days=3651)
    actions = ensure_tls(tmp_path, [ServerSpec("kafka")], clock=_at(years_later))
    assert [(a.name, a.action) for a in actions] == [("ca", "renewed"), ("kafka", "renewed")]
    assert actions[0].reason.startswith("expired")
    assert paths.ca_cert.read_bytes() != ca_before
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    verifier = PolicyBuilder().store(Store([ca])).time(years_later).build_server_verifier(
        x509.DNSName("localhost"))
    verifier.verify(x509.load_pem_x509_certificate(paths.cert("kafka").read_bytes()), [])


def test_changed_names_renew_the_certificate(tmp_path: Path) -> None:
    ensure_tls(tmp_path, [ServerSpec("kafka")], clock=_at(NOW))
    wider = ServerSpec("kafka", dns_names=("localhost", "kafka.local"))
    actions = ensure_tls(tmp_path, [wider], clock=_at(NOW))
    assert actions[1].action == "renewed" and "names changed" in actions[1].reason
    cert = x509.load_pem_x509_certificate(TlsPaths.under(tmp_path).cert("kafka").read_bytes())
    assert "DNS:kafka.local" in sans_of(cert)


def test_a_damaged_or_missing_file_is_made_again(tmp_path: Path) -> None:
    ensure_tls(tmp_path, [ServerSpec("kafka")], clock=_at(NOW))
    paths = TlsPaths.under(tmp_path)
    paths.key("kafka").write_bytes(b"not a key")
    paths.keystore("kafka").unlink()
    actions = ensure_tls(tmp_path, [ServerSpec("kafka")], clock=_at(NOW))
    assert actions[1].action == "created"
    assert paths.keystore("kafka").exists()


def test_renewal_reason_pure() -> None:
    ca = _ca()
    spec = ServerSpec("kafka")
    server = _server(ca, spec)
    assert renewal_reason(server, NOW, spec=spec, ca=ca.cert) is None
    assert renewal_reason(server, NOW, spec=spec, ca=_ca().cert) == "not signed by the current CA"
    assert renewal_reason(Issued(new_key(), server.cert), NOW) == (
        "the key does not match the certificate")
    assert "not valid before" in (renewal_reason(server, NOW - dt.timedelta(days=1)) or "")
