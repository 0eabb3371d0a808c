#!/usr/bin/env bash
# Grow a testnet's node0 ledger to the last size given, measuring it at every size given
# (DIR/measure-N.json; issue 20, docs/storage.md). Each step holds /tmp/cpu.lock for at most
# ~9 minutes (others share the machine); a step that --max-seconds stopped exits 75 and the next
# step resumes it.
# usage: testnet/scale_run.sh DIR SIZE...   e.g. testnet/scale_run.sh /work/big2 1000000 2000000
set -uo pipefail
dir=$1; shift
sizes=$(IFS=,; echo "$*")
last=${!#}
[ -f "$dir/testnet.json" ] || chainfin testnet init --dir "$dir" --nodes 4 --extra-clients 125 --plain
while true; do
  flock /tmp/cpu.lock chainfin testnet grow --dir "$dir" --txs "$last" --block-txs 1000 \
    --measure-at "$sizes" --max-seconds 540 >> "$dir/grow.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] && break
  [ $rc -eq 75 ] || { echo "grow failed ($rc)" >&2; exit $rc; }
  sleep 2
done
