#!/usr/bin/env bash
# Grow a testnet's node0 ledger to each size given and measure it there (issue 20; docs/storage.md).
# Every heavy step holds /tmp/cpu.lock for at most ~9 minutes (others share the machine); a grow
# that its --max-seconds stopped exits 75 and is resumed.
# usage: testnet/scale_run.sh DIR SIZE...   e.g. testnet/scale_run.sh /work/big2 1000000 2000000
set -uo pipefail
dir=$1; shift
[ -f "$dir/testnet.json" ] || chainfin testnet init --dir "$dir" --nodes 4 --extra-clients 125 --plain
for n in "$@"; do
  while true; do
    flock /tmp/cpu.lock chainfin testnet grow --dir "$dir" --txs "$n" --block-txs 1000 \
      --max-seconds 500 >> "$dir/grow.log" 2>&1
    rc=$?
    [ $rc -eq 0 ] && break
    [ $rc -eq 75 ] || { echo "grow failed ($rc)" >&2; exit $rc; }
    sleep 2
  done
  flock /tmp/cpu.lock python -m testnet.scale measure --dir "$dir" --compact \
    --json "$dir/measure-$n.json" > /dev/null 2>> "$dir/grow.log" || exit 1
done
