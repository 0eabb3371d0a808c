"""HTTP Message Signatures (RFC 9421) with Ed25519, as chainfin's REST reads use them.

Pure functions: time (``now`` in seconds) and the nonce are inputs; no I/O, no clock.

A signed request carries three headers::

    Content-Digest: sha-256=:<base64 SHA-256 of the body (RFC 9530)>:
    Signature-Input: sig1=("@method" "@target-uri" "content-digest");created=1765000000;\
keyid="<identity public key, 64 hex>";alg="ed25519";nonce="<random, up to 64 characters>"
    Signature: sig1=:<base64 Ed25519 signature of the signature base>:

The signature base (RFC 9421 section 2.5; lines joined by ``\\n``, no final newline)::

    "@method": GET
    "@target-uri": https://127.0.0.1:8000/v1/state/settlement/bal/ab…/USD?x=1
    "content-digest": sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:
    "@signature-params": ("@method" "@target-uri" "content-digest");created=…;keyid="…";alg="ed25519";nonce="…"

The node checks, in this order (cheap checks first, so garbage costs almost nothing): the
headers parse (``missing``, ``malformed``), ``created`` is within +/- 30 s (``expired``,
``future``), the request names this node (``wrong_authority``, when the node knows its URLs),
the body matches its digest (``digest_mismatch``), the key is a registered identity
(``unknown_identity``, decided by the caller), the signature verifies (``bad_signature``) and it
was not seen before in the window (``replayed``). Two identical requests in the same second
would have identical Ed25519 signatures: clients add a random ``nonce``.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from chainfin.crypto import Identity, verify_plain
from chainfin.errors import ChainfinError, InvalidSignature

__all__ = [
    "COMPONENTS",
    "LABEL",
    "WINDOW_S",
    "ParsedSignature",
    "ReplayCache",
    "Unauthenticated",
    "authority",
    "check_authority",
    "content_digest",
    "parse_signature",
    "sign_request",
    "signature_base",
    "signature_params",
    "verify_request",
]

LABEL = "sig1"
#: the components every signature must cover, in this order
COMPONENTS = ("@method", "@target-uri", "content-digest")
WINDOW_S = 30
MAX_HEADER = 1024  # Signature-Input and Content-Digest; longer is malformed before any parsing
MAX_NONCE = 64

_SIG_INPUT = re.compile(
    r'(?P<label>[a-z][a-z0-9_\-]{0,15})=\((?P<items>(?:"[a-z@][a-z0-9\-@]{0,31}"[ ]?){0,8})\)'
    r'(?P<params>(?:;[a-z][a-z0-9_\-]{0,15}=(?:[0-9]{1,15}|"[\x20\x21\x23-\x5b\x5d-\x7e]{0,128}"))*)')
_PARAM = re.compile(r';([a-z][a-z0-9_\-]{0,15})=([0-9]{1,15}|"[^"]*")')
_ITEM = re.compile(r'"([^"]+)"')
_SIGNATURE = re.compile(r'(?P<label>[a-z][a-z0-9_\-]{0,15})=:(?P<sig>[A-Za-z0-9+/]{86}==):')
_DIGEST = re.compile(r'sha-256=:(?P<d>[A-Za-z0-9+/]{43}=):')
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_NONCE = re.compile(r"[A-Za-z0-9_\-.~+/=]{1,64}")  # MAX_NONCE


class Unauthenticated(ChainfinError):
    """A request that is not authenticated; ``reason`` is one of ``missing``, ``malformed``,
    ``expired``, ``future``, ``wrong_authority``, ``digest_mismatch``, ``unknown_identity``,
    ``bad_signature``, ``replayed``, ``busy`` (the replay cache is full of live signatures)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {message}")


def content_digest(body: bytes) -> str:
    """The ``Content-Digest`` value (RFC 9530) of ``body``: ``sha-256=:<base64>:``."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def signature_params(created: int, keyid: str, nonce: str | None) -> str:
    """The inner list with parameters, as in ``Signature-Input`` after ``sig1=`` and as the
    ``@signature-params`` line of the base."""
    items = " ".join(f'"{c}"' for c in COMPONENTS)
    out = f'({items});created={created};keyid="{keyid}";alg="ed25519"'
    return out + (f';nonce="{nonce}"' if nonce is not None else "")


def signature_base(method: str, target_uri: str, digest: str, params: str) -> bytes:
    """The RFC 9421 signature base of a request covering :data:`COMPONENTS`."""
    return (f'"@method": {method.upper()}\n"@target-uri": {target_uri}\n'
            f'"content-digest": {digest}\n"@signature-params": {params}').encode()


def sign_request(identity: Identity, method: str, target_uri: str, body: bytes, created: int,
                 nonce: str | None) -> dict[str, str]:
    """The three headers that sign a request of ``identity``.

    ``target_uri``: exactly the URI the server will see (scheme, host[:port] as in ``Host``,
    path and query as sent, percent-encoding included). ``created``: Unix seconds.
    """
    if nonce is not None and not _NONCE.fullmatch(nonce):
        raise ValueError("nonce: 1 to 64 URL-safe characters")
    digest = content_digest(body)
    params = signature_params(created, identity.public_key.hex(), nonce)
    sig = identity.sign_plain(signature_base(method, target_uri, digest, params))
    return {"Content-Digest": digest, "Signature-Input": f"{LABEL}={params}",
            "Signature": f"{LABEL}=:{base64.b64encode(sig).decode()}:"}


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    """A syntactically valid signature of a request: what it claims, not yet checked."""

    keyid: bytes
    created: int
    expires: int | None
    params: str  # the inner list with parameters exactly as received (for the base)
    signature: bytes
    digest: bytes  # the claimed SHA-256 of the body


def _header(headers: Mapping[str, str], name: str) -> str | None:
    v = headers.get(name)
    if v is None:
        return None
    if len(v) > MAX_HEADER:
        raise Unauthenticated("malformed", f"{name} is longer than {MAX_HEADER} characters")
    return v.strip()


def parse_signature(headers: Mapping[str, str]) -> ParsedSignature:
    """The one signature of a request (``headers`` case-insensitive, like aiohttp's).

    Raises:
        Unauthenticated: ``missing`` (no ``Signature-Input`` or ``Signature``), ``malformed``
            (anything else about their shape, the covered components, the parameters or the
            ``Content-Digest``).
    """
    sig_input, sig = _header(headers, "Signature-Input"), _header(headers, "Signature")
    if sig_input is None and sig is None:
        raise Unauthenticated("missing", "the request has no Signature-Input and Signature "
                                         "(RFC 9421)")
    if sig_input is None or sig is None:
        raise Unauthenticated("malformed", "Signature-Input and Signature come together")
    m = _SIG_INPUT.fullmatch(sig_input)
    if m is None:
        raise Unauthenticated("malformed", "Signature-Input is not one signature "
                                           f'{LABEL}=("@method" ...);created=...;keyid="..."')
    label = m["label"]
    items = tuple(_ITEM.findall(m["items"]))
    if items != COMPONENTS:
        raise Unauthenticated("malformed", "the signature must cover exactly "
                              + " ".join(f'"{c}"' for c in COMPONENTS))
    params: dict[str, str] = {}
    for name, value in _PARAM.findall(m["params"]):
        if name in params:
            raise Unauthenticated("malformed", f"parameter {name} appears twice")
        params[name] = value
    unknown = set(params) - {"created", "keyid", "alg", "nonce", "expires"}
    if unknown:
        raise Unauthenticated("malformed", f"unknown signature parameter {sorted(unknown)[0]}")
    created, keyid = params.get("created", ""), params.get("keyid", "")
    if not created.isdigit():
        raise Unauthenticated("malformed", "created must be an integer (Unix seconds)")
    if not (keyid.startswith('"') and _HEX64.fullmatch(keyid[1:-1])):
        raise Unauthenticated("malformed", 'keyid must be "<64 hex digits>" (the public key)')
    if params.get("alg", '"ed25519"') != '"ed25519"':
        raise Unauthenticated("malformed", 'alg must be "ed25519"')
    nonce = params.get("nonce")
    if nonce is not None and not (nonce.startswith('"') and _NONCE.fullmatch(nonce[1:-1])):
        raise Unauthenticated("malformed", "nonce must be a string of 1 to 64 URL-safe "
                                           "characters")
    expires = params.get("expires")
    if expires is not None and not expires.isdigit():
        raise Unauthenticated("malformed", "expires must be an integer")
    s = _SIGNATURE.fullmatch(sig)
    if s is None or s["label"] != label:
        raise Unauthenticated("malformed", f"Signature must be {label}=:<base64 of 64 bytes>:")
    digest_header = _header(headers, "Content-Digest")
    if digest_header is None:
        raise Unauthenticated("malformed", "the signature covers content-digest but the "
                                           "request has no Content-Digest")
    d = next((x for x in (_DIGEST.fullmatch(p.strip()) for p in digest_header.split(","))
              if x is not None), None)
    if d is None:
        raise Unauthenticated("malformed", "Content-Digest has no sha-256=:<base64>: entry")
    signature, digest = _canonical_b64(s["sig"]), _canonical_b64(d["d"])
    return ParsedSignature(
        keyid=bytes.fromhex(keyid[1:-1]), created=int(created),
        expires=int(expires) if expires is not None else None,
        params=sig_input[len(label) + 1:], signature=signature, digest=digest)


def _canonical_b64(text: str) -> bytes:
    """Base64 with zero padding bits: one value has one spelling (the replay cache keys on it)."""
    raw = base64.b64decode(text)
    if base64.b64encode(raw).decode() != text:
        raise Unauthenticated("malformed", "non-canonical base64")
    return raw


def check_fresh(parsed: ParsedSignature, now: float, window_s: int = WINDOW_S) -> None:
    """Raises: Unauthenticated ``expired`` / ``future``: ``created`` (or ``expires``) outside
    +/- ``window_s`` of ``now``."""
    if parsed.created < now - window_s or (parsed.expires is not None and parsed.expires < now):
        raise Unauthenticated("expired", f"created {int(now - parsed.created)} s ago; the "
                                         f"window is {window_s} s")
    if parsed.created > now + window_s:
        raise Unauthenticated("future", f"created {int(parsed.created - now)} s in the future; "
                                        f"the window is {window_s} s")


_DEFAULT_PORT = {"http": 80, "https": 443}


def authority(scheme: str, host: str) -> str:
    """``host[:port]`` of a URI as compared between a signature and a server: lower case, the
    scheme's default port written out (``https``, ``Node.Example`` -> ``node.example:443``), an
    IPv6 literal in brackets as in a URI."""
    host = host.strip().lower()
    if host.startswith("["):
        has_port = host[host.find("]") + 1:].startswith(":")
    else:
        has_port = ":" in host
    return host if has_port else f"{host}:{_DEFAULT_PORT.get(scheme.lower(), 0)}"


def check_authority(scheme: str, host: str, allowed: frozenset[str]) -> None:
    """The replay cache is one server's: a signature names its server (``@target-uri``'s
    authority, the ``Host`` it was sent with), and a server takes only those that name it, so a
    captured request does not replay on another node.

    ``allowed``: this server's authorities, each as :func:`authority` writes it.

    Raises:
        Unauthenticated: ``wrong_authority``: the request is signed for another server.
    """
    if authority(scheme, host) not in allowed:
        raise Unauthenticated("wrong_authority", "the request is signed for another server "
                                                 "(its Host is not one of this node's URLs)")


def check_digest(parsed: ParsedSignature, body: bytes) -> None:
    """Raises: Unauthenticated ``digest_mismatch``: the body is not the one signed."""
    if not hmac.compare_digest(parsed.digest, hashlib.sha256(body).digest()):
        raise Unauthenticated("digest_mismatch", "the body does not match Content-Digest")


def check_signature(parsed: ParsedSignature, method: str, target_uri: str) -> None:
    """Raises: Unauthenticated ``bad_signature``: the signature does not verify for this
    method, target URI, digest and parameters under ``keyid``."""
    digest = "sha-256=:" + base64.b64encode(parsed.digest).decode() + ":"
    base = signature_base(method, target_uri, digest, parsed.params)
    try:
        verify_plain(parsed.keyid, base, parsed.signature)
    except InvalidSignature:
        raise Unauthenticated("bad_signature", "the signature does not verify for this "
                                               "method, URI and body") from None


class ReplayCache:
    """Signatures seen within the window, at most ``capacity`` of them (time is an input).

    A signature is remembered until its ``created`` leaves the window; a full cache first forgets
    the expired ones, and when every entry is still live refuses (``busy``) rather than forget a
    live one, which would let it be replayed."""

    def __init__(self, capacity: int = 100_000, window_s: int = WINDOW_S) -> None:
        self.capacity = capacity
        self.window_s = window_s
        self._until: dict[bytes, int] = {}
        self._heap: list[tuple[int, bytes]] = []

    def __len__(self) -> int:
        return len(self._until)

    def _prune(self, now: float) -> None:
        while self._heap and self._heap[0][0] < now:
            _, sig = heapq.heappop(self._heap)
            self._until.pop(sig, None)

    def remember(self, signature: bytes, created: int, now: float) -> None:
        """Record a verified signature.

        Raises:
            Unauthenticated: ``replayed`` (seen in the window), ``busy`` (the cache is full of
                live signatures).
        """
        self._prune(now)
        if signature in self._until:
            raise Unauthenticated("replayed", "this signature was already used")
        if len(self._until) >= self.capacity:
            raise Unauthenticated("busy", "too many signed requests in the window; retry")
        until = created + self.window_s
        self._until[signature] = until
        heapq.heappush(self._heap, (until, signature))


def verify_request(method: str, target_uri: str, headers: Mapping[str, str], body: bytes,
                   now: float, window_s: int = WINDOW_S) -> ParsedSignature:
    """Parse and check a request's signature except the identity lookup and the replay cache
    (the caller's: they need state). Returns the verified signature (``keyid`` is who signed).

    Raises:
        Unauthenticated: ``missing``, ``malformed``, ``expired``, ``future``,
            ``digest_mismatch``, ``bad_signature``.
    """
    parsed = parse_signature(headers)
    check_fresh(parsed, now, window_s)
    check_digest(parsed, body)
    check_signature(parsed, method, target_uri)
    return parsed
