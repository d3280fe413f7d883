"""Bounded runs against the real broker: topic to topic, files and topics mixed."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from pathlib import Path

import fastavro
import pytest

from newswire import schemas
from newswire.connectors.kafka.serde import SINGLE_OBJECT_MAGIC, fingerprint
from tests import avro_files, golden
from tests.conftest import SEED

pytestmark = pytest.mark.kafka

NEWSWIRE = Path(sys.executable).parent / "newswire"


def newswire(*args: str) -> subprocess.CompletedProcess:
    completed = subprocess.run([str(NEWSWIRE), "run", *args], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed


def decode(value: bytes, schema_name: str) -> dict:
    """Decode a value independently: check the single-object header, then plain fastavro."""
    schema = schemas.load(schema_name)
    assert value[:2] == SINGLE_OBJECT_MAGIC
    assert value[2:10] == fingerprint(schema)
    return fastavro.schemaless_reader(io.BytesIO(value[10:]), schema, schema)


def test_sample_topic_to_topic_equals_golden(topics):
    source, output = topics.create(), topics.create(prefix="articles")
    topics.produce(source, [SEED.read_bytes()])
    run = newswire("--input", topics.uri(source), "--output", topics.uri(output), "--kafka_group_id", source)
    assert "records in = written + duplicates + dead letters: 4 = 4 + 0 + 0 (balanced)" in run.stdout
    messages = topics.read_all(output)
    records = [decode(m.value(), schemas.ARTICLE) for m in messages]
    assert [m.key().decode() for m in messages] == [r["id"] for r in records]
    assert sorted((golden.golden_view(r) for r in records), key=lambda r: r["source"]["position"]) == \
        golden.load(SEED.name)
    assert {(r["source"]["uri"], r["source"]["partition"], r["source"]["offset"]) for r in records} == \
        {(topics.uri(source), 0, 0)}
    assert all(r["source"]["timestamp"] for r in records)
    assert topics.committed(source, group=source) == {0: 1}


def test_sample_produced_twice_gives_four_records_and_a_rerun_adds_none(topics):
    source, output = topics.create(partitions=2), topics.create(prefix="articles")
    topics.produce(source, [SEED.read_bytes()], partition=0)
    topics.produce(source, [SEED.read_bytes()], partition=1)
    args = ["--input", topics.uri(source), "--output", topics.uri(output), "--kafka_group_id", source]
    first = newswire(*args)
    assert "records in = written + duplicates + dead letters: 8 = 4 + 4 + 0 (balanced)" in first.stdout
    assert len({m.key() for m in topics.read_all(output)}) == len(topics.read_all(output)) == 4
    assert topics.committed(source, group=source) == {0: 1, 1: 1}
    again = newswire(*args)
    assert "records in = written + duplicates + dead letters: 0 = 0 + 0 + 0 (balanced)" in again.stdout
    assert len(topics.read_all(output)) == 4


def test_malformed_messages_land_on_the_dead_letter_topic(topics):
    source, output = topics.create(), topics.create(prefix="articles")
    topics.produce(source, [b"", b"\x00\x01binary", b"Headline only", SEED.read_bytes()])
    run = newswire("--input", topics.uri(source), "--output", topics.uri(output),
                   "--kafka_group_id", source, "--dead_letter_topic", f"{output}.dlq")
    assert "records in = written + duplicates + dead letters: 7 = 4 + 0 + 3 (balanced)" in run.stdout
    dead = sorted((decode(m.value(), schemas.DEAD_LETTER) for m in topics.read_all(f"{output}.dlq")),
                  key=lambda d: d["source"]["offset"])
    assert [(d["reason"], d["source"]["offset"]) for d in dead] == \
        [("EMPTY_INPUT", 0), ("BINARY_INPUT", 1), ("NO_BODY", 2)]
    assert dead[1]["raw"] == b"\x00\x01binary"
    assert len(topics.read_all(output)) == 4


def test_files_to_topic_and_topic_to_files(topics, tmp_path):
    middle = topics.create(prefix="articles")
    newswire("--input", str(SEED), "--output", topics.uri(middle))
    assert len(topics.read_all(middle)) == 4
    # The article topic holds Avro records, not raw text: read back as input they are dead letters.
    run = newswire("--input", topics.uri(middle), "--output", str(tmp_path), "--kafka_group_id", middle)
    assert "records in = written + duplicates + dead letters: 4 = 0 + 0 + 4 (balanced)" in run.stdout
    source = topics.create()
    topics.produce(source, [SEED.read_bytes()])
    out = tmp_path / "from-topic"
    newswire("--input", topics.uri(source), "--output", str(out), "--kafka_group_id", source)
    records = avro_files.read_fastavro(out, "articles")
    expected_ids = sorted(g["id"] for g in golden.load(SEED.name))
    assert sorted(golden.golden_view(r)["id"] for r in records) == expected_ids


def test_confluent_wire_format_with_a_schema_registry(topics, fake_registry):
    source, output = topics.create(), topics.create(prefix="articles")
    topics.produce(source, [SEED.read_bytes()])
    newswire("--input", topics.uri(source), "--output", topics.uri(output), "--kafka_group_id", source,
             "--schema_registry_url", fake_registry.url)
    assert {subject: list(ids.values()) for subject, ids in fake_registry.subjects.items()} == {
        f"/subjects/{output}-value/versions": [100],  # one schema: every worker sent the same text
        f"/subjects/{output}.dead-letters-value/versions": [100],
    }
    schema = schemas.load(schemas.ARTICLE)
    values = [m.value() for m in topics.read_all(output)]
    assert len(values) == 4 and {v[:5] for v in values} == {b"\x00" + struct.pack(">I", 100)}
    headlines = {fastavro.schemaless_reader(io.BytesIO(v[5:]), schema, schema)["headline"] for v in values}
    assert headlines == {g["headline"] for g in golden.load(SEED.name)}


def test_a_partition_longer_than_one_poll_is_read_to_its_end(topics):
    """More messages than one poll returns (500): each later poll goes on where the last one ended."""
    source, output = topics.create(), topics.create(prefix="articles")
    count = 1200
    topics.produce(source, [f"Story number {i}\n\nThe council met for the {i}th time.\n".encode()
                            for i in range(count)])
    run = newswire("--input", topics.uri(source), "--output", topics.uri(output), "--kafka_group_id", source)
    balance = f"records in = written + duplicates + dead letters: {count} = {count} + 0 + 0 (balanced)"
    assert balance in run.stdout
    records = [decode(m.value(), schemas.ARTICLE) for m in topics.read_all(output)]
    assert sorted(r["source"]["offset"] for r in records) == list(range(count))
    assert topics.committed(source, group=source) == {0: count}
