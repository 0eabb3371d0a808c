"""Python client SDK of a chainfin node's REST API (an edge module: aiohttp is allowed here).

::

    async with Client("http://127.0.0.1:8000") as c:
        chain_id = await c.chain_id()
        tx = build_tx(identity, chain_id, "settlement", "transfer",
                      {"to": "<hex>", "currency": "USD", "amount": 100},
                      await c.next_nonce(identity.public_key))
        result = await c.submit(tx, wait=True)   # {tx_id, status, height, index, finality_ms, ...}

    with SyncClient("http://127.0.0.1:8000") as c:   # the same, blocking (not inside an event loop)
        c.status()

A node serving HTTPS with a certificate from the consortium CA (a testnet's ``DIR/pki/ca.pem``,
listed as ``"ca"`` in its manifest) needs that CA: ``Client(url, ca_file=...)`` trusts it alone
(host names are checked as usual). The command-line tools take it from OpenSSL's
``SSL_CERT_FILE`` environment variable.

Every request but ``POST /v1/tx`` (whose transaction is signed) and the public ones is signed
with RFC 9421 HTTP message signatures (chainfin.httpsig): ``Client(url, identity=...)`` signs
with that identity; a node answers reads the identity may not see like missing items (404).

A node's error (a 4xx/5xx with ``{"error": {"code", "message"}}``) raises :class:`ClientError`
with that code, message and HTTP status; a node that cannot be reached raises it with code
``unreachable`` and status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
import time
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from yarl import URL

from chainfin import httpsig, readlog
from chainfin.crypto import Identity, load_identity
from chainfin.errors import ChainfinError
from chainfin.types import Transaction

__all__ = [
    "Client",
    "SyncClient",
    "ClientError",
    "build_tx",
    "ca_context",
    "signed_headers",
    "cli_tx_send",
    "cli_query",
    "cli_proof_tx",
    "cli_proof_state",
    "cli_audit_reads",
    "cli_curl",
    "reader_identity",
]

DEFAULT_TIMEOUT = 60.0  # above the node's own wait=commit limit
MAX_RESPONSE = 64 * 1024 * 1024

T = TypeVar("T")


class ClientError(ChainfinError):
    """The node refused or failed a request, or could not be reached (``status`` 0)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        self.code = code
        self.message = message
        self.status = status
        where = f"HTTP {status}" if status else "no response"
        super().__init__(f"{message} ({code}, {where})")


def build_tx(identity: Identity, chain_id: str, contract: str, method: str,
             args: Mapping[str, Any], nonce: int) -> Transaction:
    """Sign a call of ``contract.method(**args)`` with ``identity``.

    Raises:
        CodecError: ``args`` holds a value with no canonical encoding (a float, a set, ...).
    """
    return Transaction.create(identity, chain_id, nonce, contract, method, dict(args))


def ca_context(ca_file: str | os.PathLike[str]) -> ssl.SSLContext:
    """A TLS client context trusting only the CA certificate(s) in ``ca_file`` (PEM), TLS 1.2 or
    later, host names checked.

    Raises:
        ClientError: ``bad_ca`` when the file cannot be read as PEM certificates.
    """
    try:
        ctx = ssl.create_default_context(cafile=os.fspath(ca_file))
    except (OSError, ssl.SSLError) as e:
        raise ClientError("bad_ca", f"cannot load the CA certificate {ca_file}: {e}", 0) from e
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


#: requests authorized by the transaction they carry: not signed
UNSIGNED = frozenset({("POST", "/v1/tx"), ("GET", "/v1/tx/stream")})


def signed_headers(identity: Identity, method: str, url: str | URL, body: bytes = b"",
                   now: float | None = None) -> dict[str, str]:
    """The RFC 9421 headers (``Content-Digest``, ``Signature-Input``, ``Signature``) that sign
    ``method url`` with ``body`` for ``identity``; ``url`` as it will be sent (scheme, host,
    port, path and query, percent-encoded). Each call makes a fresh random nonce."""
    u = url if isinstance(url, URL) else URL(url, encoded=True)
    target = f"{u.scheme}://{u.host_port_subcomponent}{u.raw_path_qs}"
    created = int(time.time() if now is None else now)
    return httpsig.sign_request(identity, method, target, body, created,
                                os.urandom(12).hex())


def _hex(v: bytes | str) -> str:
    return v.hex() if isinstance(v, bytes | bytearray) else str(v)


def _seg(v: str) -> str:
    """One URL path segment (a state key may hold slashes: they stay separators)."""
    return quote(str(v), safe="/")


class Client:
    """Async client of one node. Use as ``async with`` or call :meth:`close`.

    ``ca_file``: trust only this CA for an ``https://`` node (ignored with ``session``: that
    session's connector decides). ``identity``: signs every request (reads need it)."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT,
                 session: aiohttp.ClientSession | None = None,
                 ca_file: str | os.PathLike[str] | None = None,
                 identity: Identity | None = None) -> None:
        self.identity = identity
        self.base_url = base_url.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ClientError("bad_url", f"node URL {base_url!r} must start with http:// or "
                              "https://", 0)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None
        self._chain_id: str | None = None
        self._ssl: ssl.SSLContext | None = ca_context(ca_file) if ca_file is not None else None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = (aiohttp.TCPConnector(ssl=self._ssl) if self._ssl is not None
                         else None)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
            self._owns_session = True
        return self._session

    # ------------------------------------------------------------------ transport

    async def request(self, method: str, path: str, *, json_body: Any = None,
                      params: Mapping[str, str] | None = None,
                      identity: Identity | None = None) -> Any:
        """One REST call; ``path`` is already URL-encoded. Returns the decoded JSON body.
        Signed as ``identity``, else as the client's identity, else not at all.

        Raises:
            ClientError: an error status (code and message from the node's error body), a body
                that is not JSON, or the node is unreachable / timed out.
        """
        if not path.startswith("/"):
            path = "/" + path
        url = URL(self.base_url + path, encoded=True)
        if params:
            url = url.update_query(params)
        body = b"" if json_body is None else json.dumps(json_body).encode()
        headers = {"Content-Type": "application/json"} if json_body is not None else {}
        signer = identity or self.identity
        if signer is not None and (method, url.path) not in UNSIGNED:
            headers |= signed_headers(signer, method, url, body)
        try:
            async with self._sess().request(method, url, data=body or None,
                                            headers=headers) as resp:
                raw = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    raw += chunk
                    if len(raw) > MAX_RESPONSE:
                        raise ClientError("response_too_large",
                                          f"response exceeds {MAX_RESPONSE} bytes", resp.status)
                status = resp.status
        except ClientError:
            raise
        except TimeoutError as e:
            raise ClientError("timeout", f"{method} {path} on {self.base_url} timed out", 0) from e
        except aiohttp.ClientError as e:
            raise ClientError("unreachable", f"cannot reach {self.base_url}: {e}", 0) from e
        try:
            data = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            data = None
            if status < 400:
                raise ClientError("bad_response", f"{method} {path} did not answer JSON",
                                  status) from None
        if status >= 400:
            err = data.get("error") if isinstance(data, dict) else None
            if isinstance(err, dict):
                message = str(err.get("message", ""))
                if status == 401 and signer is None:  # the usual cause: no key was given
                    message += (" (reads are signed: pass your identity key file, --key FILE, or "
                                "--identity FILE where --key names something else, or set "
                                "$CHAINFIN_KEY)")
                raise ClientError(str(err.get("code", "error")), message, status)
            text = bytes(raw[:200]).decode("utf-8", "replace").strip()
            raise ClientError("http_error", text or f"{method} {path} failed", status)
        return data

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET any REST path (``/v1/...``), decoded JSON."""
        return await self.request("GET", path, params=params)

    # ------------------------------------------------------------------ API

    async def submit(self, tx: Transaction, wait: bool = False) -> dict[str, Any]:
        """POST /v1/tx. Without ``wait``: ``{tx_id, status: "pending"}`` once admitted. With it:
        ``{tx_id, status, height, index, finality_ms, result|error}`` once final (``status``
        stays ``pending`` with an ``error`` of code ``timeout`` if the node's wait ran out,
        ``no_quorum`` if the node reaches fewer validators than a quorum — then also without
        ``wait`` —, ``node_stopping``: :func:`pending_reason` says it in a sentence)."""
        params = {"wait": "commit"} if wait else None
        out = await self.request("POST", "/v1/tx", json_body=tx.to_json(), params=params)
        return dict(out)

    async def tx(self, tx_id: bytes | str, envelope: bool = False) -> dict[str, Any]:
        """GET /v1/tx/{tx_id}: ``{tx_id, status: pending|committed|rejected, height, index,
        error}``; with ``envelope``, also ``tx`` (the signed transaction) when the reader may
        read the whole transaction (its sender, the sender's home bank, supervisors)."""
        q = "?tx=1" if envelope else ""
        return dict(await self.get(f"/v1/tx/{_hex(tx_id)}{q}"))

    async def status(self) -> dict[str, Any]:
        """GET /v1/status: ``{node_id, chain_id, height, view, primary, validators, peers}``."""
        return dict(await self.get("/v1/status"))

    async def chain_id(self) -> str:
        """The node's chain id (asked once, then cached)."""
        if self._chain_id is None:
            cid = (await self.status()).get("chain_id")
            if not isinstance(cid, str):
                raise ClientError("bad_response", "/v1/status has no chain_id", 200)
            self._chain_id = cid
        return self._chain_id

    async def block(self, height: int | str = "latest") -> dict[str, Any]:
        """GET /v1/blocks/{height|latest}."""
        if height != "latest" and not isinstance(height, int):
            raise ValueError("height is an integer or 'latest'")
        return dict(await self.get(f"/v1/blocks/{height}"))

    async def state(self, contract: str, key: str) -> dict[str, Any]:
        """GET /v1/state/{contract}/{key}: the current value of one state key."""
        return dict(await self.get(f"/v1/state/{_seg(contract)}/{_seg(key)}"))

    async def state_value(self, contract: str, key: str) -> Any:
        """The value of one state key, None when the node answers 404 (no such key, or one
        this reader may not read: the node does not say which)."""
        try:
            return (await self.state(contract, key))["value"]
        except ClientError as e:
            if e.status == 404:
                return None
            raise

    async def identity_record(self, key: str) -> tuple[str, dict[str, Any]] | None:
        """``(identity id, governance record)`` of a public key (hex: its first or a rotated
        key), None when it is no identity."""
        rec = await self.state_value("governance", "id/" + key)
        if isinstance(rec, dict):
            return key, rec
        ident_id = await self.state_value("governance", "key/" + key)
        if isinstance(ident_id, str):
            rec = await self.state_value("governance", "id/" + ident_id)
            if isinstance(rec, dict):
                return ident_id, rec
        return None

    async def proof_tx(self, tx_id: bytes | str) -> dict[str, Any]:
        """GET /v1/proofs/tx/{tx_id}: the proof document for ``chainfin verify``."""
        return dict(await self.get(f"/v1/proofs/tx/{_hex(tx_id)}"))

    async def proof_state(self, contract: str, key: str) -> dict[str, Any]:
        """GET /v1/proofs/state/{contract}/{key}."""
        return dict(await self.get(f"/v1/proofs/state/{_seg(contract)}/{_seg(key)}"))

    async def next_nonce(self, sender: bytes | str, identity: Identity | None = None) -> int:
        """GET /v1/nonce/{sender}: the next unused nonce of ``sender`` (readable by the sender,
        its home bank, validators, regulators and auditors; ``identity`` signs this read)."""
        out = await self.request("GET", f"/v1/nonce/{_hex(sender)}", identity=identity)
        nxt = out.get("next") if isinstance(out, dict) else None
        if type(nxt) is not int:
            raise ClientError("bad_response", "/v1/nonce answered without an integer 'next'", 200)
        return nxt

    async def call(self, identity: Identity, contract: str, method: str, args: Mapping[str, Any],
                   *, nonce: int | None = None, wait: bool = False) -> dict[str, Any]:
        """Build, sign and submit in one step (chain id and, unless given, nonce from the node)."""
        if nonce is None:  # the sender reads its own nonce
            nonce = await self.next_nonce(identity.public_key, identity)
        tx = build_tx(identity, await self.chain_id(), contract, method, args, nonce)
        return await self.submit(tx, wait=wait)


class SyncClient:
    """Blocking wrapper of :class:`Client` with its own event loop. Not for use inside a running
    event loop (use :class:`Client` there); not thread-safe."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT,
                 ca_file: str | os.PathLike[str] | None = None,
                 identity: Identity | None = None) -> None:
        self._client = Client(base_url, timeout=timeout, ca_file=ca_file, identity=identity)
        self._loop = asyncio.new_event_loop()
        self.base_url = self._client.base_url

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coro.close()
            raise RuntimeError("SyncClient cannot be used inside a running event loop; use Client")
        if self._loop.is_closed():
            coro.close()
            raise RuntimeError("SyncClient is closed")
        return self._loop.run_until_complete(coro)

    def close(self) -> None:
        if not self._loop.is_closed():
            if self._client._session is not None:  # only created by a first request
                self._loop.run_until_complete(self._client.close())
            self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort; call close()
        loop = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed() and not loop.is_running():
            try:
                self.close()
            except Exception:
                pass

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return self._run(self._client.get(path, params))

    def submit(self, tx: Transaction, wait: bool = False) -> dict[str, Any]:
        return self._run(self._client.submit(tx, wait))

    def tx(self, tx_id: bytes | str) -> dict[str, Any]:
        return self._run(self._client.tx(tx_id))

    def status(self) -> dict[str, Any]:
        return self._run(self._client.status())

    def chain_id(self) -> str:
        return self._run(self._client.chain_id())

    def block(self, height: int | str = "latest") -> dict[str, Any]:
        return self._run(self._client.block(height))

    def state(self, contract: str, key: str) -> dict[str, Any]:
        return self._run(self._client.state(contract, key))

    def state_value(self, contract: str, key: str) -> Any:
        return self._run(self._client.state_value(contract, key))

    def proof_tx(self, tx_id: bytes | str) -> dict[str, Any]:
        return self._run(self._client.proof_tx(tx_id))

    def proof_state(self, contract: str, key: str) -> dict[str, Any]:
        return self._run(self._client.proof_state(contract, key))

    def next_nonce(self, sender: bytes | str, identity: Identity | None = None) -> int:
        return self._run(self._client.next_nonce(sender, identity))

    def call(self, identity: Identity, contract: str, method: str, args: Mapping[str, Any], *,
             nonce: int | None = None, wait: bool = False) -> dict[str, Any]:
        return self._run(self._client.call(identity, contract, method, args, nonce=nonce,
                                           wait=wait))


# ---------------------------------------------------------------------- CLI handlers


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _write_json(value: Any, out: str) -> None:
    path = Path(out)
    try:
        path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
    except OSError as e:
        raise ChainfinError(f"cannot write {path}: {e.strerror or e}") from e
    print(f"wrote {path}")


async def submit_call(node: str, key: str, contract: str, method: str, args: dict[str, Any],
                      ca: str | None, timeout: float) -> dict[str, Any]:
    """Sign ``contract.method(args)`` with the key file ``key``, send it and wait for it to be
    final: the outcome, or ``{"status": "refused", "error": ...}`` for a 4xx answer (a 5xx or
    no answer raises :class:`ClientError`)."""
    ident = load_identity(key)
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        try:
            return await c.call(ident, contract, method, args, wait=True)
        except ClientError as e:
            return refusal(e)


def refusal(e: ClientError, tx_id: str | None = None) -> dict[str, Any]:
    """A node's 4xx answer to a submitted transaction as an outcome, ``{"status": "refused",
    ["tx_id",] "error": {"code", "message"}}``; a 5xx or no answer is re-raised (the caller
    cannot tell whether the transaction was taken)."""
    if e.status == 0 or e.status >= 500:
        raise e
    out: dict[str, Any] = {"status": "refused"}
    if tx_id is not None:
        out["tx_id"] = tx_id
    out["error"] = {"code": e.code, "message": e.message}
    return out


def send_or_dry_run(args: argparse.Namespace, contract: str, method: str,
                    tx_args: dict[str, Any]) -> int:
    """A regulator's command's transaction: printed with ``--dry-run``, else sent with
    :func:`submit_call` and its outcome printed as JSON; exit 0 when committed, else 1."""
    if args.dry_run:
        print(json.dumps({"status": "dry_run", "method": method, "args": tx_args}))
        return 0
    out = asyncio.run(submit_call(args.node, args.key, contract, method, tx_args, args.ca,
                                  args.timeout))
    print(json.dumps(out))
    return 0 if out.get("status") == "committed" else 1


def add_regulator_call_args(q: argparse.ArgumentParser, run: Any, signs: bool = True,
                            signer: str = "the regulator's identity key file") -> None:
    """The options of a regulator's (or ``signer``'s) command that signs a transaction
    (``signs``) or only reads: --node, --key ($CHAINFIN_KEY), --ca, --timeout; ``run``
    handles it."""
    q.add_argument("--node", required=True, help="REST URL of a node")
    q.add_argument("--key", required=signs, default=os.environ.get("CHAINFIN_KEY"),
                   help=signer if signs else
                        "identity key file that signs the reads (default: $CHAINFIN_KEY)")
    q.add_argument("--ca", default=None, help="CA certificate for an https node")
    q.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for the transaction to be final" if signs else
                        "seconds to wait for the node's answers")
    q.set_defaults(func=run)


def reader_identity(args: argparse.Namespace) -> Identity | None:
    """The identity that signs a command's reads (``--key``/``--identity``, $CHAINFIN_KEY)."""
    path = getattr(args, "identity", None)
    return load_identity(path) if path else None


def pending_reason(result: Mapping[str, Any]) -> str | None:
    """Why a ``pending`` answer to a submission is not final, in one sentence for a person
    (None: the answer is not pending, or pending with nothing to say: admitted without a wait).
    ``no_quorum`` carries the node's own sentence (how many validators it reaches, how many a
    quorum is, since when, and that the transaction commits when the quorum is back)."""
    if result.get("status") != "pending":
        return None
    err = result.get("error")
    code = err.get("code") if isinstance(err, dict) else None
    message = str(err.get("message", "")) if isinstance(err, dict) else ""
    tx_id = result.get("tx_id")
    if isinstance(tx_id, str) and tx_id:  # the node's sentence names the path with a
        message = message.replace("{tx_id}", tx_id)  # placeholder: the reader needs the id
    if code == "no_quorum":
        return "not final yet: the node cannot reach a quorum of validators: " + message
    if code == "node_stopping":
        return "not final yet: " + message
    if code is None:
        return None
    return ("the transaction was not final within the node's wait time" +
            (f" (ask GET /v1/tx/{tx_id} later)" if isinstance(tx_id, str) and tx_id else ""))


def cli_tx_send(args: argparse.Namespace) -> int:
    """``chainfin tx send``: sign with ``--key``, submit to ``--node``, print the result JSON.
    Exit 1 when the node refuses it, the transaction is rejected, or ``--wait`` ends without
    an outcome (the reason on stderr: :func:`pending_reason`)."""
    identity = load_identity(args.key)
    try:
        call_args = json.loads(args.args)
    except ValueError as e:
        raise ChainfinError(f"--args is not valid JSON: {e}") from e
    if not isinstance(call_args, dict):
        raise ChainfinError("--args must be a JSON object")
    with SyncClient(args.node, identity=identity, ca_file=getattr(args, "ca", None)) as c:
        nonce = args.nonce if args.nonce is not None else c.next_nonce(identity.public_key)
        tx = build_tx(identity, c.chain_id(), args.contract, args.method, call_args, nonce)
        result = c.submit(tx, wait=bool(args.wait))
    _print_json(result)
    if result.get("status") == "rejected":
        err = result.get("error") or {}
        msg = err.get("message", "") if isinstance(err, dict) else str(err)
        print(f"chainfin: error: transaction rejected: {msg}", file=sys.stderr)
        return 1
    reason = pending_reason(result)
    if args.wait and result.get("status") != "committed":
        print(f"chainfin: error: {reason or 'the transaction is not final'}", file=sys.stderr)
        return 1
    if reason is not None:  # admitted, but the node says why it will not commit soon
        print(f"chainfin: warning: {reason}", file=sys.stderr)
    return 0


def cli_query(args: argparse.Namespace) -> int:
    """``chainfin query --node URL PATH``: GET the path and pretty-print its JSON."""
    path = args.path if args.path.startswith("/") else "/" + args.path
    with SyncClient(args.node, identity=reader_identity(args)) as c:
        _print_json(c.get(path))
    return 0


def _why_404(e: ClientError, why: str) -> ClientError:
    """``e`` as it is, or, for a 404 — which a node answers alike for a missing item and one
    the key may not see — with ``why`` (what it may mean, what to do) added."""
    return ClientError(e.code, f"{e.message}: {why}" if e.status == 404 else e.message, e.status)


def cli_proof_tx(args: argparse.Namespace) -> int:
    """``chainfin proof tx``: fetch the inclusion + finality proof of a tx into ``--out``."""
    with SyncClient(args.node, identity=reader_identity(args)) as c:
        try:
            doc = c.proof_tx(args.id)
        except ClientError as e:
            # the node's 404 cannot say which (docs/proofs.md §2.5): list what it may mean
            raise _why_404(e, "the id is wrong or not final yet, or this key may not have its "
                           "proof (a supervisor's, the sender's home bank's or the sender's "
                           "may), or, for the sender, its block holds only the sender's own "
                           "transactions: ask its bank or a supervisor for the proof "
                           "(docs/proofs.md §2.5)") from e
    _write_json(doc, args.out)
    return 0


def cli_proof_state(args: argparse.Namespace) -> int:
    """``chainfin proof state``: fetch the state proof of one key into ``--out``."""
    with SyncClient(args.node, identity=reader_identity(args)) as c:
        try:
            doc = c.proof_state(args.contract, args.key)
        except ClientError as e:
            # the same 404 for every key a reader may not prove (docs/proofs.md §7): say why
            raise _why_404(e, "state proofs are served to the supervisors (validators, "
                           "regulators, auditors) only, and only of a value the key reads "
                           "whole (a record it reads with fields withheld has none: decision "
                           "241); to any other key every key answers this 404, whether it "
                           "exists or not (docs/proofs.md §7). A customer or a bank reads the "
                           "value (chainfin query /v1/state/...) or asks its regulator or "
                           "auditor for the proof") from e
    _write_json(doc, args.out)
    return 0


def cli_audit_reads(args: argparse.Namespace) -> int:
    """``chainfin audit reads --node URL --key K [--verify]``: the node's read log, one line per
    read; with ``--verify``, then whether the whole hash chain holds and matches the head the
    node anchored on the chain (``governance/readlog/<node key>``, decision 130): exit 1 if
    not."""
    verify = getattr(args, "verify", False)
    if verify and args.after:
        raise ChainfinError("--verify checks the log from its first entry: leave --after out")
    seen: list[dict[str, Any]] = []
    with SyncClient(args.node, identity=reader_identity(args)) as c:
        after = args.after
        while True:
            try:
                out = c.get("/v1/audit/reads", {"after": str(after), "limit": "1000"})
            except ClientError as err:
                # the node answers a reader it refuses as it answers a missing route (TRAPS 21)
                raise _why_404(err, "the read log is served to regulators and auditors only, "
                               "and a refusal answers like a missing route") from err
            for e in out["entries"]:
                if args.json:
                    print(json.dumps(e, sort_keys=True))
                else:
                    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e["time_ms"] / 1000))
                    print(f"{e['seq']:>6} {when} {e['reader'][:16]}… {e['rule']:<16} "
                          f"{e['what']}")
                after = e["seq"]
                if verify:
                    seen.append(e)
            if len(out["entries"]) < 1000:
                break
        if not verify:
            return 0
        node_key = c.status()["public_key"]
        anchor = c.state_value("governance", "readlog/" + node_key)
    ok, lines = check_read_log(seen, anchor)
    for line in lines:
        print(line, file=sys.stderr)
    return 0 if ok else 1


def check_read_log(entries: list[dict[str, Any]], anchor: Mapping[str, Any] | None
                   ) -> tuple[bool, list[str]]:
    """Does a node's whole read log (``entries`` from seq 1) hold as a hash chain, and agree
    with its latest on-chain ``anchor`` (``{"seq", "head", "height"}``, or None)? The verdict
    and what to print."""
    prev = readlog.GENESIS_PREV
    for i, e in enumerate(entries, 1):
        if e["seq"] != i or not readlog.verify_chain([e], prev):
            return False, [f"read log BROKEN at entry {i}: it does not hash or link as the "
                           "chain requires (an entry changed, dropped or inserted)"]
        prev = e["hash"]
    lines = [f"read log: {len(entries)} entries, hash chain intact"]
    if anchor is None:
        return True, [*lines, "not anchored on the chain yet (the node anchors every few "
                              "minutes after reads)"]
    seq, head = int(anchor["seq"]), str(anchor["head"])
    if seq > len(entries):
        return False, [*lines, f"ANCHOR MISMATCH: the chain pins entry {seq} (block "
                               f"{anchor['height']}) but the log served has {len(entries)}: "
                               "entries were dropped"]
    if entries[seq - 1]["hash"] != head:
        return False, [*lines, f"ANCHOR MISMATCH: entry {seq} does not hash to the head "
                               f"anchored in block {anchor['height']}: the log was rewritten"]
    return True, [*lines, f"entries 1..{seq} match the head anchored in block "
                          f"{anchor['height']}; {len(entries) - seq} after it not anchored yet"]


def cli_curl(args: argparse.Namespace) -> int:
    """``chainfin curl --key K URL``: print a curl command with the signature headers."""
    import shlex

    identity = reader_identity(args)
    if identity is None:
        raise ChainfinError("--key (or $CHAINFIN_KEY) is needed to sign")
    body = args.data.encode()
    words = ["curl", "-sS", "-X", args.method.upper()]
    if args.cacert:
        words += ["--cacert", args.cacert]
    for k, v in signed_headers(identity, args.method.upper(), args.url, body).items():
        words += ["-H", f"{k}: {v}"]
    if body:
        words += ["--data-binary", args.data]
    print(" ".join(shlex.quote(w) for w in [*words, args.url]))
    return 0
