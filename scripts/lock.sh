#!/usr/bin/env bash
# Re-resolve requirements.lock from pyproject.toml, with hashes, for Linux x86_64 and
# Python 3.11 (the oldest Python the project supports). Run after changing a dependency,
# then `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install --quiet uv
"$tools/bin/uv" pip compile pyproject.toml --extra test --extra dataflow --generate-hashes --no-header --quiet \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o requirements.lock
