"""Ed25519 identities, domain-separated signatures and X25519 sealed boxes (pynacl).

This is the only module that imports nacl.

Domain separation: every signature covers ``b"chainfin/1/" + domain + b"\\0" + message``. A
signature made for one purpose (a consensus vote, a peer handshake) therefore never verifies for
another (a transaction), even over identical message bytes.

Key file (JSON, written with mode 0600)::

    {"version": 1, "name": "...", "public_key": "<hex ed25519>", "seed": "<hex 32-byte seed>",
     "box_public_key": "<hex x25519>"}

The X25519 key pair used for sealed boxes is derived from the same seed (the standard
Ed25519 -> Curve25519 conversion), so one secret backs the identity.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing

from chainfin.errors import ConfigError, InvalidSignature

__all__ = [
    "DOMAINS",
    "Identity",
    "verify",
    "verify_plain",
    "is_valid",
    "seal",
    "box_public_from_ed25519",
    "load_identity",
    "save_identity",
]

#: The purposes a signature can have. Adding one is a protocol change.
DOMAINS = frozenset({"tx", "consensus", "handshake", "frame", "checkpoint", "rotate_key"})

_PREFIX = b"chainfin/1/"


def _tagged(domain: str, message: bytes) -> bytes:
    if domain not in DOMAINS:
        raise ValueError(f"unknown signature domain {domain!r}")
    return _PREFIX + domain.encode() + b"\0" + message


def verify(public_key: bytes, domain: str, message: bytes, signature: bytes) -> None:
    """Check an Ed25519 signature made by :meth:`Identity.sign` for ``domain``.

    Raises:
        InvalidSignature: wrong key, domain, message or a malformed key/signature.
    """
    if len(public_key) != 32 or len(signature) != 64:
        raise InvalidSignature("malformed public key or signature")
    try:  # libsodium's combined form directly: VerifyKey.verify would build the same bytes
        nacl.bindings.crypto_sign_open(bytes(signature) + _tagged(domain, message),
                                       bytes(public_key))
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError) as e:
        raise InvalidSignature(f"bad {domain} signature") from e


def verify_plain(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Check a plain Ed25519 signature (RFC 8032, no domain tag) made by
    :meth:`Identity.sign_plain`: HTTP message signatures (RFC 9421) must verify with any
    standard Ed25519 implementation (WebCrypto in the explorer). Their signature base starts
    with ``"`` and a tagged message with ``chainfin/1/``, so neither can pass for the other.

    Raises:
        InvalidSignature: wrong key or message, or a malformed key/signature.
    """
    if len(public_key) != 32 or len(signature) != 64:
        raise InvalidSignature("malformed public key or signature")
    try:
        nacl.bindings.crypto_sign_open(bytes(signature) + message, bytes(public_key))
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError) as e:
        raise InvalidSignature("bad signature") from e


def is_valid(public_key: bytes, domain: str, message: bytes, signature: bytes) -> bool:
    """True when the signature verifies; never raises for bad input."""
    try:
        verify(public_key, domain, message, signature)
    except InvalidSignature:
        return False
    return True


def box_public_from_ed25519(public_key: bytes) -> bytes:
    """The X25519 public key that belongs to an Ed25519 identity key."""
    try:
        return nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(bytes(public_key))
    except Exception as e:
        raise InvalidSignature("not a valid Ed25519 public key") from e


def seal(recipient_box_public: bytes, plaintext: bytes) -> bytes:
    """Anonymous sealed box (X25519 + XSalsa20-Poly1305) that only the recipient can open."""
    return nacl.public.SealedBox(nacl.public.PublicKey(bytes(recipient_box_public))).encrypt(plaintext)


@dataclass(frozen=True)
class Identity:
    """An Ed25519 signing identity with its derived X25519 box key. Holds a secret: never log it."""

    seed: bytes
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise ConfigError("an identity seed is 32 bytes")

    def __repr__(self) -> str:  # keep the seed out of logs and tracebacks
        return f"Identity(name={self.name!r}, public_key={self.public_key.hex()})"

    @classmethod
    def generate(cls, name: str = "") -> Identity:
        return cls(os.urandom(32), name)

    @classmethod
    def from_seed_text(cls, text: str, name: str = "") -> Identity:
        """Deterministic identity from a text (simulations and tests only)."""
        import hashlib

        return cls(hashlib.sha256(text.encode()).digest(), name or text)

    @property
    def _signing(self) -> nacl.signing.SigningKey:
        return _signing_key(self.seed)

    @property
    def public_key(self) -> bytes:
        return bytes(self._signing.verify_key)

    @property
    def box_public_key(self) -> bytes:
        return bytes(self._signing.to_curve25519_private_key().public_key)

    def sign(self, domain: str, message: bytes) -> bytes:
        """Ed25519 signature of ``message`` for ``domain`` (deterministic)."""
        return self._signing.sign(_tagged(domain, message)).signature

    def sign_plain(self, message: bytes) -> bytes:
        """Plain Ed25519 signature (RFC 8032) of ``message``, for HTTP message signatures only
        (see :func:`verify_plain`)."""
        return self._signing.sign(message).signature

    def unseal(self, sealed: bytes) -> bytes:
        """Open a sealed box addressed to this identity's X25519 key.

        Raises:
            InvalidSignature: the box was not sealed to this key or was tampered with.
        """
        box = nacl.public.SealedBox(self._signing.to_curve25519_private_key())
        try:
            return box.decrypt(bytes(sealed))
        except nacl.exceptions.CryptoError as e:
            raise InvalidSignature("sealed box does not open with this key") from e

    def to_json(self) -> dict[str, object]:
        return {
            "version": 1,
            "name": self.name,
            "public_key": self.public_key.hex(),
            "box_public_key": self.box_public_key.hex(),
            "seed": self.seed.hex(),
        }


@lru_cache(maxsize=256)
def _signing_key(seed: bytes) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(seed)


def save_identity(identity: Identity, path: str | os.PathLike[str]) -> Path:
    """Write a key file with mode 0600 (created that way, never world-readable for an instant).

    Raises:
        FileExistsError: the file exists (keys are never overwritten silently).
    """
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(identity.to_json(), f, indent=2)
        f.write("\n")
    os.chmod(p, 0o600)
    return p


def load_identity(path: str | os.PathLike[str]) -> Identity:
    """Read a key file written by :func:`save_identity`.

    Raises:
        ConfigError: missing, unreadable, or not a chainfin key file.
    """
    try:
        data = json.loads(Path(path).read_text())
        ident = Identity(bytes.fromhex(data["seed"]), str(data.get("name", "")))
    except FileNotFoundError as e:
        raise ConfigError(f"key file {path} not found") from e
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path} is not a valid chainfin key file") from e
    if "public_key" in data and data["public_key"] != ident.public_key.hex():
        raise ConfigError(f"{path}: public_key does not match the seed")
    return ident
