"""Cutting a file into slices of whole articles as it streams, so memory never grows with the file.

Usage::

    slicer = FileSlicer("/in/feed.txt", limits)
    for raw_line in read_lines(handle, limits.max_article_bytes):
        yield from slicer.push(raw_line)      # RawInput slices and TOO_LARGE DeadLetters
    yield from slicer.finish()

A slice holds the file's exact bytes from one article's first line to the next slice's, so
the parse stage splits it into the same articles as the whole file, and its
``source.line``/``source.position`` say where it starts. Boundaries are the feed's grammar
(``connectors.feed``), decided line by line with two blocks of lookahead; a slice is cut at
the first boundary after ``slice_bytes``.

An article that grows beyond ``max_article_bytes`` (one endless paragraph, a binary dump
with no blank lines) is not held: its bytes are counted, its start kept as an excerpt, and
reading skips to the next line that two blank lines certainly make an article start;
everything in between is one ``TOO_LARGE`` dead letter (consecutive ones merge). Runs of
more than two blank lines are not held either.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import BinaryIO

from newswire.connectors.feed import ArticleStarts, BlockGrouper, decode
from newswire.schemas.records import DeadLetter, DeadLetterReason, RawInput, Source, Stage

__all__ = ["FileSlicer", "SliceLimits", "read_lines"]

_LINE_END = re.compile(rb"\r\n|\r|\n")
_READ_BYTES = 1 << 20
_KEPT_BLANK_LINES = 2  # enough for the grammar: two blank lines end an article


@dataclasses.dataclass(frozen=True)
class SliceLimits:
    """How big a slice should get, how big an article may get, how much of a bad one to keep."""

    slice_bytes: int
    max_article_bytes: int
    max_raw_bytes: int


@dataclasses.dataclass(frozen=True)
class Line:
    """One line of a file with its terminator; ``size`` exceeds ``len(raw)`` when it was cut."""

    raw: bytes
    size: int

    @property
    def cut(self) -> bool:
        return self.size > len(self.raw)


def read_lines(handle: BinaryIO, max_line_bytes: int) -> Iterator[Line]:
    """The lines of a binary stream (LF, CRLF or CR ends), each held up to ``max_line_bytes``.

    The rest of a longer line is counted and skipped, so a file with no line end at all is
    read in constant memory and time linear in its size.
    """
    buffer = bytearray()
    skipped = 0  # bytes of the current line dropped beyond max_line_bytes
    while block := handle.read(_READ_BYTES):
        scan_from = max(0, len(buffer) - 1)  # what is held has no line end, but may end in "\r"
        buffer += block
        start = 0
        for end in _LINE_END.finditer(buffer, scan_from):
            if end.group() == b"\r" and end.end() == len(buffer):
                break  # a "\r\n" may be split over two reads
            piece = buffer[start : end.end()]
            yield Line(bytes(piece[:max_line_bytes]), skipped + len(piece))
            start, skipped = end.end(), 0
        del buffer[:start]
        if len(buffer) > max_line_bytes:
            skipped += len(buffer) - max_line_bytes
            del buffer[max_line_bytes:]
    if buffer or skipped:
        yield Line(bytes(buffer), skipped + len(buffer))


@dataclasses.dataclass
class _Oversized:
    """An article region too large to hold: where it started, its first bytes, its size."""

    source: Source
    excerpt: bytearray
    size: int
    articles: int = 1


class FileSlicer:
    """One file's lines in; slices of whole articles and dead letters for oversized ones out."""

    def __init__(self, uri: str, limits: SliceLimits):
        self._uri = uri
        self._limits = limits
        self._line_number = 0
        self._part = 0
        self._position = 0  # article index of the current article in the file
        self._restart()
        self._lines: list[bytes] = []  # the current slice's lines, from self._slice_line on
        self._sizes: list[int] = [0]  # cumulative bytes of self._lines
        self._slice_line = 0
        self._slice_position = 0
        self._blank_run = 0
        self._oversized: _Oversized | None = None
        self._held: _Oversized | None = None  # emitted once the article after it proves whole
        self._held_ends_at = 0  # the line the held region's next article starts at
        self._emitted = False
        self._leading = bytearray()  # a file that is only blank lines still gets one (empty) input

    def _restart(self) -> None:
        self._grouper = BlockGrouper(keep_lines=False)
        self._starts = ArticleStarts()
        self._block_firsts: list[int] = []  # first line of every block the starts have not decided
        self._blocks_seen = 0
        self._article_line: int | None = None  # first line of the current article

    def push(self, line: Line) -> Iterator[RawInput | DeadLetter]:
        """Take the file's next line; yield whatever it completes."""
        self._line_number += 1
        number = self._line_number
        text = decode(line.raw) if number == 1 else line.raw.decode("utf-8", errors="surrogateescape")
        blank = not text.strip()  # what the grammar calls blank (see BlockGrouper.push)
        if self._oversized is not None:
            yield from self._skip_oversized(line, number, text, blank)
            return
        if blank:
            self._blank_run += 1
        elif self._blank_run > _KEPT_BLANK_LINES and self._lines:
            # the blank lines dropped below break the slice's line numbering: end it here,
            # at a line that two blank lines make an article start whatever comes next
            yield from self._end_slice_at_gap(number)
        if blank and (self._blank_run > _KEPT_BLANK_LINES or self._article_line is None):
            if self._article_line is None and len(self._leading) < self._limits.max_raw_bytes:
                self._leading += line.raw
            return
        if not blank:
            self._blank_run = 0
        self._hold(line.raw, number)
        yield from self._group(number, text)
        yield from self._check_size(line)

    def _hold(self, raw: bytes, number: int) -> None:
        if not self._lines:
            self._slice_line = number
        self._lines.append(raw)
        self._sizes.append(self._sizes[-1] + len(raw))

    def _bytes_between(self, first: int, end: int) -> int:
        """Bytes held of lines ``first`` up to (not including) ``end``."""
        return self._sizes[end - self._slice_line] - self._sizes[first - self._slice_line]

    def _group(self, number: int, text: str) -> Iterator[RawInput | DeadLetter]:
        opens = self._grouper.open_block_line is None
        block = self._grouper.push(number, text)
        if opens and self._grouper.open_block_line is not None and self._article_line is None:
            self._article_line = number  # the first block always starts an article
        if block is not None:
            yield from self._decided(self._starts.push(block), block.first_line)

    def _decided(self, starts: list[int], first_line: int | None) -> Iterator[RawInput | DeadLetter]:
        """Record a pushed block (``first_line``) and act on the article starts now known."""
        offset = self._blocks_seen - len(self._block_firsts)
        if first_line is not None:
            self._block_firsts.append(first_line)
            self._blocks_seen += 1
        for index in starts:
            line = self._block_firsts[index - offset]
            if line != self._article_line:
                yield from self._article_ended(line)
        decided = len(self._block_firsts) - (2 if first_line is not None else 0)
        del self._block_firsts[: max(0, decided)]

    def _article_ended(self, next_line: int) -> Iterator[RawInput | DeadLetter]:
        """The current article ends before ``next_line``, where the next one starts."""
        if self._held is not None:
            yield self._dead_letter(self._held)
            self._held = None
        self._position += 1
        self._article_line = next_line
        if self._bytes_between(self._slice_line, next_line) >= self._limits.slice_bytes:
            yield from self._emit_slice(next_line)

    def _emit_slice(self, end: int) -> Iterator[RawInput]:
        """The held lines before line ``end`` as one slice; the lines from ``end`` stay held."""
        count = end - self._slice_line
        if count <= 0:
            return
        data = b"".join(self._lines[:count])
        source = Source(uri=self._uri, position=self._slice_position, line=self._slice_line)
        yield RawInput(source=source, data=data, part=self._part)
        self._part += 1
        self._emitted = True
        base = self._sizes[count]
        self._lines = self._lines[count:]
        self._sizes = [size - base for size in self._sizes[count:]]
        self._slice_line = end
        self._slice_position = self._position

    def _end_slice_at_gap(self, number: int) -> Iterator[RawInput | DeadLetter]:
        """Decide every pending start as at the end of input, emit the slice; line ``number`` starts anew."""
        if (block := self._grouper.finish()) is not None:
            yield from self._decided(self._starts.push(block), block.first_line)
        yield from self._decided(self._starts.finish(), None)
        if self._article_line is not None:
            self._position += 1
        yield from self._emit_slice(self._slice_line + len(self._lines))
        self._lines, self._sizes = [], [0]
        self._slice_position = self._position
        self._restart()

    def _check_size(self, line: Line) -> Iterator[RawInput | DeadLetter]:
        """Start skipping when the current article, or the block being read, is too large."""
        if self._article_line is None:
            return
        limit = self._limits.max_article_bytes
        undecided = self._block_firsts[0] if self._block_firsts else self._grouper.open_block_line
        decided_bytes = self._bytes_between(self._article_line, undecided or self._line_number + 1)
        open_line = self._grouper.open_block_line
        open_bytes = self._bytes_between(open_line, self._line_number + 1) if open_line else 0
        if not line.cut and decided_bytes <= limit and open_bytes <= limit:
            return
        # Articles that certainly start before the oversized part end the current one whole.
        offset = self._blocks_seen - len(self._block_firsts)
        certain = [self._block_firsts[i - offset] for i in self._starts.known_starts()]
        head = self._grouper.open_head()
        if head is not None and head.after_gap:
            certain.append(head.first_line)
        for line_number in certain:
            if line_number > self._article_line:
                yield from self._article_ended(line_number)
        start = self._article_line
        yield from self._emit_slice(start)
        size = self._bytes_between(start, self._line_number + 1) + line.size - len(line.raw)
        excerpt = bytearray(b"".join(self._lines)[: self._limits.max_raw_bytes])
        self._lines, self._sizes = [], [0]
        if self._held is not None and self._held_ends_at == start:
            self._held.size += size
            self._held.articles += 1
            self._oversized = self._held
            self._held = None
        else:
            if self._held is not None:
                yield self._dead_letter(self._held)
                self._held = None
            source = Source(uri=self._uri, position=self._position, line=start)
            self._oversized = _Oversized(source, excerpt, size)
        self._restart()
        self._blank_run = 0

    def _skip_oversized(
        self, line: Line, number: int, text: str, blank: bool
    ) -> Iterator[RawInput | DeadLetter]:
        region = self._oversized
        assert region is not None
        if blank or self._blank_run < _KEPT_BLANK_LINES:
            self._blank_run = self._blank_run + 1 if blank else 0
            region.size += line.size
            if len(region.excerpt) < self._limits.max_raw_bytes:
                region.excerpt += line.raw[: self._limits.max_raw_bytes - len(region.excerpt)]
            return
        # two blank lines and then text: an article starts here whatever follows
        self._held, self._held_ends_at = region, number
        self._oversized = None
        self._blank_run = 0
        self._position += 1
        self._slice_position = self._position
        self._hold(line.raw, number)
        yield from self._group(number, text)
        yield from self._check_size(line)

    def _dead_letter(self, region: _Oversized) -> DeadLetter:
        self._emitted = True
        limit = self._limits.max_article_bytes
        return DeadLetter.of(
            DeadLetterReason.TOO_LARGE, Stage.READ,
            f"{region.size} bytes from line {region.source.line} of {self._uri} hold no article "
            f"boundary within {limit} bytes (--max_article_bytes): too large to be an article",
            bytes(region.excerpt), region.source, self._limits.max_raw_bytes,
            raw_size=region.size, chunks=region.articles,
        )

    def failed(self, message: str) -> DeadLetter:
        """The READ_ERROR dead letter for the rest of a file whose read failed: what is held, from where.

        Slices already emitted hold whole articles and stand; what came after them is this one
        dead letter, so a truncated file never yields a truncated article.
        """
        source = Source(uri=self._uri, position=self._slice_position, line=self._slice_line or 1)
        held = b"".join(self._lines)
        self._lines, self._sizes = [], [0]
        return DeadLetter.of(
            DeadLetterReason.READ_ERROR, Stage.READ, message, held, source, self._limits.max_raw_bytes
        )

    def finish(self) -> Iterator[RawInput | DeadLetter]:
        """Everything still held, once the file has ended."""
        if self._oversized is not None:
            yield self._dead_letter(self._oversized)
            self._oversized = None
            return
        if self._held is not None:
            yield self._dead_letter(self._held)
            self._held = None
        if self._lines:
            yield from self._emit_slice(self._slice_line + len(self._lines))
        elif not self._emitted:
            source = Source(uri=self._uri, position=0, line=1)
            yield RawInput(source=source, data=bytes(self._leading), part=self._part)
