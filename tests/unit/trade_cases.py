"""Documents of one shipment and a ledger set up for trade finance, shared by the unit, property
and REST tests of trade_documents."""

from __future__ import annotations

import hashlib
from typing import Any

from chainfin import codec
from chainfin.execution import Receipt, nonce_word_key, receipt_key
from contracts.testing import Ledger, make_genesis

T = "trade_documents"

SELLER, BUYER = "ACME Exports Ltd", "Globex Corp"  # contracts.testing.LEGAL_NAMES
INVOICE_AMOUNT = 100_000_00  # USD 100,000.00

INVOICE = {"seller": "ACME Exports Ltd.", "buyer": "GLOBEX corp", "number": "INV-2025-001",
           "issue_date": "2025-11-20", "amount": INVOICE_AMOUNT, "currency": "USD"}
DECLARATION = {"declaration_number": "CD/2025/000123", "exporter": "acme exports ltd",
               "amount": 98_000_00, "currency": "USD"}
BILL_OF_LADING = {"carrier": "MAEU", "bl_number": "MAEU-778899", "shipper": "ACME Exports Ltd",
                  "consignee": "Globex Corp", "vessel": "Maersk Kendal",
                  "port_of_loading": "Shanghai", "port_of_discharge": "Rotterdam"}
MATURITY = "2026-02-28"
FUNDS = 10_000_000_00


def h(tag: object) -> str:
    return hashlib.sha256(repr(tag).encode()).hexdigest()


def trade_ledger(**params: Any) -> Ledger:
    """A ledger whose banks each hold USD 10,000,000.00; consortium params as given (the
    testnet's ``financing_requires_attestation`` is true unless overridden)."""
    led = Ledger(make_genesis(params={"financing_requires_attestation": True, **params}))
    for bank in ("bank_a", "bank_b", "bank_c"):
        led.ok("usd_issuer", "settlement", "issue", currency="USD", to=led.pk(bank),
               amount=FUNDS)
    return led


def register(led: Ledger, doc_type: str, fields: dict[str, Any], tag: object = None,
             who: str = "exporter", **extra: Any) -> dict[str, Any]:
    return led.ok(who, T, "register", doc_type=doc_type, fields=fields,
                  content_hash=h(tag or (doc_type, sorted(fields.items()))), **extra)


def open_trade(led: Ledger, attest: str | None = "match", declared: int = 98_000_00
               ) -> dict[str, str]:
    """Invoice (opens the trade), declaration and B/L linked, customs attests. Returns ids."""
    inv = register(led, "invoice", INVOICE)
    trade = inv["trade_id"]
    decl = register(led, "customs_declaration", DECLARATION, trade_id=trade)["doc_id"]
    bl = register(led, "bill_of_lading", BILL_OF_LADING, trade_id=trade)["doc_id"]
    if attest is not None:
        led.ok("customs", T, "attest", doc_id=decl, result=attest, declared_amount=declared)
    return {"trade": trade, "invoice": inv["doc_id"], "declaration": decl, "bill_of_lading": bl}


def state_without_receipts(led: Ledger) -> dict[bytes, bytes]:
    """The state but the records of used nonces (receipts in format 1, nonce words in 2)."""
    return {k: v for k, v in led.state.data.items() if not k.startswith((b"_tx/", b"_nonce/"))}


def used_key(led: Ledger, who: str, nonce: int) -> bytes:
    """The state key recording that ``who`` used ``nonce`` (by the ledger's format)."""
    f = nonce_word_key if led.context().nonce_words else receipt_key
    return f(led.ids[who].public_key, nonce)


def _without_attempts(state: dict[bytes, bytes]) -> dict[bytes, Any]:
    """The state with each document's ``duplicate_attempts`` left out: a duplicate's refusal
    records itself there (kept although the transaction is rejected)."""
    out: dict[bytes, Any] = {}
    for k, v in state.items():
        if k.startswith(f"{T}/doc/".encode()):
            doc = codec.decode(v)
            doc.pop("duplicate_attempts", None)
            out[k] = doc
        else:
            out[k] = v
    return out


def refused(led: Ledger, code: str, who: str, method: str, /, **args: Any) -> Receipt:
    """The transaction is rejected with ``code`` and changes no state but its own receipt (and,
    for a duplicate, the attempt recorded on the existing document)."""
    before = _without_attempts(state_without_receipts(led))
    r = led.fails(code, who, T, method, **args)
    assert _without_attempts(state_without_receipts(led)) == before, \
        f"{method} refused but changed the state"
    assert led.last is not None
    changed = [k for k in led.last.changes if not k.startswith(f"{T}/doc/".encode())
               or code != "duplicate_document"]
    assert changed == [used_key(led, who, r.nonce)]
    return r


def finance(led: Ledger, bank: str, amount: int, **target: str) -> dict[str, Any]:
    return led.ok(bank, T, "request_financing", amount=amount, currency="USD",
                  maturity_date=MATURITY, **target)


#: the pool of a trade :func:`open_trade` opened (its attested declaration caps it)
POOL = 98_000_00

#: the same goods a week later at 3 % less: outside the similarity window (3 days, ~1 %)
MOVED = {"issue_date": "2025-11-27", "amount": INVOICE_AMOUNT * 97 // 100}


def financed_trade() -> Ledger:
    """Trade 1 (invoice INV-2025-001, its attested declaration, its B/L) financed by bank A:
    the red-team rounds' starting point (a module takes it as its ``L`` fixture)."""
    led = trade_ledger()
    finance(led, "bank_a", POOL, trade_id=open_trade(led)["trade"])
    return led


def reg(led: Ledger, fields: dict[str, Any], doc_type: str = "invoice", **extra: Any) -> Any:
    """The exporter registers a document of ``fields`` (its content hash from them)."""
    return led.tx("exporter", T, "register", doc_type=doc_type, fields=fields,
                  content_hash=h((doc_type, sorted(fields.items()))), **extra)

