#!/usr/bin/env bash
# The recurrent vs attention report, docs/COMPARISON.md with charts in docs/comparison/:
# writes the evaluation events of both tasks (tools/train/longrange.py: the long-range task and the
# switch task), then runs bin/lseq-bench compare over examples/models/longrange-* in one run
# (examples/models/longrange-switch-* on the switch task).
#
#   tools/compare.sh                   # KEYS=100 keys per distance, DISTANCES="64 256 1024 4096 16384"
#   tools/compare.sh --rounds 5        # further options go to bin/lseq-bench compare (--help)
#
# Needs the build (mvn -q package -DskipTests) and Debian's /usr/bin/python3 with numpy.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
keys=${KEYS:-100}
distances=${DISTANCES:-64 256 1024 4096 16384}
events=${COMPARE_EVENTS:-target/compare/events-k$keys}
mkdir -p "$events"
for d in $distances; do
  f="$events/distance-$d.jsonl"
  if [ ! -s "$f" ] || [ "$f" -ot tools/train/longrange.py ]; then
    echo "compare.sh: writing $f ($keys keys)" >&2
    /usr/bin/python3 tools/train/longrange.py events --distance "$d" --keys "$keys" --seed 7 --out "$f.tmp"
    mv -f "$f.tmp" "$f"
  fi
done
# the switch task (tools/train/README.md, "The switch task"): distance from the last mode switch
switch_events=${COMPARE_SWITCH_EVENTS:-target/compare/switch-events-k$keys}
mkdir -p "$switch_events"
for d in $distances; do
  f="$switch_events/distance-$d.jsonl"
  if [ ! -s "$f" ] || [ "$f" -ot tools/train/longrange.py ]; then
    echo "compare.sh: writing $f ($keys keys, switch task)" >&2
    /usr/bin/python3 tools/train/longrange.py events --task switch --distance "$d" --keys "$keys" --seed 7 \
        --out "$f.tmp"
    mv -f "$f.tmp" "$f"
  fi
done
exec bin/lseq-bench compare --events "$events" --switch-events "$switch_events" "$@"
