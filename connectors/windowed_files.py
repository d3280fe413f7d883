"""Unbounded records to one file per window of arrival time, written whole, then acknowledged.

Shared by the file sinks (Avro, JSON Lines): each says how to write its records to one open
file (a ``FileFormat``); this module windows, groups, writes under a temporary name, renames,
and only then outputs each record's ``Source``, the acknowledgement that lets a source
commit its offset.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Protocol

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import Metrics
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import window

__all__ = ["FileFormat", "FileSinkOptions", "WriteWindowedFiles"]


class FileSinkOptions(PipelineOptions):
    """Settings every file sink shares."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--file_window_seconds", type=float, default=60.0,
            help="Streaming to files: one file per this many seconds of arrival time. "
            "Default: %(default)s.",
        )

    def window_seconds(self) -> float:
        """``--file_window_seconds``; raises ``ValueError`` unless it is > 0."""
        if self.file_window_seconds <= 0:
            raise ValueError(f"--file_window_seconds must be > 0, got {self.file_window_seconds}")
        return self.file_window_seconds


class FileFormat(Protocol):
    """How one sink writes records to one file."""

    suffix: str

    def write_file(self, handle: BinaryIO, records: Iterable[Any]) -> None: ...


class _WriteWindowFileFn(beam.DoFn):
    """Write one window's records to one file, then acknowledge each record."""

    def __init__(self, file_path_prefix: str, file_format: FileFormat, written: Metrics.DelegatingCounter):
        self._file_path_prefix = file_path_prefix
        self._format = file_format
        self._written = written

    def process(self, keyed: tuple[None, Iterable], window=beam.DoFn.WindowParam) -> Iterator:
        start, end = (t.to_utc_datetime().strftime("%Y%m%dT%H%M%S") for t in (window.start, window.end))
        final = f"{self._file_path_prefix}-{start}-{end}-{uuid.uuid4().hex[:12]}{self._format.suffix}"
        temporary = FileSystems.join(FileSystems.split(final)[0], "." + FileSystems.split(final)[1] + ".tmp")
        sources = []

        def records():
            for record in keyed[1]:
                sources.append(record.source)
                yield record

        with FileSystems.create(temporary) as handle:
            self._format.write_file(handle, records())
        FileSystems.rename([temporary], [final])  # the file appears whole or not at all
        self._written.inc(len(sources))
        yield from sources


class WriteWindowedFiles(beam.PTransform):
    """Unbounded records to one file per ``window_s`` seconds of arrival time.

    Records are re-stamped with the time they reach the sink, so no record is late for its
    window. Each window's records are grouped and written to one file under a temporary
    name, then renamed; only then is each record's ``Source`` output.
    """

    def __init__(
        self,
        file_path_prefix: str,
        file_format: FileFormat,
        written: Metrics.DelegatingCounter,
        window_s: float,
    ):
        super().__init__()
        if window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self._write = _WriteWindowFileFn(file_path_prefix, file_format, written)
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
