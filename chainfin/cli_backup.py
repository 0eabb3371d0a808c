"""``chainfin node backup``, ``chainfin node backup verify`` and ``chainfin node restore``
(the commands run node/backup.py; docs/operations.md "Backup and restore")."""

from __future__ import annotations

import os
from typing import Any


def add_parser(nsub: Any) -> None:
    """Add the backup commands under ``chainfin node`` (called by chainfin.cli)."""
    from chainfin.cli import _lazy

    b = nsub.add_parser(
        "backup", help="back up a node's data (online: the running node streams a consistent "
                       "snapshot; --offline: a stopped node); `backup verify` checks one")
    b.add_argument("--config", default=None,
                   help="the node's config: its REST address, key, backup_dir, data_dir")
    b.add_argument("--node", default=None, help="REST URL of the node (instead of --config)")
    b.add_argument("--key", default=os.environ.get("CHAINFIN_KEY"),
                   help="the node's own key file (default with --config: its key_file)")
    b.add_argument("--ca", default=None, help="CA certificate for an https node")
    b.add_argument("--out", default=None,
                   help="directory the backup is written under (default: the config's "
                        "backup_dir, else backups/ beside the data directory)")
    b.add_argument("--max-mb-s", type=float, default=0.0,
                   help="online: read the node's stream at most this fast (MB/s; default: as "
                        "fast as it comes); for a backup written on the node's own disk")
    b.add_argument("--offline", action="store_true",
                   help="the node is stopped: read its data directory directly")
    b.set_defaults(func=_lazy("node.backup:cli_backup"))
    bsub = b.add_subparsers(dest="backup_command", metavar="ACTION")
    v = bsub.add_parser("verify", help="check a backup with nothing but the genesis")
    v.add_argument("--dir", required=True, help="the backup directory")
    v.add_argument("--genesis", required=True, help="the chain's genesis file")
    v.set_defaults(func=_lazy("node.backup:cli_verify"))

    r = nsub.add_parser("restore", help="install a verified backup as a node's data directory")
    r.add_argument("--backup", required=True, help="the backup directory")
    r.add_argument("--config", default=None, help="the node's config (its data_dir, genesis)")
    r.add_argument("--data-dir", default=None, help="the data directory (instead of --config)")
    r.add_argument("--genesis", default=None, help="the genesis file (with --data-dir)")
    r.add_argument("--force", action="store_true",
                   help="move a non-empty data directory aside and restore into its place")
    r.set_defaults(func=_lazy("node.backup:cli_restore"))


__all__ = ["add_parser"]
