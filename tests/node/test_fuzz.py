"""Short versions of the fuzzers (the long ones: docs/reliability.md)."""

from __future__ import annotations

from testnet.fuzz import fuzz_frames


async def test_fuzzed_peer_frames_are_dropped_and_counted_and_the_node_lives() -> None:
    res = await fuzz_frames(frames=1500, seed=7)
    assert res.frames >= 1500
    assert not res.node_failed and res.handler_errors == 0, res.to_json()
    assert res.committed_after, res.to_json()
    # each way of being wrong meets its own counter
    for counter in ("transport.dropped_bad_mac", "transport.dropped_malformed",
                    "transport.dropped_replay", "transport.handshakes_failed",
                    "transport.dropped_unsolicited_response",
                    "consensus.dropped_malformed", "node.frames_unknown_kind",
                    "node.gossip_txs_bad"):
        assert res.drops.get(counter, 0) > 0, (counter, res.drops)
    assert res.sent["pre_handshake"] >= 1500 // 25
    assert res.ok
