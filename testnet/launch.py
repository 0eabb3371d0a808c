"""A local multi-node testnet on 127.0.0.1: keys, genesis, configs, manifest, and node processes.

``init_testnet(DIR, nodes=N)`` writes::

    DIR/testnet.json            the manifest (below)
    DIR/genesis.json            shared by every node (public: it holds the fingerprint key's
                                SHA-256, not the key)
    DIR/fingerprint.key         the consortium's fingerprint key (hex, 0600): every node's
                                config names it, the demo's regulator hashes watch entries with it
    DIR/keys/nodeI.json         validator keys (0600; used by the node process only)
    DIR/clients/NAME.json       demo client identities (0600)
    DIR/pki/                    the consortium CA and one TLS certificate per node (testnet/pki.py;
                                not with ``tls=False`` / ``testnet init --plain``)
    DIR/nodeI/config.json       node I's config (paths relative to it: the directory can move)
    DIR/nodeI/data/             node I's data directory (created by the node)
    DIR/nodeI/node.log          node I's stdout+stderr (appended by every start)
    DIR/nodeI/node.pid          while the launcher's process for node I runs

Manifest (paths absolute)::

    {"chain_id": "chainfin-testnet-1a2b3c4d", "genesis": "/abs/DIR/genesis.json",
     "fingerprint_key_file": "/abs/DIR/fingerprint.key",
     "nodes": [{"id": "node0", "public_key": "<hex>", "bank": "CHFNUS33",
                "rest_url": "http://127.0.0.1:PORT", "p2p_address": "127.0.0.1:PORT",
                "data_dir": "/abs/DIR/node0/data", "config": "/abs/DIR/node0/config.json",
                "key_file": "/abs/DIR/keys/node0.json"}, ...],
     "clients": [{"name": "bank0", "role": "bank", "admin": true, "bank": "CHFNUS33",
                  "public_key": "<hex>", "key_file": "/abs/DIR/clients/bank0.json"}, ...],
     "ca": "/abs/DIR/pki/ca.pem"}

TLS (docs/operations.md "TLS"): by default peer links run over mutual TLS with certificates from
the testnet's own CA (``"ca"`` in the manifest; every config gets ``tls``, ``tls_ca``,
``tls_cert``, ``tls_key``). ``init_testnet(..., tls=False)`` (``chainfin testnet init --plain``)
is the test-only plain switch: no ``DIR/pki``, no ``"ca"``, plain TCP and plain HTTP. With TLS,
REST is HTTPS too (``rest_tls=False`` keeps it plain HTTP): the manifest's REST URLs are
``https://``, the node configs say ``rest_tls: true`` and the launcher's clients
(:meth:`Testnet.client`, :meth:`Testnet.ssl_context`, :func:`manifest_ssl`) trust the CA.

Demo clients: ``bank0..bankN-1`` (role bank, admin, one per node's bank), ``exporter``,
``importer``, ``auditor``, ``usd_issuer`` and ``cny_issuer`` (role issuer of USD and CNY, exponent
2), ``regulator`` (role auditor, listed in ``genesis.regulators``), ``customs`` (role customs:
attests customs declarations; the genesis sets ``financing_requires_attestation``, and
``bill_of_lading_requires_containers``: a B/L lists its ISO 6346 containers; ``init_testnet``
sets ``watched_bank_customers`` to ``alert``, decision 279). The exporter
and the importer carry the legal names their trade documents name (:data:`LEGAL_NAMES`).
``init_testnet(...,
extra_clients=K)`` adds ``trader0..traderK-1`` (role exporter: they may register trade documents
and, like any identity, transfer money), e.g. the many senders of ``chainfin bench``.

:class:`Testnet` starts and stops the node processes (``chainfin node run --config ...``). It only
ever signals processes it spawned itself, and its context manager stops them all on exit, also
on exceptions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from chainfin.client import Client, SyncClient
from chainfin.crypto import Identity, load_identity, save_identity
from chainfin.errors import ChainfinError, ConfigError
from chainfin.genesis import (
    FINGERPRINT_KEY_FILE,
    Genesis,
    key_commitment,
    load_keyed_genesis,
    new_fingerprint_key,
    write_fingerprint_key,
)
from node import tls as node_tls
from node.config import NodeConfig, PeerConfig, write_config
from testnet import pki
from testnet.netns import NetnsNetwork, NetnsSpec, node_address

__all__ = [
    "Manifest",
    "ManifestNode",
    "ManifestClient",
    "Testnet",
    "init_testnet",
    "load_manifest",
    "keyed_genesis",
    "manifest_ssl",
    "issue_node_tls",
    "bic",
    "cli_init",
    "cli_up",
    "cli_join",
    "MAX_NODES",
    "MAX_EXTRA_CLIENTS",
]

MANIFEST = "testnet.json"
MAX_NODES = 64
MAX_EXTRA_CLIENTS = 4096
HOST = "127.0.0.1"

# Plausible 8-character BICs (bank code, ISO country, location) for the first banks.
_BICS = ("CHFNUS33", "CHFNGB2L", "CHFNCNSH", "CHFNHKHH", "CHFNSGSG", "CHFNDEFF", "CHFNJPJT",
         "CHFNFRPP")
_COUNTRIES = ("US33", "GB2L", "CNSH", "HKHH", "SGSG", "DEFF", "JPJT", "FRPP")


#: The names the demo's trade documents carry for these clients (governance ``legal_name``).
LEGAL_NAMES = {"exporter": "Shenzhen Bright Lamps Co., Ltd.", "importer": "Lumen Imports LLC"}


def bic(i: int) -> str:
    """The BIC of demo bank ``i``: ``CHFNUS33``, ``CHFNGB2L``, ... then ``CFAIUS33``, ..."""
    if i < len(_BICS):
        return _BICS[i]
    a, b = divmod(i, 26)
    return "CF" + chr(65 + a % 26) + chr(65 + b) + _COUNTRIES[i % len(_COUNTRIES)]


# ---------------------------------------------------------------------- manifest


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ManifestNode(_Model):
    id: str
    public_key: str
    bank: str | None = None
    rest_url: str
    p2p_address: str
    data_dir: str
    config: str
    key_file: str | None = None


class ManifestClient(_Model):
    name: str
    role: str
    admin: bool = False
    bank: str | None = None
    public_key: str
    key_file: str


class Manifest(_Model):
    chain_id: str
    genesis: str
    # the consortium's fingerprint key (None: an older testnet, whose genesis holds its key)
    fingerprint_key_file: str | None = None
    nodes: list[ManifestNode]
    clients: list[ManifestClient]
    ca: str | None = None  # the consortium CA certificate when TLS is on
    netns: NetnsSpec | None = None  # nodes in separate network namespaces (testnet/netns.py)

    def client(self, name: str) -> ManifestClient:
        for c in self.clients:
            if c.name == name:
                return c
        raise KeyError(f"no client named {name!r} in the manifest")

    def to_json_text(self) -> str:
        data = self.model_dump(mode="json")
        if data.get("ca") is None:
            data.pop("ca", None)  # plain-TCP testnets: the manifest format as before
        if data.get("netns") is None:
            data.pop("netns", None)  # 127.0.0.1 testnets: likewise
        if data.get("fingerprint_key_file") is None:
            data.pop("fingerprint_key_file", None)
        return json.dumps(data, indent=2) + "\n"


def keyed_genesis(manifest: Manifest) -> Genesis:
    """The testnet's genesis with the consortium's fingerprint key (what the nodes execute
    with and the regulator hashes watch entries with).

    Raises:
        ConfigError: the genesis or the key file does not load, or they do not match.
    """
    return load_keyed_genesis(manifest.genesis, manifest.fingerprint_key_file)


def manifest_ssl(manifest: Manifest) -> ssl.SSLContext:
    """A TLS client context for the testnet's REST URLs: trusts only the testnet's CA when it has
    one (``"ca"``), else the system's defaults. Pass it to aiohttp as
    ``aiohttp.TCPConnector(ssl=...)``; it is not used for ``http://`` URLs."""
    if manifest.ca:
        return node_tls.rest_client_context(manifest.ca)
    return ssl.create_default_context()


def load_manifest(directory: str | os.PathLike[str]) -> Manifest:
    """Read DIR/testnet.json.

    Raises:
        ConfigError: no manifest there, or it does not validate.
    """
    path = Path(directory) / MANIFEST
    try:
        return Manifest.model_validate_json(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"{path} not found; run `chainfin testnet init --dir {directory}` "
                          "first") from e
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{path}: {loc}: {first['msg']}") from e
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path} is unreadable: {e}") from e


# ---------------------------------------------------------------------- init


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (all bound at once, so they differ)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _ports(nodes: int, base_port: int) -> list[tuple[int, int]]:
    """(rest, p2p) per node: free ports when ``base_port`` is 0, else base+2i and base+2i+1."""
    if base_port == 0:
        flat = free_ports(2 * nodes)
    else:
        if not 1 <= base_port <= 65535 - 2 * nodes:
            raise ConfigError(f"--base-port {base_port} leaves no room for {2 * nodes} ports")
        flat = list(range(base_port, base_port + 2 * nodes))
    return [(flat[2 * i], flat[2 * i + 1]) for i in range(nodes)]


def _new_key(path: Path, name: str) -> Identity:
    ident = Identity.generate(name)
    save_identity(ident, path)
    return ident


def issue_node_tls(root: Path, node_id: str, public_key_hex: str,
                   rest_tls: bool = False, host: str = HOST) -> dict[str, Any]:
    """Issue node ``node_id``'s certificate from the testnet CA in ``root/pki`` and return the
    config fields that use it (paths relative to ``root/node_id/config.json``). The SAN names
    ``host`` (the node's address: REST clients check it), 127.0.0.1 and localhost."""
    d = root / "pki"
    hosts = tuple(dict.fromkeys((host, *pki.DEFAULT_HOSTS)))
    pki.issue_node_cert((d / pki.CA_CERT, d / pki.CA_KEY), node_id, public_key_hex, hosts)
    return {"tls": True, "rest_tls": rest_tls, "tls_ca": Path(f"../pki/{pki.CA_CERT}"),
            "tls_cert": Path(f"../pki/{node_id}.pem"), "tls_key": Path(f"../pki/{node_id}.key")}


#: a testnet identity: (name, role, admin, bank BIC or None)
TestnetIdentity = tuple[str, str, bool, str | None]


def testnet_clients(nodes: int, extra_clients: int) -> list[TestnetIdentity]:
    """The identities a testnet registers besides its validators: a bank per node, the demo's
    parties, and ``extra_clients`` traders."""
    banks: list[TestnetIdentity] = [(f"bank{i}", "bank", True, bic(i)) for i in range(nodes)]
    return banks + [
        ("exporter", "exporter", False, None),
        ("importer", "importer", False, None),
        ("auditor", "auditor", False, None),
        ("usd_issuer", "issuer", False, None),
        ("cny_issuer", "issuer", False, None),
        ("regulator", "auditor", False, None),
        ("customs", "customs", False, None),
    ] + [(f"trader{i}", "exporter", False, None) for i in range(extra_clients)]


def testnet_genesis(chain_id: str, genesis_time_ms: int, node_ids: Sequence[Identity],
                    clients: Sequence[TestnetIdentity], client_ids: Mapping[str, Identity],
                    fingerprint_key: str, params: Mapping[str, Any]) -> Genesis:
    """The testnet's genesis: the nodes as validators (banks), ``clients`` registered, USD and
    CNY issued by their issuers, the regulator, attested financing, bills of lading with their
    containers (or their cargo declared bulk or break-bulk), ledger format 3, plus
    ``params``. It commits to ``fingerprint_key`` (hex) by its SHA-256 and holds the key as
    :func:`chainfin.genesis.load_keyed_genesis` would (the file is the caller's to write)."""
    key = bytes.fromhex(fingerprint_key)
    return Genesis.model_validate({
        "chain_id": chain_id,
        "genesis_time_ms": genesis_time_ms,
        "validators": [{"name": f"node{i}", "public_key": k.public_key.hex(), "bank": bic(i)}
                       for i, k in enumerate(node_ids)],
        "identities": [
            {"name": f"node{i}", "public_key": k.public_key.hex(), "role": "bank", "admin": True,
             "bank": bic(i)} for i, k in enumerate(node_ids)
        ] + [
            {"name": name, "public_key": client_ids[name].public_key.hex(), "role": role,
             "admin": admin, "bank": bank, "legal_name": LEGAL_NAMES.get(name)}
            for name, role, admin, bank in clients
        ],
        "currencies": [
            {"code": "USD", "exponent": 2, "issuer": client_ids["usd_issuer"].public_key.hex()},
            {"code": "CNY", "exponent": 2, "issuer": client_ids["cny_issuer"].public_key.hex()},
        ],
        "regulators": [client_ids["regulator"].public_key.hex()],
        "fingerprint_key_sha256": key_commitment(key),
        "params": {"financing_requires_attestation": True,
                   "bill_of_lading_requires_containers": True, "ledger_format": 3, **params},
    }).with_fingerprint_key(key)


def init_testnet(directory: str | os.PathLike[str], nodes: int = 4, base_port: int = 0,
                 extra_clients: int = 0, *, tls: bool = True,
                 rest_tls: bool | None = None, netns: NetnsSpec | None = None,
                 params: dict[str, Any] | None = None) -> Manifest:
    """Write a fresh testnet into ``directory`` (created if missing) and return its manifest.

    ``extra_clients`` genesis identities ``trader0..`` (role exporter) are added to the demo
    clients. ``tls`` (default): a consortium CA and a certificate per node in ``DIR/pki``, peer
    links over mutual TLS, and REST over HTTPS with the same certificates; ``tls=False`` is
    the test-only plain switch (plain TCP and plain HTTP). ``rest_tls`` (needs ``tls``;
    default: as ``tls``): REST over HTTPS. ``netns``: node ``i`` listens on its own address
    ``10.77.S.(10+i)`` (REST and p2p, in its certificate's SAN too) inside its own network
    namespace, which :class:`Testnet` builds and removes (testnet/netns.py, root only); the
    ports are then the same for every node (``base_port`` or 8000/9000). ``params``: genesis
    params over the testnet's (e.g. ``{"view_timeout_ms": 4000}`` for a WAN).

    Raises:
        ConfigError: ``nodes`` out of 1..MAX_NODES, ``extra_clients`` out of 0..MAX_EXTRA_CLIENTS,
            a bad ``base_port``, or the directory already holds a testnet (keys are never
            overwritten).
    """
    if not 1 <= nodes <= MAX_NODES:
        raise ConfigError(f"a testnet has 1 to {MAX_NODES} nodes, not {nodes}")
    if not 0 <= extra_clients <= MAX_EXTRA_CLIENTS:
        raise ConfigError(f"extra_clients is 0 to {MAX_EXTRA_CLIENTS}, not {extra_clients}")
    if rest_tls is None:
        rest_tls = tls
    if rest_tls and not tls:
        raise ConfigError("REST over HTTPS needs TLS (the node's certificate)")
    root = Path(directory).resolve()
    if (root / MANIFEST).exists() or (root / "keys").exists():
        raise ConfigError(f"{root} already holds a testnet; pick an empty directory")
    if netns is not None:  # one address per node: every node may use the same two ports
        rest0, p2p0 = (base_port, base_port + 1) if base_port else (8000, 9000)
        ports = [(rest0, p2p0)] * nodes
        hosts = [node_address(netns, i) for i in range(nodes)]
    else:
        ports = _ports(nodes, base_port)
        hosts = [HOST] * nodes
    root.mkdir(parents=True, exist_ok=True)
    (root / "keys").mkdir(mode=0o700)
    (root / "clients").mkdir(mode=0o700)

    node_ids = [_new_key(root / "keys" / f"node{i}.json", f"node{i}") for i in range(nodes)]
    clients = testnet_clients(nodes, extra_clients)
    client_ids = {name: _new_key(root / "clients" / f"{name}.json", name)
                  for name, *_ in clients}

    chain_id = f"chainfin-testnet-{os.urandom(4).hex()}"
    key = new_fingerprint_key()
    # experiments: CHAINFIN_GENESIS_PARAMS='{"block_interval_max_ms": 20}' (JSON) overrides.
    # A payment by or to a customer of a watched bank alerts (decision 279): the rule is seen
    # working, and blocking is left to a consortium's own vote. Here, not in testnet_genesis,
    # so the execution bench's genesis (and its pinned digests) stay as they were.
    genesis = testnet_genesis(
        chain_id, int(time.time() * 1000), node_ids, clients, client_ids, key.hex(),
        {"watched_bank_customers": "alert",
         **json.loads(os.environ.get("CHAINFIN_GENESIS_PARAMS") or "{}"), **(params or {})})
    genesis_path = root / "genesis.json"
    genesis_path.write_text(genesis.to_json_text())
    key_path = write_fingerprint_key(root / FINGERPRINT_KEY_FILE, key)
    if tls:
        ca_cert, _ = pki.create_ca(root / "pki", chain_id)
    scheme = "https" if rest_tls else "http"

    entries: list[ManifestNode] = []
    for i, ident in enumerate(node_ids):
        ndir = root / f"node{i}"
        ndir.mkdir(exist_ok=True)
        rest, p2p = ports[i]
        cfg = NodeConfig(
            node_id=f"node{i}",
            key_file=Path(f"../keys/node{i}.json"),
            bank_key_file=Path(f"../clients/bank{i}.json"),
            genesis=Path("../genesis.json"),
            fingerprint_key_file=Path(f"../{FINGERPRINT_KEY_FILE}"),
            data_dir=Path("data"),
            rest_host=hosts[i], rest_port=rest, p2p_host=hosts[i], p2p_port=p2p,
            peers=[PeerConfig(node_id=f"node{j}", public_key=k.public_key.hex(),
                              address=f"{hosts[j]}:{ports[j][1]}")
                   for j, k in enumerate(node_ids) if j != i],
            **(issue_node_tls(root, f"node{i}", ident.public_key.hex(), rest_tls, hosts[i])
               if tls else {}),
        )
        write_config(cfg, ndir / "config.json")
        entries.append(ManifestNode(
            id=f"node{i}", public_key=ident.public_key.hex(), bank=bic(i),
            rest_url=f"{scheme}://{hosts[i]}:{rest}", p2p_address=f"{hosts[i]}:{p2p}",
            data_dir=str(ndir / "data"), config=str(ndir / "config.json"),
            key_file=str(root / "keys" / f"node{i}.json"),
        ))
    manifest = Manifest(
        chain_id=chain_id,
        genesis=str(genesis_path),
        fingerprint_key_file=str(key_path),
        nodes=entries,
        clients=[ManifestClient(name=name, role=role, admin=admin, bank=bank,
                                public_key=client_ids[name].public_key.hex(),
                                key_file=str(root / "clients" / f"{name}.json"))
                 for name, role, admin, bank in clients],
        ca=str(ca_cert) if tls else None,
        netns=netns,
    )
    (root / MANIFEST).write_text(manifest.to_json_text())
    return manifest


# ---------------------------------------------------------------------- processes

CommandFor = Callable[[int, ManifestNode], Sequence[str]]


def node_command(i: int, node: ManifestNode) -> list[str]:
    """The default command of node ``i``: this interpreter running ``chainfin node run``."""
    return [sys.executable, "-m", "chainfin.cli", "node", "run", "--config", node.config]




def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Testnet:
    """The node processes of one testnet directory.

    ``command(i, node)`` builds node ``i``'s argv (default :func:`node_command`; tests pass a
    stand-in). Use as a context manager: every process it started is stopped on exit.
    Not thread-safe.

    A manifest with ``netns`` (``init_testnet(..., netns=...)``): the first :meth:`start` builds
    the namespaces, bridge and WAN delay (:class:`testnet.netns.NetnsNetwork`; ``rtt_ms`` /
    ``jitter_ms`` override the manifest's), each node runs inside its namespace, and
    :meth:`close` (the context manager's exit) stops the nodes and removes the network.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, directory: str | os.PathLike[str], *, command: CommandFor | None = None,
                 env: dict[str, str] | None = None, rtt_ms: float | None = None,
                 jitter_ms: float | None = None) -> None:
        self.dir = Path(directory).resolve()
        self.manifest = load_manifest(self.dir)
        self._command = command or node_command
        self.network: NetnsNetwork | None = None
        if self.manifest.netns is not None:
            self.network = NetnsNetwork(self.manifest.netns, len(self.manifest.nodes),
                                        rtt_ms, jitter_ms, log_dir=self.dir)
        elif rtt_ms or jitter_ms:
            raise ConfigError("--rtt-ms needs a namespace testnet (testnet init --netns)")
        rest_tls = any(nd.rest_url.startswith("https://") for nd in self.manifest.nodes)
        tls_env = {}
        if rest_tls and self.manifest.ca:
            # an observer follows the chain over https REST with aiohttp's default context:
            # OpenSSL reads its trust store from SSL_CERT_FILE
            tls_env["SSL_CERT_FILE"] = self.manifest.ca
        self._env = {**os.environ, "PYTHONUNBUFFERED": "1", **tls_env, **(env or {})}
        self._opener: urllib.request.OpenerDirector | None = None
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._logs: dict[int, IO[bytes]] = {}

    # -------------------------------------------------------------- facts

    @property
    def n(self) -> int:
        return len(self.manifest.nodes)

    @property
    def chain_id(self) -> str:
        return self.manifest.chain_id

    def node_dir(self, i: int) -> Path:
        return Path(self.manifest.nodes[i].config).parent

    def pid_file(self, i: int) -> Path:
        return self.node_dir(i) / "node.pid"

    def log_file(self, i: int) -> Path:
        return self.node_dir(i) / "node.log"

    def rest_url(self, i: int) -> str:
        return self.manifest.nodes[i].rest_url

    def public_key(self, i: int) -> bytes:
        return bytes.fromhex(self.manifest.nodes[i].public_key)

    def index_of(self, public_key: bytes | str) -> int:
        """The node index of a validator key (hex or bytes)."""
        hx = public_key.hex() if isinstance(public_key, bytes) else public_key.lower()
        for i, nd in enumerate(self.manifest.nodes):
            if nd.public_key == hx:
                return i
        raise KeyError(f"{hx[:16]} is not a node of this testnet")

    def client(self, i: int = 0, identity: Identity | None = None) -> SyncClient:
        """A blocking REST client of node ``i`` (close it, or use ``with``) signing its requests
        as ``identity`` (default: :meth:`reader`)."""
        return SyncClient(self.rest_url(i), ca_file=self.manifest.ca,
                          identity=identity or self.reader())

    def aclient(self, i: int = 0, identity: Identity | None = None) -> Client:
        """An async REST client of node ``i`` (``async with``), signing as ``identity``
        (default: :meth:`reader`)."""
        return Client(self.rest_url(i), ca_file=self.manifest.ca,
                      identity=identity or self.reader())

    def reader(self) -> Identity | None:
        """The identity the testnet's own tools read as (blocks, transactions, balances): the
        ``auditor`` client (role auditor), else node 0's key (a validator)."""
        names = {c.name for c in self.manifest.clients}
        if "auditor" in names:
            return self.identity("auditor")
        node0 = self.manifest.nodes[0].key_file if self.manifest.nodes else None
        return load_identity(node0) if node0 else None

    def ssl_context(self) -> ssl.SSLContext:
        """TLS client context for the REST URLs (:func:`manifest_ssl`)."""
        return manifest_ssl(self.manifest)

    def identity(self, name: str) -> Identity:
        """A demo client's identity (``exporter``, ``bank0``, ...)."""
        return load_identity(self.manifest.client(name).key_file)

    def genesis(self) -> Genesis:
        """The testnet's genesis as a node runs it: with the fingerprint key from its file."""
        return keyed_genesis(self.manifest)

    def pid(self, i: int) -> int | None:
        p = self._procs.get(i)
        return p.pid if p is not None and p.poll() is None else None

    def running(self, i: int) -> bool:
        return self.pid(i) is not None

    def _indices(self, i: int | Iterable[int] | None) -> list[int]:
        if i is None:
            return list(range(self.n))
        idx = [i] if isinstance(i, int) else list(i)
        for k in idx:
            if not 0 <= k < self.n:
                raise IndexError(f"no node {k} in a testnet of {self.n}")
        return idx

    # -------------------------------------------------------------- start / stop

    def start(self, i: int | Iterable[int] | None = None) -> None:
        """Spawn node ``i`` (default: every node not running). Writes its pid file.

        Raises:
            ChainfinError: a pid file names a live process this launcher did not start (another
                launcher runs this testnet: it is not touched).
        """
        idx = self._indices(i)
        if self.network is not None and not self.network.is_up:
            self.network.up()
        for k in idx:
            if self.running(k):
                continue
            self._reap(k)
            pid_file = self.pid_file(k)
            with contextlib.suppress(FileNotFoundError, ValueError):
                other = int(pid_file.read_text().strip())
                if _alive(other):
                    raise ChainfinError(
                        f"node{k} seems to be running already (pid {other} in {pid_file}); "
                        "stop it first")
            log = open(self.log_file(k), "ab")  # closed in _reap
            try:
                argv = list(self._command(k, self.manifest.nodes[k]))
                if self.network is not None:
                    argv = self.network.wrap(k, argv)
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=self.node_dir(k), env=self._env,
                    start_new_session=True,  # the launcher alone decides how nodes stop
                )
            except OSError as e:
                log.close()
                raise ChainfinError(f"cannot start node{k}: {e}") from e
            self._procs[k] = proc
            self._logs[k] = log
            tmp = pid_file.with_suffix(".pid.tmp")
            tmp.write_text(f"{proc.pid}\n")
            tmp.replace(pid_file)

    def wait_ready(self, timeout: float = 30.0, nodes: Iterable[int] | None = None) -> None:
        """Poll ``GET /healthz`` of the given (default: all started) nodes until each answers 200.

        Raises:
            ChainfinError: a node exited before it was ready, or ``timeout`` seconds passed (the
                message names the node and the tail of its log).
        """
        pending = [k for k in (self._indices(nodes) if nodes is not None else sorted(self._procs))]
        deadline = time.monotonic() + timeout
        while pending:
            for k in list(pending):
                proc = self._procs.get(k)
                if proc is None:
                    raise ChainfinError(f"node{k} was not started")
                if proc.poll() is not None:
                    self._reap(k)
                    raise ChainfinError(f"node{k} exited with code {proc.returncode} before it "
                                        f"was ready{self._log_tail(k)}")
                if self._healthy(k):
                    pending.remove(k)
            if not pending:
                return
            if time.monotonic() > deadline:
                k = pending[0]
                raise ChainfinError(f"node{k} was not ready within {timeout:g}s"
                                    f"{self._log_tail(k)}")
            time.sleep(0.1)

    def _healthy(self, i: int) -> bool:
        try:
            if self._opener is None:
                self._opener = urllib.request.build_opener(
                    urllib.request.ProxyHandler({}),
                    urllib.request.HTTPSHandler(context=self.ssl_context()))
            with self._opener.open(self.rest_url(i) + "/healthz", timeout=1.0) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _log_tail(self, i: int, lines: int = 5) -> str:
        try:
            with open(self.log_file(i), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 4096))
                tail = f.read().decode("utf-8", "replace").strip().splitlines()[-lines:]
        except OSError:
            return ""
        if not tail:
            return f" (empty log {self.log_file(i)})"
        return f"; last lines of {self.log_file(i)}:\n  " + "\n  ".join(tail)

    def stop(self, i: int | Iterable[int] | None = None, timeout: float = 10.0) -> None:
        """SIGTERM the node(s) this launcher started, wait up to ``timeout`` s, then SIGKILL.
        Removes their pid files."""
        idx = [k for k in self._indices(i) if k in self._procs]
        for k in idx:
            proc = self._procs[k]
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for k in idx:
            proc = self._procs[k]
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
            self._reap(k)

    def kill(self, i: int) -> None:
        """SIGKILL node ``i`` (a crash: it gets no chance to clean up) and reap it."""
        proc = self._procs.get(i)
        if proc is None:
            raise ChainfinError(f"node{i} was not started by this launcher")
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        proc.wait()
        self._reap(i)

    def restart(self, i: int, timeout: float = 30.0) -> None:
        """Stop node ``i`` cleanly, start it again and wait until it is ready."""
        self.stop(i)
        self.start(i)
        self.wait_ready(timeout, [i])

    def _reap(self, i: int) -> None:
        """Forget a process that has exited: close its log, remove its pid file (if it is ours)."""
        proc = self._procs.get(i)
        if proc is None or proc.poll() is None:
            return
        del self._procs[i]
        log = self._logs.pop(i, None)
        if log is not None:
            log.close()
        pid_file = self.pid_file(i)
        with contextlib.suppress(FileNotFoundError, ValueError):
            if int(pid_file.read_text().strip()) == proc.pid:
                pid_file.unlink()

    def exited(self) -> dict[int, int]:
        """Nodes this launcher started that have exited on their own: index -> exit code."""
        return {k: p.returncode for k, p in self._procs.items() if p.poll() is not None}

    def close(self) -> None:
        """Stop every node; with namespaces, remove the network too."""
        try:
            self.stop()
        finally:
            if self.network is not None:
                self.network.down()

    def __enter__(self) -> Testnet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.n))


# ---------------------------------------------------------------------- CLI


def cli_init(args: argparse.Namespace) -> int:
    """``chainfin testnet init --dir DIR --nodes N [--base-port P] [--plain] [--netns
    [--rtt-ms MS] [--jitter-ms MS]]``."""
    rtt, jitter = float(getattr(args, "rtt_ms", 0) or 0), float(getattr(args, "jitter_ms", 0) or 0)
    spec = None
    if getattr(args, "netns", False):
        from testnet.netns import pick_subnet

        if rtt < 0 or jitter < 0 or jitter > rtt:
            raise ConfigError("--rtt-ms and --jitter-ms are >= 0, the jitter at most the RTT")
        spec = NetnsSpec(subnet=pick_subnet(), rtt_ms=rtt, jitter_ms=jitter)
    elif rtt or jitter:
        raise ConfigError("--rtt-ms and --jitter-ms need --netns")
    m = init_testnet(args.dir, args.nodes, args.base_port,
                     extra_clients=getattr(args, "extra_clients", 0),
                     tls=not getattr(args, "plain", False), netns=spec)
    root = Path(m.genesis).parent
    print(f"testnet {m.chain_id}: {len(m.nodes)} nodes in {root}")
    print(f"  manifest  {root / MANIFEST}")
    print(f"  genesis   {m.genesis}")
    if m.fingerprint_key_file:
        print(f"  fp key    {m.fingerprint_key_file} (0600: the consortium's fingerprint key, "
              "for the nodes and the regulator's `chainfin risk watch`; never for the explorer)")
    print(f"  keys      {root / 'keys'} (0600)")
    print(f"  clients   {root / 'clients'} ({', '.join(c.name for c in m.clients)})")
    if m.ca:
        print(f"  pki       {root / 'pki'} (consortium CA {m.ca}; peer links over mutual TLS, "
              "REST over HTTPS: clients trust this CA)")
    else:
        print("  pki       none: peer links over plain TCP (--plain, for tests only)")
    if m.netns is not None:
        print(f"  netns     one namespace per node ({m.netns.tag}n0..), bridge {m.netns.tag}br "
              f"{m.netns.gateway}/24 in the root namespace; RTT between nodes "
              f"{m.netns.rtt_ms:g} ms +- {m.netns.jitter_ms:g} ms (built by `up`, root only)")
    for nd in m.nodes:
        print(f"  {nd.id:<8}  {nd.rest_url}  p2p {nd.p2p_address}  config {nd.config}")
    print(f"start it with: chainfin testnet up --dir {root}")
    return 0


class _Stop(Exception):
    pass


def cli_up(args: argparse.Namespace) -> int:
    """``chainfin testnet up --dir DIR``: start every node, print the REST URLs, run until
    Ctrl-C/SIGTERM, then stop them all and remove their pid files."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # the first Ctrl-C/SIGTERM stops everything; more of them must not interrupt that
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise _Stop()

    rtt, jitter = getattr(args, "rtt_ms", None), getattr(args, "jitter_ms", None)
    tn = Testnet(args.dir, rtt_ms=rtt, jitter_ms=jitter)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    old_int = signal.signal(signal.SIGINT, on_signal)
    try:
        with tn:
            tn.start()
            tn.wait_ready(60)
            print(f"testnet {tn.chain_id}: {tn.n} nodes up (Ctrl-C stops them)", flush=True)
            if tn.network is not None:
                print(f"  each node in its own network namespace ({tn.network.ns(0)}..); RTT "
                      f"between nodes {tn.network.rtt_ms:g} ms +- {tn.network.jitter_ms:g}"
                      + (f" by {tn.network.method}" if tn.network.method else ""), flush=True)
            for k in tn:
                print(f"  node{k}  {tn.rest_url(k)}  pid {tn.pid(k)}  log {tn.log_file(k)}",
                      flush=True)
            reported: set[int] = set()
            while True:
                for k, code in tn.exited().items():
                    if k not in reported:
                        reported.add(k)
                        print(f"chainfin: warning: node{k} exited with code {code}; "
                              f"see {tn.log_file(k)}", file=sys.stderr, flush=True)
                time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        print("stopped all nodes", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)


def cli_join(args: argparse.Namespace) -> int:
    """``chainfin testnet join``: ``testnet.membership.cli_join`` (the new bank's node joins by
    state sync, then is voted in)."""
    from testnet.membership import cli_join as join

    return join(args)

