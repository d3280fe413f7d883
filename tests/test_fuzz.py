"""Hostile input at volume: 10,000 generated files of every kind in one batch run, all accounted for.

The model is not the point here, so NER is a stand-in (an entity ruler saved under the test's
temp dir, passed by path); the files, the parse, the dedup and the sinks are the real ones.
"""

from __future__ import annotations

import collections
import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import avro_files
from tests.hostile_inputs import KINDS, Expect, hostile_inputs

pytestmark = pytest.mark.e2e

NEWSWIRE = Path(sys.executable).parent / "newswire"
COUNT = 10_001
MAX_ARTICLE_BYTES = 2_000_000
_BALANCE = re.compile(
    r"records in = written \+ duplicates \+ dead letters: (\d+) = (\d+) \+ (\d+) \+ (\d+) \((.+)\)"
)


@pytest.fixture(scope="module")
def fuzz_run(tmp_path_factory, ruler_model):
    folder = tmp_path_factory.mktemp("hostile")
    items = list(hostile_inputs(COUNT, seed=20261203, max_article_bytes=MAX_ARTICLE_BYTES))
    for item in items:
        (folder / item.name).write_bytes(item.data)
    out = tmp_path_factory.mktemp("out")
    completed = subprocess.run(
        [str(NEWSWIRE), "run", "--input", str(folder), "--output", str(out),
         "--ner_model", str(ruler_model), f"--max_article_bytes={MAX_ARTICLE_BYTES}",
         "--file_slice_bytes=262144"],
        capture_output=True, text=True, timeout=1500, check=False,
    )
    return items, folder, out, completed


def test_the_generator_covers_enough_inputs_and_kinds(fuzz_run):
    items, *_ = fuzz_run
    kinds = {item.kind for item in items}
    assert len(items) >= 10_000 and len(kinds) >= 20
    assert set(KINDS) <= kinds
    assert {"huge_paragraph", "many_articles", "oversized_then_good", "duplicate"} <= kinds


def test_the_run_exits_0_and_balances(fuzz_run):
    items, _, out, completed = fuzz_run
    assert completed.returncode == 0, completed.stderr[-5000:]
    (balance,) = [m for line in completed.stdout.splitlines() if (m := _BALANCE.search(line))]
    records_in, written, duplicates, dead = map(int, balance.groups()[:4])
    assert balance.group(5) == "balanced"
    assert written == len(avro_files.read_fastavro(out, "articles"))
    assert dead == len(avro_files.read_fastavro(out, "dead-letters"))
    assert duplicates == sum(1 for item in items if item.expect.duplicate_of)
    assert records_in == written + duplicates + dead


def test_every_input_is_accounted_for_by_name(fuzz_run):
    items, folder, out, _ = fuzz_run
    by_uri: dict[str, list[tuple[int, str, dict]]] = collections.defaultdict(list)
    for record in avro_files.read_fastavro(out, "articles"):
        by_uri[record["source"]["uri"]].append((record["source"]["position"], "article", record))
    for record in avro_files.read_fastavro(out, "dead-letters"):
        by_uri[record["source"]["uri"]].append((record["source"]["position"], "dead", record))
    wrong = []
    for item in items:
        got = sorted(by_uri.pop(str(folder / item.name), []), key=lambda r: r[0])
        articles = [r for _, what, r in got if what == "article"]
        dead = [r for _, what, r in got if what == "dead"]
        expect = item.expect
        if expect.duplicate_of is not None:
            ok = not got  # its article is its original's, checked there
        elif expect.dead is None:
            ok = not articles and len(dead) >= 1
        else:
            ok = len(articles) == expect.articles and tuple(d["reason"] for d in dead) == expect.dead
        if not ok:
            seen = [(p, w, r.get("reason"), r.get("message", "")[:120]) for p, w, r in got]
            wrong.append((item.name, expect, seen))
    assert not wrong, wrong[:10]
    assert not by_uri, f"records naming no generated input: {list(by_uri)[:5]}"


def test_no_input_yields_more_than_one_dead_letter_per_run_of_bad_chunks(fuzz_run):
    items, _, out, _ = fuzz_run
    positions = collections.defaultdict(list)
    for record in avro_files.read_fastavro(out, "articles"):
        positions[record["source"]["uri"]].append((record["source"]["position"], "article", "-"))
    for record in avro_files.read_fastavro(out, "dead-letters"):
        positions[record["source"]["uri"]].append((record["source"]["position"], "dead", record["stage"]))
    for uri, records in positions.items():
        records.sort()
        for (_, first, stage), (_, second, next_stage) in itertools.pairwise(records):
            assert not (first == second == "dead" and stage == next_stage), (uri, records)
    flood = [r for r in avro_files.read_fastavro(out, "dead-letters") if r["chunks"] > 1000]
    assert {r["reason"] for r in flood} == {"NO_BODY"}  # the files of 2,000 stray TT lines, one each
    assert len(flood) == sum(1 for item in items if item.kind == "lone_tt_lines")


def test_the_huge_paragraph_has_entities_throughout_and_every_offset_holds(fuzz_run):
    *_, out, _ = fuzz_run
    articles = avro_files.read_fastavro(out, "articles")
    (huge,) = [a for a in articles if a["headline"].startswith("Huge paragraph")]
    (paragraph,) = huge["body"]
    assert len(paragraph) > 1_200_000
    body = [e for e in huge["entities"] if e["field"] == "BODY"]
    assert max(e["start"] for e in body) > 1_100_000
    for article in articles:
        fields = {
            ("HEADLINE", 0): article["headline"],
            **{("BODY", i): p for i, p in enumerate(article["body"])},
            **{("CAPTION", i): c["text"] for i, c in enumerate(article["captions"])},
        }
        for entity in article["entities"]:
            assert fields[entity["field"], entity["index"]][entity["start"] : entity["end"]] == entity["text"]
    assert all(a["ner_model"] == "en_ruler_stand_in==1.0.0" for a in articles)


def test_the_many_articles_file_was_sliced_and_read_whole(fuzz_run):
    items, folder, out, _ = fuzz_run
    (many,) = [item for item in items if item.kind == "many_articles"]
    uri = str(folder / many.name)
    records = [a for a in avro_files.read_fastavro(out, "articles") if a["source"]["uri"] == uri]
    assert sorted(r["source"]["position"] for r in records) == list(range(3_000))
    lines = sorted(r["source"]["line"] for r in records)
    text = many.data.decode()
    starts = [i + 1 for i, line in enumerate(text.split("\n")) if line.startswith("Headline number")]
    assert lines == starts
    assert Expect(articles=3_000) == many.expect
