"""Avro file sink for any record type that knows its Avro form (``record.to_avro()``).

Usage::

    articles | WriteAvroRecords("out/articles", schemas.ARTICLE, codec="deflate")

Writes ``<prefix>-SSSSS-of-NNNNN.avro`` container files with the schema from ``schemas/``
embedded, so fastavro, the Apache ``avro`` library and every other Avro reader can read them
without this project.
"""

from __future__ import annotations

import functools
import io

import apache_beam as beam
import fastavro
from apache_beam.io.avroio import WriteToAvro
from apache_beam.metrics.metric import Metrics

import schemas

__all__ = ["WriteAvroRecords", "available_codecs"]

_AVRO_CODECS = ("null", "deflate", "snappy", "bzip2", "xz", "zstandard")


@functools.cache
def available_codecs() -> tuple[str, ...]:
    """The Avro codecs fastavro can write here: snappy and zstandard need optional libraries."""
    probe = fastavro.parse_schema({"type": "record", "name": "Probe", "fields": []})
    usable = []
    for codec in _AVRO_CODECS:
        try:
            fastavro.writer(io.BytesIO(), probe, [{}], codec=codec)
        except ValueError:
            continue
        usable.append(codec)
    return tuple(usable)


class WriteAvroRecords(beam.PTransform):
    """Write records as Avro files under a path prefix, counting what is written."""

    def __init__(
        self, file_path_prefix: str, schema_name: str, codec: str, written: Metrics.DelegatingCounter
    ):
        super().__init__()
        if codec not in available_codecs():
            raise ValueError(
                f"Avro codec {codec!r} is not available here; choose one of {', '.join(available_codecs())}"
            )
        self._file_path_prefix = file_path_prefix
        self._schema_name = schema_name
        self._codec = codec
        self._written = written

    def expand(self, records: beam.PCollection) -> beam.pvalue.PDone:
        written = self._written

        def to_avro(record):
            written.inc()
            return record.to_avro()

        return (
            records
            | "To Avro form" >> beam.Map(to_avro)
            | "Write Avro files" >> WriteToAvro(
                self._file_path_prefix,
                schema=schemas.load(self._schema_name),
                codec=self._codec,
                file_name_suffix=".avro",
            )
        )

    def display_data(self) -> dict:
        return {"prefix": self._file_path_prefix, "schema": self._schema_name, "codec": self._codec}
