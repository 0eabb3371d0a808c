"""The credit-sharing delivery agent: a node acting for a bank answers access requests for the
records that bank published, by submitting ``credit_sharing.deliver`` as the bank, and closes
those it can no longer deliver (``close_request``, decisions 249, 289-292).

Everything it decides comes from chain data: which requests to answer (the committed block's
``access_requested`` events, then a bounded sweep of the bank's pending requests,
``credit_sharing.pending_requests``), what to deliver or close (the committed state at the
committed block's time, through ``credit_sharing.answer_request`` and ``closable``) and the
nonce (the bank key's next free nonce among the ones its committed receipts and this node's
mempool hold). No wall clock: two nodes acting for one bank derive the same transactions and
nonces, and a delivery never pushes the bank's next nonce far ahead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from chainfin import execution
from chainfin.crypto import Identity
from chainfin.errors import ChainfinError
from chainfin.types import Transaction
from contracts import credit_sharing
from node.access import sender_identity

log = logging.getLogger("chainfin.node")

#: ``(identity, committed state, request id, block time ms) -> deliver args or None``
Answer = Callable[[Identity, execution.StateView, str, int], dict[str, Any] | None]
#: At most this many of the bank's pending requests looked at after a commit (decision 290):
#: each may cost a signature, a sealed box and a transaction.
SWEEP_MAX = 8


class DeliveryAgent:
    """Answers the access requests addressed to ``bank``'s records after each commit, retries
    those left pending and closes those past their record's end."""

    def __init__(self, bank: Identity, chain_id: str, *,
                 state: Callable[[], execution.RawState],
                 next_nonce: Callable[[bytes], int],
                 submit: Callable[[Transaction], None], stats: dict[str, int],
                 answer: Answer = credit_sharing.answer_request,
                 sweep_max: int = SWEEP_MAX) -> None:
        self.bank = bank
        self.chain_id = chain_id
        self.state = state  # the committed state
        self.next_nonce = next_nonce  # committed receipts and pending transactions
        self.submit = submit  # admits (and gossips) a transaction; raises ChainfinError
        self.stats = stats
        self.answer = answer
        self.sweep_max = sweep_max

    def _me(self, state: execution.RawState) -> str:
        """Our bank's identity id: the request names the publisher by it, our key's when the
        bank rotated it (its first key is its id; a key it rotated to maps to the id)."""
        return sender_identity(lambda c, k: execution.read_value(state, c, k),
                               self.bank.public_key.hex())

    def requests_for_us(self, events: list[execution.Event]) -> list[str]:
        """The ids of the access requests in ``events`` for records our bank published."""
        asked = [ev for ev in events
                 if ev.contract == "credit_sharing" and ev.name == "access_requested"
                 and "request_id" in ev.data]
        if not asked:
            return []
        me = self._me(self.state())
        return [ev.data["request_id"] for ev in asked if ev.data.get("publisher") == me]

    def swept(self, height: int) -> list[str]:
        """At most ``sweep_max`` of our bank's pending requests (decision 290): the slots from
        ``(height * sweep_max) mod n`` on, so each pending request comes round every
        ``n / sweep_max`` blocks whatever the others do, and two nodes of the bank pick the
        same ones."""
        state = self.state()
        view, me = execution.Overlay(state), self._me(state)
        n, _ = credit_sharing.pending_requests(view, me, 1, 0)
        if n == 0 or self.sweep_max <= 0:
            return []
        start = (height * self.sweep_max) % n + 1
        return credit_sharing.pending_requests(view, me, start, self.sweep_max)[1]

    def _action(self, view: execution.StateView, request_id: str, now_ms: int
                ) -> tuple[str, dict[str, Any]] | None:
        """``deliver`` with its args while the request can be delivered at ``now_ms``;
        ``close_request`` once its record is past its end, when its consent still covers it
        and the requester is a bank in good standing (decision 291: what we would have
        delivered but for the end); else None (not ours, not pending, or the subject's to
        close ``withdrawn``, decision 250)."""
        args = self.answer(self.bank, view, request_id, now_ms)
        if args is not None:
            return "deliver", args
        if not credit_sharing.closable(view, request_id, now_ms):
            return None
        req = view.get(credit_sharing.NAME, "request/" + request_id)
        if (not isinstance(req, dict)
                or credit_sharing.current_key(view, str(req["publisher"]))
                != self.bank.public_key.hex()
                or credit_sharing.delivery_key(view, request_id, req, now_ms) is None):
            return None
        return "close_request", {"request_id": request_id}

    def on_commit(self, result: execution.BlockResult, now_ms: int, height: int, *,
                  pending: Callable[[bytes], Iterable[Transaction]] | None = None
                  ) -> list[Transaction]:
        """After the block at ``height`` (block time ``now_ms``, never the wall clock) commits:
        answer each request of the block addressed to us, then sweep a few of our pending
        requests (:meth:`swept`): deliver those still deliverable, close those past their
        record's end (never a ``deliver`` the chain refuses ``record_expired``). A request
        ``pending`` (the node's mempool: ``sender -> transactions``) already answers, by this
        node or another of the bank, is left alone. Returns the submitted transactions. A
        failure is counted and logged, never raised: one request must not stop the node."""
        out: list[Transaction] = []
        busy: set[str] = set()
        for tx in pending(self.bank.public_key) if pending is not None else ():
            if tx.contract == credit_sharing.NAME and tx.method in ("deliver", "close_request"):
                busy.add(str(tx.args.get("request_id")))
        try:
            todo = self.requests_for_us(result.events)
            todo += [r for r in self.swept(height) if r not in todo]
        except ChainfinError as e:  # a state read that failed: the next commit tries again
            self.stats["auto_delivery_failed"] += 1
            log.warning("automatic delivery could not list requests: %s", e)
            return out
        for request_id in todo:
            if request_id in busy:
                continue
            try:
                act = self._action(execution.Overlay(self.state()), request_id, now_ms)
                if act is None:
                    continue
                method, args = act
                # the next free nonce of the bank key: each submit lands in the mempool, so
                # two requests of one block take two consecutive nonces
                nonce = self.next_nonce(self.bank.public_key)
                tx = Transaction.create(self.bank, self.chain_id, nonce, credit_sharing.NAME,
                                        method, args)
                self.submit(tx)
                counter = "auto_deliveries" if method == "deliver" else "auto_closes"
                self.stats[counter] = self.stats.get(counter, 0) + 1
                busy.add(request_id)
                out.append(tx)
            except ChainfinError as e:
                self.stats["auto_delivery_failed"] += 1
                log.warning("automatic answer to request %s failed: %s", request_id, e)
        return out
