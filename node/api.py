"""REST API of a node (aiohttp). JSON in and out; errors as ``{"error": {"code", "message"}}``.

Every body is validated by a pydantic model; bodies over 1 MiB are refused with 413 by aiohttp
before they are read. A client's fault is a 4xx; anything else is a 500 and a bug (logged).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chainfin import __version__, codec, proofs
from chainfin.smt import SparseMerkleTree
from chainfin.errors import ChainfinError, InvalidTransaction
from chainfin.types import Block, CommitCertificate, Transaction
from node.metrics import CONTENT_TYPE
from node.runtime import WAIT_TIMEOUT_S, Node

log = logging.getLogger("chainfin.api")

MAX_BODY = 1024 * 1024
NODE_KEY: web.AppKey[Node] = web.AppKey("node", Node)


class TxEnvelope(BaseModel):
    """A signed transaction as JSON (bytes as hex)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    chain_id: str = Field(min_length=1, max_length=64)
    sender: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    nonce: int = Field(ge=0, lt=2**63)
    contract: str = Field(min_length=1, max_length=64)
    method: str = Field(min_length=1, max_length=64)
    args: dict[str, Any]
    signature: str = Field(pattern=r"^[0-9a-fA-F]{128}$")


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    node = request.app[NODE_KEY]
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed",
                413: "body_too_large"}.get(e.status, "http_error")
        node.metrics.http_errors.labels(code).inc()
        msg = e.reason if e.status != 413 else f"request body exceeds {MAX_BODY} bytes"
        return error(e.status, code, msg)
    except InvalidTransaction as e:
        node.metrics.http_errors.labels(e.code).inc()
        node.metrics.tx_refused.labels(e.code).inc()
        status = 409 if e.code in ("duplicate", "nonce_reused") else e.status_hint
        return error(status, e.code, str(e))
    except ChainfinError as e:
        node.metrics.http_errors.labels("bad_request").inc()
        return error(400, "bad_request", str(e))
    except asyncio.CancelledError:
        raise
    except Exception:
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


async def post_tx(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidTransaction("body is not valid JSON", "malformed_json") from None
    try:
        env = TxEnvelope.model_validate(body)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "body"
        raise InvalidTransaction(f"{loc}: {first['msg']}", "invalid_envelope") from None
    tx = Transaction.from_wire(env.model_dump())
    wait = request.query.get("wait") == "commit"
    fut = node.wait_for(tx.tx_id) if wait else None
    try:
        node.admit(tx)
    except BaseException:
        if fut is not None:
            fut.cancel()
            node.waiters.pop(tx.tx_id, None)
        raise
    if fut is None:
        return web.json_response({"tx_id": tx.tx_id.hex(), "status": "pending"}, status=202)
    try:
        outcome = await asyncio.wait_for(fut, WAIT_TIMEOUT_S)
    except asyncio.TimeoutError:
        return web.json_response({"tx_id": tx.tx_id.hex(), "status": "pending",
                                  "error": {"code": "timeout",
                                            "message": "not final within the wait time"}},
                                 status=202)
    return web.json_response(outcome.to_json())


async def get_tx(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    tx_id = _hex_param(request, "tx_id")
    out = node.tx_outcome(tx_id)
    if out is None:
        return error(404, "not_found", "unknown transaction")
    return web.json_response(out.to_json())


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
        "receipts": rec["receipts"],
        "certificate": codec_json(rec["cert"]),
    }


def codec_json(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {k: codec_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [codec_json(x) for x in v]
    return v


async def get_block(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    h = request.match_info["height"]
    if h == "latest":
        height = node.ledger.tip.height
        if height == 0:
            return web.json_response({"height": 0, "hash": node.ledger.tip.block_hash.hex(),
                                      "genesis": True})
    else:
        try:
            height = int(h)
        except ValueError:
            return error(400, "bad_request", "height must be an integer or 'latest'")
    out = _block_json(node, height)
    if out is None:
        return error(404, "not_found", f"no block at height {height}")
    return web.json_response(out)


async def get_state(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    contract, key = request.match_info["contract"], request.match_info["key"]
    v = node.ledger.state_value(contract, key)
    if v is None:
        return error(404, "not_found", f"no value at {contract}/{key}")
    return web.json_response({"contract": contract, "key": key, "value": codec_json(v),
                              "height": node.ledger.tip.height})


def _set_chain(node: Node) -> list[proofs.SetChange]:
    return proofs.set_changes_from(node.ledger.validator_sets(), node.ledger.block_record)


async def get_tx_proof(request: web.Request) -> web.Response:
    """Inclusion + finality proof of a committed transaction (see docs/proofs.md)."""
    node = request.app[NODE_KEY]
    tx_id = _hex_param(request, "tx_id")
    loc = node.ledger.tx_location(tx_id)
    if loc is None:
        return error(404, "not_found", "no committed transaction with this id")
    h, i = loc
    rec = node.ledger.block_record(h)
    assert rec is not None
    doc = proofs.build_tx_proof(Block.from_wire(rec["block"]),
                                CommitCertificate.from_wire(rec["cert"]), i, _set_chain(node))
    return web.json_response(doc)


async def get_state_proof(request: web.Request) -> web.Response:
    """(Non-)inclusion proof of one state key under the latest committed block's state root."""
    node = request.app[NODE_KEY]
    contract, key = request.match_info["contract"], request.match_info["key"]
    h = node.ledger.tip.height
    rec = node.ledger.block_record(h)
    if rec is None:
        return error(404, "not_found", "no committed block yet: nothing to prove against")
    block = Block.from_wire(rec["block"])
    tree = SparseMerkleTree.on_store(node.store)
    doc = proofs.build_state_proof_from_tree(block.header, CommitCertificate.from_wire(rec["cert"]),
                                             contract, key, tree, _set_chain(node))
    return web.json_response(doc)


async def get_sync_blocks(request: web.Request) -> web.Response:
    """Certified block records as canonical msgpack (``application/msgpack``): a list of
    ``b/<height>`` records from ``from`` (inclusive), at most ``max`` (<= 64). Observers and
    auditors follow the chain with it; every record carries its CommitCertificate."""
    node = request.app[NODE_KEY]
    try:
        start = int(request.query.get("from", "1"))
        n = int(request.query.get("max", "64"))
    except ValueError:
        return error(400, "bad_request", "from and max must be integers")
    if start < 1 or n < 1:
        return error(400, "bad_request", "from and max must be positive")
    body = codec.encode(node.sync_records(start, n))
    return web.Response(body=body, content_type="application/msgpack")


async def get_nonce(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    sender = _hex_param(request, "sender")
    return web.json_response({"sender": sender.hex(), "next": node.next_nonce(sender)})


async def get_status(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    tip = node.ledger.tip
    return web.json_response({
        "node_id": node.node_id,
        "public_key": node.identity.public_key.hex(),
        "chain_id": node.chain_id,
        "version": __version__,
        "height": tip.height,
        "block_hash": tip.block_hash.hex(),
        "state_root": tip.state_root.hex(),
        "view": node.view,
        "primary": node.primary.hex(),
        "validator": node.is_validator,
        "validators": tip.validators.to_json(),
        "peers": [p.hex() for p in node.transport.connected()],
        "mempool": len(node.mempool),
    })


async def healthz(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    return web.json_response({"ok": True, "height": node.ledger.tip.height})


async def metrics(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    node.metrics.peers.set(len(node.transport.connected()))
    return web.Response(body=node.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: one ``block`` event per committed block, with its contract events."""
    node = request.app[NODE_KEY]
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache"})
    await resp.prepare(request)
    q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    node.subscribers.add(q)
    try:
        await resp.write(b": connected\n\n")
        while True:
            try:
                ev = await asyncio.wait_for(q.get(), 15.0)
            except asyncio.TimeoutError:
                await resp.write(b": keepalive\n\n")
                continue
            data = json.dumps(ev, separators=(",", ":"))
            await resp.write(f"event: {ev['type']}\ndata: {data}\n\n".encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        node.subscribers.discard(q)
    return resp


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


async def index(request: web.Request) -> web.Response:
    return web.Response(text=EXPLORER_HTML, content_type="text/html")


def _route(summary: str, **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {"200": {"description": "OK"},
                                              "4XX": {"$ref": "#/components/responses/Error"}},
            **extra}


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "chainfin node API", "version": __version__},
    "paths": {
        "/v1/tx": {"post": _route(
            "Submit a signed transaction; ?wait=commit waits for finality",
            parameters=[{"name": "wait", "in": "query", "schema": {"enum": ["commit"]}}],
            requestBody={"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/TxEnvelope"}}}})},
        "/v1/tx/{tx_id}": {"get": _route("Status of a transaction")},
        "/v1/blocks/latest": {"get": _route("Latest committed block with its certificate")},
        "/v1/blocks/{height}": {"get": _route("A committed block with its certificate")},
        "/v1/state/{contract}/{key}": {"get": _route("Current value of one state key")},
        "/v1/nonce/{sender}": {"get": _route("A nonce the sender has not used yet")},
        "/v1/sync/blocks": {"get": _route(
            "Certified block records (msgpack) for catch-up",
            parameters=[{"name": "from", "in": "query", "schema": {"type": "integer"}},
                        {"name": "max", "in": "query", "schema": {"type": "integer"}}])},
        "/v1/proofs/tx/{tx_id}": {"get": _route("Inclusion and finality proof of a tx")},
        "/v1/proofs/state/{contract}/{key}": {"get": _route(
            "(Non-)inclusion proof of a state key at the latest block")},
        "/v1/status": {"get": _route("Node status")},
        "/v1/events": {"get": _route("Server-Sent Events of committed blocks")},
        "/healthz": {"get": _route("Liveness")},
        "/metrics": {"get": _route("Prometheus metrics")},
    },
    "components": {
        "schemas": {
            "TxEnvelope": TxEnvelope.model_json_schema(),
            "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}}}}},
        },
        "responses": {"Error": {"description": "Error", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}}},
    },
}

EXPLORER_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>chainfin</title>
<style>body{font-family:sans-serif;margin:2em}td{padding:0 1em}code{font-size:90%}</style></head>
<body><h1>chainfin node</h1><div id="s">loading...</div><h2>Latest blocks</h2><table id="b"></table>
<script>
async function load(){
 const s=await (await fetch('/v1/status')).json();
 document.getElementById('s').innerHTML='<p>node <b>'+s.node_id+'</b> chain <code>'+s.chain_id+
  '</code> height <b>'+s.height+'</b> view '+s.view+' validators '+s.validators.length+
  ' peers '+s.peers.length+' mempool '+s.mempool+'</p>';
 let rows='';
 for(let h=s.height;h>0&&h>s.height-10;h--){
  const b=await (await fetch('/v1/blocks/'+h)).json();
  rows+='<tr><td>'+h+'</td><td><code>'+b.hash.slice(0,16)+'</code></td><td>'+b.tx_ids.length+
   ' txs</td><td>'+b.certificate.votes.length+' signatures</td></tr>';}
 document.getElementById('b').innerHTML=rows;}
load();setInterval(load,2000);
</script></body></html>"""


def make_app(node: Node) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[error_middleware])
    app[NODE_KEY] = node
    app.router.add_post("/v1/tx", post_tx)
    app.router.add_get("/v1/tx/{tx_id}", get_tx)
    app.router.add_get("/v1/blocks/{height}", get_block)
    app.router.add_get("/v1/state/{contract}/{key:.+}", get_state)
    app.router.add_get("/v1/proofs/tx/{tx_id}", get_tx_proof)
    app.router.add_get("/v1/proofs/state/{contract}/{key:.+}", get_state_proof)
    app.router.add_get("/v1/sync/blocks", get_sync_blocks)
    app.router.add_get("/v1/nonce/{sender}", get_nonce)
    app.router.add_get("/v1/status", get_status)
    app.router.add_get("/v1/events", events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/", index)
    return app

