#!/usr/bin/env bash
# On the GPU machine, in one go: the GPU checks (GpuCheck: goldens and the CPU step path), the
# scan's bandwidth beside a device copy, the same scan in JAX, and full-model tokens/s on the GPU,
# on the CPU and in JAX. Needs .device/ from tools/gpu/prepare-device.sh. Each step's output goes
# to $OUT/<step>.txt; a failing step does not stop the others.
set -u
OUT=${OUT:-/tmp/lseq-gpu}
mkdir -p "$OUT"
tar xzf .device/jre.tgz -C /tmp
export PATH=/tmp/jre/bin:$PATH
CP=".device/lib/*"
JAVA=(java --add-modules jdk.incubator.vector -Xmx48g -cp "$CP")
status=0
# The device tool stops a command at 600 s: every step has a limit, and a step that could not
# finish before 540 s is skipped (and says so).
step() {
  local name=$1 limit=$2
  shift 2
  if [ $((SECONDS + limit)) -gt 540 ]; then
    limit=$((540 - SECONDS))
    if [ "$limit" -lt 20 ]; then
      echo "== $name: skipped, no time left" | tee "$OUT/$name.txt"
      status=1
      return
    fi
  fi
  echo "== $name: $*" | tee "$OUT/$name.txt"
  local t0=$SECONDS
  timeout "$limit" "$@" >> "$OUT/$name.txt" 2>&1
  local rc=$?
  cat "$OUT/$name.txt"
  echo "== $name: exit $rc after $((SECONDS - t0)) s"
  [ "$rc" = 0 ] || status=1
}
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; java -version 2>&1 | head -1; nproc; } > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
step check 100 "${JAVA[@]}" io.lseq.gpu.GpuCheck recurrent-core/src/test/resources/golden
step scan 60 "${JAVA[@]}" io.lseq.gpu.GpuBench scan
step jax-scan 60 python3 tools/gpu/jax_bench.py scan
step model-longrange 90 "${JAVA[@]}" io.lseq.gpu.GpuBench model examples/models/longrange-lru
step jax-model-longrange 60 python3 tools/gpu/jax_bench.py model examples/models/longrange-lru
step model-h256 100 "${JAVA[@]}" io.lseq.gpu.GpuBench model .device/models/lru-h256 64x16384,4096x256
step jax-model-h256 60 python3 tools/gpu/jax_bench.py model .device/models/lru-h256 64x16384,4096x256
exit $status
