"""REST API of a node (aiohttp). JSON in and out; errors as ``{"error": {"code", "message"}}``.

Every body is validated by a pydantic model; bodies over 1 MiB are refused with 413 by aiohttp
before they are read. A client's fault is a 4xx; anything else is a 500 and a bug (logged).
The reference is docs/api.md; ``/openapi.json`` lists every route :func:`make_app` serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from chainfin import __version__, codec, compiled, httpsig, proofs
from chainfin.errors import InvalidTransaction
from chainfin.types import Block
from node import access
from node.access import Reader
from node.envelope import MAX_NAME, TxEnvelope, _json_body, envelope_tx, parse_envelope
from node.metrics import CONTENT_TYPE
from node.reach import SAMPLE_S, Reach, no_quorum_error, node_reach, reach_metrics
from node.runtime import WAIT_TIMEOUT_S, Node, TxOutcome

log = logging.getLogger("chainfin.api")

MAX_BODY = 1024 * 1024
MAX_HEIGHT = 2**63 - 1
MAX_KEY = 8192  # state keys: chainfin.proofs' limit (above aiohttp's request-line limit)
NODE_KEY: web.AppKey[Node] = web.AppKey("node", Node)


def error(status: int, code: str, message: str,
          headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status,
                             headers=headers)


#: Admission codes that are not a plain 400: a conflict with what the node already holds (409),
#: the sender's pending limit (429), a full mempool and an overloaded network (503); the last
#: three are worth a retry later.
REFUSAL_STATUS = {"duplicate": 409, "nonce_reused": 409, "nonce_in_use": 409,
                  "sender_limit": 429, "stream_full": 429, "rate_limited": 429,
                  "mempool_full": 503,
                  "overloaded": 503, "disk_full": 507, "state_sync": 503}
#: the ``error`` of a ``pending`` answer whose wait ran out (REST 202, stream ``pending``)
TIMEOUT_ERROR = {"code": "timeout", "message": "not final within the wait time"}
#: the ``error`` of a ``pending`` answer cut short because the node is stopping: the
#: transaction was admitted (and may have gone to the primary), so it may still commit
#: (a pending answer while this node reaches fewer validators than a quorum carries
#: ``node.reach.no_quorum_error`` instead of :data:`TIMEOUT_ERROR`: decision 174)
STOPPING_ERROR = {"code": "node_stopping",
                  "message": "the node is stopping; the transaction was admitted and may still "
                             "commit: ask GET /v1/tx/{tx_id} (of another node)"}


class NodeStopping(Exception):
    """Set on the futures of waiting requests when the REST server shuts down (their outcome
    is unknown here: answered ``pending`` with :data:`STOPPING_ERROR`)."""


#: the open ``/v1/tx/stream`` sockets of an app, each as the call that ends it (on shutdown)
STREAMS_KEY: web.AppKey[set[Callable[[], None]]] = web.AppKey("streams")


def refusal_status(e: InvalidTransaction) -> int:
    """The HTTP status of a refused transaction (REST's answer, the stream's ``http_status``)."""
    return REFUSAL_STATUS.get(e.code, e.status_hint)


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
               413: "body_too_large"}


# --------------------------------------------------------------------------- authentication
# (issue 17): every request but the public ones carries an RFC 9421 signature (chainfin.httpsig)
# by a registered identity or a validator; node/access.py decides what it may read.

#: answered without a signature: liveness, the API description, the explorer page and its
#: files, and a minimal status
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/", "/v1/status",
                          "/v1/genesis"})
#: authorized by the signed transaction(s) they carry, not by a request signature
TX_PATHS = frozenset({"/v1/tx", "/v1/tx/stream"})


@dataclass(frozen=True, slots=True)
class AccessLimits:
    """Per-node REST limits (node config ``rest_*`` keys; docs/api.md "Limits")."""

    #: requests a second (and burst) per source address, checked before anything else
    per_address_rate: float = 1000.0
    per_address_burst: float = 2000.0
    #: requests a second (and burst) per authenticated identity
    per_identity_rate: float = 500.0
    per_identity_burst: float = 1000.0
    #: signature verifications a second for the whole node (bounds the work garbage can cost)
    verify_rate: float = 20000.0
    verify_burst: float = 20000.0
    window_s: int = httpsig.WINDOW_S
    replay_capacity: int = 200_000
    #: the longest a ``/v1/events`` stream lives (then ``end``: the client signs afresh)
    events_max_s: float = 3600.0
    #: this node's REST authorities (``httpsig.authority`` form; node config
    #: ``NodeConfig.rest_authorities``): a request signed for another is refused
    #: (``wrong_authority``). None: not checked
    authorities: frozenset[str] | None = None


class Guard:
    """The node's authentication state: replay cache, rate limiters and the read log."""

    def __init__(self, node: Node, limits: AccessLimits) -> None:
        self.limits = limits
        self.replay = httpsig.ReplayCache(limits.replay_capacity, limits.window_s)
        self.by_address = access.RateLimiter(limits.per_address_rate, limits.per_address_burst)
        self.by_identity = access.RateLimiter(limits.per_identity_rate,
                                              limits.per_identity_burst)
        self.verifies = access.TokenBucket(limits.verify_rate, limits.verify_burst,
                                           time.monotonic())
        self.reads = node.read_log  # the node's: its anchor agent pins the head on chain


GUARD_KEY: web.AppKey[Guard] = web.AppKey("guard", Guard)
#: the authenticated Reader of a request
READER_KEY: web.RequestKey[Reader] = web.RequestKey("reader", Reader)


def _too_many(wait: float, who: str) -> web.Response:
    return error(429, "rate_limited", f"too many requests from this {who}; retry later",
                 {"Retry-After": str(max(1, math.ceil(wait)))})


def target_uri(request: web.Request) -> str:
    """``@target-uri`` as the node sees it: scheme, Host, then path and query as sent."""
    return f"{request.scheme}://{request.host}{request.raw_path}"


def _unauthenticated(node: Node, e: httpsig.Unauthenticated) -> web.Response:
    node.metrics.http_errors.labels("unauthenticated").inc()
    if e.reason == "busy":
        return _too_many(1, "node")
    return error(401, "unauthenticated", str(e))


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rate limit by source address, then authenticate (cheap checks first, the signature
    last, the replay cache only for signatures that verify), then rate limit by identity."""
    node, guard = request.app[NODE_KEY], request.app[GUARD_KEY]
    path = request.path
    now = time.monotonic()
    wait = guard.by_address.take(request.remote or "", now)
    if wait:
        node.metrics.http_errors.labels("rate_limited").inc()
        return _too_many(wait, "address")
    if path in TX_PATHS:
        # unsigned requests (a transaction carries its own signature): the address limit
        # above (each envelope of a stream takes from it too: tx_stream), then the mempool's
        # own limits (sender_limit, ...). Without it any client made the node check signatures
        # as fast as it could send them (red-team round 3)
        return await handler(request)
    if path in PUBLIC_PATHS or path.startswith("/static/"):
        return await handler(request)
    wall = time.time()
    try:
        parsed = httpsig.parse_signature(request.headers)
        httpsig.check_fresh(parsed, wall, guard.limits.window_s)
        if guard.limits.authorities is not None:
            httpsig.check_authority(request.scheme, request.host,
                                    _authorities_for(guard.limits.authorities, request.remote))
        httpsig.check_digest(parsed, await request.read())
        reader = access.resolve_reader(node.ledger.state_value, parsed.keyid.hex())
        if reader is None:
            raise httpsig.Unauthenticated("unknown_identity", "keyid is not the current key "
                                          "of a registered identity nor a validator's key")
        wait = guard.verifies.take(now)
        if wait:
            node.metrics.http_errors.labels("rate_limited").inc()
            return _too_many(wait, "node")
        httpsig.check_signature(parsed, request.method, target_uri(request))
        guard.replay.remember(parsed.signature, parsed.created, wall)
    except httpsig.Unauthenticated as e:
        return _unauthenticated(node, e)
    wait = guard.by_identity.take(reader.key, now)
    if wait:
        node.metrics.http_errors.labels("rate_limited").inc()
        return _too_many(wait, "identity")
    request[READER_KEY] = reader
    return await handler(request)


def reader_of(request: web.Request) -> Reader:
    return request[READER_KEY]


def may_read(request: web.Request, rule: str | None, what: str | None = None) -> bool:
    """Was the read granted (``rule`` not None)? A granted read of another's data is logged
    (``what``: the request line, unless told otherwise)."""
    if rule is None:
        return False
    if access.logged(rule):
        request.app[GUARD_KEY].reads.append(
            int(time.time() * 1000), reader_of(request).key,
            what or f"{request.method} {logged_path(request)}", rule)
    return True


_HEX_ID = re.compile(r"[0-9a-fA-F]{64}")
#: what stays literal in a logged path and query (RFC 3986 unreserved and sub-delims, ``/:@``)
_PATH_SAFE, _QUERY_SAFE = "/:@!$&'()*+,;=-._~", "/:@!$&'()*+,;=-._~?"


def logged_path(request: web.Request) -> str:
    """The path (and query) of a read as the read log records it: in one spelling whatever the
    reader sent — percent-decoded (the route reads the decoded path), then re-encoded only where
    a character is not printable-safe (no line breaks in a printed log), every 64-hex-digit id
    in lower case (an id is hex in either case). A read of a customer's balance sent as
    ``bal/%33%66…`` or a transaction id in capitals was logged as sent, where an auditor
    searching for the key or id did not find it (red-team round 7)."""
    path = _HEX_ID.sub(lambda m: m[0].lower(), quote(request.path, safe=_PATH_SAFE))
    q = request.query_string
    return path + ("?" + _HEX_ID.sub(lambda m: m[0].lower(), quote(q, safe=_QUERY_SAFE))
                   if q else "")


def _state_get(request: web.Request) -> access.StateGet:
    return request.app[NODE_KEY].ledger.state_value


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    node = request.app[NODE_KEY]
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status, "http_error")
        node.metrics.http_errors.labels(code).inc()
        headers = None
        if e.status == 413:
            msg = f"request body exceeds {MAX_BODY} bytes"
        elif e.status == 405:
            allow = e.headers.get("Allow", "")
            headers = {"Allow": allow}  # RFC 9110 15.5.6: a 405 carries Allow
            msg = f"{request.method} is not allowed on {request.path} (allowed: {allow})"
        elif e.status == 404:
            msg = f"no route {request.path}"
        else:
            msg = e.reason
        return error(e.status, code, msg, headers)
    except InvalidTransaction as e:
        node.metrics.http_errors.labels(e.code).inc()
        if request.method == "POST" and request.path == "/v1/tx":
            node.metrics.tx_refused.labels(e.code).inc()
        status = refusal_status(e)
        headers = {"Retry-After": "1"} if status in (429, 503) else None
        return error(status, e.code, str(e), headers)
    except asyncio.CancelledError:
        raise
    except Exception:  # ChainfinError included: only InvalidTransaction is the client's fault
        log.exception("internal error on %s %s", request.method, request.path)
        node.metrics.http_errors.labels("internal").inc()
        return error(500, "internal", "internal error")


def _hex_param(request: web.Request, name: str, size: int = 32) -> bytes:
    v = request.match_info[name]
    try:
        b = bytes.fromhex(v)
    except ValueError:
        raise InvalidTransaction(f"{name} must be hex", "bad_request") from None
    if len(b) != size:
        raise InvalidTransaction(f"{name} must be {size} bytes of hex", "bad_request")
    return b


def _outcome_json(out: TxOutcome) -> dict[str, Any]:
    """``{tx_id, status, height, index[, finality_ms], result|error}``: a rejected transaction has
    an error and no result (its receipt's result is an empty object)."""
    d = out.to_json()
    if d["status"] != "committed":
        d.pop("result", None)
    return d


def _sender_json(out: TxOutcome) -> dict[str, Any]:
    """:func:`_outcome_json` as the sender reads it (:func:`node.access.sender_error`): what a
    submitter is answered (``POST /v1/tx?wait=commit``, ``/v1/tx/stream``), whoever sends the
    sender's envelope."""
    d = _outcome_json(out)
    if "error" in d:
        d["error"] = access.sender_error(d["error"])
    return d


def _forget_waiter(node: Node, tx_id: bytes, fut: asyncio.Future[TxOutcome]) -> None:
    """Drop this request's future only: another request may be waiting for the same tx."""
    futs = node.waiters.get(tx_id)
    if futs is None:
        return
    with contextlib.suppress(ValueError):
        futs.remove(fut)
    if not futs:
        node.waiters.pop(tx_id, None)


def _wait_param(request: web.Request) -> bool:
    values = request.query.getall("wait", [])
    if not values:
        return False
    if values != ["commit"]:
        raise InvalidTransaction("query parameter wait must be 'commit' (once) or absent",
                                 "bad_request")
    return True


def pending_error(node: Node) -> dict[str, Any]:
    """The ``error`` of a pending answer whose wait ended without an outcome: ``no_quorum``
    (with the figures) while this node reaches fewer validators than a quorum, else
    :data:`TIMEOUT_ERROR`."""
    return no_quorum_error(node_reach(node)) or TIMEOUT_ERROR


def _pending(tx_id: bytes, err: dict[str, Any] | None) -> web.Response:
    body: dict[str, Any] = {"tx_id": tx_id.hex(), "status": "pending"}
    if err is not None:
        body["error"] = err
    return web.json_response(body, status=202)


async def post_tx(request: web.Request) -> web.Response:
    """Admit one transaction; with ``?wait=commit`` wait for its outcome, at most
    WAIT_TIMEOUT_S, and less without a quorum: a node that has reached fewer validators than
    a quorum for ``NO_QUORUM_EARLY_S`` answers ``202 pending`` with ``no_quorum`` at once, and
    a request already waiting when that mark passes (decision 174)."""
    node = request.app[NODE_KEY]
    wait = _wait_param(request)
    tx = parse_envelope(await request.read())
    fut = node.wait_for(tx.tx_id) if wait else None
    try:
        node.admit(tx)
        watch = node.admission.quorum_watch  # (its last sample first: sampling costs more)
        if fut is None:  # admitted; whether it can commit soon is worth saying
            return _pending(tx.tx_id, no_quorum_error(node_reach(node)) if watch.lost else None)
        if watch.lost_long and (reach := node_reach(node)).lost_long:
            return _pending(tx.tx_id, no_quorum_error(reach))
        outage: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def tell() -> None:
            if not outage.done():
                outage.set_result(None)

        watch.on_long_outage.add(tell)
        try:
            await asyncio.wait((fut, outage), timeout=WAIT_TIMEOUT_S,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.on_long_outage.discard(tell)
            outage.cancel()
        if not fut.done():
            return _pending(tx.tx_id, pending_error(node))
        try:
            outcome = fut.result()  # (InvalidTransaction: dropped after admission, a 4xx)
        except NodeStopping:
            return _pending(tx.tx_id, STOPPING_ERROR)
        return web.json_response(_sender_json(outcome))
    finally:
        if fut is not None:
            fut.cancel()
            _forget_waiter(node, tx.tx_id, fut)


async def get_tx(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    tx_id = _hex_param(request, "tx_id")
    out = node.tx_outcome(tx_id)
    sender, receipt = _tx_sender(request, tx_id)
    rule = None if sender is None else access.tx_rule(_state_get(request), reader_of(request),
                                                      sender, receipt)
    if rule == "home_bank" and sender is not None:  # not a customer's credit sharing
        rule = access.tx_rule(_state_get(request), reader_of(request), sender, receipt,
                              _tx_contract(node, tx_id))
    if out is None or not may_read(request, rule):
        return error(404, "not_found", "unknown transaction" + _below_base(node))
    if rule in access.FULL_TX_RULES:
        doc = _sender_json(out) if rule == "sender" else _outcome_json(out)
        if request.query.get("tx") == "1" and doc.get("height"):
            # the envelope (its arguments: a payment's references), for those who read the
            # whole transaction: the sender gets what it signed without a proof
            found = node.ledger.tx_at(doc["height"], doc["index"])
            if found is not None:
                doc["tx"], doc["timestamp_ms"] = found[0].to_json(), found[1]
        if rule in access.TRAVEL_RULES and receipt is not None and sender is not None:
            travel = access.travel_view(_state_get(request), receipt, sender)
            if travel:  # a transfer's R.16 data (decision 222)
                doc["travel"] = travel
        return web.json_response(doc)
    assert receipt is not None  # a party is named by the events of a committed receipt
    if rule == "beneficiary_bank" and sender is not None:
        return web.json_response(access.beneficiary_bank_view(
            _state_get(request), _outcome_json(out), receipt, sender, reader_of(request)))
    return web.json_response(access.party_view(_state_get(request), reader_of(request),
                                               _outcome_json(out), receipt))


def _below_base(node: Node) -> str:
    """What a 404 for a transaction adds on a node that joined by state sync (the same for
    every unknown id, so it tells nothing about one)."""
    b = node.ledger.base_height
    return "" if b == 0 else (f" (this node joined by state sync at height {b}: transactions "
                              f"pruned below snapshot height {b} are not indexed here)")


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _authorities_for(authorities: frozenset[str], remote: str | None) -> frozenset[str]:
    """The authorities a request from ``remote`` may name: a loopback name only from a loopback
    address. Every node bound to a wildcard address answers to ``localhost:<port>``, so a read
    signed for one node's loopback name would replay on another's (red-team round 2)."""
    if remote in ("127.0.0.1", "::1") or (remote or "").startswith("127."):
        return authorities
    return frozenset(a for a in authorities if a.rpartition(":")[0] not in _LOOPBACK_HOSTS)


def _tx_contract(node: Node, tx_id: bytes) -> str | None:
    """The contract transaction ``tx_id`` calls (pending or committed), None if unknown."""
    loc = node.ledger.tx_location(tx_id)
    if loc is None:
        tx = node.mempool.get(tx_id)
        return tx.contract if tx is not None else None
    found = node.ledger.tx_at(*loc)
    return found[0].contract if found is not None else None


def _tx_sender(request: web.Request, tx_id: bytes) -> tuple[str | None, dict[str, Any] | None]:
    """The sender (hex) of transaction ``tx_id`` and its receipt (None while it is pending);
    ``(None, None)`` when the node knows no such transaction."""
    node = request.app[NODE_KEY]
    loc = node.ledger.tx_location(tx_id)
    if loc is None:
        tx = node.mempool.get(tx_id)
        return (tx.sender.hex(), None) if tx is not None else (None, None)
    rec = node.ledger.block_record(loc[0])
    assert rec is not None
    receipt = rec["receipts"][loc[1]]
    return receipt["sender"], receipt


def _block_json(node: Node, height: int) -> dict[str, Any] | None:
    rec = node.ledger.block_record(height)
    if rec is None:
        return None
    block = Block.from_wire(rec["block"])
    return {
        "height": height,
        "hash": block.hash().hex(),
        "header": block.header.to_json(),
        "tx_ids": [t.tx_id.hex() for t in block.txs],
        "txs": [t.to_json() for t in block.txs],
        "receipts": codec.to_json(rec["receipts"]),
        "certificate": codec.to_json(rec["cert"]),
    }


_DIGITS = re.compile(r"[0-9]{1,19}")


async def get_block(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    h = request.match_info["height"]
    if not may_read(request, access.chain_rule(reader_of(request))):
        return error(404, "not_found", f"no block at height {h}")
    if h == "latest":
        height = node.ledger.tip.height
        if height == 0:
            return web.json_response({"height": 0, "hash": node.ledger.tip.block_hash.hex(),
                                      "genesis": True})
    else:
        # ASCII digits only: int() would also take " 1", "+1", "1_0" and other scripts' digits
        if not _DIGITS.fullmatch(h) or int(h) > MAX_HEIGHT:
            return error(400, "bad_request",
                         f"height must be 'latest' or an integer from 0 to {MAX_HEIGHT}")
        height = int(h)
    out = _block_json(node, height)
    if out is None:
        if 0 < height < node.ledger.base_height:
            return error(404, "pruned", f"block {height} is pruned below snapshot height "
                                        f"{node.ledger.base_height}: this node joined by state "
                                        "sync; ask a node that replayed the chain")
        return error(404, "not_found", f"no block at height {height}")
    return web.json_response(out)


def _state_params(request: web.Request) -> tuple[str, str]:
    contract, key = request.match_info["contract"], request.match_info["key"]
    # aiohttp matches the raw path and then unquotes: %2F gives a contract with '/' in it,
    # which would name another contract's key (storage keys are "<contract>/<key>")
    if not 0 < len(contract) <= MAX_NAME or "/" in contract:
        raise InvalidTransaction(
            f"contract must be a name of 1 to {MAX_NAME} characters without '/'", "bad_request")
    if not 0 < len(key) <= MAX_KEY:
        raise InvalidTransaction(f"key must have 1 to {MAX_KEY} characters", "bad_request")
    return contract, key


async def get_state(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    contract, key = _state_params(request)
    v = node.ledger.state_value(contract, key)
    get, reader = _state_get(request), reader_of(request)
    if v is None or not may_read(request, access.state_rule(get, reader, contract, key)):
        return error(404, "not_found", f"no value at {contract}/{key}")
    may_read(request, access.standing_read_rule(get, reader, contract, key, v))
    v = access.visible_value(get, reader, contract, key, v)
    return web.json_response({"contract": contract, "key": key, "value": codec.to_json(v),
                              "height": node.ledger.tip.height})


def _set_chain(node: Node) -> list[proofs.SetChange]:
    return proofs.set_changes_from(node.ledger.validator_sets(), node.ledger.block_record)


async def get_tx_proof(request: web.Request) -> web.Response:
    """Inclusion + finality proof of a committed transaction (see docs/proofs.md); its sender
    gets it inclusion-only, without the receipt, whatever the receipt holds (decision 147)."""
    node = request.app[NODE_KEY]
    tx_id = _hex_param(request, "tx_id")
    loc = node.ledger.tx_location(tx_id)
    rule = None
    if loc is not None:
        rec = node.ledger.block_record(loc[0])
        assert rec is not None
        senders = [r["sender"] for r in rec["receipts"]]
        rule = access.tx_proof_rule(_state_get(request), reader_of(request), senders[loc[1]],
                                    node.ledger.genesis.params.salted_leaves, senders)
        if rule == "home_bank":  # not a customer's credit sharing
            rule = access.tx_proof_rule(_state_get(request), reader_of(request),
                                        senders[loc[1]], node.ledger.genesis.params.salted_leaves,
                                        senders, _tx_contract(node, tx_id))
    if loc is None or not may_read(request, rule):
        return error(404, "not_found",
                     "no proof of a committed transaction with this id for this key (not "
                     "committed here, or not this key's to prove)" + _below_base(node))
    h, i = loc
    doc = node.ledger.tx_proof(h, i, _set_chain(node))
    assert doc is not None
    if rule == "sender":
        doc = proofs.inclusion_only(doc)
    return web.json_response(doc)


async def get_state_proof(request: web.Request) -> web.Response:
    """(Non-)inclusion proof of one state key under the latest committed block's state root."""
    node = request.app[NODE_KEY]
    contract, key = _state_params(request)
    # decided for present and absent keys alike: every rule that depends on a record's
    # content refuses an absent record, so a refusal never tells that a key exists; and only
    # for supervisors, since a proof carries hashes of keys the reader may not read
    get, reader = _state_get(request), reader_of(request)
    rule = access.state_proof_rule(get, reader, contract, key)
    v = node.ledger.state_value(contract, key)
    if rule is not None and v is not None and access.visible_value(
            get, reader, contract, key, v) != v:
        # a proof carries the value whole: not to a reader that reads it with fields withheld
        # (a validator that verified a trade's invoice read the trade's financing, withheld
        # from its state read, in the trade's proof: red-team round 11)
        rule = None
    if not may_read(request, rule):
        return error(404, "not_found", f"no value at {contract}/{key}")
    tip = node.ledger.tip_header()
    if tip is None:
        return error(404, "not_found", "no committed block yet: nothing to prove against")
    header, cert = tip
    doc = proofs.build_state_proof_from_tree(header, cert, contract, key,
                                             node.ledger.committed_tree(), _set_chain(node))
    return web.json_response(doc)


async def get_nonce(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    sender = _hex_param(request, "sender")
    reader = reader_of(request)
    get = _state_get(request)
    rule = access.account_rule(get, reader, access.sender_identity(get, sender.hex())) or (
        "validator" if reader.validator else None)
    if not may_read(request, rule):
        return error(404, "not_found", f"no route {request.path}")
    return web.json_response({"sender": sender.hex(), "next": node.next_nonce(sender)})


async def get_status(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    tip = node.ledger.tip
    built = compiled.status()
    return web.json_response({
        "node_id": node.node_id,
        "public_key": node.identity.public_key.hex(),
        "chain_id": node.chain_id,
        "version": __version__,
        "ledger_format": node.ledger.genesis.params.ledger_format,
        "compiled": built["compiled"],
        "c_tree_update": built["c_tree_update"],
        "height": tip.height,
        "block_hash": tip.block_hash.hex(),
        "state_root": tip.state_root.hex(),
        "timestamp_ms": tip.timestamp_ms,  # the chain's time (block time): what is overdue
        "view": node.view,
        "primary": node.primary.hex(),
        "validator": node.is_validator,
        "validators": tip.validators.to_json(),
        "peers": [p.hex() for p in node.transport.connected()],
        "mempool": len(node.mempool),
        "base_height": node.ledger.base_height,
        "state_sync": dict(node.statesync.status, active=True) if node.syncing_state else None,
        "quorum": node_reach(node).to_json(),
    })


async def healthz(request: web.Request) -> web.Response:
    """Liveness: 200 while the process serves, with what it reaches (``quorum``); a node
    without a quorum is alive (restarting it would not help), only not ready (``/readyz``)."""
    node = request.app[NODE_KEY]
    return web.json_response({"ok": True, "height": node.ledger.tip.height,
                              "quorum": node_reach(node).to_json()})


def not_ready(node: Node, reach: Reach) -> dict[str, str] | None:
    """Why a load balancer should send this node's clients elsewhere now (None: it need not):
    its disk is full, or it reaches fewer validators than a quorum (an observer, which does
    not vote, only for the first). A node installing a snapshot is answered 503
    ``state_sync`` before this is asked (``state_sync_middleware``)."""
    if node.disk_full:
        return {"code": "disk_full", "message": "the data directory is full: this node "
                "refuses transactions until space is freed"}
    err = no_quorum_error(reach)
    if err is None:
        return None
    return {"code": "no_quorum",
            "message": f"this node reaches {reach.reached} of the {reach.validators} "
                       f"validators (itself included) and a quorum is {reach.quorum}: "
                       "what it admits cannot commit until a quorum is back"}


async def readyz(request: web.Request) -> web.Response:
    """Readiness, for a load balancer: 200 ``{ready: true, quorum}`` when clients may send
    here, else 503 with ``error`` (``no_quorum``, ``disk_full``) and ``quorum``."""
    node = request.app[NODE_KEY]
    reach = node_reach(node)
    why = not_ready(node, reach)
    if why is None:
        return web.json_response({"ready": True, "quorum": reach.to_json()})
    return web.json_response({"ready": False, "error": why, "quorum": reach.to_json()},
                             status=503, headers={"Retry-After": "1"})


async def metrics(request: web.Request) -> web.Response:
    """The node's metrics to any identity; the risk families (alert counts by rule, the open
    alerts and the oldest one's age) only to those who read every block anyway — validators,
    regulators, auditors — and this node's own keys: a count read before and after a payment
    told its payer that it raised an alert, as ``risk/alert_count/…`` did (red-team round 7)."""
    node = request.app[NODE_KEY]
    reader = reader_of(request)
    from node.api_admin import is_operator  # noqa: PLC0415 (imports this module)
    operator = is_operator(node, reader.key)
    risk = access.chain_rule(reader) is not None or operator
    # the node's bank's own figures (node/risk_metrics.py): its keys and the supervisors, not
    # another bank's validator (decision 274)
    return metrics_response(node, risk=risk, bank=operator or reader.supervisor is not None)


def metrics_response(node: Node, risk: bool = True, bank: bool = True) -> web.Response:
    """The node's Prometheus text (REST's signed ``/metrics`` and the metrics listener's, which
    is the operator's: with the risk families and its bank's)."""
    node.metrics.peers.set(len(node.transport.connected()))
    return web.Response(body=node.metrics.render() + reach_metrics(node_reach(node))
                        + (risk_metrics(node) if risk else b"")
                        + (node.metrics.render_risk() if bank else b""),
                        headers={"Content-Type": CONTENT_TYPE})


def make_metrics_app(node: Node) -> web.Application:
    """The metrics listener (config ``metrics_port``): ``GET /metrics`` alone, unauthenticated,
    for a Prometheus scraper on the operator's monitoring network; anything else is 404."""
    async def get_metrics(request: web.Request) -> web.Response:
        return metrics_response(node)

    app = web.Application()
    app.router.add_get("/metrics", get_metrics)
    return app


def _sse(kind: str, item: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(item, separators=(',', ':'))}\n\n".encode()


def _stream_end(reason: str, message: str) -> bytes:
    """The last event of a ``/v1/events`` stream the node ends: ``end`` with why (the client
    reconnects with a fresh signature, or stops: its access is gone)."""
    return _sse("end", {"type": "end", "reason": reason, "message": message})


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: one ``block`` event per committed block, with its contract events.
    Validators, regulators and auditors get every block; anyone else only the events that are
    its own (:func:`node.access.event_names_reader`; blocks without one are skipped, and carry
    no ``txs`` count).

    The reader is decided again from the committed state at every block, as a new request
    would be: a revoked or replaced key, or a reader who lost its role, gets an ``end`` event
    and the stream closes. A stream lives at most ``AccessLimits.events_max_s`` (an hour), then
    ends the same way: the client reconnects with a fresh signature."""
    node = request.app[NODE_KEY]
    reader = reader_of(request)
    everything = may_read(request, access.chain_rule(reader))
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache"})
    await resp.prepare(request)
    if request.method == "HEAD":  # the headers only: a HEAD response has no body, so a stream
        return resp                # here would corrupt the connection and never end
    loop = asyncio.get_running_loop()
    deadline = loop.time() + request.app[GUARD_KEY].limits.events_max_s
    q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    node.subscribers.add(q)
    try:
        await resp.write(b": connected\n\n")
        while True:
            left = deadline - loop.time()
            if left <= 0:
                await resp.write(_stream_end("expired", "the stream reached its maximum "
                                             "lifetime; reconnect with a fresh signature"))
                break
            try:
                ev = await asyncio.wait_for(q.get(), min(15.0, left))
            except TimeoutError:
                await resp.write(b": keepalive\n\n")
                continue
            if ev.get("type") == "shutdown":  # the node is stopping (_end_event_streams)
                break
            get = _state_get(request)
            now = access.resolve_reader(get, reader.key)
            if now is None:  # revoked, replaced: what a new request would be refused as
                await resp.write(_stream_end("unauthenticated", "unknown_identity: keyid is "
                                             "no longer the current key of a registered "
                                             "identity nor a validator's key"))
                break
            reader = now
            request[READER_KEY] = reader
            was, everything = everything, access.chain_rule(reader) is not None
            if everything and not was:  # became a supervisor: logged as a new request would be
                may_read(request, access.chain_rule(reader))
            if not everything:
                mine = []
                for e in ev["events"]:
                    rule = access.event_rule(get, reader, e)
                    if rule is None:
                        continue
                    mine.append(e)
                    # another's data (a customer's alert or pending order, to its home bank):
                    # logged as each is sent, as the same read by any other route is
                    may_read(request, rule, f"{request.method} {request.path} {_event_ref(e)}")
                if not mine:
                    continue
                ev = {k: v for k, v in ev.items() if k != "txs"} | {"events": mine}
            for item in [ev, *alert_events(ev)]:
                await resp.write(_sse(item["type"], item))
    except ConnectionResetError:  # the client went away
        pass
    finally:
        node.subscribers.discard(q)
    return resp


def _event_ref(event: dict[str, Any]) -> str:
    """What a read-log entry of one event sent on ``/v1/events`` names: an alert by its id, any
    other event by its name and transaction."""
    data = event.get("data")
    ref = data.get("alert") if isinstance(data, dict) else None
    if access.is_alert(event) and isinstance(ref, str):
        return f"alert {ref}"
    return f"{event.get('name')} {event.get('tx_id')}"


#: transactions one stream may have waiting for their outcome; more are refused (stream_full)
STREAM_MAX_PENDING = 8192
#: envelopes one stream message may carry as a JSON array; a longer array closes the socket
#: (1009): answering each of up to ~500,000 tiny items of a 1 MiB message would cost far more
#: than the message
STREAM_MAX_BATCH = 1000


async def tx_stream(request: web.Request) -> web.StreamResponse:
    """``GET /v1/tx/stream``: a WebSocket for high-volume submitters. Each text message the
    client sends is one envelope, as the body of ``POST /v1/tx``, or a JSON array of up to
    ``STREAM_MAX_BATCH`` envelopes (a longer array closes the socket with 1009); the node
    answers every envelope, in JSON arrays of answers (as many as are ready at once), each the
    answer ``POST /v1/tx?wait=commit`` would give plus ``seq``, the envelope's 0-based position
    on this socket (a message that is not JSON counts as one): ``status`` committed or rejected
    with the outcome, ``refused`` with ``error`` and ``http_status`` when admission refused it,
    or ``pending`` with error ``timeout`` after the usual wait (``no_quorum`` while the node
    reaches fewer validators than a quorum, and then sooner, as ``POST /v1/tx?wait=commit``). One socket carries many
    transactions without a request per transaction."""
    node = request.app[NODE_KEY]
    ws = web.WebSocketResponse(max_msg_size=MAX_BODY, heartbeat=30.0)
    await ws.prepare(request)
    loop = asyncio.get_running_loop()
    ready: list[dict[str, Any]] = []
    wake = asyncio.Event()
    waiting: dict[asyncio.Future[TxOutcome], tuple[int, bytes, asyncio.TimerHandle]] = {}

    def answer(a: dict[str, Any]) -> None:
        ready.append(a)
        wake.set()

    def refused(seq: int, status: int, code: str, message: str, **extra: Any) -> None:
        answer({"seq": seq, **extra, "status": "refused", "http_status": status,
                "error": {"code": code, "message": message}})

    def refuse(seq: int, e: InvalidTransaction) -> None:  # admission said no: count, answer
        node.metrics.tx_refused.labels(e.code).inc()
        refused(seq, refusal_status(e), e.code, str(e))

    def done(fut: asyncio.Future[TxOutcome]) -> None:
        seq, tx_id, timer = waiting.pop(fut)
        timer.cancel()
        _forget_waiter(node, tx_id, fut)
        if fut.cancelled():  # the wait ran out, or the quorum has been lost too long
            answer({"seq": seq, "tx_id": tx_id.hex(), "status": "pending",
                    "error": pending_error(node)})
        elif isinstance(e := fut.exception(), InvalidTransaction):  # dropped after admission
            refused(seq, refusal_status(e), e.code, str(e), tx_id=tx_id.hex())
        elif isinstance(e, NodeStopping):
            answer({"seq": seq, "tx_id": tx_id.hex(), "status": "pending",
                    "error": STOPPING_ERROR})
        else:
            answer({"seq": seq, **_sender_json(fut.result())})

    stopping = False

    def stop() -> None:  # the server shuts down: the answers owed are in ``ready`` by now
        nonlocal stopping
        stopping = True
        wake.set()

    async def writer() -> None:
        while True:
            await wake.wait()
            wake.clear()
            batch = ready[:]
            ready.clear()
            if batch:
                await ws.send_str(json.dumps(batch, separators=(",", ":")))
            if stopping:  # after the last answers: 1001, which also ends the reading below
                await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"node stopping")
                return

    by_address, remote = request.app[GUARD_KEY].by_address, request.remote or ""
    watch = node.admission.quorum_watch

    def submit(seq: int, item: Any) -> None:
        try:
            if len(waiting) >= STREAM_MAX_PENDING:
                raise InvalidTransaction(f"{STREAM_MAX_PENDING} transactions of this stream "
                                         "are waiting for their outcome", "stream_full")
            if by_address.take(remote, time.monotonic()):  # each envelope, as a POST would
                raise InvalidTransaction("too many requests from this address; retry later",
                                         "rate_limited")
            tx = envelope_tx(item)
            fut = node.wait_for(tx.tx_id)
            try:
                node.admit(tx)
            except BaseException:
                _forget_waiter(node, tx.tx_id, fut)
                raise
            if watch.lost_long and (reach := node_reach(node)).lost_long:
                _forget_waiter(node, tx.tx_id, fut)  # answered at once, as a POST would be
                answer({"seq": seq, "tx_id": tx.tx_id.hex(), "status": "pending",
                        "error": no_quorum_error(reach)})
                return
        except InvalidTransaction as e:
            refuse(seq, e)
            return
        except Exception:  # a bug in the node: this envelope fails, the stream goes on
            log.exception("internal error on /v1/tx/stream")
            node.metrics.http_errors.labels("internal").inc()
            refused(seq, 500, "internal", "internal error")
            return
        waiting[fut] = (seq, tx.tx_id, loop.call_later(WAIT_TIMEOUT_S, fut.cancel))
        fut.add_done_callback(done)

    def outage() -> None:  # no quorum for NO_QUORUM_EARLY_S: every waiting answer now
        for fut in list(waiting):
            fut.cancel()

    sender = loop.create_task(writer())
    streams = request.app[STREAMS_KEY]
    streams.add(stop)
    watch.on_long_outage.add(outage)
    seq = -1
    try:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue  # pings are answered by aiohttp; binary frames are not envelopes
            try:
                body = _json_body(msg.data)
            except InvalidTransaction as e:
                seq += 1
                refuse(seq, e)
                continue
            items = body if type(body) is list else (body,)
            if len(items) > STREAM_MAX_BATCH:  # one answer each could be ~75 MB: close
                node.metrics.tx_refused.labels("batch_too_large").inc()
                await ws.close(code=aiohttp.WSCloseCode.MESSAGE_TOO_BIG,
                               message=f"at most {STREAM_MAX_BATCH} envelopes per message".encode())
                break
            for item in items:
                seq += 1
                submit(seq, item)
        # the client closed the socket: the answers still owed are dropped
    finally:
        for fut, (_, tx_id, timer) in list(waiting.items()):
            timer.cancel()
            fut.remove_done_callback(done)
            _forget_waiter(node, tx_id, fut)
        waiting.clear()
        streams.discard(stop)
        watch.on_long_outage.discard(outage)
        if not stopping:  # (stopping: the writer closes the socket and returns by itself)
            sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
    return ws


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


def _param(name: str, where: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema,
            "description": description}


_HEX32: dict[str, str] = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
_P_TX_ID = _param("tx_id", "path", _HEX32, "transaction id (hex SHA-256 of the signed body)")
_P_CONTRACT = _param("contract", "path", {"type": "string"}, "contract name")
_P_KEY = _param("key", "path", {"type": "string"},
                "state key inside the contract; may contain '/' (matched greedily)")


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _op(op_id: str, summary: str, ok: dict[str, Any] | None = None, *,
        params: list[dict[str, Any]] | None = None, errors: tuple[str, ...] = (),
        content_type: str = "application/json", **extra: Any) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": ok or {"description": "OK", "content": {content_type: {"schema": {}}}}}
    for code in errors:
        responses[code] = {"$ref": "#/components/responses/Error"}
    responses["5XX"] = {"$ref": "#/components/responses/Error"}
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    op.update(extra)
    return op


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_TX_OUTCOME = {
    "type": "object",
    "required": ["tx_id", "status", "height", "index"],
    "properties": {
        "tx_id": _HEX32,
        "status": {"enum": ["pending", "committed", "rejected"]},
        "height": {"type": ["integer", "null"]},
        "index": {"type": ["integer", "null"]},
        "finality_ms": {"type": "number", "description": "admission to commit on this node"},
        "result": {"type": "object", "description": "the method's result (committed only)"},
        "error": {"type": "object", "properties": {"code": {"type": "string"},
                                                   "message": {"type": "string"}}},
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "chainfin node API", "version": __version__,
             "description": "REST API of one chainfin node; see docs/api.md. Every error is "
                            "`{\"error\": {\"code\", \"message\"}}` with a 4xx/5xx status."},
    "paths": {
        "/v1/tx": {"post": _op(
            "submitTx", "Submit a signed transaction; ?wait=commit waits for finality",
            {"description": "final (committed or rejected), with ?wait=commit",
             "content": _json_content(_ref("TxOutcome"))},
            params=[_param("wait", "query", {"enum": ["commit"]},
                           "wait until the transaction is final (at most 30 s)")],
            errors=("400", "409", "413", "429", "503", "507"),
            requestBody={"required": True, "content": _json_content(_ref("TxEnvelope"))},
        ) | {"responses": {
            "200": {"description": "final (committed or rejected), with ?wait=commit",
                    "content": _json_content(_ref("TxOutcome"))},
            "202": {"description": "admitted and pending: without wait (with an error of code "
                                   "no_quorum while the node reaches fewer validators than a "
                                   "quorum), or the wait ended without an outcome: error "
                                   "timeout, no_quorum (at once once the quorum has been lost "
                                   "for 5 s) or node_stopping",
                    "content": _json_content(_ref("TxOutcome"))},
            **{c: {"$ref": "#/components/responses/Error"}
               for c in ("400", "409", "413", "429", "503", "5XX")}}}},
        "/v1/tx/{tx_id}": {"get": _op(
            "getTx", "Status of a transaction",
            {"description": "pending, committed or rejected",
             "content": _json_content(_ref("TxOutcome"))},
            params=[_P_TX_ID], errors=("400", "404"))},
        "/v1/blocks/latest": {"get": _op(
            "getLatestBlock", "Latest committed block with its certificate (at height 0: "
            "{height, hash, genesis: true})")},
        "/v1/blocks/{height}": {"get": _op(
            "getBlock", "A committed block with its certificate",
            params=[_param("height", "path", {"type": "string",
                                              "pattern": "^([0-9]{1,19}|latest)$"},
                           "block height (1..) or 'latest'")],
            errors=("400", "404"))},
        "/v1/state/{contract}/{key}": {"get": _op(
            "getState", "Current value of one state key", params=[_P_CONTRACT, _P_KEY],
            errors=("400", "404"))},
        "/v1/nonce/{sender}": {"get": _op(
            "getNonce", "The next nonce of a sender (one above the highest used or pending)",
            params=[_param("sender", "path", _HEX32, "Ed25519 public key, hex")],
            errors=("400",))},
        "/v1/proofs/tx/{tx_id}": {"get": _op(
            "getTxProof", "Inclusion and finality proof of a committed transaction",
            params=[_P_TX_ID], errors=("400", "404"))},
        "/v1/proofs/state/{contract}/{key}": {"get": _op(
            "getStateProof", "(Non-)inclusion proof of a state key at the latest block",
            params=[_P_CONTRACT, _P_KEY], errors=("400", "404"))},
        "/v1/status": {"get": _op("getStatus", "Node status")},
        "/v1/tx/stream": {"get": _op(
            "streamTxs", "WebSocket for high-volume submission: send one TxEnvelope, or a JSON "
            "array of up to 1,000 (more closes the socket, 1009), per text message; the node "
            "answers every envelope, in JSON arrays of answers, each a TxOutcome (or status "
            "`refused` with `error` and `http_status`) plus `seq`, the envelope's 0-based "
            "position on the socket",
            responses={"101": {"description": "Switching Protocols (WebSocket)"},
                       "400": {"$ref": "#/components/responses/Error"},  # not an upgrade
                       "5XX": {"$ref": "#/components/responses/Error"}})},
        "/v1/events": {"get": _op("streamEvents", "Server-Sent Events: one `block` event per "
                                  "committed block, then one `alert` event per risk alert in "
                                  "it", content_type="text/event-stream")},
        "/healthz": {"get": _op("healthz", "Liveness (200 while the process serves), with "
                                "the node's quorum reachability")},
        "/readyz": {"get": _op(
            "readyz", "Readiness for a load balancer: 200 when this node reaches a quorum of "
            "validators (and its disk is not full), else 503 with error no_quorum or disk_full",
            errors=("503",))},
        "/metrics": {"get": _op("metrics", "Prometheus metrics (text format 0.0.4)",
                                content_type="text/plain")},
        "/openapi.json": {"get": _op("openapi", "This document")},
    },
    "components": {
        "schemas": {
            "TxEnvelope": TxEnvelope.model_json_schema(),
            "TxOutcome": _TX_OUTCOME,
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}}}}},
        },
        "responses": {"Error": {"description": "Error", "content": _json_content(
            _ref("Error"))}},
    },
}

# --------------------------------------------------------------------------- explorer, risk
# In their own modules, which use the helpers above (hence imported here, not at the top).
from node.api_explorer import EXPLORER_OPENAPI_PATHS, add_explorer_routes  # noqa: E402
from node.api_explorer import STATIC_DIR as STATIC_DIR  # noqa: E402
from node.api_risk import RISK_OPENAPI_PATHS, add_risk_routes, alert_events, risk_metrics  # noqa: E402
from node.api_sync import SYNC_OPENAPI_PATHS, add_sync_routes, state_sync_middleware  # noqa: E402

OPENAPI["paths"].update(EXPLORER_OPENAPI_PATHS)  # after the literal's paths, as before
OPENAPI["paths"].update(RISK_OPENAPI_PATHS)
OPENAPI["paths"].update(SYNC_OPENAPI_PATHS)


async def get_audit_reads(request: web.Request) -> web.Response:
    """The node's read log (regulators and auditors): ``?after=<seq>&limit=<n <= 1000>``."""
    reader = reader_of(request)
    if reader.supervisor is None:
        return error(404, "not_found", f"no route {request.path}")
    a, n = request.query.get("after", "0"), request.query.get("limit", "1000")
    if not (_DIGITS.fullmatch(a) and _DIGITS.fullmatch(n)) or not 1 <= int(n) <= 1000:
        return error(400, "bad_request", "after must be an integer >= 0 and limit 1 to 1000")
    log_ = request.app[GUARD_KEY].reads
    may_read(request, reader.supervisor)  # logged first: the answer ends with this read
    entries = log_.entries(int(a), int(n))
    return web.json_response({"entries": entries, "seq": log_.seq, "head": log_.head})


AUDIT_OPENAPI_PATHS = {
    "/v1/audit/reads": {"get": _op(
        "getAuditReads", "The node's hash-chained log of reads of others' data (regulators and "
        "auditors)", params=[_param("after", "query", {"type": "integer", "minimum": 0},
                                    "entries after this seq (default 0)"),
                             _param("limit", "query", {"type": "integer", "minimum": 1,
                                                       "maximum": 1000}, "most entries")],
        errors=("400", "401", "404"))},
}
OPENAPI["paths"].update(AUDIT_OPENAPI_PATHS)


def _declare_auth(doc: dict[str, Any]) -> None:
    """Every signed route may answer 401 (unauthenticated) and 429 (rate_limited); the scheme
    is RFC 9421 (docs/api.md "Authentication"), which OpenAPI has no type for."""
    doc["components"]["securitySchemes"] = {"httpMessageSignature": {
        "type": "apiKey", "in": "header", "name": "Signature",
        "description": "RFC 9421 HTTP message signature, ed25519, covering @method, "
                       "@target-uri and content-digest, with created, keyid (the identity's "
                       "public key, hex) and a nonce; see docs/api.md"}}
    for path, ops in doc["paths"].items():
        for op in ops.values():
            op["responses"].setdefault("429", {"$ref": "#/components/responses/Error"})
            if path in PUBLIC_PATHS or path in TX_PATHS:
                continue
            op["responses"].setdefault("401", {"$ref": "#/components/responses/Error"})
            op["responses"].setdefault("404", {"$ref": "#/components/responses/Error"})
            op["security"] = [{"httpMessageSignature": []}]


_declare_auth(OPENAPI)


def make_app(node: Node, limits: AccessLimits | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY,
                          middlewares=[error_middleware, auth_middleware, state_sync_middleware])
    app[NODE_KEY] = node
    app[GUARD_KEY] = Guard(node, limits or AccessLimits())
    app.router.add_get("/v1/audit/reads", get_audit_reads)
    app.router.add_post("/v1/tx", post_tx)
    app.router.add_get("/v1/tx/stream", tx_stream)
    app.router.add_get("/v1/tx/{tx_id}", get_tx)
    app.router.add_get("/v1/blocks/{height}", get_block)
    app.router.add_get("/v1/state/{contract}/{key:.+}", get_state)
    app.router.add_get("/v1/proofs/tx/{tx_id}", get_tx_proof)
    app.router.add_get("/v1/proofs/state/{contract}/{key:.+}", get_state_proof)
    app.router.add_get("/v1/nonce/{sender}", get_nonce)
    app.router.add_get("/v1/status", get_status)
    app.router.add_get("/v1/events", events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    app[STREAMS_KEY] = set()
    app.on_shutdown.append(_end_waits)
    app.cleanup_ctx.append(_sample_reach)
    add_explorer_routes(app)
    add_risk_routes(app)
    add_sync_routes(app)
    from node.api_admin import add_admin_routes  # noqa: PLC0415 (imports this module)
    add_admin_routes(app)
    return app


async def _sample_reach(app: web.Application) -> AsyncIterator[None]:
    """Sample the node's quorum reachability every SAMPLE_S while the server runs: the
    outage's start is known when nobody asks, and the requests waiting for an outcome are
    answered once it has lasted NO_QUORUM_EARLY_S (``QuorumWatch.on_long_outage``)."""
    node = app[NODE_KEY]

    async def sample() -> None:
        while True:
            node_reach(node)
            await asyncio.sleep(SAMPLE_S)

    task = asyncio.get_running_loop().create_task(sample(), name="quorum-watch")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


#: how long a stopping node lets the requests waiting for an outcome finish normally (the
#: consensus keeps running until the REST server is down: most commit within milliseconds)
SHUTDOWN_GRACE_S = 2.0


async def _end_waits(app: web.Application) -> None:
    """On shutdown, give the requests waiting for a transaction's outcome up to
    :data:`SHUTDOWN_GRACE_S` to get it, answer the rest ``pending`` with
    :data:`STOPPING_ERROR`, and close every ``/v1/tx/stream`` socket after its last answers
    (1001). Without this the server waits for them until its shutdown timeout (60 s): a bank's
    back office that keeps a stream open made every SIGTERM of the node a 46 s stop, and a
    launcher or service manager that gives up first a SIGKILL."""
    waiters = app[NODE_KEY].waiters
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHUTDOWN_GRACE_S
    while loop.time() < deadline and any(not f.done() for fs in waiters.values() for f in fs):
        await asyncio.sleep(0.02)
    for futs in list(waiters.values()):
        for fut in list(futs):
            if not fut.done():
                fut.set_exception(NodeStopping())
    streams = app[STREAMS_KEY]
    for stop in list(streams):
        stop()

