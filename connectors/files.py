"""File source: a file, a folder or a glob, read whole, one ``RawInput`` per file.

The connector for every ``--input`` that is not another connector's URI (``connectors.registry``).

Usage::

    read = pipeline | ReadInputFiles("seeds/", max_raw_bytes=65536)
    read.good            # PCollection[RawInput]
    read.dead_letters    # PCollection[DeadLetter]: files that matched but could not be read

Files are read whole because one article may span any number of lines and one file may hold
many articles; compressed files (``.gz``, ``.bz2``, ...) are decompressed by their suffix.
Any filesystem Beam knows works (local paths, ``gs://`` on Dataflow).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import apache_beam as beam
from apache_beam import typehints
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems

from newswire.connectors.base import InputConnector
from newswire.schemas.records import (
    DEAD_LETTERS,
    DeadLetter,
    DeadLetterReason,
    RawInput,
    Source,
    Stage,
    StageOutput,
)

__all__ = ["FilesInput", "ReadInputFiles", "input_pattern", "matching_files"]


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


def matching_files(path: str) -> list[str]:
    """The files ``--input`` names, so that a typo fails before a pipeline is built."""
    match = FileSystems.match([input_pattern(path)])[0]
    return sorted(metadata.path for metadata in match.metadata_list)


@typehints.with_input_types(FileMetadata)
@typehints.with_output_types(RawInput)
class _ReadFileFn(beam.DoFn):
    def __init__(self, max_raw_bytes: int):
        self._max_raw_bytes = max_raw_bytes

    def process(self, metadata: FileMetadata) -> Iterator[RawInput | beam.pvalue.TaggedOutput]:
        source = Source(uri=metadata.path, position=0, line=1)
        try:
            with FileSystems.open(metadata.path, compression_type=CompressionTypes.AUTO) as handle:
                data = handle.read()
        except Exception as error:  # noqa: BLE001 - any failure to read is this file's dead letter
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTERS,
                DeadLetter.of(
                    DeadLetterReason.READ_ERROR, Stage.READ, f"cannot read {metadata.path}: {error}",
                    b"", source, self._max_raw_bytes,
                ),
            )
            return
        yield RawInput(source=source, data=data)


class ReadInputFiles(beam.PTransform):
    """Every file matching a path, folder or glob, as one ``RawInput`` each."""

    def __init__(self, path: str, max_raw_bytes: int):
        super().__init__()
        self._pattern = input_pattern(path)
        self._max_raw_bytes = max_raw_bytes

    def expand(self, pbegin: beam.pvalue.PBegin) -> StageOutput:
        outputs = (
            pbegin
            | "Match files" >> fileio.MatchFiles(self._pattern)
            | "Spread files over workers" >> beam.Reshuffle()
            | "Read whole files" >> beam.ParDo(_ReadFileFn(self._max_raw_bytes)).with_outputs(
                DEAD_LETTERS, main="inputs"
            )
        )
        return StageOutput(good=outputs.inputs, dead_letters=outputs[DEAD_LETTERS])

    def display_data(self) -> dict:
        return {"pattern": self._pattern}


class FilesInput(InputConnector):
    """Files on any filesystem Beam knows: a local path, folder or glob, ``gs://...``."""

    def check(self, reach: bool) -> None:
        FileSystems.get_filesystem(input_pattern(self.uri))  # ValueError for an unknown scheme
        if reach and not matching_files(self.uri):
            raise ValueError(f"no input files match {self.uri!r}")

    def read(self, pipeline: beam.Pipeline, streaming: bool, max_raw_bytes: int) -> StageOutput:
        return pipeline | "Read files" >> ReadInputFiles(self.uri, max_raw_bytes)
