"""Typed records that flow between connectors and the pipeline's stages, and their Avro form.

Stages exchange these frozen dataclasses rather than dicts: a field typo fails at once, and
the one place that turns a record into the shape of its schema (``to_avro``) is here. The
field names and enum symbols mirror the ``.avsc`` files beside this module exactly.

Connectors and stages both import this module and nothing of each other: a source makes
``RawInput`` records, a sink writes ``Article`` and ``DeadLetter`` records, and every
transform with two outputs returns a ``StageOutput``.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import hashlib
import re
from collections.abc import Hashable
from typing import Any, NamedTuple

import apache_beam as beam

__all__ = [
    "DEAD_LETTERS",
    "Article",
    "ArticleField",
    "Caption",
    "DeadLetter",
    "DeadLetterReason",
    "Entity",
    "RawInput",
    "Source",
    "Stage",
    "StageOutput",
    "article_id",
]

# The tag of a transform's dead-letter output.
DEAD_LETTERS = "dead_letters"

_WHITESPACE_RUN = re.compile(r"\s+")


class ArticleField(enum.Enum):
    """The article field an entity was found in."""

    HEADLINE = "HEADLINE"
    CAPTION = "CAPTION"
    BODY = "BODY"


class DeadLetterReason(enum.Enum):
    """Why an input could not become an article (the dead-letter record's reason code)."""

    DECODE_ERROR = "DECODE_ERROR"
    BINARY_INPUT = "BINARY_INPUT"
    EMPTY_INPUT = "EMPTY_INPUT"
    NO_BODY = "NO_BODY"
    READ_ERROR = "READ_ERROR"
    ENRICH_ERROR = "ENRICH_ERROR"
    TOO_LARGE = "TOO_LARGE"


class Stage(enum.Enum):
    """The pipeline stage that produced a dead letter."""

    READ = "READ"
    PARSE = "PARSE"
    DEDUPLICATE = "DEDUPLICATE"
    ENRICH = "ENRICH"
    WRITE = "WRITE"


@dataclasses.dataclass(frozen=True)
class Source:
    """Provenance of one article: which input, which article within it, and where it starts.

    Connector-neutral: ``uri`` names the input (a file, or a topic as its connector spells
    it), and an input read from a partitioned log adds where in it the message sits
    (``partition``, ``offset``) and when the log says it was produced (``timestamp``).
    """

    uri: str
    position: int
    line: int
    partition: int | None = None
    offset: int | None = None
    timestamp: datetime.datetime | None = None
    # Bookkeeping for acknowledgements, not part of the Avro record: how many records
    # (articles and dead letters) the input produced, and what the input's connector needs
    # back with each acknowledgement to commit its progress (Kafka: where the read started).
    parts: int = 1
    receipt: Hashable | None = None

    def to_avro(self) -> dict[str, Any]:
        """The record in the shape of ``newswire.Source``."""
        return {
            "uri": self.uri, "position": self.position, "line": self.line,
            "partition": self.partition, "offset": self.offset, "timestamp": self.timestamp,
        }

    def sort_key(self) -> tuple[str, int, int, int]:
        """Total order used to pick the same copy of a duplicated article on every run."""
        return (self.uri, self.partition or 0, self.offset or 0, self.position)


@dataclasses.dataclass(frozen=True)
class RawInput:
    """One unit of input as a source read it: one message, or a slice of whole articles of a file.

    ``source.line`` and ``source.position`` say where the unit starts in its input (a file
    is read in slices, ``part`` 0, 1, ...; a message is one unit, part 0), so that the
    parse stage can give each article its place in the whole input.
    """

    source: Source
    data: bytes
    part: int = 0


class StageOutput(NamedTuple):
    """The two-output contract every source and stage follows: records that made it, and dead letters.

    Errors are data here, as in Bytewax's ``KafkaOpOut(oks, errs)``: a stage never raises on
    bad input, it hands the input to its dead-letter output (tagged ``DEAD_LETTERS``) with a
    reason code, and the job writes all dead letters to one sink.
    """

    good: beam.PCollection
    dead_letters: beam.PCollection


@dataclasses.dataclass(frozen=True)
class Caption:
    """An image caption with its photo credit split out (``None`` when it has none)."""

    text: str
    credit: str | None


@dataclasses.dataclass(frozen=True)
class Entity:
    """A named-entity span; ``text == <field text>[start:end]``."""

    text: str
    label: str
    start: int
    end: int
    field: ArticleField
    index: int


def article_id(headline: str, body: tuple[str, ...]) -> str:
    """Content identity of an article: the same headline and body give the same id on every run.

    Whitespace runs are folded and case is kept, so re-wrapped copies of an article match
    while different articles that differ only in case do not.
    """
    canonical = "\n".join(_WHITESPACE_RUN.sub(" ", part).strip() for part in (headline, *body))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class Article:
    """A parsed article; the enrich stage fills ``entities``, ``ner_model`` and ``processed_at``."""

    headline: str
    captions: tuple[Caption, ...]
    body: tuple[str, ...]
    source: Source
    entities: tuple[Entity, ...] = ()
    ner_model: str = ""
    processed_at: datetime.datetime | None = None

    @property
    def id(self) -> str:
        return article_id(self.headline, self.body)

    def field_texts(self) -> list[tuple[ArticleField, int, str]]:
        """Every text the NER model reads, with the field and index its entities belong to."""
        return [
            (ArticleField.HEADLINE, 0, self.headline),
            *((ArticleField.CAPTION, i, c.text) for i, c in enumerate(self.captions)),
            *((ArticleField.BODY, i, p) for i, p in enumerate(self.body)),
        ]

    def text_bytes(self) -> bytes:
        """Every field text, a blank line apart: what a dead letter of this article keeps."""
        text = "\n\n".join(text for _, _, text in self.field_texts())
        return text.encode("utf-8", errors="surrogateescape")

    def to_avro(self) -> dict[str, Any]:
        """The record in the shape of ``newswire.Article``; only an enriched article has one."""
        if self.processed_at is None:
            raise ValueError(f"article {self.id} was not enriched: it has no processed_at")
        return {
            "id": self.id,
            "headline": self.headline,
            "captions": [{"text": c.text, "credit": c.credit} for c in self.captions],
            "body": list(self.body),
            "entities": [
                {"text": e.text, "label": e.label, "start": e.start, "end": e.end,
                 "field": e.field.value, "index": e.index}
                for e in self.entities
            ],
            "ner_model": self.ner_model,
            "source": self.source.to_avro(),
            "processed_at": self.processed_at,
        }


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """An input that could not be processed, with a reason code and the offending bytes (bounded).

    One dead letter may cover a run of consecutive article chunks of one input that all
    failed (``chunks``), so that one small input cannot flood the dead-letter sink.
    """

    reason: DeadLetterReason
    stage: Stage
    message: str
    raw: bytes
    raw_size: int
    source: Source
    failed_at: datetime.datetime
    chunks: int = 1

    @classmethod
    def of(
        cls,
        reason: DeadLetterReason,
        stage: Stage,
        message: str,
        raw: bytes,
        source: Source,
        max_raw_bytes: int,
        *,
        raw_size: int | None = None,
        chunks: int = 1,
    ) -> DeadLetter:
        """A dead letter holding at most ``max_raw_bytes`` of the input, stamped now.

        ``raw_size`` is the size of the whole input when ``raw`` is already only its start.
        """
        return cls(
            reason=reason,
            stage=stage,
            message=message,
            raw=raw[:max_raw_bytes],
            raw_size=len(raw) if raw_size is None else raw_size,
            source=source,
            failed_at=datetime.datetime.now(datetime.UTC),
            chunks=chunks,
        )

    def to_avro(self) -> dict[str, Any]:
        """The record in the shape of ``newswire.DeadLetter``."""
        return {
            "reason": self.reason.value,
            "stage": self.stage.value,
            "message": self.message,
            "raw": self.raw,
            "raw_size": self.raw_size,
            "raw_truncated": self.raw_size > len(self.raw),
            "source": self.source.to_avro(),
            "failed_at": self.failed_at,
            "chunks": self.chunks,
        }
