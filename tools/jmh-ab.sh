#!/usr/bin/env bash
# Runs the same JMH selection from two builds' benchmarks.jar in turn, ROUNDS times (A, B, A, B, ...),
# so that both see the same machine: the way to compare a change's speed against main on a
# shared, noisy machine. Prints one line per benchmark, parameters and round: score and error.
# usage: tools/jmh-ab.sh A.jar B.jar ROUNDS JMH-ARGS...
#   e.g. tools/jmh-ab.sh /tmp/old/benchmarks/target/benchmarks.jar benchmarks/target/benchmarks.jar 2 \
#          'StepBenchmark' -p model=reference-lru -f 1 -wi 2 -w 2 -i 3 -r 2
set -euo pipefail
a=$1; b=$2; rounds=$3; shift 3
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
out=$(mktemp -d)
for r in $(seq 1 "$rounds"); do
  for side in A B; do
    jar=$a; [ "$side" = B ] && jar=$b
    "$java" --add-modules jdk.incubator.vector -jar "$jar" "$@" -rf csv -rff "$out/$side-$r.csv" >"$out/$side-$r.log" 2>&1 \
      || { echo "jmh-ab: $side round $r failed; see $out/$side-$r.log" >&2; exit 1; }
    # "Benchmark","Mode","Threads","Samples","Score","Score Error (99.9%)","Unit",params...
    tail -n +2 "$out/$side-$r.csv" | while IFS= read -r line; do
      echo "$side round $r: $line"
    done
  done
done
