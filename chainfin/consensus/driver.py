"""The one driver of :class:`~chainfin.consensus.engine.PbftEngine`: engine actions in, calls
on an :class:`App` and a :class:`Network` out.

The node runtime, the simulator (:mod:`chainfin.testing.sim`) and the hand-driven test cluster
all step their engines through :class:`Driver`, so the three share one reading of
:mod:`chainfin.consensus.api`:

- actions run in the order the engine emitted them;
- an action the App or Network answers at once (``BuildBlock`` -> ``BlockBuilt``,
  ``ExecuteBlock`` -> ``BlockExecuted``, ``Commit`` -> ``ValidatorSetChanged``/``TxsPending``, a
  ``Send`` to this node itself -> ``Received``) returns the answer as events; the driver steps the
  engine with them once every action of the list has run, depth first, in order;
- ``Persist`` goes to :meth:`App.persist`. Keeping records durable before a later ``Send``
  leaves the process is the App's and Network's job (the node syncs its WAL and releases its
  held sends at the end of the turn).

The driver itself holds no state and does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from chainfin.consensus.api import (
    Action,
    BuildBlock,
    Commit,
    DiscardSpeculative,
    Event,
    ExecuteBlock,
    FetchBlocks,
    Persist,
    PruneLog,
    Send,
    ViewChanged,
)
from chainfin.types import Block, CommitCertificate

__all__ = ["App", "Network", "Driver"]


class App(Protocol):
    """What a replica's ledger does for the engine. Each method returns the events the engine
    must see in answer (often none)."""

    def build(self, req: BuildBlock) -> Sequence[Event]:
        """Cut and execute a batch; answer ``BlockBuilt`` (or ``BlockExecuted(b"", False)``)."""
        ...

    def execute(self, block: Block) -> Sequence[Event]:
        """Execute a proposal speculatively; answer ``BlockExecuted``."""
        ...

    def commit(self, block: Block, certificate: CommitCertificate) -> Sequence[Event]:
        """Write a final block; answer ``ValidatorSetChanged`` when it changed the set."""
        ...

    def discard(self, height: int) -> None:
        """Drop every speculative state above ``height``."""
        ...

    def fetch(self, from_height: int, hint_peers: tuple[bytes, ...]) -> Sequence[Event]:
        """Start (or run) state transfer; answer ``Synced`` now or later."""
        ...

    def persist(self, key: bytes, record: Any) -> None:
        """Keep ``record`` durable before any later send leaves (see ``api.Persist``)."""
        ...

    def prune(self, below_key: bytes) -> None:
        """Forget persisted records with keys below ``below_key``."""
        ...

    def view_changed(self, view: int, primary: bytes) -> None:
        """Informational: the replica entered ``view``."""
        ...


class Network(Protocol):
    def send(self, to: bytes | None, payload: bytes) -> Sequence[Event]:
        """Send to one validator (``None``: every other one); answer ``Received`` only for a
        message this node must hear itself."""
        ...


class Driver:
    """Applies a replica's engine actions to its App and Network.

    ``step`` is the engine's ``step`` (or a wrapper that meters it or logs what it returns);
    it is looked up on every call, so a driver survives the engine being replaced."""

    __slots__ = ("_step", "app", "network")

    def __init__(self, step: Callable[[Event], list[Action]], app: App, network: Network) -> None:
        self._step = step
        self.app = app
        self.network = network

    def step(self, event: Event) -> None:
        """Step the engine with ``event`` and run everything that follows from it."""
        self.run(self._step(event))

    def run(self, actions: Iterable[Action]) -> None:
        """Run ``actions`` in order, then step the engine with their answers (depth first)."""
        answers: list[Event] = []
        app = self.app
        for a in actions:
            match a:
                case Send(to, payload):
                    answers.extend(self.network.send(to, payload))
                case Persist(key, record):
                    app.persist(key, record)
                case ExecuteBlock(block):
                    answers.extend(app.execute(block))
                case BuildBlock():
                    answers.extend(app.build(a))
                case Commit(block, certificate):
                    answers.extend(app.commit(block, certificate))
                case DiscardSpeculative(height):
                    app.discard(height)
                case FetchBlocks(from_height, hint_peers):
                    answers.extend(app.fetch(from_height, hint_peers))
                case PruneLog(below_key):
                    app.prune(below_key)
                case ViewChanged(view, primary):
                    app.view_changed(view, primary)
                case _:
                    raise TypeError(f"unknown engine action {a!r}")
        for ev in answers:
            self.run(self._step(ev))
