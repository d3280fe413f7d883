"""The bounded dedup over files read twice (ids and sources grouped, not articles), end to end.

Inputs this small are deduplicated in one read; the threshold is lowered here so that the
two-read path runs on the same feed ``test_cli`` uses, with the same outcome.
"""

from __future__ import annotations

import gzip
import shutil

import apache_beam as beam
import pytest

from newswire.connectors import files
from newswire.pipelines import job, launch
from tests import avro_files
from tests.conftest import SEED

pytestmark = pytest.mark.e2e


def _labels(options) -> set[str]:
    pipeline = beam.Pipeline(options=options)
    job.build(pipeline, options)
    return {part.full_label for part in pipeline.transforms_stack[0].parts}


def test_small_inputs_are_read_once(tmp_path):
    options = launch.pipeline_options(["--input", str(SEED), "--output", str(tmp_path / "out")])
    assert "Read files" in _labels(options) and "Read files again" not in _labels(options)


def test_a_second_read_decides_the_same_copies_as_grouping_articles(tmp_path, monkeypatch):
    feed = tmp_path / "feed"
    feed.mkdir()
    shutil.copy(SEED, feed / "b.txt")
    shutil.copy(SEED, feed / "a.txt")
    (feed / "c.txt.gz").write_bytes(gzip.compress(SEED.read_bytes()))
    (feed / "empty.txt").write_bytes(b"")
    monkeypatch.setattr(files, "_READ_TWICE_ABOVE_BYTES", 0)
    options = launch.pipeline_options(["--input", str(feed), "--output", str(tmp_path / "out")])
    assert "Read files again" in _labels(options)
    summary = launch.run_job(options)
    assert (summary.records_in, summary.articles_written, summary.duplicates_dropped,
            summary.dead_letters_written, summary.inputs_read) == (13, 4, 8, 1, 4)
    articles = avro_files.read_fastavro(tmp_path / "out", "articles")
    assert {a["source"]["uri"] for a in articles} == {str(feed / "a.txt")}  # the first copy by source
    assert sorted(a["source"]["position"] for a in articles) == [0, 1, 2, 3]
