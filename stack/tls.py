"""The stack's own certificate authority: a CA and one server certificate per service.

For the secure profile (issue 16). Everything lives under ``<STACK_HOME>/tls/`` (mode 0700),
every file mode 0600::

    ca.key  ca.pem                 the CA's key and self-signed certificate
    ca-truststore.p12              the CA as a Java (PKCS#12) truststore, for Java clients
                                   that cannot read PEM (password TRUSTSTORE_PASSWORD:
                                   it holds no secret, the password only seals its MAC)
    <service>.key                  the service's private key (PKCS#8, unencrypted)
    <service>.pem                  its certificate then the CA's (the chain it presents)
    <service>-keystore.pem         key + chain in one file

Every server reads PEM, so no JKS is written: Kafka 4 (``ssl.keystore.type=PEM``,
``ssl.keystore.location`` = ``<service>-keystore.pem``; the broker's kafka-clients 4.1.1 has
``DefaultSslEngineFactory$FileBasedPemStore``), Cassandra 5 (``ssl_context_factory:
org.apache.cassandra.security.PEMBasedSslContextFactory``, ``keystore`` =
``<service>-keystore.pem``, ``truststore`` = ``ca.pem``; its ``PEMReader`` takes RSA, DSA and
EC PKCS#8 keys) and Apicurio (Quarkus: ``quarkus.http.ssl.certificate.files`` and
``key-files``).

Keys are EC P-256: every reader above takes them, and they are generated in milliseconds.

Building a certificate is a pure function of keys, names and a time (:func:`build_ca`,
:func:`build_server_cert`); whether one must be renewed is another (:func:`renewal_reason`).
:func:`ensure_tls` is the edge: it reads what is on disk, renews what must be, writes the
rest untouched, and says what it did.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "userstream local CA"
CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=365)
# A certificate this close to its end is renewed now, not on the day the handshakes fail.
RENEW_WITHIN = dt.timedelta(days=30)
# 127.0.0.2 and .3: the addresses of a future local cluster's second and third nodes.
DEFAULT_DNS_NAMES = ("localhost",)
DEFAULT_IP_ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
# The services that serve TLS in the secure profile.
TLS_SERVICES = ("kafka", "registry", "cassandra")
TRUSTSTORE_PASSWORD = b"userstream-truststore"
DIR_MODE = 0o700
FILE_MODE = 0o600

Clock = Callable[[], dt.datetime]


class TlsError(RuntimeError):
    """The stack's TLS files could not be written or read; the message names the file."""


@dataclass(frozen=True)
class ServerSpec:
    """One service's certificate: its name and the names clients reach it by."""

    name: str
    dns_names: tuple[str, ...] = DEFAULT_DNS_NAMES
    ip_addresses: tuple[str, ...] = DEFAULT_IP_ADDRESSES

    @property
    def sans(self) -> frozenset[str]:
        """The subject alternative names, as ``DNS:x`` / ``IP:y`` (compared, never ordered)."""
        return frozenset(
            [f"DNS:{n}" for n in self.dns_names]
            + [f"IP:{ipaddress.ip_address(a)}" for a in self.ip_addresses]
        )


@dataclass(frozen=True)
class Issued:
    """A key and its certificate."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class TlsAction:
    """What :func:`ensure_tls` did for one certificate: ``created``, ``renewed`` or ``kept``."""

    name: str
    action: str
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.name}: {self.action}" + (f" ({self.reason})" if self.reason else "")


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def build_ca(key: ec.EllipticCurvePrivateKey, now: dt.datetime,
             validity: dt.timedelta = CA_VALIDITY) -> x509.Certificate:
    """A self-signed CA certificate for ``key``, valid from ``now`` (less a minute of skew)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def build_server_cert(ca: Issued, key: ec.EllipticCurvePrivateKey, spec: ServerSpec,
                      now: dt.datetime,
                      validity: dt.timedelta = SERVER_VALIDITY) -> x509.Certificate:
    """``spec``'s server certificate for ``key``, signed by ``ca``; never outlives the CA."""
    public = key.public_key()
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in spec.dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in spec.ip_addresses]
    not_after = min(now + validity, ca.cert.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, spec.name)]))
        .issuer_name(ca.cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        # serverAuth for the listeners; clientAuth too: Cassandra nodes and Kafka brokers
        # present the same certificate when they dial each other.
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                   ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )


def sans_of(cert: x509.Certificate) -> frozenset[str]:
    """The certificate's subject alternative names, as :attr:`ServerSpec.sans` spells them."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset(
        [f"DNS:{n}" for n in ext.get_values_for_type(x509.DNSName)]
        + [f"IP:{a}" for a in ext.get_values_for_type(x509.IPAddress)]
    )


def renewal_reason(issued: Issued, now: dt.datetime, *,
                   renew_within: dt.timedelta = RENEW_WITHIN,
                   spec: ServerSpec | None = None,
                   ca: x509.Certificate | None = None) -> str | None:
    """Why ``issued`` must be made again (None: it is good as it is).

    Expired or within ``renew_within`` of its end; not yet valid (a clock set back); its key
    not the certificate's; for a server certificate (``spec`` and ``ca`` given), other SANs
    than ``spec``'s or not signed by ``ca`` (the CA was renewed).
    """
    cert = issued.cert
    if cert.public_key() != issued.key.public_key():
        return "the key does not match the certificate"
    if now >= cert.not_valid_after_utc:
        return f"expired on {cert.not_valid_after_utc:%Y-%m-%d}"
    if now + renew_within >= cert.not_valid_after_utc:
        return f"expires on {cert.not_valid_after_utc:%Y-%m-%d}, within {renew_within.days} days"
    if now < cert.not_valid_before_utc:
        return f"not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M}"
    if spec is not None and sans_of(cert) != spec.sans:
        return (f"names changed: has {', '.join(sorted(sans_of(cert)))}; "
                f"wants {', '.join(sorted(spec.sans))}")
    if ca is not None and not _signed_by(cert, ca):
        return "not signed by the current CA"
    return None


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def java_truststore(ca: x509.Certificate) -> bytes:
    """``ca`` as a PKCS#12 truststore Java reads (its trusted-certificate attribute set)."""
    return pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(ca, b"userstream-ca")],
        serialization.BestAvailableEncryption(TRUSTSTORE_PASSWORD),
    )


# ------------------------------------------------------------------------ files (the edge)

@dataclass(frozen=True)
class TlsPaths:
    """Where the CA and each service's files are."""

    dir: Path

    @classmethod
    def under(cls, stack_home: Path) -> TlsPaths:
        return cls(Path(stack_home) / "tls")

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def truststore(self) -> Path:
        return self.dir / "ca-truststore.p12"

    def key(self, service: str) -> Path:
        return self.dir / f"{service}.key"

    def cert(self, service: str) -> Path:
        """The chain the service presents: its certificate, then the CA's."""
        return self.dir / f"{service}.pem"

    def keystore(self, service: str) -> Path:
        """Key and chain in one file (Kafka's and Cassandra's PEM keystores)."""
        return self.dir / f"{service}-keystore.pem"


def default_specs(services: Sequence[str] = TLS_SERVICES) -> list[ServerSpec]:
    return [ServerSpec(name) for name in services]


def ensure_tls(stack_home: Path, specs: Sequence[ServerSpec] | None = None, *,
               clock: Clock | None = None,
               renew_within: dt.timedelta = RENEW_WITHIN) -> list[TlsAction]:
    """Make ``<stack_home>/tls`` hold a valid CA and a valid certificate per spec.

    Idempotent: files that are still good are not rewritten (a running service keeps
    reading the same bytes). A renewed CA renews every server certificate (they no longer
    chain to it). Returns one :class:`TlsAction` per certificate, the CA first.
    """
    now = (clock or _utc_now)()
    paths = TlsPaths.under(stack_home)
    _private_dir(paths.dir)
    actions: list[TlsAction] = []
    ca = _read(paths.ca_key, paths.ca_cert)
    reason = "absent" if ca is None else renewal_reason(ca, now, renew_within=renew_within)
    if ca is None or reason is not None:
        key = new_key()
        ca = Issued(key, build_ca(key, now))
        _write(paths.ca_key, key_pem(key))
        _write(paths.ca_cert, cert_pem(ca.cert))
        actions.append(TlsAction("ca", "created" if reason == "absent" else "renewed",
                                 "" if reason == "absent" else reason or ""))
    else:
        actions.append(TlsAction("ca", "kept"))
    truststore_stale = (not paths.truststore.exists()
                        or actions[0].action != "kept")
    if truststore_stale:
        _write(paths.truststore, java_truststore(ca.cert))
    for spec in specs if specs is not None else default_specs():
        actions.append(_ensure_server(paths, ca, spec, now, renew_within))
    return actions


def _ensure_server(paths: TlsPaths, ca: Issued, spec: ServerSpec, now: dt.datetime,
                   renew_within: dt.timedelta) -> TlsAction:
    current = _read(paths.key(spec.name), paths.cert(spec.name))
    reason = ("absent" if current is None else
              renewal_reason(current, now, renew_within=renew_within, spec=spec, ca=ca.cert))
    if current is not None and reason is None:
        if not paths.keystore(spec.name).exists():
            _write(paths.keystore(spec.name),
                   key_pem(current.key) + cert_pem(current.cert, ca.cert))
        return TlsAction(spec.name, "kept")
    key = new_key()
    cert = build_server_cert(ca, key, spec, now)
    chain = cert_pem(cert, ca.cert)
    _write(paths.key(spec.name), key_pem(key))
    _write(paths.cert(spec.name), chain)
    _write(paths.keystore(spec.name), key_pem(key) + chain)
    if reason == "absent":
        return TlsAction(spec.name, "created")
    return TlsAction(spec.name, "renewed", reason or "")


def _read(key_path: Path, cert_path: Path) -> Issued | None:
    """The key and the first certificate of the files, or None if either is absent or
    unreadable as such (then it is made again: these files are ours, not the user's)."""
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
    except (OSError, ValueError, TypeError, IndexError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    return Issued(key, cert)


def _private_dir(path: Path) -> None:
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        path.chmod(DIR_MODE)  # mkdir's mode is masked by the umask, and an old dir kept its own
    except OSError as exc:
        raise TlsError(f"{path}: cannot create the TLS directory: {exc.strerror}") from exc


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the first byte, replacing it whole."""
    partial = path.with_name(path.name + ".partial")
    try:
        partial.unlink(missing_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(partial, FILE_MODE)
        partial.replace(path)
    except OSError as exc:
        raise TlsError(f"{path}: cannot write: {exc.strerror}") from exc


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def main(argv: list[str] | None = None) -> int:
    """``python -m stack.tls [STACK_HOME]``: make or renew the CA and the certificates."""
    parser = argparse.ArgumentParser(prog="python -m stack.tls", description=main.__doc__)
    parser.add_argument("stack_home", nargs="?", help="default: the settings' STACK_HOME")
    args = parser.parse_args(argv)
    if args.stack_home:
        home = Path(args.stack_home)
    else:
        from config.settings import load_settings

        home = Path(load_settings().stack_home)
    try:
        actions = ensure_tls(home)
    except TlsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"TLS files in {TlsPaths.under(home).dir}:")
    for action in actions:
        print(f"  {action}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
