"""The JSON Lines sink (``jsonl://DIR``), end to end: the same records as the Avro sink, as JSON."""

from __future__ import annotations

import base64
import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import avro_files
from tests.conftest import SEED

pytestmark = pytest.mark.e2e

NEWSWIRE = Path(sys.executable).parent / "newswire"
BINARY = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256))


def read_jsonl(folder: Path, prefix: str) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.glob(f"{prefix}-*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def as_json(value):
    """An Avro record as the sink renders it: timestamps in ISO-8601, bytes in base64."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path, str]:
    feed = tmp_path_factory.mktemp("feed")
    shutil.copy(SEED, feed / "a.txt")
    (feed / "photo.jpg").write_bytes(BINARY)
    avro_out, jsonl_out = tmp_path_factory.mktemp("avro"), tmp_path_factory.mktemp("jsonl")
    for output in (str(avro_out), f"jsonl://{jsonl_out}"):
        done = subprocess.run([str(NEWSWIRE), "run", "--input", str(feed), "--output", output],
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
    return avro_out, jsonl_out, done.stdout


def test_articles_are_the_avro_sinks_records_as_json(runs):
    avro_out, jsonl_out, summary = runs
    by_id = lambda records: sorted(records, key=lambda r: r["id"])  # noqa: E731
    expected = [as_json(r) for r in by_id(avro_files.read_fastavro(avro_out, "articles"))]
    found = by_id(read_jsonl(jsonl_out, "articles"))
    assert len(found) == 4
    for record in (*expected, *found):
        record.pop("processed_at")  # each run stamps its own
    assert found == expected
    assert "records in = written + duplicates + dead letters: 5 = 4 + 0 + 1 (balanced)" in summary


def test_dead_letters_keep_their_bytes_in_base64(runs):
    _, jsonl_out, _ = runs
    [dead] = read_jsonl(jsonl_out, "dead-letters")
    assert (dead["reason"], dead["stage"], dead["raw_size"]) == ("BINARY_INPUT", "PARSE", len(BINARY))
    assert base64.b64decode(dead["raw"]) == BINARY
    assert dead["source"]["uri"].endswith("/photo.jpg")
    assert datetime.datetime.fromisoformat(dead["failed_at"]).tzinfo is not None
