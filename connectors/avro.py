"""Avro file sinks for any record type that knows its Avro form (``record.to_avro()``).

``AvroFilesOutput`` is the connector for every ``--output`` that is not another connector's
URI (``connectors.registry``).

Usage::

    articles | WriteAvroRecords("out/articles", schemas.ARTICLE, "deflate", counter)   # bounded
    acks = articles | WriteWindowedAvroRecords("out/articles", schemas.ARTICLE, "deflate",
                                               counter, window_s=60)              # unbounded

Bounded input becomes ``<prefix>-SSSSS-of-NNNNN.avro``; unbounded input one
``<prefix>-<window start>-<window end>-<id>.avro`` per window. Both are container files with
the schema from ``newswire.schemas`` embedded, so fastavro, the Apache ``avro`` library and every
other Avro reader can read them without this project.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from typing import BinaryIO

import apache_beam as beam
import fastavro
from apache_beam.io.avroio import WriteToAvro
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from newswire import schemas
from newswire.connectors.base import OutputConnector, RecordKind
from newswire.connectors.windowed_files import FileSinkOptions, WriteWindowedFiles

__all__ = ["AvroFilesOutput", "WriteAvroRecords", "WriteWindowedAvroRecords", "available_codecs"]

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


class _AvroFileFormat:
    """Avro container files of one schema and codec, for ``WriteWindowedFiles``."""

    suffix = ".avro"

    def __init__(self, schema_name: str, codec: str):
        self._schema_name = schema_name
        self._codec = codec

    def write_file(self, handle: BinaryIO, records: Iterable) -> None:
        avro_records = (record.to_avro() for record in records)
        fastavro.writer(handle, schemas.load(self._schema_name), avro_records, codec=self._codec)


class WriteWindowedAvroRecords(beam.PTransform):
    """Unbounded records to one Avro file per ``window_s`` seconds of arrival time."""

    def __init__(
        self,
        file_path_prefix: str,
        schema_name: str,
        codec: str,
        written: Metrics.DelegatingCounter,
        window_s: float,
    ):
        super().__init__()
        _check_codec(codec)
        avro_files = _AvroFileFormat(schema_name, codec)
        self._write = WriteWindowedFiles(file_path_prefix, avro_files, written, window_s)

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        return records | "Write windows" >> self._write


class AvroFileOptions(PipelineOptions):
    """Settings of the Avro file sink."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--avro_codec", default="deflate",
            help="Avro block codec: null, deflate, snappy, bzip2, xz (zstandard where its "
            "library is installed). Default: %(default)s.",
        )


class AvroFilesOutput(OutputConnector):
    """A folder (local or any Beam filesystem) of ``articles-*.avro`` and ``dead-letters-*.avro`` files."""

    options_class = AvroFileOptions

    def check(self, reach: bool) -> None:
        _check_codec(self.options.view_as(AvroFileOptions).avro_codec)
        self.options.view_as(FileSinkOptions).window_seconds()

    def write(
        self, records: beam.PCollection, kind: RecordKind, written: Metrics.DelegatingCounter
    ) -> beam.PCollection:
        path = FileSystems.join(self.uri, kind.value)
        codec = self.options.view_as(AvroFileOptions).avro_codec
        if records.is_bounded:
            return records | kind.label >> WriteAvroRecords(path, kind.schema, codec, written)
        window_s = self.options.view_as(FileSinkOptions).window_seconds()
        return records | kind.label >> WriteWindowedAvroRecords(path, kind.schema, codec, written, window_s)
