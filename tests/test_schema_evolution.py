"""Schema evolution: files written with the 0.1.0 schemas read with today's, by both Avro libraries.

``tests/fixtures/articles-0.1.0.avro`` was written with the 0.1.0 schemas (Kafka provenance in
``source.topic``/``source.kafka_timestamp``); today's ``newswire.Source`` is connector-neutral.
"""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path

import avro.datafile
import avro.io
import avro.schema
import fastavro
import pytest

from newswire import schemas
from tests.test_avro import ARTICLE

OLD_FILE = Path(__file__).parent / "fixtures" / "articles-0.1.0.avro"
WHEN = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
KAFKA_SOURCE = {"uri": "kafka://localhost:19092/news-raw", "position": 0, "line": 1,
                "partition": 2, "offset": 41, "timestamp": WHEN}
FILE_SOURCE = {"uri": "/in/feed.txt", "position": 3, "line": 132,
               "partition": None, "offset": None, "timestamp": None}


def read_with_fastavro(data: bytes, reader_schema) -> list[dict]:
    return list(fastavro.reader(io.BytesIO(data), reader_schema=reader_schema))


def read_with_apache_avro(data: bytes, reader_schema_json: str) -> list[dict]:
    reader = avro.datafile.DataFileReader(
        io.BytesIO(data), avro.io.DatumReader(readers_schema=avro.schema.parse(reader_schema_json))
    )
    return list(reader)


def test_fastavro_reads_0_1_0_files_with_todays_schema():
    records = read_with_fastavro(OLD_FILE.read_bytes(), schemas.load(schemas.ARTICLE))
    assert [r["source"] for r in records] == [KAFKA_SOURCE, FILE_SOURCE]
    assert [r["headline"] for r in records] == ["Headline 1", "Headline 2"]


def test_apache_avro_reads_0_1_0_files_with_todays_schema():
    records = read_with_apache_avro(OLD_FILE.read_bytes(), schemas.standalone_json(schemas.ARTICLE))
    sources = [r["source"] for r in records]
    assert [s["uri"] for s in sources] == [KAFKA_SOURCE["uri"], FILE_SOURCE["uri"]]
    assert [(s["partition"], s["offset"]) for s in sources] == [(2, 41), (None, None)]
    # Apache avro's Python reader does not resolve field aliases (fastavro does): the renamed
    # kafka_timestamp reads as its default, as the schema's doc says.
    assert [s["timestamp"] for s in sources] == [None, None]


@pytest.mark.parametrize("reader", ["fastavro", "avro"])
def test_readers_of_the_0_1_0_schema_read_todays_files(reader):
    """Forward: a consumer still on 0.1.0 reads new files; the fields it knows and today's lack are null."""
    old_schema = json.loads(fastavro.reader(io.BytesIO(OLD_FILE.read_bytes())).metadata["avro.schema"])
    buffer = io.BytesIO()
    fastavro.writer(buffer, schemas.load(schemas.ARTICLE), [ARTICLE.to_avro()])
    if reader == "fastavro":
        records = read_with_fastavro(buffer.getvalue(), fastavro.parse_schema(old_schema))
    else:
        records = read_with_apache_avro(buffer.getvalue(), json.dumps(old_schema))
    source = records[0]["source"]
    assert (source["uri"], source["position"], source["line"]) == ("/in/feed.txt", 3, 132)
    assert (source["topic"], source["kafka_timestamp"]) == (None, None)


OLD_DEAD_LETTER_SCHEMA = Path(__file__).parent / "fixtures" / "newswire.DeadLetter-0.2.0.avsc"


def _dead_letter_schema(path: Path) -> dict:
    """The 0.2.0 dead-letter schema (from git history), with its Source named inline."""
    schema = json.loads(path.read_text())
    source = json.loads((Path(schemas.__file__).parent / "newswire.Source.avsc").read_text())
    schema["fields"] = [
        dict(f, type=source) if f["type"] == "newswire.Source" else f for f in schema["fields"]
    ]
    return schema


def _old_dead_letter() -> dict:
    return {"reason": "NO_BODY", "stage": "PARSE", "message": "m", "raw": b"TT", "raw_size": 2,
            "raw_truncated": False, "source": FILE_SOURCE, "failed_at": WHEN}


@pytest.mark.parametrize("reader", ["fastavro", "avro"])
def test_dead_letters_written_with_0_2_0_read_with_todays_schema_cover_one_chunk(reader):
    buffer = io.BytesIO()
    old = fastavro.parse_schema(_dead_letter_schema(OLD_DEAD_LETTER_SCHEMA))
    fastavro.writer(buffer, old, [_old_dead_letter()])
    if reader == "fastavro":
        (record,) = read_with_fastavro(buffer.getvalue(), schemas.load(schemas.DEAD_LETTER))
    else:
        (record,) = read_with_apache_avro(buffer.getvalue(), schemas.standalone_json(schemas.DEAD_LETTER))
    assert record["chunks"] == 1 and record["reason"] == "NO_BODY" and record["raw"] == b"TT"


def test_a_0_2_0_reader_sees_todays_new_reason_as_unknown():
    from newswire.schemas.records import DeadLetter, DeadLetterReason, Source, Stage

    letter = DeadLetter.of(DeadLetterReason.TOO_LARGE, Stage.READ, "big", b"x" * 10, Source("/in/f", 0, 1), 4,
                           chunks=3)
    buffer = io.BytesIO()
    fastavro.writer(buffer, schemas.load(schemas.DEAD_LETTER), [letter.to_avro()])
    old = fastavro.parse_schema(_dead_letter_schema(OLD_DEAD_LETTER_SCHEMA))
    (record,) = read_with_fastavro(buffer.getvalue(), old)
    seen = (record["reason"], record["raw"], record["raw_size"], record["raw_truncated"])
    assert seen == ("UNKNOWN", b"xxxx", 10, True)
    assert "chunks" not in record
