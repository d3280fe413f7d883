#!/usr/bin/env bash
# Create (or reuse) .venv and install everything the project needs, pinned and hash-checked:
# apache-beam, spaCy and the spaCy model, fastavro, kafka-python, the test tools, then the
# project itself (editable), and Beam's Prism runner (the local streaming runner), built from
# the Go module proxy at the same version as apache-beam into .venv/bin/prism.
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
beam_version=$("$venv/bin/python" -c 'import apache_beam; print(apache_beam.__version__)')
echo "bootstrap: building Beam's Prism runner v$beam_version" >&2
GOBIN="$PWD/$venv/bin" GOFLAGS=-mod=mod go install "github.com/apache/beam/sdks/v2/go/cmd/prism@v$beam_version"
echo "$wanted" > "$stamp"
