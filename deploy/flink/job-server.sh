#!/usr/bin/env bash
# Assemble Beam's Flink job server (FlinkJobServerDriver, embedded Flink 1.19) from Maven
# Central and print the path of a launcher jar for --flink_job_server_jar. The launcher is a
# manifest-only jar whose Class-Path names the resolved jars, so `java -jar` (what Beam's
# FlinkRunner runs) starts the driver. Idempotent: builds into deploy/flink/.job-server/ once,
# and again whenever this script, the pom or a patch changes.
#
# Two of the jars are patched (job-server/patches/, one patch per artifact: a backport of
# apache/beam#39191, the fix for apache/beam#27648): the patch is applied to the artifact's
# published sources jar, the changed files are compiled with javac against the resolved jars,
# and their classes replace the originals inside a copy of the artifact's jar, which takes the
# original's place in lib/. Nothing depends on class-path order, and a cluster that receives
# the job's jars from the job server gets the same classes. The untouched jars stay in
# unpatched/, and beam-flink-job-server-unpatched.jar launches the job server with them (for
# measuring what the patch changes: `newswire bench --flink-soak --unpatched`).
#
#   job-server.sh              # the patched launcher's path
#   job-server.sh --unpatched  # the unpatched launcher's path
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=${NEWSWIRE_FLINK_JOB_SERVER_HOME:-$here/.job-server}
launcher="$home/beam-flink-job-server.jar"
unpatched_launcher="$home/beam-flink-job-server-unpatched.jar"
# What the build is made from: a different stamp means the build in $home is stale.
stamp=$(cat "${BASH_SOURCE[0]}" "$here/job-server/pom.xml" "$here"/job-server/patches/*.patch | sha256sum)

# Write a manifest-only jar ($1) whose Class-Path holds the jars named after it (relative to $home).
write_launcher() {
  local target=$1 class_path
  shift
  class_path=$(printf ' %s' "$@")
  {
    echo "Main-Class: org.apache.beam.runners.flink.FlinkJobServerDriver"
    # Manifest lines hold at most 72 bytes; a continuation line starts with one space.
    printf 'Class-Path:%s\n' "$class_path" | fold -b -w 70 | sed '2,$s/^/ /'
  } > "$home/build/MANIFEST.MF"
  mkdir -p "$home/build/empty"
  jar --create --file "$target.tmp" --manifest "$home/build/MANIFEST.MF" -C "$home/build/empty" .
  mv "$target.tmp" "$target"
}

# The files a patch changes, as paths inside the sources it applies to.
patched_files() {
  sed -n 's|^+++ b/||p' "$1"
}

# Apply every patch to its artifact's sources, compile what changed, and swap the classes into
# a copy of each artifact's jar in lib/ (the original moves to unpatched/).
patch_jars() {
  local patch artifact sources_jar file stem jar work
  local -a changed=()
  rm -rf "$home/build/src" "$home/build/classes" "$home/unpatched"
  mkdir -p "$home/build/classes" "$home/unpatched"
  for patch in "$here"/job-server/patches/*.patch; do
    artifact=$(basename "$patch" .patch)
    sources_jar=$(compgen -G "$home/build/$artifact-[0-9]*-sources.jar")
    mkdir -p "$home/build/src/$artifact"
    (cd "$home/build/src/$artifact" && jar xf "$sources_jar")
    patch --quiet --forward -p1 -d "$home/build/src/$artifact" < "$patch"
    while read -r file; do changed+=("$home/build/src/$artifact/$file"); done < <(patched_files "$patch")
  done
  javac --release 8 -nowarn -proc:none -encoding UTF-8 -Xlint:none \
    -cp "$home/lib/*:$home/build/*" -d "$home/build/classes" "${changed[@]}" 2>&1 \
    | { grep -v '^Note: \|^warning: \|^[0-9]* warnings\?$' >&2 || true; }
  for patch in "$here"/job-server/patches/*.patch; do
    artifact=$(basename "$patch" .patch)
    jar=$(compgen -G "$home/lib/$artifact-[0-9]*.jar")
    work="$home/build/jar-$artifact"
    rm -rf "$work" && mkdir -p "$work"
    (cd "$work" && jar xf "$jar")
    mv "$work/META-INF/MANIFEST.MF" "$home/build/MANIFEST-$artifact.MF"
    while read -r file; do
      stem=${file%.java}
      # The class and all its nested classes: stale nested classes of the original must not survive.
      rm -f "$work/$stem.class" "$work/$stem"\$*.class
      cp "$home/build/classes/$stem.class" $(compgen -G "$home/build/classes/$stem\$*.class" || true) \
        "$(dirname "$work/$stem")/"
    done < <(patched_files "$patch")
    mv "$jar" "$home/unpatched/"
    jar --create --file "$jar" --manifest "$home/build/MANIFEST-$artifact.MF" -C "$work" .
  done
}

if [[ "$(cat "$home/stamp" 2>/dev/null)" != "$stamp" ]]; then
  echo "job-server.sh: building Beam's Flink job server into $home" >&2
  rm -rf "$home"
  mkdir -p "$home/build"
  mvn -q -B -f "$here/job-server/pom.xml" generate-resources -Djobserver.home="$home" >&2
  patch_jars
  lib=() original=()
  for jar in "$home"/lib/*.jar; do
    name=$(basename "$jar")
    lib+=("lib/$name")
    if [[ -f "$home/unpatched/$name" ]]; then original+=("unpatched/$name"); else original+=("lib/$name"); fi
  done
  write_launcher "$unpatched_launcher" "${original[@]}"
  write_launcher "$launcher" "${lib[@]}"
  echo "$stamp" > "$home/stamp"
fi
if [[ "${1:-}" == "--unpatched" ]]; then echo "$unpatched_launcher"; else echo "$launcher"; fi
