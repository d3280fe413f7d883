"""File source: a file, a folder or a glob, streamed, as slices of whole articles.

The connector for every ``--input`` that is not another connector's URI (``connectors.registry``).

Usage::

    files = pipeline | MatchInputFiles("seeds/")
    read = files | ReadInputFiles(SliceLimits(4 << 20, 16 << 20, 65536))
    read.good            # PCollection[RawInput]: slices of whole articles, a few MB each
    read.dead_letters    # PCollection[DeadLetter]: unreadable files, articles too large

A file is read as a stream and cut at article boundaries into slices (``connectors.file_slices``),
so a worker's memory does not grow with the file; files are spread over workers. The same
matched files can be read a second time (``FilesInput.read_again``) for the bounded
dedup. Compressed files (``.gz``, ``.bz2``, ...) are
decompressed by their suffix as they stream. Any filesystem Beam knows works (local paths,
``gs://`` on Dataflow).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
from collections.abc import Callable, Iterator
from typing import BinaryIO

import apache_beam as beam
from apache_beam import typehints
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from newswire.connectors.base import InputConnector
from newswire.connectors.file_slices import FileSlicer, SliceLimits, read_lines
from newswire.schemas.records import (
    DEAD_LETTERS,
    DeadLetter,
    RawInput,
    StageOutput,
)

__all__ = [
    "FilesInput", "FilesInputOptions", "MatchInputFiles", "ReadInputFiles", "input_pattern", "matching_files",
]


def input_pattern(path: str) -> str:
    """The glob for a user's ``--input``: a folder means every (non-hidden) file in it.

    Local paths are made absolute, so that an article's ``source.uri`` names its file
    wherever the job ran from.
    """
    if "://" not in path:
        path = os.path.abspath(path) + ("/" if path.endswith("/") else "")
    if path.endswith("/") or os.path.isdir(path):
        return FileSystems.join(path.rstrip("/"), "*")
    return path


def _matched(path: str) -> list[FileMetadata]:
    return FileSystems.match([input_pattern(path)])[0].metadata_list


def matching_files(path: str) -> list[str]:
    """The files ``--input`` names, so that a typo fails before a pipeline is built."""
    return sorted(metadata.path for metadata in _matched(path))


# Decompressors that raise on a truncated stream (EOFError); Beam's own return what they got.
_STRICT_DECOMPRESSORS: dict[str, Callable[[BinaryIO], BinaryIO]] = {
    ".gz": lambda raw: gzip.GzipFile(fileobj=raw),
    ".bz2": lambda raw: bz2.BZ2File(raw),
    ".xz": lambda raw: lzma.LZMAFile(raw),
    ".lzma": lambda raw: lzma.LZMAFile(raw),
}


@contextlib.contextmanager
def _open_decompressed(path: str) -> Iterator[BinaryIO]:
    """The file's bytes, decompressed by its suffix; a truncated archive fails rather than ends early."""
    strict = _STRICT_DECOMPRESSORS.get(os.path.splitext(path)[1].lower())
    if strict is None:
        with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as handle:
            yield handle
        return
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw, strict(raw) as handle:
        yield handle


@typehints.with_input_types(FileMetadata)
@typehints.with_output_types(RawInput)
class _ReadFileSlicesFn(beam.DoFn):
    def __init__(self, limits: SliceLimits):
        self._limits = limits

    def process(self, metadata: FileMetadata) -> Iterator[RawInput | beam.pvalue.TaggedOutput]:
        slicer = FileSlicer(metadata.path, self._limits)
        try:
            with _open_decompressed(metadata.path) as handle:
                for line in read_lines(handle, self._limits.max_article_bytes + 1):
                    yield from map(self._tagged, slicer.push(line))
        except Exception as error:  # noqa: BLE001 - a file that fails to read is its dead letter
            message = f"cannot read {metadata.path}: {type(error).__name__}: {error}"
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, slicer.failed(message))
            return
        yield from map(self._tagged, slicer.finish())

    @staticmethod
    def _tagged(record: RawInput | DeadLetter) -> RawInput | beam.pvalue.TaggedOutput:
        return beam.pvalue.TaggedOutput(DEAD_LETTERS, record) if isinstance(record, DeadLetter) else record


class MatchInputFiles(beam.PTransform):
    """The files matching a path, folder or glob (matched once per job, whatever reads them)."""

    def __init__(self, path: str):
        super().__init__()
        self._pattern = input_pattern(path)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[FileMetadata]:
        return pbegin | "Match files" >> fileio.MatchFiles(self._pattern)

    def display_data(self) -> dict:
        return {"pattern": self._pattern}


class ReadInputFiles(beam.PTransform):
    """Files spread over workers, each read as slices of whole articles.

    The slices are not shuffled: the stages after the read fuse with it, so a file streams
    through one worker in constant memory, where a shuffle would make a local runner hold
    the whole file.
    """

    def __init__(self, limits: SliceLimits):
        super().__init__()
        self._limits = limits

    def expand(self, files: beam.PCollection[FileMetadata]) -> StageOutput:
        outputs = (
            files
            | "Spread files over workers" >> beam.Reshuffle()
            | "Read slices" >> beam.ParDo(_ReadFileSlicesFn(self._limits)).with_outputs(
                DEAD_LETTERS, main="inputs"
            )
        )
        return StageOutput(good=outputs.inputs, dead_letters=outputs[DEAD_LETTERS])

    def display_data(self) -> dict:
        return {"slice_bytes": self._limits.slice_bytes, "max_article_bytes": self._limits.max_article_bytes}


# Input size above which the bounded dedup reads the files a second time (see read_again).
_READ_TWICE_ABOVE_BYTES = 64 << 20


class FilesInputOptions(PipelineOptions):
    """Settings of the file source."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--max_article_bytes", type=int, default=16 << 20,
            help="Files: an article larger than this (an endless paragraph, a binary dump) is "
            "not held in memory but becomes one TOO_LARGE dead letter. Default: %(default)s.",
        )
        parser.add_argument(
            "--file_slice_bytes", type=int, default=4 << 20,
            help="Files: a file is cut into slices of whole articles of about this size, "
            "spread over workers. Default: %(default)s.",
        )

    def limits(self, max_raw_bytes: int) -> SliceLimits:
        """The slicing limits; raises ``ValueError`` unless both sizes are > 0."""
        for name in ("max_article_bytes", "file_slice_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be > 0, got {getattr(self, name)}")
        return SliceLimits(self.file_slice_bytes, self.max_article_bytes, max_raw_bytes)


class FilesInput(InputConnector):
    """Files on any filesystem Beam knows: a local path, folder or glob, ``gs://...``."""

    options_class = FilesInputOptions

    def check(self, reach: bool) -> None:
        self.options.view_as(FilesInputOptions).limits(0)
        FileSystems.get_filesystem(input_pattern(self.uri))  # ValueError for an unknown scheme
        if reach and not matching_files(self.uri):
            raise ValueError(f"no input files match {self.uri!r}")

    def read(self, pipeline: beam.Pipeline, streaming: bool, max_raw_bytes: int) -> StageOutput:
        self._limits = self.options.view_as(FilesInputOptions).limits(max_raw_bytes)
        self._matched = pipeline | "Match input" >> MatchInputFiles(self.uri)
        # The files reach this read as a side input, not as the match's own output: a read
        # beside ``read_again``'s on the same output would be fused with it into one stage,
        # and the dedup's side input, computed from that second read, would then force the
        # runner to hold every article of this one.
        files = (
            pipeline
            | "Start reading" >> beam.Impulse()
            | "Matched files" >> beam.FlatMap(lambda _, matched: matched, beam.pvalue.AsList(self._matched))
        )
        return files | "Read files" >> ReadInputFiles(self._limits)

    def read_again(self) -> beam.PCollection | None:
        """The files matched once, read a second time, when there is enough input to be worth it.

        Below ``_READ_TWICE_ABOVE_BYTES`` the dedup groups whole articles by id (that fits
        any worker, and one read is cheaper than two: reading and parsing cost about 3%
        of the job with the default model); above it, only ids from a second read.
        """
        try:
            total = sum(metadata.size_in_bytes for metadata in _matched(self.uri))
        except Exception:  # noqa: BLE001 - sizes unknown at build time: be safe on memory
            total = None
        if total is not None and total < _READ_TWICE_ABOVE_BYTES:
            return None
        return (self._matched | "Read files again" >> ReadInputFiles(self._limits)).good
