"""``chainfin bench``: an open-loop finality benchmark on a fresh local testnet of real processes.

::

    chainfin bench --nodes 4 --rate 500 --duration 30 [--json out.json] [--plot out.png]
    chainfin bench --nodes 4 --rate 200 --duration 30 --find-max [--confirm 2]

One run:

1. ``init_testnet`` in a temporary directory with ``S`` extra genesis identities (``trader*``, role
   exporter: they may transfer money and register trade documents), so no sender's per-sender
   limit ever binds and no setup transactions are needed to create them.
2. Pre-sign everything before the clock starts: one ``settlement.issue`` per sender (funding) and
   ``rate x duration`` load transactions, 70 % ``settlement.transfer`` between funded senders and
   30 % ``register`` work: trades (an invoice, then its customs declaration, the customs
   attestation and, for every other trade, a bank's financing of half of it, each step due
   ``TRADE_GAP_S`` seconds (at least ``TRADE_GAP`` load positions) after the one before, so it
   depends only on committed state); each one's JSON body is encoded once.
3. Measure ``limit_tps`` (below) while no node runs yet, so the machine is quiet.
4. Start the nodes, wait until they answer and are linked, fund the senders (``?wait=commit``).
5. Offer the load open-loop: transaction ``k`` is due at ``t0 + k / rate``, fixed in advance. A
   scheduler task sleeps until each due time and starts that submission as its own task, never
   waiting for earlier ones, so a slow system cannot slow the load down and hide its latency.
   Submissions go round-robin to the nodes as ``POST /v1/tx?wait=commit`` over one aiohttp
   session. A transaction's **finality** is the time from its *scheduled* send time to the
   response saying it committed: lag of the load generator itself counts against the result.
   Failed = a non-2xx answer, ``rejected``, the node's wait running out (``pending``), no answer
   within ``REQUEST_TIMEOUT_S``, or still open ``DRAIN_S`` after the last arrival.
6. Stop every node (also on Ctrl-C, SIGTERM or an error) and delete the directory
   (``CHAINFIN_BENCH_DIR=/path`` uses and keeps that directory instead, with the node logs).

``limit_tps`` is the physical limit on this machine: ``cores / (N x cost)``, where ``cost`` is the
minimal CPU time one node spends on one transaction: decode its wire bytes (and hash its id),
check its signature, execute it (``execute_block`` over blocks of ``max_block_txs`` on state read
from LevelDB), compute the block's transaction root, update the state SMT, and write block, tx
index, state and SMT nodes in one LevelDB batch. It is measured by a tight in-process loop over the
same pre-signed transactions, without networking, JSON or consensus. ``ratio_to_limit`` is
``throughput_tps / limit_tps``.

The load generator shares the machine with the nodes; its own CPU time and the nodes' (from
``/proc``) are reported with every run.

One job per module, all re-exported here: ``_workload`` (the pre-signed load and the open-loop
schedule), ``_clients`` (the lean HTTP/1.1 and WebSocket stream clients, TLS and signed /metrics
reads), ``_limit`` (``limit_tps``; ``testnet.micro`` times the same store and SMT reader),
``_host`` (/proc statistics, machine info), ``_report`` (outcomes, statistics, the table, the JSON
document and the plot), ``_run`` (one run) and ``_cli`` (``--find-max`` and ``chainfin bench``).
"""

from __future__ import annotations

from ._cli import (
    FIND_MAX_FACTOR,
    MAX_STEPS,
    cli_bench,
    find_max,
)
from ._clients import (
    API_NAMES,
    APIS,
    STREAM_MESSAGE_TXS,
    STREAM_TICK_S,
    HttpError,
    LeanClient,
    StreamClient,
)
from ._host import (
    busy_share,
    clk_tck,
    cpu_count,
    gc_breakdown,
    gossip_breakdown,
    machine_busy,
    machine_info,
    phase_breakdown,
    platform_info,
    proc_cpu_s,
    proc_wakeups,
    stage_breakdown,
    wakeup_breakdown,
)
from ._limit import (
    LIMIT_REPEATS,
    LIMIT_SAMPLE,
    LimitResult,
    cheapest,
    measure_limit,
    measure_limit_once,
    store_tree,
    temp_store,
)
from ._report import (
    JSON_KEYS,
    MAX_P99_MS,
    TARGET_P50_MS,
    TARGET_P99_MS,
    TARGET_RATIO,
    BenchResult,
    Outcome,
    Progress,
    by_entry_node,
    finality_stats,
    percentile,
    report_table,
    result_json,
    targets,
    write_plot,
)
from ._run import (
    DRAIN_S,
    FUND_TIMEOUT_S,
    READY_TIMEOUT_S,
    REQUEST_TIMEOUT_S,
    run_bench,
)
from ._workload import (
    FUNDING_AMOUNT,
    RISK_WATCH_ENTRIES,
    RISK_WATCH_PER_TX,
    RISK_WINDOW_S,
    TRADE_GAP,
    TRADE_GAP_S,
    TRANSFER_SHARE,
    OpenLoopStats,
    Workload,
    arrival_times,
    build_workload,
    open_loop,
    risk_setup,
    sender_count,
)

__all__ = [
    "TRANSFER_SHARE",
    "TRADE_GAP",
    "TRADE_GAP_S",
    "FUNDING_AMOUNT",
    "Workload",
    "sender_count",
    "build_workload",
    "RISK_WATCH_ENTRIES",
    "RISK_WATCH_PER_TX",
    "RISK_WINDOW_S",
    "risk_setup",
    "arrival_times",
    "OpenLoopStats",
    "open_loop",
    "cpu_count",
    "clk_tck",
    "proc_cpu_s",
    "proc_wakeups",
    "machine_busy",
    "busy_share",
    "machine_info",
    "platform_info",
    "gc_breakdown",
    "gossip_breakdown",
    "wakeup_breakdown",
    "phase_breakdown",
    "stage_breakdown",
    "LIMIT_SAMPLE",
    "LimitResult",
    "cheapest",
    "temp_store",
    "store_tree",
    "LIMIT_REPEATS",
    "measure_limit",
    "measure_limit_once",
    "HttpError",
    "LeanClient",
    "STREAM_TICK_S",
    "STREAM_MESSAGE_TXS",
    "APIS",
    "API_NAMES",
    "StreamClient",
    "JSON_KEYS",
    "MAX_P99_MS",
    "TARGET_P50_MS",
    "TARGET_P99_MS",
    "TARGET_RATIO",
    "percentile",
    "finality_stats",
    "Outcome",
    "BenchResult",
    "result_json",
    "by_entry_node",
    "targets",
    "Progress",
    "report_table",
    "write_plot",
    "DRAIN_S",
    "REQUEST_TIMEOUT_S",
    "READY_TIMEOUT_S",
    "FUND_TIMEOUT_S",
    "run_bench",
    "MAX_STEPS",
    "FIND_MAX_FACTOR",
    "find_max",
    "cli_bench",
]
