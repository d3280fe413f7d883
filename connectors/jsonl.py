"""JSON Lines file sink: ``jsonl://DIR`` writes one JSON object per line, readable by any tool.

``DIR`` is a local folder (``jsonl:///abs/dir`` or ``jsonl://relative/dir``) or any Beam
filesystem URI (``jsonl://gs://bucket/dir``). Articles go to ``DIR/articles-*.jsonl``, dead
letters to ``DIR/dead-letters-*.jsonl``; each object has the fields of the record's Avro
schema, with timestamps as ISO-8601 strings and bytes (a dead letter's ``raw``) as base64.
A bounded run writes sharded files; a streaming one a file per ``--file_window_seconds``,
acknowledged once the file is complete, as the Avro sink does.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Iterable
from typing import Any, BinaryIO

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import Metrics

from newswire.connectors.base import OutputConnector, RecordKind
from newswire.connectors.windowed_files import FileSinkOptions, WriteWindowedFiles

__all__ = ["JsonLinesOutput", "to_json_line"]

SCHEME = "jsonl://"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"no JSON form for {type(value).__name__}")


def to_json_line(record) -> str:
    """One record (anything with ``to_avro()``) as one line of JSON."""
    return json.dumps(record.to_avro(), ensure_ascii=False, default=_json_value)


class _JsonLinesFormat:
    suffix = ".jsonl"

    def write_file(self, handle: BinaryIO, records: Iterable) -> None:
        for record in records:
            handle.write(to_json_line(record).encode("utf-8") + b"\n")


class JsonLinesOutput(OutputConnector):
    """A folder of ``articles-*.jsonl`` and ``dead-letters-*.jsonl`` files."""

    def check(self, reach: bool) -> None:
        if not self._folder():
            raise ValueError(f"{self.uri!r} names no folder: write jsonl://DIR")
        self.options.view_as(FileSinkOptions).window_seconds()

    def _folder(self) -> str:
        return self.uri.removeprefix(SCHEME)

    def write(
        self, records: beam.PCollection, kind: RecordKind, written: Metrics.DelegatingCounter
    ) -> beam.PCollection:
        prefix = FileSystems.join(self._folder(), kind.value)
        if not records.is_bounded:
            window_s = self.options.view_as(FileSinkOptions).window_seconds()
            return records | kind.label >> WriteWindowedFiles(prefix, _JsonLinesFormat(), written, window_s)
        return records | kind.label >> _WriteJsonLines(prefix, written)


class _WriteJsonLines(beam.PTransform):
    """Bounded records to sharded ``<prefix>-SSSSS-of-NNNNN.jsonl`` files, counting each."""

    def __init__(self, prefix: str, written: Metrics.DelegatingCounter):
        super().__init__()
        self._prefix = prefix
        self._written = written

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        written = self._written

        def line(record) -> str:
            written.inc()
            return to_json_line(record)

        return (
            records
            | "To JSON" >> beam.Map(line)
            | "Write JSON Lines files" >> beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl")
        )
