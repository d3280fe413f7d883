#!/usr/bin/env bash
# Build the two images of the Flink deployment from the repository root:
#   newswire-flink:dev   Flink 1.19.0 + Beam's Flink job server      (deploy/flink/Dockerfile)
#   newswire-python:dev  Beam Python SDK worker + newswire + model     (deploy/flink/python.Dockerfile)
# With NEWSWIRE_REGISTRY=registry.example.com/team, also tag and push them there; then set the
# same names in kustomization.yaml (`images:`) before `kubectl apply -k deploy/flink`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
flink_image=newswire-flink:dev
python_image=newswire-python:dev

docker build -f "$root/deploy/flink/Dockerfile" -t "$flink_image" "$root"
docker build -f "$root/deploy/flink/python.Dockerfile" -t "$python_image" "$root"

if [[ -n "${NEWSWIRE_REGISTRY:-}" ]]; then
  for image in "$flink_image" "$python_image"; do
    docker tag "$image" "$NEWSWIRE_REGISTRY/$image"
    docker push "$NEWSWIRE_REGISTRY/$image"
  done
fi
