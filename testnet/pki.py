"""The consortium PKI of a testnet: one CA, one TLS certificate per node (``cryptography`` x509).

``chainfin testnet init`` (unless ``--plain``) writes::

    DIR/pki/              0700
    DIR/pki/ca.pem        the consortium CA certificate (the only trust root of every node)
    DIR/pki/ca.key        its private key (0600): only needed to issue certificates
    DIR/pki/nodeI.pem     node I's TLS certificate, signed by the CA
    DIR/pki/nodeI.key     its private key (0600)

Keys are ECDSA P-256 (every TLS stack supports it; Ed25519 certificates are not accepted by all
TLS libraries, and the TLS key is separate from the validator key anyway). Certificates are
X.509 v3, SHA-256, valid from 5 minutes ago (clock skew) for ``days`` (default 365).

A node certificate carries:

* Subject ``CN=<node_id>, O=chainfin``.
* SubjectAltName: the ``hosts`` (default IP ``127.0.0.1`` and DNS ``localhost``) and the URI
  ``chainfin:node:<hex Ed25519 validator public key>``. The URI binds the TLS key to the
  validator key: a peer's transport refuses a link whose certificate names another validator
  than the one proven by the chainfin handshake (see ``node/tls.py``).
* BasicConstraints ``CA:FALSE``, KeyUsage ``digitalSignature``, ExtendedKeyUsage ``serverAuth``
  and ``clientAuth`` (a node both accepts and dials, and serves REST).

In a real consortium the CA key lives offline with the consortium's operator and each bank
sends a CSR; a local testnet's operator holds every key, as it holds every validator key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from node.tls import CERT_CLOCK_SKEW, URI_PREFIX, issue_node_certificate

__all__ = ["create_ca", "issue_node_cert", "node_uri", "CA_CERT", "CA_KEY", "DEFAULT_HOSTS"]

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
DEFAULT_HOSTS = ("127.0.0.1", "localhost")
DEFAULT_DAYS = 365



def node_uri(node_pubkey_hex: str) -> str:
    """The SAN URI naming a validator key: ``chainfin:node:<64 hex digits>``."""
    try:
        key = bytes.fromhex(node_pubkey_hex)
    except ValueError as e:
        raise ValueError("a validator public key is hex") from e
    if len(key) != 32:
        raise ValueError("a validator public key is 32 bytes (64 hex digits)")
    return URI_PREFIX + key.hex()


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file created with mode 0600 (never readable by others, not even
    for a moment)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_ca(directory: str | os.PathLike[str], name: str,
              days: int = DEFAULT_DAYS) -> tuple[Path, Path]:
    """Create a self-signed consortium CA in ``directory`` (created 0700 if missing).

    Returns ``(cert_path, key_path)`` = ``DIR/ca.pem``, ``DIR/ca.key`` (0600).

    Raises:
        FileExistsError: the directory already holds a CA (never overwritten).
    """
    d = Path(directory)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_path, key_path = d / CA_CERT, d / CA_KEY
    if cert_path.exists() or key_path.exists():
        raise FileExistsError(f"{d} already holds a CA")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"{name} consortium CA"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "chainfin"),
    ])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CERT_CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _load_ca(ca: tuple[str | os.PathLike[str], str | os.PathLike[str]]
             ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(Path(ca[0]).read_bytes())
    key = serialization.load_pem_private_key(Path(ca[1]).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca[1]} is not an EC private key")
    return cert, key


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def issue_node_cert(ca: tuple[str | os.PathLike[str], str | os.PathLike[str]], node_id: str,
                    node_pubkey_hex: str, hosts: Sequence[str] = DEFAULT_HOSTS, *,
                    directory: str | os.PathLike[str] | None = None,
                    days: int = DEFAULT_DAYS) -> tuple[Path, Path]:
    """Issue node ``node_id``'s TLS certificate, signed by ``ca`` = ``(cert_path, key_path)``.

    Writes ``<node_id>.pem`` and ``<node_id>.key`` (0600) into ``directory`` (default: the CA's
    directory) and returns their paths. ``hosts`` are IP addresses or DNS names for the SAN;
    ``node_pubkey_hex`` is the node's Ed25519 validator key, put in the SAN as
    ``chainfin:node:<hex>``.

    Raises:
        ValueError: a bad validator key or node id, or a CA key that is not EC.
        FileExistsError: a certificate of that node id is already there.
    """
    uri = node_uri(node_pubkey_hex)
    if not node_id or "/" in node_id or node_id.startswith("."):
        raise ValueError(f"bad node id {node_id!r}")
    ca_cert, ca_key = _load_ca(ca)
    d = Path(directory) if directory is not None else Path(ca[0]).parent
    cert_path, key_path = d / f"{node_id}.pem", d / f"{node_id}.key"
    if cert_path.exists() or key_path.exists():
        raise FileExistsError(f"{cert_path} already exists")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_node_certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id[:64]),
                   x509.NameAttribute(NameOID.ORGANIZATION_NAME, "chainfin")]),
        key.public_key(),
        x509.SubjectAlternativeName([_san(h) for h in hosts] + [x509.UniformResourceIdentifier(uri)]),
        ca_cert, ca_key, days)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
