"""Parse stage: raw inputs (one file or message, many articles) into ``Article`` records.

Usage::

    parsed = raw_inputs | ParseArticles(max_raw_bytes=65536)
    parsed.good            # PCollection[Article]
    parsed.dead_letters    # PCollection[DeadLetter]

Inside an article the feed's repeated headline and caption blocks and its ``TT`` marker are
removed here; whole articles that arrive twice are the dedup stage's job.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import apache_beam as beam
from apache_beam import typehints

from newswire.pipelines import counters
from newswire.pipelines.text import TT_MARKER, Chunk, decode, split_chunks
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
# C0 control characters other than tab: text feeds do not carry them, binary data does.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
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


def _check_is_text(data: bytes) -> None:
    if not data.strip():
        raise ArticleParseError(DeadLetterReason.EMPTY_INPUT, "input is empty or only whitespace")
    if b"\x00" in data:
        raise ArticleParseError(DeadLetterReason.BINARY_INPUT, "input holds NUL bytes: not text")


def parse_input(raw: RawInput, max_raw_bytes: int) -> Iterator[Article | DeadLetter]:
    """Every article of one input, and a dead letter for each part that is not one.

    The whole input is rejected only when it is not text at all (empty, or holding NUL
    bytes); otherwise each article stands or falls alone.
    """
    try:
        _check_is_text(raw.data)
        chunks = split_chunks(decode(raw.data))
        if not chunks:
            raise ArticleParseError(DeadLetterReason.EMPTY_INPUT, "input holds only blank lines")
    except ArticleParseError as error:
        yield error.dead_letter(raw.data, raw.source, max_raw_bytes)
        return
    for chunk in chunks:
        source = dataclasses.replace(
            raw.source, position=chunk.position, line=chunk.first_line, parts=len(chunks)
        )
        try:
            yield parse_chunk(chunk, source)
        except ArticleParseError as error:
            yield error.dead_letter(chunk.raw_bytes(), source, max_raw_bytes)


@typehints.with_input_types(RawInput)
@typehints.with_output_types(Article)
class _ParseInputFn(beam.DoFn):
    def __init__(self, max_raw_bytes: int):
        self._max_raw_bytes = max_raw_bytes

    def process(self, raw: RawInput) -> Iterator[Article | beam.pvalue.TaggedOutput]:
        counters.INPUTS_READ.inc()
        for record in parse_input(raw, self._max_raw_bytes):
            counters.RECORDS_IN.inc()
            if isinstance(record, DeadLetter):
                yield beam.pvalue.TaggedOutput(DEAD_LETTERS, record)
            else:
                counters.ARTICLES_PARSED.inc()
                yield record


class ParseArticles(beam.PTransform):
    """Raw inputs to articles, with a dead letter for every input or article that is not one."""

    def __init__(self, max_raw_bytes: int):
        super().__init__()
        if max_raw_bytes < 0:
            raise ValueError(f"max_raw_bytes must be >= 0, got {max_raw_bytes}")
        self._max_raw_bytes = max_raw_bytes

    def expand(self, raw_inputs: beam.PCollection[RawInput]) -> StageOutput:
        outputs = raw_inputs | "Parse articles" >> beam.ParDo(
            _ParseInputFn(self._max_raw_bytes)
        ).with_outputs(DEAD_LETTERS, main="articles")
        return StageOutput(
            good=outputs.articles,
            dead_letters=outputs[DEAD_LETTERS],
        )
