"""One node's config file (JSON), validated with pydantic at the edge.

Example (``testnet init`` writes one per node)::

    {
      "node_id": "node0",
      "key_file": "../keys/node0.json",
      "genesis": "../genesis.json",
      "data_dir": "data",
      "rest_host": "127.0.0.1", "rest_port": 8000,
      "p2p_host": "127.0.0.1", "p2p_port": 9000,
      "peers": [{"node_id": "node1", "public_key": "<hex ed25519>", "address": "127.0.0.1:9001"}],
      "log_level": "INFO",
      "tls": false
    }

``fingerprint_key_file`` (optional; default ``fingerprint.key`` beside the genesis) is the
consortium's fingerprint key, which a genesis of ``fingerprint_key_sha256`` commits to and the node
executes contracts with (chainfin/genesis.py); :func:`load_config` does not read it, the node's
start does (:meth:`NodeConfig.load_genesis`).

Relative paths (``key_file``, ``genesis``, ``data_dir``, and the optional ``tls_*`` files) resolve
against the directory of the config file, so a testnet directory can be moved as a whole;
:func:`load_config` returns them absolute. ``peers`` lists the *other* validators (an entry with
this node's own ``node_id`` is refused). Unknown fields are refused: a typo must not silently
fall back to a default.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chainfin import httpsig
from chainfin.errors import ConfigError
from chainfin.genesis import Genesis, default_key_file, load_keyed_genesis

__all__ = ["ByzantineConfig", "NodeConfig", "PeerConfig", "load_config", "write_config", "parse_address"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
_LOOPBACK_OR_ANY = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"})


def parse_address(address: str) -> tuple[str, int]:
    """Split ``"host:port"`` (``"[::1]:9000"`` for IPv6) into host and port.

    Raises:
        ValueError: not of that form or the port is outside 1..65535.
    """
    host, sep, port_s = address.rpartition(":")
    if not sep or not host or not port_s.isdigit():
        raise ValueError(f"address {address!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    port = int(port_s)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} of {address!r} is outside 1..65535")
    return host, port


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PeerConfig(_Model):
    """Another validator this node links to."""

    node_id: str = Field(min_length=1, max_length=64)
    public_key: str
    address: str

    @field_validator("public_key")
    @classmethod
    def _pk(cls, v: str) -> str:
        try:
            b = bytes.fromhex(v)
        except ValueError as e:
            raise ValueError("must be hex") from e
        if len(b) != 32:
            raise ValueError("must be a 32-byte Ed25519 public key in hex")
        return v.lower()

    @field_validator("address")
    @classmethod
    def _addr(cls, v: str) -> str:
        parse_address(v)
        return v

    @property
    def key(self) -> bytes:
        return bytes.fromhex(self.public_key)


class ByzantineConfig(_Model):
    """Test networks only (``node/byzantine.py``): how this validator misbehaves."""

    behaviour: Literal["equivocate", "garbage", "replay", "invalid", "conflict", "silent",
                       "flood", "censor"]
    flood_rate: int = Field(default=200, ge=1, le=100_000)  # frames per second for "flood"
    seed: int = Field(default=0, ge=0)


class NodeConfig(_Model):
    """A validated node config; every path is absolute once loaded by :func:`load_config`."""

    node_id: str = Field(min_length=1, max_length=64)
    key_file: Path
    genesis: Path
    data_dir: Path
    # the consortium's fingerprint key (hex, 0600), for a genesis that commits to it by its
    # SHA-256; default: fingerprint.key beside the genesis (fingerprint_key_path)
    fingerprint_key_file: Path | None = None
    rest_host: str = "127.0.0.1"
    rest_port: int = Field(default=8000, ge=0, le=65535)
    p2p_host: str = "127.0.0.1"
    p2p_port: int = Field(default=9000, ge=0, le=65535)
    peers: list[PeerConfig] = Field(default_factory=list, max_length=1000)
    log_level: LogLevel = "INFO"
    # the bank identity this node acts for (optional): it answers credit-sharing access
    # requests for records that bank published (credit_sharing.deliver), automatically
    bank_key_file: Path | None = None
    # REST URLs of running nodes an observer (not yet a validator) follows the chain from
    sync_urls: list[str] = Field(default_factory=list, max_length=64)
    # the identity that signs those reads (blocks are for validators, regulators and auditors:
    # an observer reads as an auditor or regulator identity of its operator); default: node key
    sync_key_file: Path | None = None
    # an empty node installs a verified state snapshot (node/statesync.py) from its peers or
    # sync URLs, then replays only the blocks after it; false: it replays every block from
    # genesis (auditors who want every block). A sync cut short resumes either way.
    state_sync: bool = False
    # REST limits (token buckets; docs/api.md "Limits"): per source address, checked first,
    # per authenticated identity, and signature verifications per second for the whole node
    rest_rate_per_address: float = Field(default=1000.0, ge=0)
    rest_burst_per_address: float = Field(default=2000.0, ge=1)
    rest_rate_per_identity: float = Field(default=500.0, ge=0)
    rest_burst_per_identity: float = Field(default=1000.0, ge=1)
    rest_verify_rate: float = Field(default=20000.0, ge=1)
    # Prometheus: a plain-HTTP listener serving GET /metrics alone, unauthenticated (a scraper
    # does not sign requests; REST's /metrics is a signed read like every other route). Off
    # unless a port is given; bind it to the monitoring network only (it counts alerts by rule)
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # every this many seconds in which the REST read log grew, the node commits its head to
    # the chain (governance.anchor_read_log; decision 130); 0: never
    read_log_anchor_s: float = Field(default=300.0, ge=0)
    # the URLs clients reach this node's REST at besides rest_host:rest_port (a DNS name, a
    # load balancer's): a signed read names its server, and the node refuses one signed for
    # another (rest_authorities), so a captured request does not replay on the other nodes
    public_urls: list[str] = Field(default_factory=list, max_length=64)
    tls: bool = False
    rest_tls: bool = False  # serve REST over HTTPS with the node certificate (needs tls)
    # mTLS material (consortium CA); only read when ``tls`` is true. Not implemented yet.
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # below this much free space in data_dir the node pauses consensus and refuses
    # transactions (disk_full) until space returns; 0 disables the check
    min_free_mb: int = Field(default=64, ge=0, le=1 << 20)
    # where `chainfin node backup --config F` writes backups (default: backups beside data_dir);
    # the node itself never writes there: it streams a snapshot to its operator's client
    backup_dir: Path | None = None
    # the request timer (docs/consensus.md, "The request timer"): a validator holding a
    # transaction an honest primary would propose, pending this long in the view while the
    # primary's blocks have room, asks for a view change; 0 disables it. Default 10 s, twice
    # the overload guard's 5 s commit lag
    request_timeout_ms: int = Field(default=10_000, ge=0, le=3_600_000)
    # a validator whose link to the primary is lost (its process killed: RST/EOF) for this
    # long while its commits stopped and it holds work asks for the next view without waiting
    # for the view-change timeout; in a view change, it skips a new primary whose link is lost
    # this long (decisions 198/199, docs/consensus.md "A lost link to the primary"). 0 disables
    link_grace_ms: int = Field(default=300, ge=0, le=60_000)
    # a node that has reached fewer validators than a quorum for this long answers waiting
    # and new `?wait=commit` requests `202 no_quorum` at once instead of at the end of their
    # wait (decision 174; node/reach.py). Default 5 s: a restarting peer relinks within it
    no_quorum_answer_s: float = Field(default=5.0, ge=0, le=3600)
    # test networks only: a node config marked ``test_network`` may select a byzantine behaviour
    test_network: bool = False
    byzantine: ByzantineConfig | None = None

    @field_validator("public_urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for url in v:
            u = urlsplit(url)
            if u.scheme not in ("http", "https") or not u.hostname or u.path not in ("", "/"):
                raise ValueError(f"public_urls: {url!r} is not http(s)://host[:port]")
        return v

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _check_peers(self) -> NodeConfig:
        ids: set[str] = set()
        keys: set[str] = set()
        for p in self.peers:
            if p.node_id == self.node_id:
                raise ValueError(f"peers must not list this node itself ({p.node_id})")
            if p.node_id in ids:
                raise ValueError(f"peer {p.node_id} is listed twice")
            if p.public_key in keys:
                raise ValueError(f"peer {p.node_id} repeats another peer's public key")
            ids.add(p.node_id)
            keys.add(p.public_key)
        if self.byzantine is not None and not self.test_network:
            raise ValueError("byzantine is a test-only section: it needs test_network: true "
                             "(and a testnet genesis)")
        if self.tls and not (self.tls_ca and self.tls_cert and self.tls_key):
            raise ValueError("tls needs tls_ca, tls_cert and tls_key")
        return self

    @property
    def p2p_address(self) -> str:
        return f"{self.p2p_host}:{self.p2p_port}"

    @property
    def rest_url(self) -> str:
        return f"{'https' if self.rest_tls else 'http'}://{self.rest_host}:{self.rest_port}"

    def rest_authorities(self) -> frozenset[str]:
        """The authorities a signed read may name to be taken here (``httpsig.authority``
        form): ``rest_host:rest_port``, each ``public_urls`` entry, and for a node bound to a
        loopback or wildcard address the loopback names at ``rest_port`` (a testnet on
        127.0.0.1 is read as ``localhost`` too)."""
        scheme = "https" if self.rest_tls else "http"
        hosts = {self.rest_host}
        if self.rest_host in _LOOPBACK_OR_ANY:
            hosts = (hosts - {"0.0.0.0", "::"}) | {"127.0.0.1", "localhost", "::1"}
        out = {httpsig.authority(scheme, f"[{h}]:{self.rest_port}" if ":" in h
                                 else f"{h}:{self.rest_port}") for h in hosts}
        for url in self.public_urls:
            u = urlsplit(url)
            out.add(httpsig.authority(u.scheme, u.netloc.rpartition("@")[2]))
        return frozenset(out)

    def fingerprint_key_path(self) -> Path:
        """The fingerprint key file: ``fingerprint_key_file``, else ``fingerprint.key`` beside
        the genesis."""
        return self.fingerprint_key_file or default_key_file(self.genesis)

    def load_genesis(self) -> Genesis:
        """The genesis with its fingerprint key, as the node executes with it
        (:func:`chainfin.genesis.load_keyed_genesis`).

        Raises:
            ConfigError: the genesis does not load, or it commits to a key whose file is
                missing, malformed or another key (the message names the file).
        """
        return load_keyed_genesis(self.genesis, self.fingerprint_key_path())

    def peer_map(self) -> dict[bytes, str]:
        """``{public key: "host:port"}`` of the peers: what :class:`node.transport.Transport`
        takes."""
        return {p.key: p.address for p in self.peers}

    def peer_names(self) -> dict[bytes, str]:
        """``{public key: node_id}``, for logs and metrics labels."""
        return {p.key: p.node_id for p in self.peers}


_PATH_FIELDS = ("key_file", "genesis", "data_dir", "fingerprint_key_file", "bank_key_file",
                "sync_key_file", "tls_ca", "tls_cert", "tls_key", "backup_dir")


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def load_config(path: str | os.PathLike[str]) -> NodeConfig:
    """Read, validate and resolve one node's config file.

    Relative paths resolve against the config file's directory. The key file and the genesis file
    must exist; the data directory may not exist yet (the node creates it).

    Raises:
        ConfigError: missing or unreadable file, bad JSON, a field that does not validate, or a
            key/genesis file that does not exist. The message is one sentence naming the file.
    """
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"config file {p} not found") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {p} is not valid JSON (line {e.lineno}: {e.msg})") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {p} is unreadable: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {p} must hold a JSON object")
    base = p.resolve().parent
    for name in _PATH_FIELDS:
        v = raw.get(name)
        if isinstance(v, str) and v:
            raw[name] = str((base / Path(v).expanduser()).resolve())
    try:
        cfg = NodeConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"config file {p}: {_first_error(e)}") from e
    if not cfg.key_file.is_file():
        raise ConfigError(f"config file {p}: key_file {cfg.key_file} does not exist")
    if not cfg.genesis.is_file():
        raise ConfigError(f"config file {p}: genesis {cfg.genesis} does not exist")
    if cfg.data_dir.exists() and not cfg.data_dir.is_dir():
        raise ConfigError(f"config file {p}: data_dir {cfg.data_dir} is not a directory")
    return cfg


def write_config(cfg: NodeConfig, path: str | os.PathLike[str]) -> Path:
    """Write ``cfg`` as JSON (paths as given: absolute, or relative to the file's directory)."""
    p = Path(path)
    data = cfg.model_dump(mode="json", exclude_none=True)
    p.write_text(json.dumps(data, indent=2) + "\n")
    return p
