"""TLS for a node: mutual TLS on peer links, optional HTTPS on the REST API.

Material comes from the node's config (``tls_ca``, ``tls_cert``, ``tls_key``; ``testnet init``
writes them under ``DIR/pki/``, see ``testnet/pki.py``). The consortium CA is the **only** trust
root: the system's CA store is never loaded.

Peer links (:func:`server_context`, :func:`client_context`)
    TLS 1.3 minimum, both sides present a certificate (``CERT_REQUIRED`` both ways) that must
    chain to the consortium CA. The dialer does **not** check the host name: a validator's
    address is whatever its operator registered (``add_validator`` puts it on chain) and may be
    an IP, a NAT'd name or a load balancer, none of which identifies a validator. Instead every
    node certificate names its validator key in a SubjectAltName URI
    ``chainfin:node:<hex Ed25519 key>`` and the transport checks, on every link, that the
    certificate names exactly the key the chainfin handshake then proves (the dialer before it
    sends anything, against the key it dials; the acceptor against the dialer's HELLO key). So
    a link needs both a CA-issued certificate for a key *and* that validator's signing key: a
    stolen TLS key or a stolen validator key alone does not give a link, and one validator's
    certificate cannot be used to impersonate another.

REST (:func:`rest_server_context`, :func:`rest_client_context`)
    Plain HTTPS with the node's certificate, TLS 1.2 minimum (REST clients are outside tools:
    scrapers, auditors' scripts, proxies). Clients are not asked for a certificate: REST
    clients are exporters, auditors, ... who sign their transactions with their own keys, and
    the read API is open to the consortium's network. A client verifies the node's certificate
    against the consortium CA with the usual host-name check (node certificates carry IP
    ``127.0.0.1`` and DNS ``localhost`` on a testnet; ``hosts=`` of ``issue_node_cert`` for
    real addresses).

    A node serves REST over HTTPS only when its config has ``tls`` **and** ``rest_tls`` on
    (:func:`rest_tls_enabled`). Testnets keep REST on plain HTTP by default (the
    benchmark's lean load client speaks plain HTTP/1.1 and observers follow the chain over REST
    without a CA; see docs/operations.md "TLS").

Failed TLS handshakes on a listening socket never reach aiohttp; :func:`count_handshake_failures`
hooks the context's ``sslobject_class`` so the transport can count them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from chainfin.errors import ConfigError
from node.config import NodeConfig

__all__ = [
    "URI_PREFIX",
    "server_context",
    "client_context",
    "rest_server_context",
    "rest_client_context",
    "rest_tls_enabled",
    "check_certificate",
    "certificate_key",
    "peer_certificate_key",
    "count_handshake_failures",
    "issue_node_certificate",
]

log = logging.getLogger("chainfin.tls")

URI_PREFIX = "chainfin:node:"

#: Certificates start this long before they are issued (clocks of the consortium's hosts differ).
CERT_CLOCK_SKEW = dt.timedelta(minutes=5)


def issue_node_certificate(subject: x509.Name, public_key: ec.EllipticCurvePublicKey,
                           san: x509.SubjectAlternativeName, ca_cert: x509.Certificate,
                           ca_key: ec.EllipticCurvePrivateKey, days: int) -> x509.Certificate:
    """A node's certificate signed by the consortium CA: ``san`` (its hosts and the
    ``chainfin:node:<validator key>`` URI), server and client use (the same certificate serves
    its REST port and both ends of its peer links), valid ``days`` at most, never beyond the
    CA's own expiry. ``testnet init`` and ``chainfin ca sign`` both issue through here."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CERT_CLOCK_SKEW)
        .not_valid_after(min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
PEER_MIN_VERSION = ssl.TLSVersion.TLSv1_3
REST_MIN_VERSION = ssl.TLSVersion.TLSv1_2


def _material(cfg: NodeConfig) -> tuple[Path, Path, Path]:
    if not (cfg.tls_ca and cfg.tls_cert and cfg.tls_key):
        raise ConfigError(f"{cfg.node_id}: tls needs tls_ca, tls_cert and tls_key")
    for name, p in (("tls_ca", cfg.tls_ca), ("tls_cert", cfg.tls_cert), ("tls_key", cfg.tls_key)):
        if not Path(p).is_file():
            raise ConfigError(f"{cfg.node_id}: {name} {p} does not exist")
    return Path(cfg.tls_ca), Path(cfg.tls_cert), Path(cfg.tls_key)


def _load(ctx: ssl.SSLContext, cfg: NodeConfig, *, verify: bool) -> ssl.SSLContext:
    ca, cert, key = _material(cfg)
    try:
        ctx.load_cert_chain(cert, key)
        if verify:
            ctx.load_verify_locations(cafile=str(ca))
    except (ssl.SSLError, OSError) as e:
        raise ConfigError(f"{cfg.node_id}: cannot load the TLS material ({cert}, {key}, {ca}): "
                          f"{e}") from e
    return ctx


def server_context(cfg: NodeConfig) -> ssl.SSLContext:
    """The p2p listener's context: TLS 1.3, a client certificate from the consortium CA
    required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = PEER_MIN_VERSION
    ctx.verify_mode = ssl.CERT_REQUIRED
    return _load(ctx, cfg, verify=True)


def client_context(cfg: NodeConfig) -> ssl.SSLContext:
    """The dialer's context: TLS 1.3, presents this node's certificate, requires the peer's from
    the consortium CA; no host-name check (the transport checks the certificate's validator key
    instead, see the module doc)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = PEER_MIN_VERSION
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    return _load(ctx, cfg, verify=True)


def rest_server_context(cfg: NodeConfig) -> ssl.SSLContext:
    """HTTPS for the REST API with the node's certificate; no client certificate asked."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = REST_MIN_VERSION
    ctx.verify_mode = ssl.CERT_NONE
    return _load(ctx, cfg, verify=False)


def rest_client_context(ca_file: str | os.PathLike[str]) -> ssl.SSLContext:
    """A REST client's context trusting only the consortium CA (host names are checked)."""
    try:
        ctx = ssl.create_default_context(cafile=str(ca_file))
    except (ssl.SSLError, OSError) as e:
        raise ConfigError(f"cannot load the CA certificate {ca_file}: {e}") from e
    ctx.minimum_version = REST_MIN_VERSION
    return ctx


def rest_tls_enabled(cfg: NodeConfig) -> bool:
    """True when REST is served over HTTPS: ``tls`` and ``rest_tls`` on in the config."""
    return cfg.tls and cfg.rest_tls


def certificate_key(der: bytes | None) -> bytes | None:
    """The validator key a certificate names (its one ``chainfin:node:<hex>`` SAN URI), or None
    when there is none, more than one, or it is malformed."""
    if not der:
        return None
    try:
        cert = x509.load_der_x509_certificate(der)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier)
            if u.startswith(URI_PREFIX)]
    if len(uris) != 1:
        return None
    try:
        key = bytes.fromhex(uris[0][len(URI_PREFIX):])
    except ValueError:
        return None
    return key if len(key) == 32 else None


def peer_certificate_key(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> bytes | None:
    """The validator key in the certificate the other side of a TLS connection presented."""
    if ssl_object is None:
        return None
    try:
        return certificate_key(ssl_object.getpeercert(binary_form=True))
    except (ValueError, ssl.SSLError):
        return None


def check_certificate(cfg: NodeConfig, public_key: bytes) -> None:
    """Fail fast at start-up when this node's own certificate would make every peer refuse it.

    Raises:
        ConfigError: missing files, a certificate not issued by ``tls_ca``, expired or not yet
            valid, or naming another validator key than ``public_key``.
    """
    ca_path, cert_path, cert, cas = _certificates(cfg)
    if not any(_issued_by(cert, ca) for ca in cas):
        raise ConfigError(f"{cfg.node_id}: {cert_path} is not issued by the CA {ca_path}")
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise ConfigError(f"{cfg.node_id}: {cert_path} is valid only from "
                          f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} to "
                          f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    named = certificate_key(cert.public_bytes(Encoding.DER))
    if named != public_key:
        what = "no validator key" if named is None else f"validator key {named.hex()[:16]}..."
        raise ConfigError(f"{cfg.node_id}: {cert_path} names {what}, but this node's key is "
                          f"{public_key.hex()[:16]}...")


def certificate_expiry(cfg: NodeConfig) -> dict[str, float]:
    """When this node's TLS certificate (``node``) and the first of the CA certificates it
    trusts (``ca``: the earliest of a bundle) stop being valid, in UNIX seconds: peers refuse
    a link with an expired certificate, so an operator must renew before (the node exports
    both as ``chainfin_tls_certificate_expiry_timestamp_seconds``).

    Raises:
        ConfigError: missing or unreadable files.
    """
    _, _, cert, cas = _certificates(cfg)
    return {"node": cert.not_valid_after_utc.timestamp(),
            "ca": min(c.not_valid_after_utc.timestamp() for c in cas)}


def _certificates(cfg: NodeConfig) -> tuple[Path, Path, x509.Certificate,
                                             list[x509.Certificate]]:
    """The CA and certificate paths, the node's certificate and the CA certificates (a bundle
    while rotating the CA).

    Raises:
        ConfigError: missing or unreadable files.
    """
    ca_path, cert_path, _ = _material(cfg)
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        cas = x509.load_pem_x509_certificates(ca_path.read_bytes())
    except (ValueError, OSError) as e:
        raise ConfigError(f"{cfg.node_id}: unreadable certificate: {e}") from e
    return ca_path, cert_path, cert, cas


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def count_handshake_failures(ctx: ssl.SSLContext,
                             on_failure: Callable[[ssl.SSLError], None]) -> None:
    """Call ``on_failure(error)`` whenever a TLS handshake through ``ctx`` fails (a plain-TCP
    client, a certificate from another CA, no certificate, ...). Replaces
    ``ctx.sslobject_class``: one hook per context. Works with asyncio's and uvloop's SSL
    transports (both drive the handshake through ``wrap_bio``'s object)."""

    class _CountingSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            try:
                super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise
            except ssl.SSLError as e:
                with contextlib.suppress(Exception):
                    on_failure(e)
                raise

    ctx.sslobject_class = _CountingSSLObject
