"""Replay of certified blocks (catch-up) with the decoding and the signature checks of the next
blocks in a worker process while this one executes the current block.

Per transaction, catch-up spent ~17 us decoding the block record (re-encoding each transaction's
body) and ~50 us on its Ed25519 signature, next to ~200 us executing, updating the state tree and
committing (docs/performance.md, issue 20). The decoding and the signatures depend on the record
alone, so :func:`decode_verified` does both in a worker process (a thread would not help: the
decoding holds the GIL) and hands back the block (unpickling costs ~3 us per transaction).
``Ledger.apply_certified(..., signatures_verified=True)`` then checks the certificate against the
set it derived itself, executes, compares the state root and commits, exactly as before.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from chainfin import codec
from chainfin.errors import ChainfinError, InvalidMessage
from chainfin.types import Block, CommitCertificate

__all__ = ["AHEAD", "WORKER_MIN_BYTES", "Ahead", "BlockDecoder", "decode_record", "decode_verified"]

log = logging.getLogger("chainfin.node")

#: certified records decoded (and their signatures checked) ahead of the one being applied
AHEAD = 2
#: catch-up sends a batch of records to the worker from this many bytes on (~500 transactions)
WORKER_MIN_BYTES = 1 << 18


def decode_record(raw: bytes) -> tuple[Block, CommitCertificate]:
    """A certified block record's block and certificate.

    Raises:
        InvalidMessage: a malformed record, block or transaction.
    """
    try:
        rec = codec.decode(raw)
        return Block.from_wire(rec["block"]), CommitCertificate.from_wire(rec["cert"])
    except (KeyError, TypeError) as e:
        raise InvalidMessage(f"malformed block record: {e}") from e


def decode_verified(raw: bytes) -> tuple[Block, CommitCertificate]:
    """:func:`decode_record`, then every transaction's signature verified (run in a worker).

    Raises:
        InvalidMessage: a malformed record. InvalidTransaction: a signature does not verify.
    """
    block, cert = decode_record(raw)
    for tx in block.txs:
        tx.verify_signature()
    return block, cert


class BlockDecoder:
    """A worker process that decodes certified records and verifies their transactions'
    signatures, ``AHEAD`` records in front of the caller. Close it when done (or use ``with``).
    """

    def __init__(self, workers: int = 1) -> None:
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def decoded(self, records: Iterable[bytes]
                ) -> Iterator[tuple[Block, CommitCertificate]]:
        """The records' (block, certificate), in order, every transaction signature verified.
        An error (a malformed record, a bad signature) is raised when its record's turn comes.
        """
        it = iter(records)
        pending: deque[Future[tuple[Block, CommitCertificate]]] = deque()
        try:
            while True:
                while len(pending) < AHEAD + 1:
                    raw = next(it, None)
                    if raw is None:
                        break
                    pending.append(self._pool.submit(decode_verified, raw))
                if not pending:
                    return
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()

    def submit(self, raw: bytes) -> Future[tuple[Block, CommitCertificate]]:
        """Decode and verify one record in the worker (for callers that pipeline themselves)."""
        return self._pool.submit(decode_verified, raw)

    def close(self, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> BlockDecoder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Ahead:
    """One batch of records for an event loop: each record is decoded and verified in the
    worker ``AHEAD`` + 1 records in front of the one the caller applies. Without a decoder (or
    once its worker died) records are decoded here and their signatures left to
    ``apply_certified``."""

    def __init__(self, decoder: BlockDecoder | None, records: list[bytes]) -> None:
        self.decoder = decoder
        self.records = records
        self._futs: dict[int, asyncio.Future[tuple[Block, CommitCertificate]]] = {}
        self._next = 0
        self._top_up(0)

    def _top_up(self, i: int) -> None:
        while self.decoder is not None and self._next < len(self.records) \
                and self._next <= i + AHEAD:
            self._futs[self._next] = asyncio.wrap_future(
                self.decoder.submit(self.records[self._next]))
            self._next += 1

    async def get(self, i: int) -> tuple[Block, CommitCertificate, bool]:
        """Record ``i``'s (block, certificate, whether its signatures were verified).

        Raises:
            ChainfinError: a malformed record or a signature that does not verify.
        """
        fut = self._futs.pop(i, None)
        self._top_up(i + 1)
        if fut is not None:
            try:
                block, cert = await fut
                return block, cert, True
            except ChainfinError:
                raise
            except Exception as e:  # noqa: BLE001 - the worker died: decode here from now on
                log.warning("the block decoding worker failed (%r): decoding in this process", e)
                self.cancel()
                self.decoder = None
        block, cert = decode_record(self.records[i])
        return block, cert, False

    def cancel(self) -> None:
        for f in self._futs.values():
            f.cancel()
        self._futs.clear()
