#!/usr/bin/env bash
# Assemble Beam's Flink job server (FlinkJobServerDriver, embedded Flink 1.19) from Maven
# Central and print the path of a launcher jar for --flink_job_server_jar. The launcher is a
# manifest-only jar whose Class-Path names the resolved jars, so `java -jar` (what Beam's
# FlinkRunner runs) starts the driver. Idempotent: resolves once into deploy/flink/.job-server/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=${NEWSWIRE_FLINK_JOB_SERVER_HOME:-$here/.job-server}
launcher="$home/beam-flink-job-server.jar"

if [[ ! -f "$launcher" ]]; then
  echo "job-server.sh: resolving Beam's Flink job server into $home" >&2
  mkdir -p "$home/lib" "$home/empty"
  mvn -q -B -f "$here/job-server/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$home/lib" -Dmdep.useRepositoryLayout=false >&2
  class_path=$(for jar in "$home"/lib/*.jar; do printf ' lib/%s' "$(basename "$jar")"; done)
  {
    echo "Main-Class: org.apache.beam.runners.flink.FlinkJobServerDriver"
    # Manifest lines hold at most 72 bytes; a continuation line starts with one space.
    printf 'Class-Path:%s\n' "$class_path" | fold -b -w 70 | sed '2,$s/^/ /'
  } > "$home/MANIFEST.MF"
  jar --create --file "$launcher.tmp" --manifest "$home/MANIFEST.MF" -C "$home/empty" .
  mv "$launcher.tmp" "$launcher"
fi
echo "$launcher"
