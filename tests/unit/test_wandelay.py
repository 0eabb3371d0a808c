"""testnet/wandelay.py's netlink parsing, without a socket (the delay itself is exercised by
tests/e2e/test_netns.py, as root)."""

from __future__ import annotations

import socket
import struct

from testnet.wandelay import NFNL_SUBSYS_QUEUE, NFQA_PACKET_HDR, NFQNL_MSG_PACKET, NfQueue, _attr


def _packet_msg(packet_id: int, extra_attrs: bytes = b"") -> bytes:
    nfgen = struct.pack("!BBH", socket.AF_INET, 0, 0)
    body = nfgen + extra_attrs + _attr(NFQA_PACKET_HDR, struct.pack("!IHB", packet_id, 0x0800, 3))
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET,
                       0, 0, 0) + body


def test_packet_ids_of_several_messages_in_one_read() -> None:
    q = NfQueue.__new__(NfQueue)  # no socket: only the parser
    other_attr = _attr(9, b"\x01\x02\x03")  # an attribute before the header, padded
    data = _packet_msg(7) + _packet_msg(2**32 - 1, other_attr) + _packet_msg(42)
    assert q.packet_ids(data) == [7, 2**32 - 1, 42]


def test_messages_of_other_kinds_and_truncated_tails_are_skipped() -> None:
    q = NfQueue.__new__(NfQueue)
    error = struct.pack("=IHHII", 20, 2, 0, 0, 0) + struct.pack("=i", 0)
    assert q.packet_ids(error + _packet_msg(5) + b"\x10\x00") == [5]
    assert q.packet_ids(b"") == []
