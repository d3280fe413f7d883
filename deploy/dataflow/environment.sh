# Sourced by build.sh, run.sh and run-classic.sh: the variables every Dataflow command needs,
# checked before any docker or gcloud call.
need() {
  if [[ -z "${!1:-}" ]]; then
    echo "$(basename "$0"): set $1 ($2)" >&2
    exit 2
  fi
}
need NEWSWIRE_GCP_PROJECT "the Google Cloud project id"
need NEWSWIRE_GCP_REGION "the Dataflow region, e.g. europe-west1"
need NEWSWIRE_GCS_BUCKET "the Cloud Storage bucket for templates, staging and temp files, without gs://"
need NEWSWIRE_IMAGE "the image build.sh builds and pushes, e.g. REGION-docker.pkg.dev/PROJECT/REPOSITORY/newswire-dataflow:TAG"
