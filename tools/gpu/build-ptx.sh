#!/usr/bin/env bash
# Builds the GPU kernels' PTX from gpu/src/main/cuda into gpu/src/main/resources/io/lseq/gpu,
# where it is committed: the Maven build never needs CUDA. Run after changing a .cu or .h file;
# PtxTest fails while the committed PTX is older than its sources.
#   tools/gpu/build-ptx.sh          (needs nvcc; CUDA 13 here, PTX for compute_80 and newer)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
src=$root/gpu/src/main/cuda
out=$root/gpu/src/main/resources/io/lseq/gpu
command -v nvcc >/dev/null || { echo "build-ptx: nvcc not found" >&2; exit 1; }
mkdir -p "$out"
for cu in lru_scan model_ops; do
  hash=$(cat "$src/$cu.cu" "$src/lseq_cuda.h" | sha256sum | cut -c1-64)
  nvcc -ptx -O3 -arch=compute_80 -o "$out/$cu.ptx.tmp" "$src/$cu.cu"
  { echo "// lseq: built by tools/gpu/build-ptx.sh with $(nvcc --version | tail -1)"
    echo "// lseq: sources sha256 $hash"
    cat "$out/$cu.ptx.tmp"; } > "$out/$cu.ptx"
  rm "$out/$cu.ptx.tmp"
  echo "wrote $out/$cu.ptx ($(grep -c '^.visible .entry' "$out/$cu.ptx") kernels)"
done
