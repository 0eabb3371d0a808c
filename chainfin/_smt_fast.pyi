"""The C tree update (chainfin/_smt_fast.c): :func:`chainfin.smt_update.run_update`'s results,
or None where the Python code must run instead."""

from typing import Any

def update(tree: Any, root: bytes, changes: dict[bytes, bytes | None]
           ) -> tuple[bytes, dict[bytes, bytes]] | None: ...
def run_update(tree: Any, root: bytes, entries: list[tuple[int, bytes, bytes | None]]
               ) -> tuple[bytes, dict[bytes, bytes]] | None: ...
