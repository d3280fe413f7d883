"""Turning raw feed bytes into normalized lines, and splitting them into one chunk per article.

This is the feed's grammar and nothing else: no Beam, no records. The scraped feed looks like::

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
    "TT_MARKER",
    "Block",
    "Chunk",
    "decode",
    "normalize_line",
    "split_chunks",
]

TT_MARKER = "TT"

# No-break spaces of every width; the feed uses them as blank-line fillers and inside text.
_NO_BREAK_SPACES = str.maketrans({"\u00a0": " ", "\u2007": " ", "\u202f": " "})
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ARTICLE_GAP = 2  # blank lines that end an article


def decode(data: bytes) -> str:
    """Decode UTF-8 without losing a byte: undecodable bytes become lone surrogates.

    Decoding never fails here, so one bad byte costs only the article it sits in; the
    parser sends that article to the dead letters (see ``Chunk.undecodable_offset``).
    """
    return data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")


def normalize_line(line: str) -> str:
    """NFC, no-break spaces as plain spaces, surrounding whitespace stripped; nothing else."""
    return unicodedata.normalize("NFC", line.translate(_NO_BREAK_SPACES)).strip()


@dataclasses.dataclass(frozen=True)
class Block:
    """Consecutive non-blank lines, already normalized."""

    lines: tuple[str, ...]
    first_line: int  # 1-based line number in the input


@dataclasses.dataclass(frozen=True)
class Chunk:
    """The lines of one article as found in the input, before any parsing.

    ``raw`` is the exact input text of the article (surrogate-escaped where the input was
    not UTF-8), kept so that a rejected article can be dead-lettered as it arrived.
    """

    blocks: tuple[Block, ...]
    raw: str
    position: int

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


def _blocks_with_gaps(raw_lines: list[str]) -> list[tuple[Block, int]]:
    """Group lines into blocks, each with the number of blank lines before it."""
    blocks: list[tuple[Block, int]] = []
    current: list[str] = []
    start = 0
    gap = 0
    for number, raw_line in enumerate(raw_lines, start=1):
        line = normalize_line(raw_line)
        if line:
            if not current:
                start = number
            current.append(line)
            continue
        if current:
            blocks.append((Block(tuple(current), start), gap))
            current, gap = [], 0
        gap += 1
    if current:
        blocks.append((Block(tuple(current), start), gap))
    return blocks


def _marker_starts(blocks: list[tuple[Block, int]]) -> set[int]:
    """Where feed articles start, found from their TT markers.

    After the marker the feed repeats the header, so the block after the marker block
    opens with the headline; the article starts at whichever of the marker block (no
    captions: ``[headline, TT]``) or the block before it (``[headline]``, then
    ``[captions, TT]``) opens with that same line. A TT line with no repeated header after
    it starts nothing.
    """
    starts = set()
    for m in range(len(blocks) - 1):
        if TT_MARKER not in blocks[m][0].lines:
            continue
        headline = blocks[m + 1][0].lines[0]
        for candidate in (m, m - 1):
            if candidate >= 0 and blocks[candidate][0].lines[0] == headline:
                starts.add(candidate)
                break
    return starts


def split_chunks(text: str) -> list[Chunk]:
    """Split decoded input text into article chunks, in input order."""
    raw_lines = _LINE_BREAK.split(text)
    blocks = _blocks_with_gaps(raw_lines)
    if not blocks:
        return []
    by_marker = _marker_starts(blocks)
    starts = [i for i, (_, gap) in enumerate(blocks) if i == 0 or gap >= _ARTICLE_GAP or i in by_marker]
    chunks = []
    for position, (begin, end) in enumerate(zip(starts, [*starts[1:], len(blocks)], strict=True)):
        members = tuple(block for block, _ in blocks[begin:end])
        last = members[-1]
        raw = "\n".join(raw_lines[members[0].first_line - 1 : last.first_line - 1 + len(last.lines)])
        chunks.append(Chunk(blocks=members, raw=raw, position=position))
    return chunks
