#!/usr/bin/env bash
# Build and push the newswire image for Dataflow, then build the Flex Template spec from it.
#
#   NEWSWIRE_GCP_PROJECT=my-project NEWSWIRE_GCP_REGION=europe-west1 NEWSWIRE_GCS_BUCKET=my-bucket \
#   NEWSWIRE_IMAGE=europe-west1-docker.pkg.dev/my-project/newswire/newswire-dataflow:0.1.0 \
#   deploy/dataflow/build.sh
#
# Writes the template spec to gs://$NEWSWIRE_GCS_BUCKET/newswire/templates/newswire.json.
# Needs docker (logged in to the registry: gcloud auth configure-docker REGION-docker.pkg.dev)
# and gcloud.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

source "$(dirname "${BASH_SOURCE[0]}")/environment.sh"

template="gs://$NEWSWIRE_GCS_BUCKET/newswire/templates/newswire.json"

docker build -f "$root/deploy/dataflow/Dockerfile" -t "$NEWSWIRE_IMAGE" "$root"
docker push "$NEWSWIRE_IMAGE"
gcloud dataflow flex-template build "$template" \
  --image "$NEWSWIRE_IMAGE" \
  --sdk-language PYTHON \
  --metadata-file "$here/metadata.json" \
  --project "$NEWSWIRE_GCP_PROJECT"
echo "build.sh: template $template uses $NEWSWIRE_IMAGE" >&2
