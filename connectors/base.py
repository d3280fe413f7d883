"""The connector seam: what the job asks of a source and of a sink, whatever system they talk to.

The job (``newswire.pipelines.job``) never looks at a URI. It asks ``connectors.registry`` for
the connector of ``--input`` and of ``--output`` and then only calls the methods below, so a
new system is one module implementing them plus one line in the registry.

A source reads ``RawInput`` records (and dead letters for inputs it could not read at all)
and, when its system keeps a consumer position, commits it once what the inputs produced is
out. A sink writes articles and dead letters, returns what completes with each write (the
acknowledgements a streaming source commits from), and may know which article ids it already
holds (the streaming dedup's memory across restarts).

Connectors share only ``newswire.schemas.records`` with the stages; they do not import them.
Each connector declares its own options (a Beam ``PipelineOptions`` subclass), read through
``options.view_as``, so a connector's flags are defined where they are used.
"""

from __future__ import annotations

import abc
import enum
from typing import ClassVar, Protocol

import apache_beam as beam
from apache_beam.metrics.metric import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from newswire import schemas
from newswire.schemas.records import StageOutput

__all__ = ["InputConnector", "KnownIds", "OutputConnector", "RecordKind", "WrittenIds"]


class RecordKind(enum.Enum):
    """What a sink is asked to write: articles, or dead letters (each to its own place)."""

    ARTICLES = "articles"
    DEAD_LETTERS = "dead-letters"

    @property
    def schema(self) -> str:
        """The full name of the record's Avro schema."""
        return schemas.ARTICLE if self is RecordKind.ARTICLES else schemas.DEAD_LETTER

    @property
    def label(self) -> str:
        """The name of the write in the job graph."""
        return "Write articles" if self is RecordKind.ARTICLES else "Write dead letters"


class WrittenIds(Protocol):
    """Article ids a sink holds, each with the time it was written (ms since the epoch)."""

    def written_ms(self, article_id: str) -> int | None:
        """When ``article_id`` was last written; None if it was not."""

    def forget_up_to(self, written_ms: int) -> None:
        """Free the ids written at or before ``written_ms`` (some may stay a while: memory only)."""


class KnownIds(Protocol):
    """The articles a sink already holds, read when a streaming job starts."""

    def load(self) -> WrittenIds:
        """Read once per worker process (every caller there shares the result), or raise.

        An incomplete set would let copies through, so a read that cannot finish within its
        deadline fails the job rather than return part of it.
        """


class _Connector:
    """A source or sink for one URI, built from the job's options."""

    #: The connector's own options, registered with Beam so that its flags parse; None if it has none.
    options_class: ClassVar[type[PipelineOptions] | None] = None

    def __init__(self, uri: str, options: PipelineOptions):
        self.uri = uri
        self.options = options

    def check(self, reach: bool) -> None:
        """Raise ``ValueError`` when the URI or the connector's options cannot be right.

        Called before a pipeline is built, so a typo fails at once. ``reach``: the connector
        may look at the system (list files); False for a job that is only built (a dry run).
        """
        return None


class InputConnector(_Connector, abc.ABC):
    """A source: reads inputs, and commits its position once their records are out."""

    @abc.abstractmethod
    def read(self, pipeline: beam.Pipeline, streaming: bool, max_raw_bytes: int) -> StageOutput:
        """``RawInput`` records, and a ``DeadLetter`` (``raw`` <= ``max_raw_bytes``) per unreadable input.

        ``dead_letters`` is None for a source that reads every input it is given.

        Called once per job, before ``commit``.
        """

    def read_again(self) -> beam.PCollection | None:
        """The inputs ``read`` names, read a second time (``RawInput``), or None if they cannot be.

        A bounded job decides which copy of a duplicated article to keep from this second
        read (ids and sources only), so that no runner has to hold every article at once
        for a group by id: local runners hold what they shuffle in memory. Called after
        ``read``; a source that cannot promise the same inputs twice returns None.
        """
        return None

    def commit(self, completions: list[beam.PCollection], streaming: bool) -> None:
        """Attach what commits the source's position once ``completions`` are done.

        ``completions``: what each sink's ``write`` returned, and the dropped duplicates'
        sources; streaming, each carries the ``Source`` of every record that is out. A source
        whose system keeps no position (files) commits nothing.
        """
        return None


class OutputConnector(_Connector, abc.ABC):
    """A sink: writes articles and dead letters."""

    @abc.abstractmethod
    def write(
        self, records: beam.PCollection, kind: RecordKind, written: Metrics.DelegatingCounter
    ) -> beam.PCollection:
        """Write ``records`` of ``kind``, counting each in ``written``; returns what completes with the write.

        For an unbounded input the result holds the ``Source`` of each record once it is
        durably written: the acknowledgement a source commits from.
        """

    def max_record_bytes(self) -> int | None:
        """The largest record (as Avro) the sink takes, if it has a limit: a larger one is a dead letter."""
        return None

    def known_ids(self, ttl_s: float) -> KnownIds | None:
        """The ids of articles written in the last ``ttl_s`` seconds and when, if the sink can list them."""
        return None
