"""The one home of the tests' genesis, identity and cluster helpers (plain functions and
classes; the pytest fixtures that wrap them are in tests/conftest.py).

- genesis: :func:`make_genesis` (the ``node{i}`` validators plus named clients, with options for
  the trade cluster and for byzantine runs), built with :func:`chainfin.testing.genesis.bank_genesis`
  as testnet/fuzz.py's is. Contract tests without nodes use ``contracts.testing``.
- in-process clusters of real :class:`node.runtime.Node` s: :func:`connect`,
  :func:`start_cluster`, :func:`stop_cluster`, and the REST drivers :class:`Harness` (node 0's
  REST app) and :class:`Desk` (trade_documents on it);
- the signing REST test client :class:`SigningClient` and :func:`key_file`;
- the launcher's stand-in node (:func:`standin`);
- the peer-transport test constants and waits (``CHAIN``, ``FAST``, :func:`idents`,
  :func:`until`).
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import BaseTestServer, TestClient
from yarl import URL

from chainfin.client import UNSIGNED, signed_headers
from chainfin.crypto import Identity, save_identity
from chainfin.genesis import Genesis
from chainfin.store import MemoryStore
from chainfin.testing.genesis import bank_genesis
from chainfin.types import Transaction
from node.runtime import Node
from testnet.launch import ManifestNode
from tests.unit.trade_cases import DECLARATION, INVOICE
from tests.unit.trade_cases import h as trade_hash

# --------------------------------------------------------------------------- genesis, identities

N_VALIDATORS = 4
#: the clients of the REST cluster: name -> role
CLIENT_ROLES = {"exporter": "exporter", "importer": "importer", "auditor": "auditor",
                "usd_issuer": "issuer"}
#: the clients of the trade cluster: name -> role
TRADE_ROLES = {"exporter": "exporter", "exporter2": "exporter", "importer": "importer",
               "usd_issuer": "issuer", "customs": "customs", "auditor": "auditor"}
#: the names trade documents carry for trade clients (their ``legal_name``)
TRADE_LEGAL_NAMES = {"exporter": "ACME Exports Ltd", "exporter2": "Borealis Trading Co",
                     "importer": "Globex Corp"}
T = "trade_documents"


def validator_ids(n: int = N_VALIDATORS) -> list[Identity]:
    return [Identity.generate(f"node{i}") for i in range(n)]


def client_ids(roles: Mapping[str, str] = CLIENT_ROLES) -> dict[str, Identity]:
    return {name: Identity.generate(name) for name in roles}


def make_genesis(validators: Sequence[Identity], clients: Mapping[str, Identity], *,
                 roles: Mapping[str, str] = CLIENT_ROLES,
                 legal_names: Mapping[str, str] | None = None,
                 chain_id: str = "chainfin-apitest",
                 params: Mapping[str, Any] | None = None) -> Genesis:
    """A genesis with ``validators`` (admin banks ``node{i}``), the ``clients`` (their roles from
    ``roles``, legal names from ``legal_names``), one currency, USD, issued by ``usd_issuer``,
    and ``auditor`` as the regulator."""
    names = legal_names or {}
    return bank_genesis(chain_id, validators,
                        [(name, ident, roles[name], names.get(name))
                         for name, ident in clients.items()],
                        clients["usd_issuer"], regulators=[clients["auditor"]], params=params)


def trade_genesis(validators: Sequence[Identity], clients: Mapping[str, Identity],
                  ledger_format: int = 2) -> Genesis:
    """The trade cluster's genesis: legal names, financing requires customs' attestation."""
    return make_genesis(validators, clients, roles=TRADE_ROLES, legal_names=TRADE_LEGAL_NAMES,
                        chain_id="chainfin-tradetest",
                        params={"financing_requires_attestation": True,
                                "ledger_format": ledger_format})


# --------------------------------------------------------------------------- in-process clusters


async def connect(nodes: Sequence[Node], timeout: float = 10.0,
                  what: str = "in-process validators did not connect") -> None:
    """Start ``nodes`` (any not started yet is the caller's business), give each the others'
    addresses and wait until every one is connected to all the others."""
    peers = {nd.identity.public_key: nd.transport.address for nd in nodes}
    for nd in nodes:
        nd.peers_cfg = dict(peers)
        nd.transport.set_peers(peers)
    deadline = time.monotonic() + timeout
    while any(len(nd.transport.connected()) < len(nodes) - 1 for nd in nodes):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


async def start_nodes(nodes: Sequence[Node]) -> None:
    """Start ``nodes`` (listening on their ports) and connect them all."""
    for nd in nodes:
        await nd.start()
    await connect(nodes)


async def start_cluster(n: int = N_VALIDATORS, *, roles: Mapping[str, str] = CLIENT_ROLES,
                        outsider: bool = True, genesis: Callable[..., Genesis] = make_genesis
                        ) -> tuple[Genesis, list[Node], dict[str, Identity]]:
    """``n`` validator Nodes on MemoryStores, listening on 127.0.0.1 port 0, all connected.
    The identities are the clients of ``roles``, and (``outsider``) one not in the genesis."""
    validators = validator_ids(n)
    ids = client_ids(roles)
    gen = genesis(validators, ids)
    nodes = [Node(v, gen, MemoryStore(), "127.0.0.1", 0, {}, f"node{i}")
             for i, v in enumerate(validators)]
    await start_nodes(nodes)
    if outsider:
        ids["outsider"] = Identity.generate("outsider")  # not in the genesis
    return gen, nodes, ids


async def stop_cluster(nodes: Sequence[Node], timeout: float = 60.0) -> None:
    """Stop ``nodes`` one after another; a stop that does not end in ``timeout`` fails the
    test with its stack instead of leaving the test run idle (a hang once seen in CI)."""
    for nd in nodes:
        task = asyncio.ensure_future(nd.stop())
        done, _ = await asyncio.wait([task], timeout=timeout)
        if not done:
            out = io.StringIO()
            task.print_stack(file=out)
            task.cancel()
            raise AssertionError(f"{nd.node_id} did not stop in {timeout:.0f} s:\n"
                                 f"{out.getvalue()}")
        task.result()


async def wait_height(node: Node, height: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while node.ledger.tip.height < height:
        assert time.monotonic() < deadline, f"{node.node_id} did not reach height {height}"
        await asyncio.sleep(0.005)


# --------------------------------------------------------------------------- the signing client

_AS_CLIENT = object()


class SigningClient(TestClient):  # type: ignore[type-arg]
    """A TestClient that signs its requests (RFC 9421), as the SDK does.

    Signs every request as ``identity`` (None: unsigned). One request may be made as
    another identity (``as_=``, None for unsigned) or with headers that replace the signature
    (``signed=False`` sends the request as given)."""

    def __init__(self, server: BaseTestServer, identity: Identity | None = None,
                 **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        self.identity = identity

    async def _request(self, method: str, path: str | URL, *, as_: Any = _AS_CLIENT,
                       signed: bool = True, **kwargs: Any) -> ClientResponse:
        who = self.identity if as_ is _AS_CLIENT else as_
        url = self.make_url(path)
        if kwargs.get("params"):
            url = url.extend_query(kwargs.pop("params"))
        if signed and who is not None and (method.upper(), url.path) not in UNSIGNED:
            if "json" in kwargs:
                kwargs["data"] = json.dumps(kwargs.pop("json")).encode()
            body = kwargs.get("data") or b""
            if isinstance(body, str):
                body = kwargs["data"] = body.encode()
            headers = dict(kwargs.pop("headers", None) or {})
            headers.update(signed_headers(who, method.upper(), url, body))
            kwargs["headers"] = headers
        resp = await self._session.request(method, url, **kwargs)
        self._responses.append(resp)
        return resp


def key_file(identity: Identity, directory: Path) -> str:
    """``identity`` saved as a key file in ``directory`` (for ``--key`` of the CLI)."""
    return str(save_identity(identity, directory / f"{identity.public_key.hex()[:16]}.json"))


# --------------------------------------------------------------------------- REST drivers


@dataclass
class Harness:
    """A running in-process cluster and a TestClient on node 0's REST app."""

    genesis: Genesis
    nodes: list[Node]
    ids: dict[str, Identity]
    http: TestClient
    nonces: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def node(self) -> Node:
        return self.nodes[0]

    @property
    def chain_id(self) -> str:
        return self.genesis.chain_id

    def tx(self, who: str, contract: str, method: str, args: dict[str, Any],
           nonce: int | None = None, chain_id: str | None = None) -> Transaction:
        return Transaction.create(self.ids[who], chain_id or self.chain_id,
                                  next(self.nonces) if nonce is None else nonce,
                                  contract, method, args)

    def issue(self, amount: int = 100, to: str = "exporter", nonce: int | None = None
              ) -> Transaction:
        return self.tx("usd_issuer", "settlement", "issue",
                       {"currency": "USD", "to": self.ids[to].public_key.hex(),
                        "amount": amount}, nonce)

    async def post(self, body: Transaction | dict[str, Any] | bytes | str, wait: bool = True,
                   query: str | None = None) -> tuple[int, Any]:
        """POST /v1/tx; returns (status, decoded JSON body) and checks the content type."""
        if isinstance(body, Transaction):
            data: bytes | str = json.dumps(body.to_json())
        elif isinstance(body, dict):
            data = json.dumps(body)
        else:
            data = body
        q = query if query is not None else ("?wait=commit" if wait else "")
        async with self.http.post("/v1/tx" + q, data=data,
                                  headers={"Content-Type": "application/json"}) as r:
            return r.status, await json_body(r)

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(path) as r:
            return r.status, await json_body(r)

    async def commit(self, tx: Transaction) -> dict[str, Any]:
        status, out = await self.post(tx)
        assert status == 200, out
        assert out["status"] in ("committed", "rejected"), out
        return out


class Desk(Harness):
    """:class:`Harness` on the trade cluster, with trade_documents helpers."""

    async def govern(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """A governance proposal by bank_a voted through by bank_b and bank_c (3 of the 4
        validators); the applied outcome."""
        out = await self.commit(self.tx("bank_a", "governance", "propose",
                                        {"action": action, "params": params}))
        pid = out["result"]["proposal_id"]
        for v in ("bank_b", "bank_c"):
            out = await self.commit(self.tx(v, "governance", "vote", {"proposal_id": pid}))
        assert out["result"]["status"] == "applied", out
        return out

    async def register(self, name: str, role: str, by: str = "bank_a") -> Identity:
        """A new identity ``name`` registered by the admin bank ``by``; a role one admin may not
        give (auditor, customs: ``governance.VOTED_ROLES``) by a ``set_role`` vote after it is
        registered as an importer."""
        from contracts.governance import VOTED_ROLES

        ident = self.ids[name] = Identity.generate(name)
        pubkey = ident.public_key.hex()
        out = await self.commit(self.tx(by, "governance", "register_identity", {
            "pubkey": pubkey, "name": name,
            "role": "importer" if role in VOTED_ROLES else role}))
        assert out["status"] == "committed", out
        if role in VOTED_ROLES:
            await self.govern("set_role", {"pubkey": pubkey, "role": role})
        return ident

    async def send(self, who: str, method: str, **args: Any) -> dict[str, Any]:
        out = await self.commit(self.tx(who, T, method, args))
        assert out["status"] == "committed", out
        return out["result"]  # type: ignore[no-any-return]

    async def value(self, key: str) -> Any:
        """A trade_documents record, less a document's ``duplicate_attempts`` (a refused
        duplicate records itself there, kept although it is rejected: decision 115)."""
        status, out = await self.get(f"/v1/state/{T}/{key}")
        v = out["value"] if status == 200 else None
        if isinstance(v, dict) and key.startswith("doc/"):
            v = {k: x for k, x in v.items() if k != "duplicate_attempts"}
        return v

    async def usd(self, who: str) -> int:
        status, out = await self.get(
            f"/v1/state/settlement/bal/{self.ids[who].public_key.hex()}/USD")
        return int(out["value"]) if status == 200 else 0

    async def attested_trade(self) -> tuple[str, str, str]:
        """The exporter registers INVOICE and its DECLARATION (tests/unit/trade_cases.py),
        customs attests a match of USD 98,000.00: (trade id, invoice id, declaration id)."""
        inv = await self.send("exporter", "register", doc_type="invoice", fields=INVOICE,
                              content_hash=trade_hash("inv"))
        trade = inv["trade_id"]
        decl = (await self.send("exporter", "register", doc_type="customs_declaration",
                                fields=DECLARATION, content_hash=trade_hash("decl"),
                                trade_id=trade))["doc_id"]
        await self.send("customs", "attest", doc_id=decl, result="match",
                        declared_amount=98_000_00)
        return trade, inv["doc_id"], decl

    async def refused(self, code: str, who: str, method: str, watch: list[str],
                      **args: Any) -> None:
        """Refused with ``code``; the watched records and every balance are unchanged."""
        names = sorted(self.ids)
        before = ([await self.value(k) for k in watch], [await self.usd(n) for n in names])
        out = await self.commit(self.tx(who, T, method, args))
        assert (out["status"], (out.get("error") or {}).get("code")) == ("rejected", code), out
        after = ([await self.value(k) for k in watch], [await self.usd(n) for n in names])
        assert after == before, f"{method} refused with {code} but changed the state"


async def json_body(r: Any) -> Any:
    assert r.content_type == "application/json", (r.status, r.content_type, await r.text())
    return await r.json()


def error_problem(status: int, body: Any, want_status: int, code: str | None = None
                  ) -> str | None:
    """What is wrong with an error response, or None. Every 4xx/5xx body is exactly
    ``{"error": {"code", "message"}}`` with two non-empty strings."""
    if status != want_status:
        return f"status {status} != {want_status}: {body}"
    if not isinstance(body, dict) or set(body) != {"error"}:
        return f"not an error body: {body}"
    err = body["error"]
    if not isinstance(err, dict) or set(err) != {"code", "message"}:
        return f"error is not {{code, message}}: {body}"
    if not (isinstance(err["code"], str) and err["code"]):
        return f"bad code: {body}"
    if not (isinstance(err["message"], str) and err["message"]):
        return f"bad message: {body}"
    if code is not None and err["code"] != code:
        return f"code {err['code']!r} != {code!r}: {body}"
    return None


def assert_error(status: int, body: Any, want_status: int, code: str | None = None) -> None:
    problem = error_problem(status, body, want_status, code)
    assert problem is None, problem


# --------------------------------------------------------------------------- peer transport

CHAIN = "chainfin-test"
FAST = dict(backoff_min=0.02, backoff_max=0.2, heartbeat=None)


def idents(n: int, tag: str = "t") -> list[Identity]:
    """n identities sorted by public key: ids[0] dials everyone, ids[-1] accepts from everyone."""
    return sorted((Identity.from_seed_text(f"{tag}{i}") for i in range(n)),
                  key=lambda i: i.public_key)


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


# --------------------------------------------------------------------------- the launcher's stand-in

STANDIN = textwrap.dedent("""
    import http.server, json, signal, sys
    cfg = json.load(open(sys.argv[1]))
    mode = sys.argv[2]
    if mode == "fail":
        print("stand-in: refusing to start", flush=True)
        sys.exit(3)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"ok": true}'
            self.send_response(200 if self.path == "/healthz" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    srv = http.server.HTTPServer((cfg["rest_host"], cfg["rest_port"]), H)
    print("stand-in up", flush=True)
    if mode != "deaf":
        srv.serve_forever()
    else:
        import time
        time.sleep(60)
""")


def standin(modes: dict[int, str] | None = None):  # type: ignore[no-untyped-def]
    """A node command for :class:`testnet.launch.Testnet`: a tiny HTTP server answering
    /healthz on the node's REST port; ``modes`` (node index -> "fail", "stubborn", "deaf")
    makes some misbehave."""
    def command(i: int, node: ManifestNode) -> list[str]:
        return [sys.executable, "-c", STANDIN, node.config, (modes or {}).get(i, "ok")]
    return command
