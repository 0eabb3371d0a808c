"""A per-packet WAN delay for kernels without ``sch_netem``: NFQUEUE verdicts given late.

``python -m testnet.wandelay --queue Q --delay-ms D [--jitter-ms J]`` runs inside one network
namespace (``ip netns exec cfn-...``). It binds NFQUEUE queue ``Q`` over a raw netlink socket
(no library: the nfnetlink_queue protocol is a few fixed structs), asks for packet metadata only
(``NFQNL_COPY_META``: the packet id, never its bytes), and accepts each packet ``D`` ms (+-
uniform ``J``) after the kernel queued it. An iptables rule decides which packets go to the queue
(testnet/netns.py: the packets a node receives from the other nodes, on the way in, where TCP
Small Queues no longer count them against the sender's socket), so this is the per-packet delay
``tc qdisc ... netem delay D`` gives: every TCP segment, SYN and ACK of the link waits, not only
application messages. Order is kept (a packet is never accepted before the one
queued ahead of it): with jitter, netem would reorder and TCP would retransmit; here the jitter
only spreads the delays.

It prints ``ready`` on stdout once bound (the launcher waits for it) and exits on SIGTERM. If it
dies, the queued packets are dropped (no ``--queue-bypass``): a delay that silently vanished
would make a measurement lie, a dead link shows.
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time
from types import FrameType

__all__ = ["main", "NfQueue"]

NETLINK_NETFILTER = 12
SO_RCVBUFFORCE = 33
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
QUEUE_MAXLEN = 65536


def _attr(kind: int, payload: bytes) -> bytes:
    a = struct.pack("=HH", 4 + len(payload), kind) + payload
    return a + b"\0" * (-len(a) % 4)


class NfQueue:
    """One bound NFQUEUE queue on a raw netlink socket (in the caller's network namespace)."""

    def __init__(self, queue: int) -> None:
        self.queue = queue
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((0, 0))
        self._seq = 0
        self._config(_attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)))
        self._config(_attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META)))
        self._config(_attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", QUEUE_MAXLEN)))

    def _msg(self, msg_type: int, flags: int, body: bytes) -> bytes:
        self._seq += 1
        nfgen = struct.pack("!BBH", socket.AF_UNSPEC, 0, self.queue)
        return struct.pack("=IHHII", 16 + len(nfgen) + len(body),
                           (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, self._seq, 0) + nfgen + body

    def _config(self, body: bytes) -> None:
        self.sock.send(self._msg(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, body))
        while True:  # the ack (an error message with code 0), skipping any early packet
            data = self.sock.recv(65536)
            for kind, payload in self._split(data):
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", payload)
                    if code:
                        raise OSError(-code, f"nfqueue config: {os.strerror(-code)}")
                    return

    @staticmethod
    def _split(data: bytes) -> list[tuple[int, bytes]]:
        out = []
        off = 0
        while off + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, off)
            if length < 16:
                break
            out.append((kind, data[off + 16:off + length]))
            off += (length + 3) & ~3
        return out

    def packet_ids(self, data: bytes) -> list[int]:
        """The packet ids in one read of the socket."""
        ids = []
        for kind, payload in self._split(data):
            if kind != (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                continue
            off = 4  # past nfgenmsg
            while off + 4 <= len(payload):
                alen, atype = struct.unpack_from("=HH", payload, off)
                if alen < 4:
                    break
                if atype & 0x7FFF == NFQA_PACKET_HDR:
                    ids.append(struct.unpack_from("!I", payload, off + 4)[0])
                    break
                off += (alen + 3) & ~3
        return ids

    def accept(self, packet_id: int) -> None:
        self.sock.send(self._msg(NFQNL_MSG_VERDICT, NLM_F_REQUEST,
                                 _attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT,
                                                                     packet_id))))


class _Stop(Exception):
    pass


def run(queue: int, delay_ms: float, jitter_ms: float, seed: int | None = None) -> None:
    """Accept every packet of ``queue`` ``delay_ms`` +- ``jitter_ms`` after it arrived, in
    order, until SIGTERM."""
    rng = random.Random(seed)
    nfq = NfQueue(queue)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise _Stop()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print("ready", flush=True)
    due: list[tuple[float, int]] = []  # (time, seq): a heap that is also FIFO (times grow)
    pending: dict[int, int] = {}
    last = 0.0
    seq = 0
    poller = select.poll()
    poller.register(nfq.sock, select.POLLIN)
    clock = time.monotonic
    try:
        while True:
            now = clock()
            while due and due[0][0] <= now:
                _, s = heapq.heappop(due)
                try:
                    nfq.accept(pending.pop(s))
                except OSError:
                    pass  # the packet is gone (its socket closed): nothing to accept
            timeout = -1 if not due else max(0, int((due[0][0] - now) * 1000 + 0.999))
            if not poller.poll(timeout):
                continue
            try:
                data = nfq.sock.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except OSError:  # ENOBUFS: the kernel dropped queue messages; keep going
                continue
            now = clock()
            for pid in nfq.packet_ids(data):
                d = delay_ms + (rng.uniform(-jitter_ms, jitter_ms) if jitter_ms else 0.0)
                at = max(now + max(0.0, d) / 1000, last)  # never before the packet ahead
                last = at
                seq += 1
                pending[seq] = pid
                heapq.heappush(due, (at, seq))
    except _Stop:
        pass
    finally:
        nfq.sock.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m testnet.wandelay", description=__doc__.split(
        "\n")[0])
    p.add_argument("--queue", type=int, required=True)
    p.add_argument("--delay-ms", type=float, required=True, help="one-way delay")
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=None)
    a = p.parse_args(argv)
    if a.delay_ms < 0 or a.jitter_ms < 0:
        p.error("delays are not negative")
    run(a.queue, a.delay_ms, a.jitter_ms, a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
