"""Fuzzing the REST API of a real in-process cluster (see test_api.py) with hypothesis.

Random JSON, random envelopes, random bytes and randomly signed contract calls go to
``POST /v1/tx``; random path segments, query values and methods go to every route. Whatever
comes in: never a 5xx, every error is a 4xx with the ``{"error": {"code", "message"}}`` body, and
afterwards every transaction the node admitted is final and a valid transaction still commits.

The cluster runs on an event loop in a background thread, so its engine, ticker and transport
keep running between hypothesis examples exactly as in a node process; each example submits
its request to that loop. Bounded: ``MAX_EXAMPLES`` per property, a few seconds in all.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from chainfin import httpsig
from chainfin.client import signed_headers
from chainfin.types import Transaction
from contracts import CONTRACTS
from node import api
from tests.fixtures import (
    CLIENT_ROLES,
    Harness,
    SigningClient,
    error_problem,
    start_cluster,
    stop_cluster,
)

MAX_EXAMPLES = int(os.environ.get("CHAINFIN_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread; :meth:`run` submits a coroutine to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-loop",
                                       daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def fuzz() -> Iterator[tuple[LoopThread, Harness]]:
    lt = LoopThread()

    async def setup() -> Harness:
        genesis, nodes, ids = await start_cluster()
        http = SigningClient(TestServer(api.make_app(nodes[0])), ids["auditor"])
        await http.start_server()
        return Harness(genesis, nodes, ids, http)

    h = lt.run(setup())
    try:
        yield lt, h
    finally:
        async def teardown() -> None:
            await h.http.close()
            await stop_cluster(h.nodes)

        lt.run(teardown())
        lt.close()


async def request(h: Harness, method: str, path: str, data: bytes | None = None
                  ) -> tuple[int, str, bytes]:
    async with h.http.request(method, path, data=data,
                              headers={"Content-Type": "application/json"}) as r:
        return r.status, r.content_type, await r.read()


def check_response(status: int, ctype: str, raw: bytes, what: str) -> Any:
    """Never a 5xx; an error is a 4xx with the JSON error body. Returns the decoded body (JSON
    responses) or None."""
    assert status < 500, f"{what}: {status} {raw[:300]!r}"
    if status >= 400:
        assert ctype == "application/json", f"{what}: {status} {ctype} {raw[:300]!r}"
        body = json.loads(raw)
        problem = error_problem(status, body, status)
        assert problem is None, f"{what}: {problem}"
        return body
    return json.loads(raw) if ctype == "application/json" else None


# --------------------------------------------------------------------------- strategies

json_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                              max_size=4),
    max_leaves=16)
FIELDS = ("chain_id", "sender", "nonce", "contract", "method", "args", "signature")


@st.composite
def mutated_envelopes(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """A valid envelope with fields dropped, replaced by random JSON, or added."""
    env = dict(base)
    for k in FIELDS:
        how = draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
        if how == "drop":
            env.pop(k)
        elif how == "replace":
            env[k] = draw(json_values)
    env.update(draw(st.dictionaries(st.text(max_size=10), json_values, max_size=2)))
    return env


def post_bodies(base: dict[str, Any]) -> st.SearchStrategy[bytes]:
    valid = json.dumps(base).encode()
    return st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()),
        mutated_envelopes(base).map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=512),
        st.integers(0, len(valid)).map(lambda n: valid[:n]),  # truncated JSON
        st.tuples(st.integers(0, len(valid) - 1), st.binary(min_size=1, max_size=8)).map(
            lambda t: valid[:t[0]] + t[1] + valid[t[0] + 1:]),  # corrupted bytes
        st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    )


def arg_values(h: Harness) -> st.SearchStrategy[Any]:
    """Random encodable argument values, with real keys and currencies among them."""
    keys = [i.public_key.hex() for i in h.ids.values()]
    leaf = st.one_of(
        st.sampled_from(keys), st.sampled_from(["USD", "CNY", "usd", "XXX", ""]),
        st.integers(-(2**63), 2**64 - 1), st.integers(-5, 10_000), st.booleans(), st.none(),
        st.text(max_size=20), st.binary(max_size=40).map(bytes.hex),
        st.sampled_from(["invoice", "bill_of_lading", "add_validator", "2026-01-01"]))
    return st.recursive(
        leaf,
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
            st.sampled_from(["currency", "amount", "to", "pubkey", "name", "seller"])
            | st.text(max_size=6), kids, max_size=4),
        max_leaves=10)


def plausible(h: Harness, name: str) -> st.SearchStrategy[Any]:
    """A value that a parser for an argument called ``name`` may well accept."""
    keys = st.sampled_from(sorted(i.public_key.hex() for i in h.ids.values()))
    amount = st.integers(0, 10**6) | st.integers(0, 2**63 - 1)
    currency = st.sampled_from(["USD", "CNY"])
    by_name: dict[str, st.SearchStrategy[Any]] = {
        "to": keys, "pubkey": keys, "counterparty": keys, "bank": keys, "subject": keys,
        "from": keys, "applicant": keys, "beneficiary": keys,
        "currency": currency, "amount": amount,
        "give": st.fixed_dictionaries({"currency": currency, "amount": amount}),
        "get": st.fixed_dictionaries({"currency": currency, "amount": amount}),
        "expires_at": st.integers(0, 2**63 - 1), "expiry": st.just("2030-01-01"),
        "role": st.sampled_from(["bank", "exporter", "importer", "auditor", "issuer", "x"]),
        "doc_type": st.sampled_from(["invoice", "bill_of_lading", "packing_list", "x"]),
        "action": st.sampled_from(["add_currency", "set_role", "x"]),
    }
    if name in by_name:
        return by_name[name]
    if name.endswith("_id") or name in ("content_hash", "commitment"):
        return st.binary(min_size=32, max_size=32).map(bytes.hex)
    return arg_values(h)


@st.composite
def signed_calls(draw: st.DrawFn, h: Harness) -> Transaction:
    """A correctly signed call of a real (or unknown) contract method, by a sender that is
    often allowed to call it, with arguments that are often plausible."""
    reg = CONTRACTS
    senders = {**h.ids, **{nd.node_id: nd.identity for nd in h.nodes[1:]}}  # validators: banks
    roles = {n: ("bank" if n.startswith("node") else CLIENT_ROLES.get(n)) for n in senders}
    contract = draw(st.sampled_from(sorted(reg) + ["no_such_contract"]))
    methods = sorted(reg[contract].methods) if contract in reg else ["x"]
    method = draw(st.sampled_from(methods + ["no_such_method"]))
    m = reg[contract].methods.get(method) if contract in reg else None
    allowed = sorted(n for n, r in roles.items()
                     if m is not None and r is not None and (m.roles is None or r in m.roles))
    who = draw(st.sampled_from(allowed) if allowed and draw(st.integers(0, 3))
               else st.sampled_from(sorted(senders)))
    args: dict[str, Any] = {}
    if m is not None:
        for name in sorted(m.params):
            if draw(st.integers(0, 9)):  # now and then a required argument is missing
                args[name] = draw(plausible(h, name) if draw(st.integers(0, 3))
                                  else arg_values(h))
        for name in sorted(m.optional):
            if draw(st.booleans()):
                args[name] = draw(plausible(h, name))
    args.update(draw(st.dictionaries(st.text(max_size=8), arg_values(h), max_size=1)))
    nonce = draw(st.integers(0, 2**63 - 1) | st.integers(1, 50))
    return Transaction.create(senders[who], h.chain_id, nonce, contract, method, args)


segments = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["latest", "0", "-1", "..", ".", "%", "%00", "00" * 32, "0" * 63, "events",
                     "supply/USD", "a/b/c", "\u0661", "\uff11", " 1", "+1", "1_0"]),
    st.from_regex(r"[0-9]{1,25}", fullmatch=True),
    st.from_regex(r"[0-9a-fA-F]{60,68}", fullmatch=True),
)
ROUTES = ["/v1/tx/{}", "/v1/blocks/{}", "/v1/state/{}/{}", "/v1/proofs/tx/{}",
          "/v1/proofs/state/{}/{}", "/v1/nonce/{}", "/v1/sync/blocks?from={}&max={}",
          "/v1/tx?wait={}", "/{}", "/v1/{}"]


# --------------------------------------------------------------------------- the properties


def test_fuzz_rest_api(fuzz: tuple[LoopThread, Harness]) -> None:
    lt, h = fuzz
    base = h.issue(1).to_json()
    admitted: list[bytes] = []
    t0 = time.monotonic()

    @FUZZ
    @given(body=post_bodies(base), wait=st.sampled_from(["", "", "?wait=x", "?wait=commit&wait=1"]))
    def post_garbage(body: bytes, wait: str) -> None:
        status, ctype, raw = lt.run(request(h, "POST", "/v1/tx" + wait, body))
        out = check_response(status, ctype, raw, f"POST {body[:200]!r}")
        if status == 202:
            admitted.append(bytes.fromhex(out["tx_id"]))
        else:
            assert status in (400, 409, 413, 429, 503), (status, out)

    @FUZZ
    @given(data=st.data())
    def post_signed(data: st.DataObject) -> None:
        tx = data.draw(signed_calls(h))
        status, ctype, raw = lt.run(request(h, "POST", "/v1/tx",
                                            json.dumps(tx.to_json()).encode()))
        out = check_response(status, ctype, raw, f"POST {tx}")
        if status == 202:
            assert out == {"tx_id": tx.tx_id.hex(), "status": "pending"}
            admitted.append(tx.tx_id)
        else:
            assert status in (400, 409), (status, out, tx)

    @FUZZ
    @given(route=st.sampled_from(ROUTES), a=segments, b=segments,
           method=st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE",
                                   "OPTIONS"]))
    def get_random_paths(route: str, a: str, b: str, method: str) -> None:
        path = route.format(quote(a, safe=""), quote(b, safe=""))
        resolved = URL("http://node").join(URL(path)).path  # as the client sends it: "/v1/
        if resolved in ("/v1/events", "/v1/tx") or a == "events":  # state/../events" is SSE
            return  # the SSE stream never ends; POST /v1/tx is fuzzed above
        status, ctype, raw = lt.run(request(h, method, path))
        if method == "HEAD":
            assert status < 500, (method, path, status)
            return
        check_response(status, ctype, raw, f"{method} {path}")

    post_garbage()
    post_signed()
    get_random_paths()

    # everything the node admitted becomes final, and a valid transaction still commits
    async def settle() -> tuple[int, Any]:
        deadline = time.monotonic() + 20
        for tx_id in admitted:
            while (o := h.node.tx_outcome(tx_id)) is None or o.status == "pending":
                assert o is not None, f"admitted tx {tx_id.hex()} vanished"
                assert time.monotonic() < deadline, f"admitted tx {tx_id.hex()} never final"
                await asyncio.sleep(0.01)
            # a contract that raises anything but a ContractError on odd input has a bug
            assert (o.error or {}).get("code") != "internal_error", (o, h.node.mempool.get(tx_id))
        # the random calls used random nonces of every sender: ask the node for a fresh one
        # (not next_nonce(): it is max + 1, which overflows once 2**63 - 1 was used)
        issuer = h.ids["usd_issuer"].public_key
        used = set(h.node.ledger.used_nonces(issuer))
        used.update(t.nonce for t in h.node.mempool.by_sender(issuer))
        nonce = next(n for n in itertools.count(1000) if n not in used)
        return await h.post(h.issue(5, nonce=nonce))

    status, out = lt.run(settle())
    assert status == 200 and out["status"] == "committed", out
    assert all(nd.ledger.tip.height >= h.node.ledger.tip.height - 1 for nd in h.nodes)
    assert time.monotonic() - t0 < 60


# --------------------------------------------------------------------------- request signatures

SIG_HEADERS = ("Signature-Input", "Signature", "Content-Digest")


@st.composite
def signature_headers(draw: st.DrawFn, valid: dict[str, str]) -> dict[str, str]:
    """A valid signature's headers with some dropped, replaced by random text, spliced or
    with one character changed."""
    out = dict(valid)
    for name in SIG_HEADERS:
        how = draw(st.sampled_from(["keep", "keep", "drop", "random", "splice", "flip"]))
        if how == "drop":
            out.pop(name)
        elif how == "random":
            out[name] = draw(st.text(st.characters(codec="latin-1", min_codepoint=32,
                                                   exclude_characters="\x7f"),
                                     max_size=200))
        elif how == "splice":
            v, i = out[name], draw(st.integers(0, len(out[name])))
            out[name] = v[:i] + draw(st.sampled_from(['"', ";", ",", " ", "=", ":", "(", ")",
                                                      ";created=1", ';alg="ed25519"'])) + v[i:]
        elif how == "flip":
            v, i = out[name], draw(st.integers(0, len(out[name]) - 1))
            # printable ASCII: the HTTP client itself refuses control characters (DEL included)
            ch = draw(st.characters(min_codepoint=33, max_codepoint=126))
            out[name] = v[:i] + ch + v[i + 1:]
    return out


def test_fuzz_signature_headers(fuzz: tuple[LoopThread, Harness]) -> None:
    """Never a 5xx, and never a read unless the headers are a valid signature (the oracle:
    chainfin.httpsig on the same request)."""
    lt, h = fuzz
    path = f"/v1/state/settlement/bal/{h.ids['exporter'].public_key.hex()}/USD"
    url = str(h.http.make_url(path))

    async def send(headers: dict[str, str]) -> tuple[int, str, bytes]:
        async with h.http.get(path, signed=False, headers=headers) as r:
            return r.status, r.content_type, await r.read()

    @FUZZ
    @given(data=st.data(), who=st.sampled_from(["exporter", "auditor", "importer"]))
    def mutated(data: st.DataObject, who: str) -> None:
        valid = signed_headers(h.ids[who], "GET", url)
        headers = data.draw(signature_headers(valid))
        try:
            httpsig.verify_request("GET", url, headers, b"", time.time())
            ok = True
        except httpsig.Unauthenticated:
            ok = False
        status, ctype, raw = lt.run(send(headers))
        body = check_response(status, ctype, raw, f"GET {headers}")
        if not ok:
            assert status == 401 and body["error"]["code"] == "unauthenticated", (status, body)
        else:
            assert status in (200, 404) or body["error"]["code"] == "unauthenticated", body

    mutated()
