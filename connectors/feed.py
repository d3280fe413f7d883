"""The feed's text format: raw bytes into normalized lines, blocks, and one chunk per article.

This is the feed's grammar and nothing else: no Beam, no records. The file source uses it to
cut a file into slices at article boundaries as it streams (``connectors.files``), the parse
stage to split an input into articles (``pipelines.parse``). The scraped feed looks like::

    Headline
                                    <- one blank line
     Caption text (Credit)          <- each caption twice, one copy with a leading space
    Caption text (Credit)
    TT                              <- a stray marker line
                                    <- the headline and caption blocks again
    Headline

     Caption text (Credit)
    Caption text (Credit)

    Body paragraph                  <- paragraphs separated by one blank line

    Body paragraph
                                    <- two or more blank lines (or a line holding only a
                                       no-break space) end the article

Articles are also split where a feed article's header starts (found from its ``TT``
marker and the repeated headline after it), so feed articles separated by a single blank
line still come apart. A plain article
(headline, blank line, body) needs two blank lines before the next one: with one, it
cannot be told from a paragraph.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata

__all__ = [
    "LINE_BREAK",
    "TT_MARKER",
    "ArticleStarts",
    "Block",
    "BlockGrouper",
    "Chunk",
    "decode",
    "normalize_line",
    "split_chunks",
]

TT_MARKER = "TT"

# No-break spaces of every width; the feed uses them as blank-line fillers and inside text.
_NO_BREAK_SPACES = ("\u00a0", "\u2007", "\u202f")
LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ARTICLE_GAP = 2  # blank lines that end an article


def decode(data: bytes) -> str:
    """Decode UTF-8 without losing a byte: undecodable bytes become lone surrogates.

    Decoding never fails here, so one bad byte costs only the article it sits in; the
    parser sends that article to the dead letters (see ``Chunk.undecodable_offset``).
    """
    return data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")


def normalize_line(line: str) -> str:
    """NFC, no-break spaces as plain spaces, surrounding whitespace stripped; nothing else.

    ASCII text (most lines of most feeds) has nothing to normalize but its ends.
    """
    if not line.isascii():
        for space in _NO_BREAK_SPACES:
            line = line.replace(space, " ")
        line = unicodedata.normalize("NFC", line)
    return line.strip()


@dataclasses.dataclass(frozen=True)
class Block:
    """Consecutive non-blank lines, already normalized, and the blank lines before them.

    A grouper that does not keep lines (``BlockGrouper(keep_lines=False)``, for a reader
    that only needs article boundaries) keeps the first line alone: the headline, which is
    all that boundaries are decided on besides ``has_marker``.
    """

    lines: tuple[str, ...]
    first_line: int  # 1-based line number in the input
    gap: int  # blank lines before the block
    has_marker: bool

    @property
    def after_gap(self) -> bool:
        """True when enough blank lines stand before it to start an article whatever surrounds it."""
        return self.gap >= _ARTICLE_GAP


class BlockGrouper:
    """Lines in, blocks out, one line at a time, so that a file never has to be held whole."""

    def __init__(self, keep_lines: bool = True):
        self._keep_lines = keep_lines
        self._lines: list[str] = []
        self._has_marker = False
        self._start = 0
        self._gap = 0

    def push(self, number: int, raw_line: str) -> Block | None:
        """Take line ``number`` (1-based) of the input; return the block it ends, if any.

        ``str.strip`` already drops no-break spaces, and NFC changes neither blankness nor a
        ``TT`` line, so only the lines a block keeps are normalized.
        """
        stripped = raw_line.strip()
        if stripped:
            if not self._lines:
                self._start = number
                self._lines.append(normalize_line(raw_line))
            elif self._keep_lines:
                self._lines.append(normalize_line(raw_line))
            self._has_marker = self._has_marker or stripped == TT_MARKER
            return None
        block = self.finish()
        self._gap += 1
        return block

    def finish(self) -> Block | None:
        """The block still open at the end of the input, if any."""
        if not self._lines:
            return None
        block = Block(tuple(self._lines), self._start, self._gap, self._has_marker)
        self._lines, self._has_marker, self._gap = [], False, 0
        return block

    @property
    def open_block_line(self) -> int | None:
        """The first line of the block being read, if one is open."""
        return self._start if self._lines else None

    def open_head(self) -> Block | None:
        """The block being read as far as it is known (its first line), if one is open."""
        return Block((self._lines[0],), self._start, self._gap, self._has_marker) if self._lines else None


class ArticleStarts:
    """Which blocks start an article, decided block by block with two blocks of lookahead.

    A block starts an article when it is the first, when two or more blank lines stand
    before it, or where a feed article's header starts: after the ``TT`` marker the feed
    repeats the header, so the block after the marker block opens with the headline, and the
    article starts at whichever of the marker block (no captions: ``[headline, TT]``) or
    the block before it (``[headline]``, then ``[captions, TT]``) opens with that same line.
    A TT line with no repeated header after it starts nothing. Block ``k``'s status is final
    once block ``k + 2`` is known, hence the lookahead.
    """

    def __init__(self) -> None:
        self._recent: list[tuple[int, Block, bool]] = []  # (index, block, starts) of the last three
        self._count = 0

    def push(self, block: Block) -> list[int]:
        """Take the next block; return the indices of blocks now known to start an article."""
        index = self._count
        self._count += 1
        if self._recent and self._recent[-1][1].has_marker:
            headline = block.lines[0]
            for position in (-1, -2):
                if len(self._recent) >= -position and self._recent[position][1].lines[0] == headline:
                    i, candidate, _ = self._recent[position]
                    self._recent[position] = (i, candidate, True)
                    break
        self._recent.append((index, block, index == 0 or block.after_gap))
        final = []
        if len(self._recent) > 2:
            i, _, starts = self._recent.pop(0)
            final = [i] if starts else []
        return final

    def known_starts(self) -> list[int]:
        """Blocks not yet decided that already certainly start an article (a start is never undone)."""
        return [i for i, _, starts in self._recent if starts]

    def finish(self) -> list[int]:
        """The starts among the last blocks, once the input has ended."""
        final = [i for i, _, starts in self._recent if starts]
        self._recent = []
        return final


@dataclasses.dataclass(frozen=True)
class Chunk:
    """The lines of one article as found in the input, before any parsing.

    ``raw`` is the exact input text of the article, line ends included (surrogate-escaped
    where the input was not UTF-8), kept so that a rejected article can be dead-lettered as
    it arrived; ``start``/``end`` are its place in the decoded input.
    """

    blocks: tuple[Block, ...]
    raw: str
    position: int
    start: int
    end: int

    @property
    def first_line(self) -> int:
        return self.blocks[0].first_line

    def raw_bytes(self) -> bytes:
        return self.raw.encode("utf-8", errors="surrogateescape")

    def undecodable_offset(self) -> int | None:
        """Byte offset within the article of its first byte that is not UTF-8, if any."""
        for i, char in enumerate(self.raw):
            if "\udc80" <= char <= "\udcff":
                return len(self.raw[:i].encode("utf-8", errors="surrogateescape"))
        return None


def _line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line's text in ``text``, line ends excluded."""
    spans, start = [], 0
    for end in LINE_BREAK.finditer(text):
        spans.append((start, end.start()))
        start = end.end()
    spans.append((start, len(text)))
    return spans


def split_chunks(text: str) -> list[Chunk]:
    """Split decoded input text into article chunks, in input order."""
    spans = _line_spans(text)
    grouper, starts = BlockGrouper(), ArticleStarts()
    blocks: list[Block] = []
    begins: list[int] = []
    for number, (start, end) in enumerate(spans, start=1):
        if (block := grouper.push(number, text[start:end])) is not None:
            blocks.append(block)
            begins.extend(starts.push(block))
    if (block := grouper.finish()) is not None:
        blocks.append(block)
        begins.extend(starts.push(block))
    begins.extend(starts.finish())
    if not blocks:
        return []
    chunks = []
    for position, (begin, end) in enumerate(zip(begins, [*begins[1:], len(blocks)], strict=True)):
        members = tuple(blocks[begin:end])
        last = members[-1]
        start = spans[members[0].first_line - 1][0]
        stop = spans[last.first_line - 2 + len(last.lines)][1]
        chunks.append(Chunk(blocks=members, raw=text[start:stop], position=position, start=start, end=stop))
    return chunks
