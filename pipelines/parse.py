"""Parse stage: raw inputs (a message or a slice of a file, many articles) into ``Article`` records.

Usage::

    parsed = raw_inputs | ParseArticles(max_raw_bytes=65536)
    parsed.good            # PCollection[Article]
    parsed.dead_letters    # PCollection[DeadLetter]

Inside an article the feed's repeated headline and caption blocks and its ``TT`` marker are
removed here; whole articles that arrive twice are the dedup stage's job. Consecutive chunks
of one input that are not articles become one dead letter (``DeadLetter.chunks`` says how
many it covers): a file of 2,000 stray ``TT`` lines is one dead letter, not 2,000.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Iterator

import apache_beam as beam
from apache_beam import typehints

from newswire.connectors.feed import TT_MARKER, Chunk, decode, split_chunks
from newswire.pipelines import counters
from newswire.schemas.records import (
    DEAD_LETTERS,
    Article,
    Caption,
    DeadLetter,
    DeadLetterReason,
    RawInput,
    Source,
    Stage,
    StageOutput,
)

__all__ = ["ArticleParseError", "ParseArticles", "parse_chunk", "parse_input"]

# A trailing "(credit)" on a caption line, as in Fundus: ``... north Baghdad (Reuters)``.
_CREDIT = re.compile(r"^(?P<text>.*?)\s*\((?P<credit>[^()]+)\)$")
# C0 control characters other than tab and line ends: text feeds do not carry them, binary data does.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The marker stands after the headline block and the caption block, never later.
_HEADER_BLOCKS = 3


class ArticleParseError(ValueError):
    """An input or article that cannot become an article record, with its reason code."""

    def __init__(self, reason: DeadLetterReason, message: str):
        super().__init__(message)
        self.reason = reason

    def dead_letter(self, raw: bytes, source: Source, max_raw_bytes: int) -> DeadLetter:
        """The parse stage's dead letter for ``raw``, carrying this error."""
        return DeadLetter.of(self.reason, Stage.PARSE, str(self), raw, source, max_raw_bytes)


def _split_caption(line: str) -> Caption:
    match = _CREDIT.match(line)
    if match is None:
        return Caption(text=line, credit=None)
    return Caption(text=match["text"], credit=match["credit"].strip())


def _marker_position(chunk: Chunk) -> tuple[int, int] | None:
    """(block, line) of the TT marker when it stands in the article's header blocks."""
    for i, block in enumerate(chunk.blocks[:_HEADER_BLOCKS]):
        if TT_MARKER in block.lines:
            return i, block.lines.index(TT_MARKER)
    return None


def _without_marker(lines: tuple[str, ...] | list[str]) -> list[str]:
    return [line for line in lines if line != TT_MARKER]


def parse_chunk(chunk: Chunk, source: Source) -> Article:
    """One article from its chunk; raises ``ArticleParseError`` when it cannot be one.

    Before the TT marker stand the headline and the captions; after it, the same blocks
    again (dropped: every line of them was seen before the marker) and then the body.
    Without a marker the first line is the headline and everything after it is body.
    """
    if "\x00" in chunk.raw:
        raise ArticleParseError(DeadLetterReason.BINARY_INPUT, "NUL bytes in the article: not text")
    bad_byte = chunk.undecodable_offset()
    if bad_byte is not None:
        raise ArticleParseError(
            DeadLetterReason.DECODE_ERROR, f"invalid UTF-8 at byte {bad_byte} of the article"
        )
    if _CONTROL.search(chunk.raw):
        raise ArticleParseError(
            DeadLetterReason.BINARY_INPUT, "control characters in the article: not text"
        )
    blocks = [block.lines for block in chunk.blocks]
    marker = _marker_position(chunk)
    if marker is None:
        header = list(blocks[0][:1])
        remainder = [blocks[0][1:], *blocks[1:]]
    else:
        block, line = marker
        before = [text for lines in blocks[:block] for text in lines]
        header = _without_marker([*before, *blocks[block][:line]])
        remainder = [blocks[block][line + 1 :], *blocks[block + 1 :]]
    body_blocks = [kept for lines in remainder if (kept := _without_marker(lines))]
    if not header and body_blocks:  # the marker came first: the headline follows it
        header = [body_blocks[0][0]]
    if not header:
        raise ArticleParseError(DeadLetterReason.NO_BODY, "article has neither headline nor body")
    headline = header[0]
    captions = tuple(_split_caption(line) for line in dict.fromkeys(header[1:]))
    seen = set(header)
    while body_blocks and all(line in seen for line in body_blocks[0]):
        body_blocks.pop(0)
    if not body_blocks:
        raise ArticleParseError(
            DeadLetterReason.NO_BODY, f"article {headline[:80]!r} has a headline but no body"
        )
    body = tuple("\n".join(lines) for lines in body_blocks)
    return Article(headline=headline, captions=captions, body=body, source=source)


class _FailedRun:
    """Consecutive chunks of one input that failed to parse, gathered into one dead letter."""

    def __init__(self, first: Chunk, source: Source):
        self._first = first
        self._last = first
        self._source = source
        self._errors: list[ArticleParseError] = []

    def add(self, chunk: Chunk, error: ArticleParseError) -> None:
        self._last = chunk
        self._errors.append(error)

    def dead_letter(self, text: str, max_raw_bytes: int) -> DeadLetter:
        """One dead letter holding the run's input text from its first chunk to its last."""
        first = self._errors[0]
        message = str(first)
        if len(self._errors) > 1:
            reasons = collections.Counter(error.reason.value for error in self._errors)
            message = (
                f"{len(self._errors)} consecutive chunks are not articles "
                f"({', '.join(f'{reason} x{n}' for reason, n in reasons.most_common())}); first: {first}"
            )
        raw = text[self._first.start : self._last.end].encode("utf-8", errors="surrogateescape")
        return DeadLetter.of(
            first.reason, Stage.PARSE, message, raw, self._source, max_raw_bytes, chunks=len(self._errors)
        )


def _records(text: str, source: Source, max_raw_bytes: int) -> Iterator[Article | DeadLetter]:
    """An article per chunk of ``text`` that is one, and a dead letter per run of chunks that are not."""
    failed: _FailedRun | None = None
    for chunk in split_chunks(text):
        chunk_source = dataclasses.replace(
            source, position=source.position + chunk.position, line=source.line + chunk.first_line - 1
        )
        try:
            article = parse_chunk(chunk, chunk_source)
        except ArticleParseError as error:
            failed = failed or _FailedRun(chunk, chunk_source)
            failed.add(chunk, error)
            continue
        if failed is not None:
            yield failed.dead_letter(text, max_raw_bytes)
            failed = None
        yield article
    if failed is not None:
        yield failed.dead_letter(text, max_raw_bytes)


def parse_input(raw: RawInput, max_raw_bytes: int) -> list[Article | DeadLetter]:
    """Every article of one input, and a dead letter for each run of parts that are not articles.

    The whole input is rejected only when it holds no text at all; otherwise each article
    stands or falls alone, and ``source.parts`` on every record says how many records the
    input produced (what the Kafka commit waits for).
    """
    records = list(_records(decode(raw.data), raw.source, max_raw_bytes))
    if not records:
        error = ArticleParseError(DeadLetterReason.EMPTY_INPUT, "input is empty or only whitespace")
        return [error.dead_letter(raw.data, raw.source, max_raw_bytes)]
    return [
        dataclasses.replace(record, source=dataclasses.replace(record.source, parts=len(records)))
        for record in records
    ]


@typehints.with_input_types(RawInput)
@typehints.with_output_types(Article)
class _ParseInputFn(beam.DoFn):
    def __init__(self, max_raw_bytes: int, counted: bool):
        self._max_raw_bytes = max_raw_bytes
        self._counted = counted

    def process(self, raw: RawInput) -> Iterator[Article | beam.pvalue.TaggedOutput]:
        if self._counted and raw.part == 0:  # a file read in slices is one input
            counters.INPUTS_READ.inc()
        for record in parse_input(raw, self._max_raw_bytes):
            if self._counted:
                counters.RECORDS_IN.inc()
            if isinstance(record, DeadLetter):
                yield beam.pvalue.TaggedOutput(DEAD_LETTERS, record)
            else:
                if self._counted:
                    counters.ARTICLES_PARSED.inc()
                yield record


class ParseArticles(beam.PTransform):
    """Raw inputs to articles, with a dead letter for every input or article that is not one.

    ``counted=False`` for a second parse of inputs already counted (the bounded dedup's).
    """

    def __init__(self, max_raw_bytes: int, counted: bool = True):
        super().__init__()
        if max_raw_bytes < 0:
            raise ValueError(f"max_raw_bytes must be >= 0, got {max_raw_bytes}")
        self._max_raw_bytes = max_raw_bytes
        self._counted = counted

    def expand(self, raw_inputs: beam.PCollection[RawInput]) -> StageOutput:
        outputs = raw_inputs | "Parse articles" >> beam.ParDo(
            _ParseInputFn(self._max_raw_bytes, self._counted)
        ).with_outputs(DEAD_LETTERS, main="articles")
        return StageOutput(
            good=outputs.articles,
            dead_letters=outputs[DEAD_LETTERS],
        )
