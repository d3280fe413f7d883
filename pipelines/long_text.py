"""Cutting a text too long for one model call into pieces at natural boundaries.

Usage::

    for offset, piece in text_pieces(paragraph, limit=100_000):
        ...  # an entity at piece[start:end] is paragraph[offset + start : offset + end]

spaCy refuses a text longer than ``nlp.max_length`` and needs about 1 GB of memory per
100,000 characters for NER, so a field beyond the bound is run in pieces. A piece ends at the
last paragraph break before the bound, else the last sentence end, else the last whitespace,
and only a text with none of them (a 100,000-character "word") is cut anywhere; an entity
can only be split at such a cut. The pieces cover the text exactly, so offsets stay offsets
into the original field.
"""

from __future__ import annotations

import re

__all__ = ["text_pieces"]

# Boundaries in order of preference; each pattern's match end is where a piece may end.
_BOUNDARIES = (
    re.compile(r"\n\s*\n"),  # a blank line: a paragraph break
    re.compile(r"\n"),
    re.compile("[.!?]['\"\u201d\u2019)]*\\s+"),  # a sentence end, after any closing quotes
    re.compile(r"\s+"),
)


def _cut(text: str, start: int, limit: int) -> int:
    """Where the piece starting at ``start`` ends: the best boundary within ``limit`` characters."""
    window = text[start : start + limit]
    for boundary in _BOUNDARIES:
        ends = [match.end() for match in boundary.finditer(window) if match.end() < len(window)]
        # a boundary in the first half would leave a piece much shorter than needed
        if ends and ends[-1] > limit // 2:
            return start + ends[-1]
    return start + limit


def text_pieces(text: str, limit: int) -> list[tuple[int, str]]:
    """(offset, piece) pairs covering ``text``, each piece at most ``limit`` characters."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    pieces, start = [], 0
    while len(text) - start > limit:
        end = _cut(text, start, limit)
        pieces.append((start, text[start:end]))
        start = end
    pieces.append((start, text[start:]))
    return pieces
