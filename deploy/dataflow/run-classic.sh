#!/usr/bin/env bash
# Run newswire on Dataflow from this machine ("classic" launch: the pipeline is built here and
# submitted; the workers run the image build.sh pushed). The job config, then any more flags:
#
#   deploy/dataflow/run-classic.sh config/jobs/seeds-to-avro.yaml \
#       --input=gs://my-bucket/feeds/ --output=gs://my-bucket/newswire/
#
# Needs newswire installed with Beam's gcp extra (requirements.lock has it) on PATH, or
# NEWSWIRE pointing at it (default: .venv/bin/newswire when present), and Google credentials
# (gcloud auth application-default login). Same environment as build.sh; the runner settings
# are in deploy/dataflow/runner.yaml. A batch job prints newswire's run summary when it ends;
# a streaming job keeps this command running until the job is drained or cancelled.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

source "$(dirname "${BASH_SOURCE[0]}")/environment.sh"
if [[ $# -eq 0 ]]; then
  echo "run-classic.sh: give a job config (config/jobs/*.yaml), then any more flags" >&2
  exit 2
fi
job_config=$1
shift
if [[ -z "${NEWSWIRE:-}" ]]; then
  if [[ -x "$root/.venv/bin/newswire" ]]; then NEWSWIRE=$root/.venv/bin/newswire; else NEWSWIRE=newswire; fi
fi

exec "$NEWSWIRE" run \
  --runner_config "$here/runner.yaml" \
  --job_config "$job_config" \
  --sdk_container_image="$NEWSWIRE_IMAGE" \
  "$@"
