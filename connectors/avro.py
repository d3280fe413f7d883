"""Avro file sinks for any record type that knows its Avro form (``record.to_avro()``).

Usage::

    articles | WriteAvroRecords("out/articles", schemas.ARTICLE, "deflate", counter)   # bounded
    acks = articles | WriteWindowedAvroRecords("out/articles", schemas.ARTICLE, "deflate",
                                               counter, window_s=60)              # unbounded

Bounded input becomes ``<prefix>-SSSSS-of-NNNNN.avro``; unbounded input one
``<prefix>-<window start>-<window end>-<id>.avro`` per window. Both are container files with
the schema from ``schemas/`` embedded, so fastavro, the Apache ``avro`` library and every
other Avro reader can read them without this project.
"""

from __future__ import annotations

import functools
import io
import time
import uuid
from collections.abc import Iterable, Iterator

import apache_beam as beam
import fastavro
from apache_beam.io.avroio import WriteToAvro
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import Metrics
from apache_beam.transforms import window

import schemas

__all__ = ["WriteAvroRecords", "WriteWindowedAvroRecords", "available_codecs"]

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


def _check_codec(codec: str) -> None:
    if codec not in available_codecs():
        raise ValueError(
            f"Avro codec {codec!r} is not available here; choose one of {', '.join(available_codecs())}"
        )


class WriteAvroRecords(beam.PTransform):
    """Write records as Avro files under a path prefix, counting what is written."""

    def __init__(
        self, file_path_prefix: str, schema_name: str, codec: str, written: Metrics.DelegatingCounter
    ):
        super().__init__()
        _check_codec(codec)
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


class _WriteWindowFileFn(beam.DoFn):
    """Write one window's records to one Avro file, then acknowledge each record."""

    def __init__(
        self, file_path_prefix: str, schema_name: str, codec: str, written: Metrics.DelegatingCounter
    ):
        self._file_path_prefix = file_path_prefix
        self._schema_name = schema_name
        self._codec = codec
        self._written = written

    def process(self, keyed: tuple[None, Iterable], window=beam.DoFn.WindowParam) -> Iterator:
        start, end = (t.to_utc_datetime().strftime("%Y%m%dT%H%M%S") for t in (window.start, window.end))
        final = f"{self._file_path_prefix}-{start}-{end}-{uuid.uuid4().hex[:12]}.avro"
        temporary = FileSystems.join(FileSystems.split(final)[0], "." + FileSystems.split(final)[1] + ".tmp")
        sources = []

        def records():
            for record in keyed[1]:
                sources.append(record.source)
                yield record.to_avro()

        with FileSystems.create(temporary) as handle:
            fastavro.writer(handle, schemas.load(self._schema_name), records(), codec=self._codec)
        FileSystems.rename([temporary], [final])  # the file appears whole or not at all
        self._written.inc(len(sources))
        yield from sources


class WriteWindowedAvroRecords(beam.PTransform):
    """Unbounded records to one Avro file per ``window_s`` seconds of arrival time.

    Records are re-stamped with the time they reach the sink, so no record is late for its
    window. Each window's records are grouped and written to one file under a temporary
    name, then renamed; only then is each record's ``Source`` output, as the acknowledgement
    that lets the Kafka source commit its offset.
    """

    def __init__(
        self,
        file_path_prefix: str,
        schema_name: str,
        codec: str,
        written: Metrics.DelegatingCounter,
        window_s: float,
    ):
        super().__init__()
        if window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        _check_codec(codec)
        self._write = _WriteWindowFileFn(file_path_prefix, schema_name, codec, written)
        self._window_s = window_s

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        return (
            records
            | "Stamp with arrival time" >> beam.Map(lambda r: window.TimestampedValue(r, time.time()))
            | "Window by arrival" >> beam.WindowInto(window.FixedWindows(self._window_s))
            | "One group per window" >> beam.Map(lambda r: (None, r))
            | "Group window" >> beam.GroupByKey()
            | "Write window file" >> beam.ParDo(self._write)
            | "Back to the global window" >> beam.WindowInto(window.GlobalWindows())
        )
