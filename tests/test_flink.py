"""The same batch job on Flink (embedded cluster, job server from Maven Central) and locally."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import avro_files
from tests.conftest import SEED

pytestmark = pytest.mark.flink

NEWSWIRE = Path(sys.executable).parent / "newswire"


def run(tmp_path: Path, name: str, *runner: str) -> Path:
    out = tmp_path / name
    completed = subprocess.run(
        [str(NEWSWIRE), "run", "--input", str(SEED.parent), "--output", str(out), *runner],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "records in = written + duplicates + dead letters: 4 = 4 + 0 + 0 (balanced)" in completed.stdout
    return out


def without_processing_time(records: list[dict]) -> list[dict]:
    stripped = ({k: v for k, v in r.items() if k != "processed_at"} for r in records)
    return sorted(stripped, key=lambda r: r["id"])


def test_flink_output_equals_the_local_runner_output(tmp_path):
    local = run(tmp_path, "local")
    flink = run(tmp_path, "flink", "--runner", "FlinkRunner")
    expected = without_processing_time(avro_files.read_fastavro(local, "articles"))
    assert len(expected) == 4
    assert without_processing_time(avro_files.read_fastavro(flink, "articles")) == expected
    assert avro_files.read_fastavro(flink, "dead-letters") == []
