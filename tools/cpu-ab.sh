#!/usr/bin/env bash
# Events per CPU-second of the step (keys = 1) and micro-batches (keys > 1) of two builds, in turn
# (A, B, A, B, ...): tools/bench/CpuTime.java compiled against each build's jar. Thread CPU time, so
# a loaded machine's time slices do not count; when JMH's wall-clock errors are larger than the
# difference sought, this still resolves it. Prints one line per build, round and key count.
# usage: tools/cpu-ab.sh A.jar B.jar ROUNDS MODEL_DIR SECONDS REPS KEYS...
#   e.g. tools/cpu-ab.sh /tmp/old/benchmarks/target/benchmarks.jar benchmarks/target/benchmarks.jar 3 \
#          examples/models/reference-lru 2 5 1 16 64
# A jar is any jar with the engine's classes (a benchmarks.jar, or recurrent-core's jar).
set -euo pipefail
a=$1; b=$2; rounds=$3; model=$4; seconds=$5; reps=$6; shift 6
here=$(cd "$(dirname "$0")" && pwd)
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
javac=${JAVA_HOME:+$JAVA_HOME/bin/}javac
out=$(mktemp -d)
for side in A B; do
  jar=$a; [ "$side" = B ] && jar=$b
  mkdir -p "$out/$side"
  "$javac" -d "$out/$side" -cp "$jar" "$here/bench/CpuTime.java"
done
for r in $(seq 1 "$rounds"); do
  for side in A B; do
    jar=$a; [ "$side" = B ] && jar=$b
    for k in "$@"; do
      echo "$side round $r: $("$java" --add-modules jdk.incubator.vector -cp "$jar:$out/$side" CpuTime "$model" "$k" "$seconds" "$reps" 2>/dev/null)"
    done
  done
done
rm -rf "$out"
