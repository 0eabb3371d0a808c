"""The credit-sharing delivery agent: a node acting for a bank answers access requests for the
records that bank published, by submitting ``credit_sharing.deliver`` as the bank.

Everything it decides comes from chain data: which requests to answer (the committed block's
``access_requested`` events), what to deliver (the committed state, through
``credit_sharing.answer_request``) and the nonce (the bank key's next free nonce among the ones
its committed receipts and this node's mempool hold). No wall clock: two nodes acting for one
bank derive the same nonce, and a delivery never pushes the bank's next nonce far ahead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chainfin import execution
from chainfin.crypto import Identity
from chainfin.errors import ChainfinError
from chainfin.types import Transaction
from contracts import credit_sharing
from node.access import sender_identity

log = logging.getLogger("chainfin.node")

#: ``(identity, committed state, request id) -> deliver args or None``
Answer = Callable[[Identity, execution.StateView, str], dict[str, Any] | None]


class DeliveryAgent:
    """Answers the access requests addressed to ``bank``'s records after each commit."""

    def __init__(self, bank: Identity, chain_id: str, *,
                 state: Callable[[], execution.RawState],
                 next_nonce: Callable[[bytes], int],
                 submit: Callable[[Transaction], None], stats: dict[str, int],
                 answer: Answer = credit_sharing.answer_request) -> None:
        self.bank = bank
        self.chain_id = chain_id
        self.state = state  # the committed state
        self.next_nonce = next_nonce  # committed receipts and pending transactions
        self.submit = submit  # admits (and gossips) a transaction; raises ChainfinError
        self.stats = stats
        self.answer = answer

    def requests_for_us(self, events: list[execution.Event]) -> list[str]:
        """The ids of the access requests in ``events`` for records our bank published."""
        asked = [ev for ev in events
                 if ev.contract == "credit_sharing" and ev.name == "access_requested"
                 and "request_id" in ev.data]
        if not asked:
            return []
        # the event names the publisher by its identity id: our key's, when the bank rotated
        # it (its first key is its id; a key it rotated to maps to the id)
        state = self.state()
        me = sender_identity(lambda c, k: execution.read_value(state, c, k),
                             self.bank.public_key.hex())
        return [ev.data["request_id"] for ev in asked if ev.data.get("publisher") == me]

    def on_commit(self, result: execution.BlockResult) -> list[Transaction]:
        """Submit a ``deliver`` for each request of the committed block addressed to us;
        returns the submitted transactions. A failure is counted and logged, never raised:
        one request must not stop the node."""
        out = []
        for request_id in self.requests_for_us(result.events):
            try:
                args = self.answer(self.bank, execution.Overlay(self.state()), request_id)
                if args is None:
                    continue
                # the next free nonce of the bank key: each submit lands in the mempool, so
                # two requests of one block take two consecutive nonces
                nonce = self.next_nonce(self.bank.public_key)
                tx = Transaction.create(self.bank, self.chain_id, nonce, "credit_sharing",
                                        "deliver", args)
                self.submit(tx)
                self.stats["auto_deliveries"] += 1
                out.append(tx)
            except ChainfinError as e:
                self.stats["auto_delivery_failed"] += 1
                log.warning("automatic delivery of request %s failed: %s", request_id, e)
        return out
