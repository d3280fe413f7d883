"""Avro framing of Kafka values: single-object encoding and the Confluent wire format."""

from __future__ import annotations

import io
import struct

import avro.io
import avro.schema
import fastavro
import pytest

from newswire import schemas
from newswire.connectors.kafka.registry import SchemaRegistryError, register_schema
from newswire.connectors.kafka.serde import (
    AvroFramingError,
    ConfluentFraming,
    SingleObjectFraming,
    fingerprint,
)
from tests.test_avro import ARTICLE


def test_fingerprint_matches_the_avro_specification_vectors():
    # CRC-64-AVRO of the primitive "int" is 0x7275d51a3f395c8f (Java SchemaNormalization),
    # carried little-endian in single-object encoding.
    assert fingerprint(fastavro.parse_schema("int")) == bytes.fromhex("8f5c393f1ad57572")
    assert fingerprint(fastavro.parse_schema("string")) == (0x8F014872634503C7).to_bytes(8, "little")


def test_single_object_round_trip_and_header():
    framing = SingleObjectFraming(schemas.load(schemas.ARTICLE))
    value = framing.encode(ARTICLE.to_avro())
    assert value[:2] == b"\xc3\x01"
    assert value[2:10] == fingerprint(schemas.load(schemas.ARTICLE))
    assert framing.decode(value) == ARTICLE.to_avro()


def test_single_object_body_is_plain_avro_binary_for_other_libraries():
    value = SingleObjectFraming(schemas.load(schemas.ARTICLE)).encode(ARTICLE.to_avro())
    official = avro.schema.parse(schemas.standalone_json(schemas.ARTICLE))
    decoded = avro.io.DatumReader(official).read(avro.io.BinaryDecoder(io.BytesIO(value[10:])))
    assert decoded["id"] == ARTICLE.id and decoded["body"] == list(ARTICLE.body)


def test_wrong_header_or_garbage_is_a_framing_error():
    framing = SingleObjectFraming(schemas.load(schemas.ARTICLE))
    with pytest.raises(AvroFramingError, match="single-object header"):
        framing.decode(b"plain text article")
    with pytest.raises(AvroFramingError, match=r"not a newswire\.Article datum"):
        framing.decode(framing.encode(ARTICLE.to_avro())[:40])
    with pytest.raises(AvroFramingError, match="does not fit schema"):
        framing.encode({"id": 1})


def test_confluent_wire_format():
    framing = ConfluentFraming(schemas.load(schemas.ARTICLE), schema_id=42)
    value = framing.encode(ARTICLE.to_avro())
    assert value[0] == 0 and struct.unpack(">I", value[1:5]) == (42,)
    assert framing.decode(value) == ARTICLE.to_avro()
    with pytest.raises(AvroFramingError, match="Confluent header"):
        ConfluentFraming(schemas.load(schemas.ARTICLE), schema_id=7).decode(value)


def test_register_schema_returns_the_same_id_for_the_same_schema(fake_registry):
    first = register_schema(fake_registry.url, "articles-value", schemas.ARTICLE)
    assert register_schema(fake_registry.url, "articles-value", schemas.ARTICLE) == first == 100
    assert register_schema(fake_registry.url, "articles-value", schemas.DEAD_LETTER) == 101
    assert "/subjects/articles-value/versions" in fake_registry.subjects


def test_unreachable_registry_is_a_clear_error():
    with pytest.raises(SchemaRegistryError, match="cannot register"):
        register_schema("http://127.0.0.1:9", "x-value", schemas.ARTICLE, timeout_s=2)
