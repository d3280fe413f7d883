#!/usr/bin/env bash
# Start a Dataflow job from the Flex Template that build.sh built. Job parameters are given as
# NAME=VALUE (metadata.json lists them):
#
#   deploy/dataflow/run.sh input=gs://my-bucket/feeds/ output=gs://my-bucket/newswire/
#   deploy/dataflow/run.sh streaming=true input=kafka://10.0.0.5:9092/news-raw \
#       output=kafka://10.0.0.5:9092/news-articles kafka_group_id=newswire
#
# Same environment as build.sh. NEWSWIRE_MACHINE_TYPE (default n2-standard-4) and
# NEWSWIRE_MAX_WORKERS (default 10) size the workers. Kafka passwords are never parameters
# (deploy/dataflow/README.md, "Kafka secrets").
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/environment.sh"
if [[ $# -eq 0 ]]; then
  echo "run.sh: give the job's parameters as NAME=VALUE, at least input=... output=..." >&2
  exit 2
fi

parameters=(--parameters "sdk_container_image=$NEWSWIRE_IMAGE")
for parameter in "$@"; do
  if [[ "$parameter" != *=* ]]; then
    echo "run.sh: not NAME=VALUE: $parameter" >&2
    exit 2
  fi
  # ^~^ makes ~ gcloud's list separator, so a value may hold commas (broker lists).
  parameters+=(--parameters "^~^$parameter")
done

gcloud dataflow flex-template run "newswire-$(date -u +%Y%m%d-%H%M%S)" \
  --template-file-gcs-location "gs://$NEWSWIRE_GCS_BUCKET/newswire/templates/newswire.json" \
  --project "$NEWSWIRE_GCP_PROJECT" \
  --region "$NEWSWIRE_GCP_REGION" \
  --staging-location "gs://$NEWSWIRE_GCS_BUCKET/newswire/staging" \
  --temp-location "gs://$NEWSWIRE_GCS_BUCKET/newswire/temp" \
  --worker-machine-type "${NEWSWIRE_MACHINE_TYPE:-n2-standard-4}" \
  --max-workers "${NEWSWIRE_MAX_WORKERS:-10}" \
  "${parameters[@]}"
