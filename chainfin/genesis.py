"""The genesis file: the one document every node and every auditor starts from.

JSON, bytes as hex. Validated with pydantic at the edge (it comes from disk)::

    {
      "chain_id": "chainfin-testnet-1a2b",
      "genesis_time_ms": 1764129600000,
      "validators": [{"name": "node0", "public_key": "<hex>", "bank": "BANKUS33XXX"}, ...],
      "identities": [{"name": "exporter", "public_key": "<hex>", "role": "exporter",
                      "admin": false, "bank": null}, ...],
      "currencies": [{"code": "USD", "exponent": 2, "issuer": "<hex>"}, ...],
      "regulators": ["<hex public key>", ...],
      "fingerprint_key_sha256": "<hex SHA-256 of the consortium's fingerprint key>",
      "params": {"max_block_txs": 500, "checkpoint_interval": 16, "window": 2,
                 "view_timeout_ms": 1000, "max_clock_skew_ms": 5000,
                 "block_interval_ms": 20, "block_interval_max_ms": 50,
                 "pacing_knee_tps": 350, "max_advance_rate_bps": 10000,
                 "document_tolerance_bps": 500, "financing_requires_attestation": false,
                 "bill_of_lading_requires_containers": false, "ledger_format": 3}
    }

Every validator is also an identity with role ``bank`` (listed in ``identities`` too).
``admin`` marks the banks that may register identities (governance.register_identity).
``ledger_format`` 3 (receipts certified by the header, nonce words, salted tree leaves;
decisions 95 and 129) is what a new chain should use; a file without it is a chain of format 1.

The consortium's fingerprint key (32 random bytes: the HMAC key of document fingerprints and of
the regulator's watch-list digests) is a secret of the members, and the genesis is public (the
explorer and every auditor pin it; ``GET /v1/genesis`` serves it to anyone). So a genesis
carries ``fingerprint_key_sha256``, the key's SHA-256, and the key itself travels beside it in
its own file (:data:`FINGERPRINT_KEY_FILE`, hex, mode 0600), which the consortium gives its
members only: validators and observers execute contracts with it, regulators' clients hash
watch-list entries with it. :func:`load_keyed_genesis` reads both and checks the file against
the commitment. A genesis of the older form carries the key itself (``fingerprint_key``); it
loads and hashes as it always did, and serves its key with it (decision 133).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from chainfin import codec
from chainfin.errors import ConfigError
from chainfin.types import ValidatorSet

#: the fingerprint key's file, by default beside the genesis file
FINGERPRINT_KEY_FILE = "fingerprint.key"

ROLES = ("bank", "exporter", "importer", "auditor", "issuer", "customs")
Role = Literal["bank", "exporter", "importer", "auditor", "issuer", "customs"]


def _hex32(v: str) -> str:
    try:
        b = bytes.fromhex(v)
    except (ValueError, TypeError) as e:
        raise ValueError("must be hex") from e
    if len(b) != 32:
        raise ValueError("must be 32 bytes of hex")
    return v.lower()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenesisValidator(_Model):
    name: str = Field(min_length=1, max_length=64)
    public_key: str
    bank: str | None = None

    _pk = field_validator("public_key")(_hex32)


class GenesisIdentity(_Model):
    name: str = Field(min_length=1, max_length=64)
    public_key: str
    role: Role
    admin: bool = False
    bank: str | None = None
    #: the name trade documents carry for this party (seller, buyer, exporter), when it is not
    #: ``name``
    legal_name: str | None = Field(default=None, min_length=1, max_length=140)

    _pk = field_validator("public_key")(_hex32)


class GenesisCurrency(_Model):
    code: str = Field(pattern=r"^[A-Z]{3}$")
    exponent: int = Field(ge=0, le=4)
    issuer: str

    _pk = field_validator("issuer")(_hex32)


class GenesisParams(_Model):
    max_block_txs: int = Field(default=500, ge=1, le=10_000)
    checkpoint_interval: int = Field(default=16, ge=1)
    window: int = Field(default=2, ge=1, le=256)
    view_timeout_ms: int = Field(default=1000, ge=10)
    max_clock_skew_ms: int = Field(default=5000, ge=0)
    block_interval_ms: int = Field(default=20, ge=0, le=60_000)  # pacing; decision 21
    # rate-driven pacing (decision 84): above pacing_knee_tps the interval grows with the rate,
    # up to block_interval_max_ms (equal to block_interval_ms: a fixed interval)
    block_interval_max_ms: int = Field(default=50, ge=0, le=60_000)
    pacing_knee_tps: int = Field(default=350, ge=1, le=1_000_000)  # decision 99
    # consortium rules of trade finance (contracts read them from ``governance/params``); the
    # two booleans are changed later by a governance ``set_trade_params`` vote (decision 285)
    max_advance_rate_bps: int = Field(default=10_000, ge=0, le=10_000)
    document_tolerance_bps: int = Field(default=500, ge=0, le=10_000)
    financing_requires_attestation: bool = False
    # a bill of lading lists its ISO 6346 containers, or declares its cargo bulk or break-bulk
    # with its voyage (decisions 265, 266); stored at ``governance/params`` only when the file
    # sets it, so the genesis state of a chain whose file predates it is unchanged
    bill_of_lading_requires_containers: bool = False
    # what a payment to or from a customer of a watched bank does (``contracts.risk``, decisions
    # 277-278): "allow" (as before), "alert" or "refuse"; changed later by a governance vote
    # (``set_watched_bank_customers``); stored only when the file sets it, as the one above
    watched_bank_customers: Literal["allow", "alert", "refuse"] = "allow"
    # how the ledger records what it executed (decision 95): 1 = each receipt in the state
    # (``_tx/<sender>/<nonce>``); 2 = receipts certified by the header's ``receipts_root``,
    # replay protection by nonce words in the state; 3 = 2 with salted leaves in the header's
    # trees (decision 129: a transaction's proof may go to its sender). Fixed for a chain's
    # life; absent = 1.
    ledger_format: int = Field(default=1, ge=1, le=3)

    @property
    def salted_leaves(self) -> bool:
        """Ledger format 3: the header's tx and receipt trees have salted leaves (decision 129)."""
        return self.ledger_format >= 3

    def consortium(self) -> dict[str, int | bool | str]:
        """The parameters contracts read (stored at ``governance/params`` by genesis).

        ``bill_of_lading_requires_containers`` only when the genesis file sets it: a chain
        whose file predates it writes the same ``governance/params`` (and state root) as it
        always did, as :meth:`Genesis.hash` leaves a param added later out (decision 85); the
        contracts read it as false when absent."""
        out: dict[str, int | bool | str] = {
            "max_advance_rate_bps": self.max_advance_rate_bps,
            "document_tolerance_bps": self.document_tolerance_bps,
            "financing_requires_attestation": self.financing_requires_attestation}
        if "bill_of_lading_requires_containers" in self.model_fields_set:
            out["bill_of_lading_requires_containers"] = self.bill_of_lading_requires_containers
        if "watched_bank_customers" in self.model_fields_set:  # the same, decision 278
            out["watched_bank_customers"] = self.watched_bank_customers
        return out


class Genesis(_Model):
    chain_id: str = Field(min_length=1, max_length=64)
    genesis_time_ms: int = Field(ge=0)
    validators: list[GenesisValidator] = Field(min_length=1)
    identities: list[GenesisIdentity] = Field(default_factory=list)
    currencies: list[GenesisCurrency] = Field(default_factory=list)
    regulators: list[str] = Field(default_factory=list)
    # exactly one of the two: the key itself (the older form: public with the genesis) or the
    # SHA-256 of the key, which lives in its own file (FINGERPRINT_KEY_FILE)
    fingerprint_key: str | None = None
    fingerprint_key_sha256: str | None = None
    params: GenesisParams = Field(default_factory=GenesisParams)
    #: the key of a ``fingerprint_key_sha256`` genesis once read from its file (never dumped,
    #: hashed or served: a private attribute is no field)
    _key: bytes | None = PrivateAttr(default=None)

    _fk = field_validator("fingerprint_key", "fingerprint_key_sha256")(_hex32)

    @model_validator(mode="after")
    def _one_key_form(self) -> Genesis:
        if (self.fingerprint_key is None) == (self.fingerprint_key_sha256 is None):
            raise ValueError("a genesis has exactly one of fingerprint_key and "
                             "fingerprint_key_sha256, not " + ("both" if self.fingerprint_key
                                                               else "neither"))
        return self

    @field_validator("regulators")
    @classmethod
    def _regs(cls, v: list[str]) -> list[str]:
        return [_hex32(x) for x in v]

    def validator_set(self) -> ValidatorSet:
        return ValidatorSet(tuple(bytes.fromhex(v.public_key) for v in self.validators))

    @property
    def key_inline(self) -> bool:
        """The older form: the genesis document itself holds the fingerprint key."""
        return self.fingerprint_key is not None

    @property
    def has_fingerprint_key(self) -> bool:
        """Whether :meth:`fingerprint_key_bytes` has a key to give."""
        return self.fingerprint_key is not None or self._key is not None

    def fingerprint_key_bytes(self) -> bytes:
        """The consortium's fingerprint key: the document's own (older form), else the one read
        from its file (:func:`load_keyed_genesis`, :meth:`with_fingerprint_key`).

        Raises:
            ConfigError: the genesis commits to a key that was not loaded.
        """
        if self.fingerprint_key is not None:
            return bytes.fromhex(self.fingerprint_key)
        if self._key is None:
            raise ConfigError(f"the genesis of {self.chain_id} holds only the SHA-256 of its "
                              "fingerprint key; load the key from its file "
                              f"({FINGERPRINT_KEY_FILE}) with the genesis")
        return self._key

    def with_fingerprint_key(self, key: bytes) -> Genesis:
        """This genesis holding ``key`` (not in its document) for execution and the tools that
        hash with it.

        Raises:
            ConfigError: ``key`` is not the key the genesis commits to (or holds).
        """
        if not key_matches(self, key):
            raise ConfigError("the fingerprint key is not the one the genesis of "
                              f"{self.chain_id} commits to")
        g = self.model_copy()
        g._key = key
        return g

    def with_key_committed(self) -> Genesis:
        """An older-form genesis in the current form: ``fingerprint_key_sha256`` in place of
        the key, the key held as :func:`load_keyed_genesis` holds it (a new chain, not this
        one: the hash differs)."""
        key = self.fingerprint_key_bytes()
        doc = {k: v for k, v in self.document().items() if k != "fingerprint_key"}
        doc["fingerprint_key_sha256"] = key_commitment(key)
        return Genesis.model_validate(doc).with_fingerprint_key(key)

    def hash(self) -> bytes:
        """SHA-256 of the canonical encoding of the fields the file sets: the chain's root of
        trust. A field left out (a param added by a later release, at its default) is left out
        of the hash too, so a release that adds a param does not orphan the data dirs of the
        chains whose genesis predates it (decision 85)."""
        return codec.hash_value(self.document())

    def document(self) -> dict[str, Any]:
        """The genesis as its file holds it (the fields set): what :meth:`hash` covers, what
        :meth:`to_json_text` writes and ``GET /v1/genesis`` serves; it validates back to the
        same hash."""
        return self.model_dump(mode="json", exclude_unset=True)

    def to_json_text(self) -> str:
        """The file: exactly what :meth:`hash` covers, so it reloads to the same hash."""
        return json.dumps(self.document(), indent=2, sort_keys=True) + "\n"


def key_commitment(key: bytes) -> str:
    """``fingerprint_key_sha256`` of ``key``: its SHA-256, hex."""
    return hashlib.sha256(key).hexdigest()


def key_matches(genesis: Genesis, key: bytes) -> bool:
    """Is ``key`` the fingerprint key ``genesis`` holds or commits to? (constant time)"""
    if genesis.fingerprint_key is not None:
        return hmac.compare_digest(bytes.fromhex(genesis.fingerprint_key), key)
    assert genesis.fingerprint_key_sha256 is not None  # exactly one form (the validator)
    return hmac.compare_digest(key_commitment(key), genesis.fingerprint_key_sha256)


def new_fingerprint_key() -> bytes:
    """A fresh consortium fingerprint key (32 random bytes)."""
    return os.urandom(32)


def write_fingerprint_key(path: str | Path, key: bytes) -> Path:
    """Write ``key`` as its file: hex and a newline, mode 0600, never over an existing file.

    Raises:
        ConfigError: the file exists.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"fingerprint key file {p} exists; not overwritten") from None
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return p


def read_fingerprint_key(path: str | Path, genesis: Genesis,
                         genesis_path: str | Path = "") -> bytes:
    """Read a fingerprint key file and check it against the commitment in ``genesis``.

    Raises:
        ConfigError: the file is missing, unreadable, not 32 bytes of hex, or not the key the
            genesis commits to. The message names the file, never its content.
    """
    p = Path(path)
    of = f" (the genesis {genesis_path} commits to it)" if genesis_path else ""
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ConfigError(f"fingerprint key file {p} not found{of}: the consortium gives its "
                          "members this file with the genesis; put it there or set "
                          "fingerprint_key_file in the node config") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"fingerprint key file {p} is unreadable: "
                          f"{getattr(e, 'strerror', None) or type(e).__name__}") from None
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigError(f"fingerprint key file {p} does not hold 32 bytes of hex")
    if not key_matches(genesis, key):
        raise ConfigError(f"fingerprint key file {p} does not match the genesis's "
                          f"fingerprint_key_sha256{of}: a key of another chain?")
    return key


def key_file_open_to_others(path: str | Path) -> int | None:
    """The permission bits of the fingerprint key file ``path`` when its group or others may
    read or write it (it is written 0600), else None (also when it cannot be stat'ed)."""
    try:
        mode = Path(path).stat().st_mode & 0o777
    except OSError:
        return None
    return mode if mode & 0o077 else None


def default_key_file(genesis_path: str | Path) -> Path:
    """Where the fingerprint key file is when nothing says otherwise: beside the genesis."""
    return Path(genesis_path).with_name(FINGERPRINT_KEY_FILE)


def load_keyed_genesis(path: str | Path, key_file: str | Path | None = None) -> Genesis:
    """Read a genesis file with its fingerprint key: what executes contracts (a node, replay,
    benchmarks) and what hashes watch-list entries (a regulator's client) starts from. An
    older-form genesis holds its key and needs no file; otherwise the key is read from
    ``key_file`` (default :func:`default_key_file`) and checked against the commitment.

    Raises:
        ConfigError: as :func:`load_genesis`, or as :func:`read_fingerprint_key`.
    """
    g = load_genesis(path)
    if g.key_inline:
        return g
    kf = default_key_file(path) if key_file is None else Path(key_file)
    return g.with_fingerprint_key(read_fingerprint_key(kf, g, path))


def load_genesis(path: str | Path) -> Genesis:
    """Read and validate a genesis file (the public document: without a key file, a
    ``fingerprint_key_sha256`` genesis executes nothing; :func:`load_keyed_genesis`).

    Raises:
        ConfigError: missing file, bad JSON, or a field that does not validate.
    """
    try:
        return Genesis.model_validate_json(Path(path).read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"genesis file {path} not found") from e
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"genesis {path}: {loc + ': ' if loc else ''}{msg}") from e
    except (OSError, ValueError) as e:
        raise ConfigError(f"genesis {path} is unreadable: {e}") from e
