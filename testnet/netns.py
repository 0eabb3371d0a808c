"""Separate hosts on one machine: each node in its own network namespace, with a WAN delay.

``init_testnet(DIR, nodes=N, netns=NetnsSpec(...))`` (``chainfin testnet init --netns``) gives
node ``i`` the address ``10.77.S.(10+i)`` (its REST and p2p listeners, its certificate's SAN)
and records the spec in the manifest. :class:`Testnet` then builds the network before it starts
the first node and removes it when it stops (:class:`NetnsNetwork`, root only)::

    root namespace                       cfn-S-n0 (node0)          cfn-S-n1 (node1) ...
      bridge cfn-S-br 10.77.S.1/24  <->  eth0 10.77.S.10/24        eth0 10.77.S.11/24
        veth cfn-S-h0 ----------------------'                      |
        veth cfn-S-h1 ---------------------------------------------'

Every name starts with ``cfn-S-`` (S: the subnet's third octet, picked free at init), so two
testnets on one machine do not collide and :func:`cleanup` finds exactly one testnet's
leftovers. The load generator and the launcher's health checks run in the root namespace and
reach the nodes through the bridge's address, like clients in the same data centre as their
bank's node: only node-to-node traffic is delayed.

**WAN delay** (``rtt_ms``, ``jitter_ms``): every packet between two nodes waits ``rtt_ms / 2``
(+- ``jitter_ms / 2``) once, so a round trip between two nodes takes ``rtt_ms``. Two ways,
picked by :func:`delay_method`:

* ``netem`` — ``tc qdisc ... netem delay`` on the node's veth, behind a ``prio`` qdisc whose u32
  filters send only packets to the other nodes' addresses through it (the bridge address, i.e.
  the clients, is not delayed). Needs a kernel with ``sch_netem`` and ``sch_prio``.
* ``nfqueue`` — where the kernel has no netem (this project's VM: ``CONFIG_NET_SCH_NETEM`` is not
  set): an ``iptables -A INPUT -s <other node> -j NFQUEUE`` rule per peer in the node's
  namespace and one ``python -m testnet.wandelay`` process there that accepts each queued packet
  ``rtt_ms / 2`` later (testnet/wandelay.py): the delay is applied where a packet arrives, not
  where it leaves (a packet held on the way out still counts against its TCP socket, and TCP
  Small Queues then throttles a bulk transfer to ~2 packets per delay). Per packet, like
  netem; order is kept. Needs ``iptables`` (Debian package ``iptables``) and the kernel's
  NFQUEUE target.

Without root, ``ip``, or the right to create namespaces, :func:`unavailable` says why (tests skip
with that reason); with a delay asked and neither method possible it says that too.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from chainfin.errors import ChainfinError, ConfigError

__all__ = ["NetnsSpec", "NetnsNetwork", "PREFIX", "unavailable", "delay_method", "pick_subnet",
           "node_address", "namespace", "cleanup", "cleanup_stale", "STATE_DIR"]

PREFIX = "cfn-"
BASE = "10.77"
FIRST_HOST = 10  # node i is .10+i; .1 is the bridge (the root namespace's address)
MAX_NODES = 200
STATE_DIR = Path("/run/chainfin-netns")  # one file per live network: who made it (pid)
_NFQUEUE = 0


class NetnsSpec(BaseModel):
    """The ``netns`` entry of a testnet manifest."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subnet: int  # the third octet S of 10.77.S.0/24
    rtt_ms: float = 0.0  # node-to-node round trip added (half each way)
    jitter_ms: float = 0.0  # +- on the round trip (half each way)

    @property
    def gateway(self) -> str:
        return f"{BASE}.{self.subnet}.1"

    @property
    def tag(self) -> str:
        return f"{PREFIX}{self.subnet}-"


def node_address(spec: NetnsSpec, i: int) -> str:
    return f"{BASE}.{spec.subnet}.{FIRST_HOST + i}"


def namespace(spec: NetnsSpec, i: int) -> str:
    return f"{spec.tag}n{i}"


def _run(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(list(argv), capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise ChainfinError(f"`{' '.join(argv)}` failed: {r.stderr.strip() or r.returncode}")
    return r


def _ns(ns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def unavailable(rtt_ms: float = 0.0) -> str | None:
    """Why a namespace testnet (with this delay) cannot run here, or None when it can."""
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN): run as root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"{PREFIX}probe-{os.getpid()}"
    r = _run(["ip", "netns", "add", probe], check=False)
    if r.returncode != 0:
        return f"cannot create a network namespace: {r.stderr.strip()}"
    try:
        if rtt_ms > 0 and delay_method(probe) is None:
            return ("a WAN delay needs `tc` with the kernel's sch_netem, or `iptables` with "
                    "the NFQUEUE target (apt-get install iptables); neither works here")
    finally:
        _run(["ip", "netns", "del", probe], check=False)
    return None


def delay_method(probe_ns: str | None = None) -> str | None:
    """``"netem"`` when tc netem works in a namespace, else ``"nfqueue"`` when iptables'
    NFQUEUE target does, else None. Probes in ``probe_ns`` (created and removed when None)."""
    own = probe_ns is None
    ns = probe_ns or f"{PREFIX}probe-{os.getpid()}"
    if own:
        _run(["ip", "netns", "add", ns])
    try:
        if shutil.which("tc") is not None:
            ok = _run(_ns(ns, "tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:",
                          "prio"), check=False).returncode == 0
            ok = ok and _run(_ns(ns, "tc", "qdisc", "add", "dev", "lo", "parent", "1:3",
                                 "netem", "delay", "1ms"), check=False).returncode == 0
            if ok:
                return "netem"
        if shutil.which("iptables") is not None:
            if _run(_ns(ns, "iptables", "-A", "INPUT", "-s", "192.0.2.1", "-j", "NFQUEUE",
                        "--queue-num", str(_NFQUEUE)), check=False).returncode == 0:
                return "nfqueue"
        return None
    finally:
        if own:
            _run(["ip", "netns", "del", ns], check=False)


def pick_subnet() -> int:
    """A third octet S whose 10.77.S.0/24 no interface of this machine uses and no ``cfn-S-``
    namespace holds (a later ``up`` checks again)."""
    used: set[int] = set()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        for line in _run(["ip", "-o", "-4", "addr"], check=False).stdout.splitlines():
            for word in line.split():
                if word.startswith(BASE + "."):
                    used.add(int(word.split(".")[2]))
        for line in _run(["ip", "netns", "list"], check=False).stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            if name.startswith(PREFIX) and name[len(PREFIX):].split("-")[0].isdigit():
                used.add(int(name[len(PREFIX):].split("-")[0]))
    for s in range(256):
        if s not in used and not (STATE_DIR / f"{s}.json").exists():
            return s
    raise ConfigError("no free 10.77.S.0/24 subnet for a namespace testnet")


def _state_file(spec: NetnsSpec) -> Path:
    return STATE_DIR / f"{spec.subnet}.json"


def cleanup(subnet: int) -> list[str]:
    """Remove every namespace and link named ``cfn-<subnet>-*`` (one testnet's network),
    stopping the processes still inside those namespaces; returns what was removed."""
    tag = f"{PREFIX}{subnet}-"
    removed: list[str] = []
    for line in _run(["ip", "netns", "list"], check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(tag):
            continue
        pids = _run(["ip", "netns", "pids", name], check=False).stdout.split()
        for p in pids:  # only processes inside this testnet's own namespaces
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(p), 9)
        _run(["ip", "netns", "del", name], check=False)
        removed.append(name)
    for line in _run(["ip", "-o", "link"], check=False).stdout.splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            name = parts[1].strip().split("@")[0]
            if name.startswith(tag):
                _run(["ip", "link", "del", name], check=False)
                removed.append(name)
    with contextlib.suppress(FileNotFoundError):
        (STATE_DIR / f"{subnet}.json").unlink()
    return removed


def cleanup_stale() -> list[str]:
    """Remove the networks whose launcher (pid in STATE_DIR) is gone: leftovers of a launcher
    that was killed. Networks of live launchers are not touched."""
    removed: list[str] = []
    if not STATE_DIR.is_dir():
        return removed
    for f in STATE_DIR.glob("*.json"):
        try:
            pid = int(json.loads(f.read_text())["pid"])
            subnet = int(f.stem)
        except (OSError, ValueError, KeyError):
            continue
        try:
            os.kill(pid, 0)
            continue  # its launcher still runs
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        removed += cleanup(subnet)
    return removed


class NetnsNetwork:
    """The namespaces, bridge, veths and delay of one testnet (root only). :meth:`up` builds
    them (removing any half-built state on error), :meth:`down` removes everything, also the
    delay processes; use as a context manager."""

    def __init__(self, spec: NetnsSpec, nodes: int, rtt_ms: float | None = None,
                 jitter_ms: float | None = None, log_dir: Path | None = None) -> None:
        if not 1 <= nodes <= MAX_NODES:
            raise ConfigError(f"a namespace testnet has 1 to {MAX_NODES} nodes")
        self.spec = spec
        self.nodes = nodes
        self.rtt_ms = spec.rtt_ms if rtt_ms is None else rtt_ms
        self.jitter_ms = spec.jitter_ms if jitter_ms is None else jitter_ms
        if self.rtt_ms < 0 or self.jitter_ms < 0 or self.jitter_ms > self.rtt_ms:
            raise ConfigError("--rtt-ms and --jitter-ms are >= 0, the jitter at most the RTT")
        self.log_dir = log_dir
        self.method: str | None = None
        self._delayers: list[subprocess.Popen[bytes]] = []
        self.is_up = False

    @property
    def bridge(self) -> str:
        return f"{self.spec.tag}br"

    def ns(self, i: int) -> str:
        return namespace(self.spec, i)

    def wrap(self, i: int, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside node ``i``'s namespace (``ip netns exec`` execs it: the pid is the
        node's own)."""
        return _ns(self.ns(i), *argv)

    def up(self) -> None:
        reason = unavailable()
        if reason:
            raise ChainfinError(f"cannot build the namespace testnet: {reason}")
        cleanup_stale()
        spec = self.spec
        taken = _run(["ip", "-o", "-4", "addr"], check=False).stdout
        if f" {spec.gateway}/" in taken or any(
                line.startswith(spec.tag)
                for line in _run(["ip", "netns", "list"], check=False).stdout.splitlines()):
            raise ChainfinError(f"10.77.{spec.subnet}.0/24 ({spec.tag}*) is in use on this "
                                "machine (another testnet runs, or leftovers: "
                                f"`python -m testnet.netns --cleanup {spec.subnet}`)")
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        _state_file(spec).write_text(json.dumps({"pid": os.getpid()}))
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        self.is_up = True

    def _build(self) -> None:
        spec = self.spec
        br = self.bridge
        _run(["ip", "link", "add", br, "type", "bridge"])
        _run(["ip", "addr", "add", f"{spec.gateway}/24", "dev", br])
        _run(["ip", "link", "set", br, "up"])
        addrs = [node_address(spec, i) for i in range(self.nodes)]
        for i in range(self.nodes):
            ns, host_if = self.ns(i), f"{spec.tag}h{i}"
            _run(["ip", "netns", "add", ns])
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
            _run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0",
                  "netns", ns])
            _run(["ip", "link", "set", host_if, "master", br])
            _run(["ip", "link", "set", host_if, "up"])
            _run(["ip", "-n", ns, "addr", "add", f"{addrs[i]}/24", "dev", "eth0"])
            _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        if self.rtt_ms > 0:
            self.method = delay_method(self.ns(0)) if self.nodes else None
            # the probe left its rules on lo / INPUT of node 0's namespace: start clean
            _run(_ns(self.ns(0), "tc", "qdisc", "del", "dev", "lo", "root"), check=False)
            _run(_ns(self.ns(0), "iptables", "-F", "INPUT"), check=False)
            if self.method is None:
                raise ChainfinError(unavailable(self.rtt_ms) or "no way to delay packets here")
            for i in range(self.nodes):
                others = [a for k, a in enumerate(addrs) if k != i]
                if self.method == "netem":
                    self._netem(i, others)
                else:
                    self._nfqueue(i, others)
            for i, p in enumerate(self._delayers):
                self._wait_ready(i, p)

    def _netem(self, i: int, others: Sequence[str]) -> None:
        ns = self.ns(i)
        one_way, jitter = self.rtt_ms / 2, self.jitter_ms / 2
        # every priority to band 0 (1:1, no delay) unless a filter below says 1:3
        _run(_ns(ns, "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "prio",
                 "bands", "3", "priomap", *["0"] * 16))
        netem = ["tc", "qdisc", "add", "dev", "eth0", "parent", "1:3", "handle", "30:", "netem",
                 "delay", f"{one_way:g}ms"]
        if jitter:
            netem += [f"{jitter:g}ms"]  # uniform (netem's default without a distribution)
        _run(_ns(ns, *netem))
        # packets to another node go to 1:3, the netem band
        for a in others:
            _run(_ns(ns, "tc", "filter", "add", "dev", "eth0", "parent", "1:0", "protocol",
                     "ip", "prio", "1", "u32", "match", "ip", "dst", f"{a}/32", "flowid",
                     "1:3"))

    def _nfqueue(self, i: int, others: Sequence[str]) -> None:
        ns = self.ns(i)
        # on the way in, not out: a packet held on the way out is still charged to its TCP
        # socket, and TCP Small Queues then lets only ~2 packets per socket wait in the queue
        # (300 KB took 10 s over 200 ms instead of ~1 s). netem orphans what it holds; the
        # receiving side sees packets the veth has already orphaned
        for a in others:
            _run(_ns(ns, "iptables", "-A", "INPUT", "-i", "eth0", "-s", a, "-j", "NFQUEUE",
                     "--queue-num", str(_NFQUEUE)))
        argv = [sys.executable, "-m", "testnet.wandelay", "--queue", str(_NFQUEUE),
                "--delay-ms", f"{self.rtt_ms / 2:g}", "--jitter-ms", f"{self.jitter_ms / 2:g}"]
        log = None
        if self.log_dir is not None:
            log = open(self.log_dir / f"wandelay{i}.log", "ab")  # noqa: SIM115
        try:
            p = subprocess.Popen(_ns(ns, *argv), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL,
                                 cwd=Path(__file__).resolve().parent.parent,
                                 start_new_session=True)
        finally:
            if log is not None:
                log.close()
        self._delayers.append(p)

    def delay_pids(self) -> list[int]:
        """The running delay processes (the NFQUEUE way; none with netem or without a delay)."""
        return [p.pid for p in self._delayers if p.poll() is None]

    def _wait_ready(self, i: int, p: subprocess.Popen[bytes]) -> None:
        assert p.stdout is not None
        line = p.stdout.readline()  # "ready", or EOF when it died
        if line.strip() != b"ready":
            p.wait(5)
            raise ChainfinError(f"the delay process of node{i} exited with code {p.returncode}"
                                " before it was ready")

    def down(self) -> None:
        """Stop the delay processes, remove the namespaces (and with them their veth ends and
        rules), the bridge, and the state file. Safe to call twice."""
        for p in self._delayers:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.terminate()
        deadline = time.monotonic() + 5
        for p in self._delayers:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                p.wait()
            if p.stdout is not None:
                p.stdout.close()
        self._delayers.clear()
        cleanup(self.spec.subnet)
        self.is_up = False

    def __enter__(self) -> NetnsNetwork:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()


def _valid_subnet(s: int) -> int:
    ipaddress.ip_network(f"{BASE}.{s}.0/24")
    return s


def main(argv: list[str] | None = None) -> int:
    """``python -m testnet.netns --cleanup S`` (one testnet's leftovers) or ``--cleanup-stale``
    (every network whose launcher is gone)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m testnet.netns")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--cleanup", type=int, metavar="S",
                   help="remove cfn-S-* (the testnet on 10.77.S.0/24)")
    g.add_argument("--cleanup-stale", action="store_true",
                   help="remove the networks whose launcher process is gone")
    a = p.parse_args(argv)
    removed = cleanup(_valid_subnet(a.cleanup)) if a.cleanup is not None else cleanup_stale()
    print("removed: " + (" ".join(removed) if removed else "nothing"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
