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
      "fingerprint_key": "<hex, 32 bytes: consortium HMAC key for document fingerprints>",
      "params": {"max_block_txs": 500, "checkpoint_interval": 16, "window": 2,
                 "view_timeout_ms": 1000, "max_clock_skew_ms": 5000,
                 "block_interval_ms": 20, "block_interval_max_ms": 50,
                 "pacing_knee_tps": 350, "max_advance_rate_bps": 10000,
                 "document_tolerance_bps": 500, "financing_requires_attestation": false,
                 "ledger_format": 3}
    }

Every validator is also an identity with role ``bank`` (listed in ``identities`` too).
``admin`` marks the banks that may register identities (governance.register_identity).
``ledger_format`` 3 (receipts certified by the header, nonce words, salted tree leaves;
decisions 95 and 129) is what a new chain should use; a file without it is a chain of format 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chainfin import codec
from chainfin.errors import ConfigError
from chainfin.types import ValidatorSet

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
    # consortium rules of trade finance (contracts read them from ``governance/params``)
    max_advance_rate_bps: int = Field(default=10_000, ge=0, le=10_000)
    document_tolerance_bps: int = Field(default=500, ge=0, le=10_000)
    financing_requires_attestation: bool = False
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

    def consortium(self) -> dict[str, int | bool]:
        """The parameters contracts read (stored at ``governance/params`` by genesis)."""
        return {"max_advance_rate_bps": self.max_advance_rate_bps,
                "document_tolerance_bps": self.document_tolerance_bps,
                "financing_requires_attestation": self.financing_requires_attestation}


class Genesis(_Model):
    chain_id: str = Field(min_length=1, max_length=64)
    genesis_time_ms: int = Field(ge=0)
    validators: list[GenesisValidator] = Field(min_length=1)
    identities: list[GenesisIdentity] = Field(default_factory=list)
    currencies: list[GenesisCurrency] = Field(default_factory=list)
    regulators: list[str] = Field(default_factory=list)
    fingerprint_key: str
    params: GenesisParams = Field(default_factory=GenesisParams)

    _fk = field_validator("fingerprint_key")(_hex32)

    @field_validator("regulators")
    @classmethod
    def _regs(cls, v: list[str]) -> list[str]:
        return [_hex32(x) for x in v]

    def validator_set(self) -> ValidatorSet:
        return ValidatorSet(tuple(bytes.fromhex(v.public_key) for v in self.validators))

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


def load_genesis(path: str | Path) -> Genesis:
    """Read and validate a genesis file.

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
        raise ConfigError(f"genesis {path}: {loc}: {first['msg']}") from e
    except (OSError, ValueError) as e:
        raise ConfigError(f"genesis {path} is unreadable: {e}") from e
