#!/usr/bin/env bash
# End to end, whole processes: `lseq backfill --device cpu` against `lseq score` on the same
# file, for the four shapes of issue 19, run alternately ROUNDS times each; prints the median
# wall time of each and their ratio, and the backfill's own summary (its phases) from its last
# run. Needs `mvn -q package -DskipTests` and Debian's /usr/bin/python3 with torch (inputs).
#
#   tools/bench/backfill-vs-score.sh [ROUNDS (default 3)] [SHAPE ...]
#
# SHAPE: 2000x200 20000x20 20x20000 2000x1000 (default: all). Inputs go to target/backfill-bench.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rounds=${1:-3}
shift || true
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(2000x200 20000x20 20x20000 2000x1000)
dir=target/backfill-bench
/usr/bin/python3 tools/bench/backfill_inputs.py "$dir"
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# java: $(java -version 2>&1 | head -n 1); LSEQ_JAVA_OPTS='${LSEQ_JAVA_OPTS:-}'; rounds $rounds"
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
printf '%-10s %12s %14s %8s\n' shape "score s" "backfill s" ratio
for shape in "${shapes[@]}"; do
  in=$dir/$shape.jsonl
  s=() b=()
  for ((r = 0; r < rounds; r++)); do
    t0=$(date +%s.%N)
    bin/lseq score --model "$dir/model" --input "$in" --output "$dir/scores.jsonl" --quiet
    t1=$(date +%s.%N)
    rm -rf "$dir/savepoint"
    bin/lseq backfill --model "$dir/model" --input "$in" --savepoint "$dir/savepoint" --device cpu \
      2>"$dir/backfill.log" >/dev/null
    t2=$(date +%s.%N)
    s+=("$(echo "$t1 - $t0" | bc)") b+=("$(echo "$t2 - $t1" | bc)")
  done
  ms=$(printf '%s\n' "${s[@]}" | median) mb=$(printf '%s\n' "${b[@]}" | median)
  printf '%-10s %12.2f %14.2f %7.2fx\n' "$shape" "$ms" "$mb" "$(echo "$ms / $mb" | bc -l)"
  grep -E '^lseq backfill: [0-9,]+ events' "$dir/backfill.log" | sed 's/^/           /'
done
