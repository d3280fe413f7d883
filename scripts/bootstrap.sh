#!/usr/bin/env bash
# Create (or reuse) .venv and install everything the project needs, pinned and hash-checked:
# apache-beam, spaCy and the spaCy model, fastavro, kafka-python, the test tools, then the
# project itself (editable), and Beam's Prism runner (the local streaming runner), built from
# the Go module proxy into .venv/bin/prism.
# Re-runs are no-ops until requirements.lock or pyproject.toml change.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
stamp="$venv/.newswire-installed"
python=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "bootstrap: newswire needs Python 3.11 or newer, $python is $("$python" -V)" >&2; exit 1; }

wanted=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  exit 0
fi
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
echo "bootstrap: installing pinned dependencies into $venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
  -r requirements.lock
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
"$venv/bin/python" -m pip check --disable-pip-version-check >&2
# Prism 2.77.0 runs the 2.76.0 Python SDK's jobs over the portable job API. 2.76.0's own Prism
# schedules a stage behind a Flatten of unbounded inputs only when a watermark moves, and the
# offset-commit stage of a streaming Kafka job then never ran (measured here; 2.77.0 runs it).
prism_version=2.77.0
echo "bootstrap: building Beam's Prism runner v$prism_version" >&2
GOBIN="$PWD/$venv/bin" go install "github.com/apache/beam/sdks/v2/go/cmd/prism@v$prism_version"
echo "$wanted" > "$stamp"
