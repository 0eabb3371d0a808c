"""A tiny in-memory ledger for contract tests, demos and benchmarks (no consensus, no network).

``Ledger`` builds a genesis with a standard cast of deterministic identities, executes
transactions through :func:`chainfin.execution.execute_block` exactly as a node would, and applies
each block's changes to a :class:`DictState`. Transactions are left unsigned (execution never
checks signatures; the node does that once on arrival).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chainfin import codec
from chainfin.crypto import Identity
from chainfin.execution import (
    BlockContext,
    BlockResult,
    Contract,
    DictState,
    Receipt,
    execute_block,
    genesis_state,
    overlay_consistent,
)
from chainfin.genesis import Genesis
from chainfin.types import Transaction
from contracts import CONTRACTS

CHAIN_ID = "chainfin-test"
GENESIS_TIME_MS = 1_764_129_600_000  # 2025-11-26T04:00:00Z
FINGERPRINT_KEY = hashlib.sha256(b"chainfin test fingerprint key").hexdigest()

#: name -> (role, admin, validator)
CAST: dict[str, tuple[str, bool, bool]] = {
    "bank_a": ("bank", True, True),
    "bank_b": ("bank", False, True),
    "bank_c": ("bank", False, True),
    "bank_d": ("bank", False, True),
    "bank_e": ("bank", False, False),  # a bank that is not a validator
    "exporter": ("exporter", False, False),
    "exporter2": ("exporter", False, False),
    "importer": ("importer", False, False),
    "auditor": ("auditor", False, False),
    "regulator": ("auditor", False, False),
    "usd_issuer": ("issuer", False, False),
    "jpy_issuer": ("issuer", False, False),
    "customs": ("customs", False, False),
}

#: The names trade documents carry for cast members (their governance ``legal_name``).
LEGAL_NAMES: dict[str, str] = {
    "exporter": "ACME Exports Ltd",
    "exporter2": "Borealis Trading Co",
    "importer": "Globex Corp",
}

#: code -> (exponent, issuer name)
CURRENCIES: dict[str, tuple[int, str]] = {
    "USD": (2, "usd_issuer"),
    "JPY": (0, "jpy_issuer"),
    "CNY": (2, "usd_issuer"),
    "HKD": (2, "usd_issuer"),
    "BHD": (3, "usd_issuer"),
    "KWD": (3, "usd_issuer"),
}


def identity(name: str) -> Identity:
    return Identity.from_seed_text("chainfin-test/" + name, name)


def make_genesis(cast: dict[str, tuple[str, bool, bool]] | None = None,
                 regulators: Iterable[str] = ("regulator",),
                 params: dict[str, Any] | None = None) -> Genesis:
    cast = CAST if cast is None else cast
    ids = {n: identity(n) for n in cast}
    return Genesis.model_validate({
        "chain_id": CHAIN_ID,
        "genesis_time_ms": GENESIS_TIME_MS,
        "validators": [{"name": n, "public_key": ids[n].public_key.hex(), "bank": n.upper()}
                       for n, (_, _, v) in cast.items() if v],
        "identities": [{"name": n, "public_key": ids[n].public_key.hex(), "role": r,
                        "admin": a, "bank": n.upper() if r == "bank" else None,
                        "legal_name": LEGAL_NAMES.get(n)}
                       for n, (r, a, _) in cast.items()],
        "currencies": [{"code": c, "exponent": e, "issuer": ids[i].public_key.hex()}
                       for c, (e, i) in CURRENCIES.items() if i in ids],
        "regulators": [ids[r].public_key.hex() for r in regulators],
        "fingerprint_key": FINGERPRINT_KEY,
        # new chains are of ledger format 2 (decision 95), as `chainfin testnet init` writes
        "params": {"ledger_format": 2, **(params or {})},
    })


class Ledger:
    """State + clock + nonces. ``ledger.tx("exporter", "settlement", "transfer", to=..., ...)``."""

    def __init__(self, genesis: Genesis | None = None,
                 registry: Mapping[str, Contract] | None = None) -> None:
        self.genesis = genesis or make_genesis()
        self.registry = CONTRACTS if registry is None else registry
        self.state = DictState(genesis_state(self.genesis))
        self.ids: dict[str, Identity] = {i.name: identity(i.name) for i in self.genesis.identities}
        self.height = 0
        self.now_ms = self.genesis.genesis_time_ms
        self.nonces: dict[bytes, int] = {}
        self.last: BlockResult | None = None
        self.validator_changes: list[tuple[int, tuple[bytes, ...]]] = []

    def pk(self, name: str) -> str:
        """Public key hex of a cast member (or of any Identity)."""
        return self.ids[name].public_key.hex() if name in self.ids else identity(name).public_key.hex()

    def add_identity(self, name: str) -> Identity:
        ident = identity(name)
        self.ids[name] = ident
        return ident

    def make_tx(self, who: str | Identity, contract: str, method: str, args: dict[str, Any],
                nonce: int | None = None) -> Transaction:
        ident = who if isinstance(who, Identity) else self.ids.get(who) or identity(who)
        if nonce is None:
            nonce = self.nonces.get(ident.public_key, 0)
            self.nonces[ident.public_key] = nonce + 1
        return Transaction(CHAIN_ID, ident.public_key, nonce, contract, method, args)

    def context(self) -> BlockContext:
        return BlockContext.from_genesis(self.genesis, self.height + 1, self.now_ms, b"\0" * 32,
                                         self.state)

    def block(self, txs: Sequence[Transaction], advance_ms: int = 1000) -> BlockResult:
        """Execute ``txs`` as the next block and commit it. Checks that no contract changed a
        value it only read (:func:`chainfin.execution.overlay_consistent`).

        Raises:
            AssertionError: a value the block read or wrote no longer matches its bytes.
        """
        self.now_ms += advance_ms
        res = execute_block(self.state, txs, self.context(), self.registry)
        if not overlay_consistent(res.overlay):
            raise AssertionError("a contract mutated a state value it only read (peek)")
        self.state.apply(res.changes)
        self.height += 1
        self.last = res
        if res.validator_set_change is not None:
            self.validator_changes.append((self.height, res.validator_set_change))
        return res

    def tx(self, who: str | Identity, contract: str, method: str, /, **args: Any) -> Receipt:
        """One transaction in its own block; returns its receipt."""
        return self.block([self.make_tx(who, contract, method, args)]).receipts[0]

    def ok(self, who: str | Identity, contract: str, method: str, /, **args: Any) -> dict[str, Any]:
        """Like :meth:`tx` but asserts it committed; returns its result."""
        r = self.tx(who, contract, method, **args)
        assert r.status == "committed", (r.error_code, r.error_message)
        return r.result

    def fails(self, code: str, who: str | Identity, contract: str, method: str, /,
              **args: Any) -> Receipt:
        """Like :meth:`tx` but asserts it was rejected with ``code``."""
        r = self.tx(who, contract, method, **args)
        assert r.status == "rejected", f"expected {code}, got committed {r.result}"
        assert r.error_code == code, f"expected {code}, got {r.error_code}: {r.error_message}"
        return r

    def get(self, contract: str, key: str) -> Any:
        return self.state.get(contract, key)

    def balance(self, name_or_hex: str, currency: str) -> int:
        holder = self.pk(name_or_hex) if name_or_hex in self.ids else name_or_hex
        v = self.state.get("settlement", f"bal/{holder}/{currency}")
        return 0 if v is None else int(v)

    def balances(self, currency: str) -> dict[str, int]:
        """Every account's balance in ``currency`` (escrow included)."""
        out = {}
        suffix = f"/{currency}".encode()
        for k, v in self.state.items_with_prefix(b"settlement/bal/"):
            if k.endswith(suffix):
                out[k.decode().split("/")[2]] = codec.decode(v)
        return out


# ---------------------------------------------------------------------------- micro-benchmark


def bench(n: int = 2000, repeat: int = 5) -> dict[str, float]:
    """Execution cost per transaction (µs, best of ``repeat``) of typical methods, each measured
    as one block of ``n`` transactions executed on a committed state (what a replica does).
    Run: ``python -m contracts.testing``."""
    import time

    from chainfin.execution import check_tx_static

    led = Ledger()
    pk = led.pk
    led.ok("usd_issuer", "settlement", "issue", currency="USD", to=pk("bank_a"), amount=10**15)
    led.ok("jpy_issuer", "settlement", "issue", currency="JPY", to=pk("bank_b"), amount=10**15)
    ctx_exp = led.now_ms + 10**9

    def inv(i: int) -> dict[str, Any]:
        # one buyer per invoice: invoices near in amount and date to one buyer are suspected
        # copies (decision 114)
        return {"seller": "ACME Exports Ltd", "buyer": f"Globex {i}", "number": f"INV-{i}",
                "issue_date": "2025-03-01", "amount": 100_000 + i, "currency": "USD"}

    def h(i: int) -> str:
        return hashlib.sha256(i.to_bytes(8, "big")).hexdigest()

    # setup blocks: offers to accept, documents to finance
    offers = led.block([led.make_tx("bank_a", "settlement", "offer_pvp", {
        "counterparty": pk("bank_b"), "give": {"currency": "USD", "amount": 100},
        "get": {"currency": "JPY", "amount": 15}, "expires_at": ctx_exp}) for _ in range(n)])
    offer_ids = [r.result["offer_id"] for r in offers.receipts]
    docs = led.block([led.make_tx("exporter", "trade_documents", "register", {
        "doc_type": "invoice", "fields": inv(10**6 + i), "content_hash": h(10**6 + i)})
        for i in range(n)])
    doc_ids = [r.result["doc_id"] for r in docs.receipts]

    cases: dict[str, list[Transaction]] = {
        "settlement.transfer": [led.make_tx("bank_a", "settlement", "transfer", {
            "to": pk("exporter"), "currency": "USD", "amount": 1}) for _ in range(n)],
        "settlement.transfer (rejected: insufficient_funds)": [
            led.make_tx("exporter", "settlement", "transfer", {
                "to": pk("bank_a"), "currency": "USD", "amount": 1}) for _ in range(n)],
        "settlement.issue": [led.make_tx("usd_issuer", "settlement", "issue", {
            "currency": "USD", "to": pk("exporter"), "amount": 1}) for _ in range(n)],
        "settlement.accept_pvp": [led.make_tx("bank_b", "settlement", "accept_pvp",
                                              {"offer_id": o}) for o in offer_ids],
        "trade_documents.register (invoice)": [led.make_tx("exporter", "trade_documents",
                                                           "register", {
            "doc_type": "invoice", "fields": inv(i), "content_hash": h(i)}) for i in range(n)],
        "trade_documents.request_financing": [led.make_tx("bank_a", "trade_documents",
                                                          "request_financing", {
            "doc_id": d, "amount": 1000, "currency": "USD", "maturity_date": "2030-01-01"})
            for d in doc_ids],
    }
    out: dict[str, float] = {}
    ctx = led.context()
    for name, txs in cases.items():
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = execute_block(led.state, txs, ctx, led.registry)
            best = min(best, time.perf_counter() - t0)
        want = "rejected" if "rejected" in name else "committed"
        assert all(r.status == want for r in res.receipts), (name, res.receipts[0])
        out[name] = best / len(txs) * 1e6
    txs = cases["settlement.transfer"]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for tx in txs:
            ctx = led.context()
            check_tx_static(tx, led.state, registry=led.registry,
                            nonce_words=ctx.nonce_words, legacy_receipts=ctx.legacy_receipts)
        best = min(best, time.perf_counter() - t0)
    out["check_tx_static (transfer)"] = best / len(txs) * 1e6
    return out


def bench_risk(n: int = 2000, repeat: int = 5, watch_entries: int = 10_000) -> dict[str, float]:
    """Cost of the risk checks per transfer (µs, best of ``repeat``): the same block of ``n``
    transfers by one sender with no rule on it, then under a per-payment limit, a 24 h outflow
    limit and a velocity rule, with ``watch_entries`` entries on the watch list (none hit).
    Run: ``python -m contracts.testing risk``."""
    import time

    from contracts import risk

    led = Ledger()
    pk = led.pk
    led.ok("usd_issuer", "settlement", "issue", currency="USD", to=pk("bank_a"), amount=10**15)
    key = risk.watch_key(led.genesis.fingerprint_key_bytes())
    digests = [risk.watch_digest(key, "name", f"watched party {i}") for i in range(watch_entries)]
    for i in range(0, len(digests), 256):
        led.ok("regulator", "risk", "add_watch", entries=digests[i:i + 256])

    def block() -> list[Transaction]:
        return [led.make_tx("bank_a", "settlement", "transfer", {
            "to": pk("exporter"), "currency": "USD", "amount": 1}) for _ in range(n)]

    def best_of(txs: list[Transaction]) -> float:
        best = float("inf")
        ctx = led.context()
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = execute_block(led.state, txs, ctx, led.registry)
            best = min(best, time.perf_counter() - t0)
        assert all(r.status == "committed" for r in res.receipts), res.receipts[0]
        return best / len(txs) * 1e6

    out = {"settlement.transfer, no rule on the sender": best_of(block())}
    for kind, window in (("max_per_tx", None), ("window_outflow", 86_400), ("velocity", 86_400)):
        args = {"subject": pk("bank_a"), "kind": kind, "currency": "USD", "max": 10**12,
                "rule_id": kind}
        if window is not None:
            args["window_s"] = window
        led.ok("regulator", "risk", "set_limit", **args)
    out["settlement.transfer, 3 rules + 10,000 watch entries"] = best_of(block())
    out["risk checks per transfer (difference)"] = (
        out["settlement.transfer, 3 rules + 10,000 watch entries"]
        - out["settlement.transfer, no rule on the sender"])
    return out


if __name__ == "__main__":
    import platform
    import sys

    risk_mode = len(sys.argv) > 1 and sys.argv[1] == "risk"
    size = int(sys.argv[2 if risk_mode else 1]) if len(sys.argv) > (2 if risk_mode else 1) \
        else 2000
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{size} txs per block, best of 5")
    for k, v in (bench_risk(size) if risk_mode else bench(size)).items():
        print(f"{k:52s} {v:7.1f} µs/tx")
