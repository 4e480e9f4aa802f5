#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for one run of tools/gpu/device-check.sh on the GPU machine,
# which has no Java and no Maven: a small Java runtime, the jars GpuCheck and GpuBench need, and
# the random benchmark model. Then, with the device tool (one call):
#   run  carry=[".device"]  command="bash tools/gpu/device-check.sh"
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mvn -B -q -o install -DskipTests -pl recurrent-core,gpu 2>/dev/null || mvn -B -q install -DskipTests -pl recurrent-core,gpu
rm -rf .device/lib .device/models
mkdir -p .device/lib .device/models
mvn -B -q -o dependency:copy-dependencies -pl gpu -DincludeScope=test -DexcludeArtifactIds=junit-jupiter,junit-jupiter-api,junit-jupiter-engine,junit-jupiter-params,junit-platform-commons,junit-platform-engine,opentest4j,apiguardian-api -DoutputDirectory="$root/.device/lib"
cp gpu/target/gpu-*-SNAPSHOT.jar gpu/target/gpu-*-tests.jar .device/lib/
java -cp "gpu/target/test-classes:$(ls .device/lib/*.jar | tr '\n' ':')" io.lseq.gpu.WriteBenchModel .device/models/lru-h256
[ -f .device/jre.tgz ] || ../shared/tools/device-jre.sh jdk.incubator.vector
ls -la .device/lib
du -sh .device
