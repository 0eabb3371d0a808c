"""A bank operator's path to a node of its own: ``chainfin node init`` and ``chainfin ca sign``.

``chainfin node init --bank BIC --dir D`` (on the bank's host) writes::

    D/keys/node.json        the node's Ed25519 validator key (0600)
    D/keys/bank.json        the bank's client identity (0600): it signs the bank's transactions
    D/tls/node.key          the node's TLS key, ECDSA P-256 (0600)
    D/tls/node.csr          a certificate signing request for the consortium CA
    D/config.json           the node config (mutual TLS on; REST over HTTPS with the node's
                            certificate; peers, sync URLs and the sync reads' key if given)
    D/genesis.json          a copy of the consortium's genesis (with ``--genesis``)
    D/fingerprint.key       a copy of the consortium's fingerprint key (0600; with
                            ``--fingerprint-key``): the secret the genesis commits to by its
                            SHA-256, which the node executes contracts with. ``node run``
                            refuses to start without it (for a genesis of that form)
    D/join-request.json     what the consortium needs: BIC, node id, both public keys, the
                            p2p address, the CSR's SHA-256

The CSR's subject is ``CN=<node id>, O=<BIC>``; its SubjectAltName holds the host names or IP
addresses given with ``--host`` and the URI ``chainfin:node:<validator key hex>`` that binds the
TLS key to the validator key (node/tls.py refuses a peer whose certificate names another key).
The CSR is signed with the TLS key, so it proves possession of it.

``chainfin ca sign --ca-dir DIR --csr FILE --out FILE`` (at the consortium CA) checks the CSR's
signature and that it names exactly one validator key, and issues a certificate with the same
profile as a testnet's node certificates (testnet/pki.py). The walk-through, with the
governance vote and ``chainfin node run``, is docs/deploy.md.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chainfin.crypto import Identity, save_identity
from chainfin.errors import ConfigError
from chainfin.genesis import (
    default_key_file,
    load_genesis,
    read_fingerprint_key,
    write_fingerprint_key,
)
from node.config import NodeConfig, PeerConfig, parse_address, write_config
from node.tls import URI_PREFIX, issue_node_certificate

__all__ = ["init_bank_node", "sign_csr", "cli_node_init", "cli_ca_sign"]

_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")


def _private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def init_bank_node(directory: str | os.PathLike[str], bic: str, *, node_id: str | None = None,
                   hosts: Sequence[str] = ("127.0.0.1", "localhost"),
                   p2p: str = "0.0.0.0:9000", advertise: str | None = None,
                   rest: str = "127.0.0.1:8000", genesis: str | None = None,
                   fingerprint_key: str | os.PathLike[str] | None = None,
                   peers: Sequence[PeerConfig] = (),
                   sync_urls: Sequence[str] = (),
                   sync_key: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Write a bank node's keys, TLS key and CSR, config and join request into ``directory``;
    return the join request.

    REST is served over HTTPS with the node's certificate (``rest_tls``). ``sync_key``: the
    identity key file that signs the observer's reads of ``sync_urls`` (``sync_key_file``; an
    auditor's or a regulator's: until governance adds the node, its own key may not read blocks).

    ``fingerprint_key``: the consortium's fingerprint key file, copied to ``fingerprint.key``
    (where the config's default looks) after it is checked against ``genesis``.

    Raises:
        ConfigError: a bad BIC, address or host, ``directory`` already holds a node (keys
            are never overwritten), or the fingerprint key file is missing, malformed or not
            the key the genesis commits to.
    """
    if not _BIC.fullmatch(bic):
        raise ConfigError(f"{bic!r} is not a BIC (8 or 11 characters, e.g. CHFNFRPP)")
    node_id = node_id or f"{bic.lower()}-node"
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", node_id):
        raise ConfigError(f"node id {node_id!r}: 1-64 letters, digits, '_', '.', '-'")
    try:
        p2p_host, p2p_port = parse_address(p2p)
        rest_host, rest_port = parse_address(rest)
        parse_address(advertise or p2p)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    d = Path(directory)
    sync_key_file = Path(sync_key).resolve() if sync_key is not None else None
    if sync_key_file is not None and not sync_key_file.is_file():
        raise ConfigError(f"--sync-key {sync_key}: no such key file")
    if (d / "keys").exists() or (d / "config.json").exists():
        raise ConfigError(f"{d} already holds a node; pick an empty directory")
    key: bytes | None = None
    if fingerprint_key is not None:  # checked before anything is written
        if genesis is None:
            raise ConfigError("--fingerprint-key needs --genesis (the key is checked against it)")
        key = read_fingerprint_key(Path(fingerprint_key), load_genesis(genesis), genesis)
    for sub in ("keys", "tls"):
        (d / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    node_key = Identity.generate(node_id)
    bank_key = Identity.generate(f"{bic} bank")
    save_identity(node_key, d / "keys" / "node.json")
    save_identity(bank_key, d / "keys" / "bank.json")

    tls_key = ec.generate_private_key(ec.SECP256R1())
    _private(d / "tls" / "node.key", tls_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    uri = URI_PREFIX + node_key.public_key.hex()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id),
                                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, bic)]))
        .add_extension(x509.SubjectAlternativeName(
            [_san(h) for h in hosts] + [x509.UniformResourceIdentifier(uri)]), critical=False)
        .sign(tls_key, hashes.SHA256())
    )
    csr_pem = csr.public_bytes(serialization.Encoding.PEM)
    (d / "tls" / "node.csr").write_bytes(csr_pem)

    cfg = NodeConfig(
        node_id=node_id, key_file=Path("keys/node.json"), bank_key_file=Path("keys/bank.json"),
        genesis=Path("genesis.json"), data_dir=Path("data"),
        rest_host=rest_host, rest_port=rest_port, p2p_host=p2p_host, p2p_port=p2p_port,
        peers=list(peers), sync_urls=list(sync_urls), sync_key_file=sync_key_file, tls=True,
        rest_tls=True,
        # the certificate's names are the ones clients use: a signed read names its server,
        # and the node takes those names (decision 118)
        public_urls=[f"https://{h if ':' not in h else f'[{h}]'}:{rest_port}" for h in hosts],
        tls_ca=Path("tls/ca.pem"), tls_cert=Path("tls/node.pem"), tls_key=Path("tls/node.key"))
    write_config(cfg, d / "config.json")
    if genesis:  # the consortium's genesis, copied beside the config
        (d / "genesis.json").write_bytes(Path(genesis).read_bytes())
    if key is not None:  # and its key, where the config's fingerprint_key_file default looks
        write_fingerprint_key(default_key_file(d / "genesis.json"), key)
    request = {
        "bic": bic,
        "node_id": node_id,
        "node_public_key": node_key.public_key.hex(),
        "bank_public_key": bank_key.public_key.hex(),
        "p2p_address": advertise or p2p,
        "csr": "tls/node.csr",
        "csr_sha256": hashlib.sha256(csr_pem).hexdigest(),
    }
    (d / "join-request.json").write_text(json.dumps(request, indent=2) + "\n")
    return request


def _csr_node_key(csr: x509.CertificateSigningRequest) -> str:
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise ConfigError("the CSR has no SubjectAltName (it must name the validator key as "
                          f"{URI_PREFIX}<hex>)") from None
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier)
            if u.startswith(URI_PREFIX)]
    if len(uris) != 1 or not re.fullmatch(r"[0-9a-f]{64}", uris[0][len(URI_PREFIX):]):
        raise ConfigError(f"the CSR must name exactly one validator key as {URI_PREFIX}<64 hex>")
    return uris[0][len(URI_PREFIX):]


def sign_csr(ca_dir: str | os.PathLike[str], csr_path: str | os.PathLike[str],
             out: str | os.PathLike[str], *, days: int = 365,
             expect_key: str | None = None) -> tuple[Path, str]:
    """Issue the node certificate a CSR asks for; returns its path and the validator key it
    names.

    Raises:
        ConfigError: the CSR's signature does not verify, it names no or several validator keys
            (or not ``expect_key``), its key is not EC, the CA cannot be read, or ``out`` exists.
    """
    ca = Path(ca_dir)
    try:
        ca_cert = x509.load_pem_x509_certificate((ca / "ca.pem").read_bytes())
        ca_key = serialization.load_pem_private_key((ca / "ca.key").read_bytes(), password=None)
        csr = x509.load_pem_x509_csr(Path(csr_path).read_bytes())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read the CA or the CSR: {e}") from None
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{ca / 'ca.key'} is not an EC private key")
    if not csr.is_signature_valid:
        raise ConfigError("the CSR's signature does not verify (altered or not signed by its key)")
    if not isinstance(csr.public_key(), ec.EllipticCurvePublicKey):
        raise ConfigError("the CSR's key is not an EC key (nodes use ECDSA P-256)")
    node_key = _csr_node_key(csr)
    if expect_key is not None and node_key != expect_key.lower():
        raise ConfigError(f"the CSR names validator key {node_key[:16]}…, not {expect_key[:16]}…")
    outp = Path(out)
    if outp.exists():
        raise ConfigError(f"{outp} exists; refusing to overwrite a certificate")
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    csr_key = csr.public_key()
    assert isinstance(csr_key, ec.EllipticCurvePublicKey)  # checked above
    cert = issue_node_certificate(csr.subject, csr_key, san, ca_cert, ca_key, days)
    outp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return outp, node_key


def _peer(spec: str) -> PeerConfig:
    """``NODE_ID=PUBKEY@HOST:PORT``"""
    m = re.fullmatch(r"([^=]+)=([0-9a-fA-F]{64})@(.+)", spec)
    if not m:
        raise ConfigError(f"--peer {spec!r}: expected NODE_ID=PUBLIC_KEY@HOST:PORT")
    return PeerConfig(node_id=m[1], public_key=m[2], address=m[3])


def cli_node_init(args: argparse.Namespace) -> int:
    try:
        req = init_bank_node(args.dir, args.bank, node_id=args.node_id, hosts=args.host or
                             ["127.0.0.1", "localhost"], p2p=args.p2p, advertise=args.advertise,
                             rest=args.rest, genesis=args.genesis,
                             fingerprint_key=args.fingerprint_key,
                             peers=[_peer(p) for p in args.peer or []],
                             sync_urls=args.sync_url or [], sync_key=args.sync_key)
    except (ConfigError, ValueError) as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2
    d = Path(args.dir)
    print(f"wrote {d}/keys/node.json, keys/bank.json, tls/node.key, tls/node.csr, config.json")
    if args.fingerprint_key:
        print(f"copied the consortium's fingerprint key to {d}/fingerprint.key (0600)")
    elif args.genesis and "fingerprint_key" not in json.loads(
            (d / "genesis.json").read_text(encoding="utf-8")):
        # a genesis of the current form holds only the key's hash: node run refuses to start
        # without the file (decision 133)
        print(f"chainfin: note: no --fingerprint-key: put the consortium's fingerprint key at "
              f"{d}/fingerprint.key (0600) before `chainfin node run`, which refuses to start "
              "without it (docs/deploy.md)", file=sys.stderr)
    print(f"node id:          {req['node_id']}")
    print(f"validator key:    {req['node_public_key']}")
    print(f"bank identity:    {req['bank_public_key']}")
    print(f"send to the consortium: {d}/join-request.json and {d}/tls/node.csr")
    return 0


def cli_ca_sign(args: argparse.Namespace) -> int:
    try:
        out, key = sign_csr(args.ca_dir, args.csr, args.out, days=args.days,
                            expect_key=args.expect_key)
    except ConfigError as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}: certificate for validator key {key}")
    return 0
