"""Cutting over-long text into pieces for the model: boundaries, exact cover, limits."""

from __future__ import annotations

import pytest

from newswire.pipelines.long_text import text_pieces


def covers(text: str, pieces: list[tuple[int, str]]) -> bool:
    return "".join(p for _, p in pieces) == text and all(text[o : o + len(p)] == p for o, p in pieces)


def test_short_text_is_one_piece():
    assert text_pieces("Iraq and Syria.", 100) == [(0, "Iraq and Syria.")]


def test_pieces_end_at_sentence_ends_when_there_is_no_paragraph_break():
    text = "".join(f"Sentence number {i} is here. " for i in range(200))
    pieces = text_pieces(text, 500)
    assert covers(text, pieces)
    assert all(len(p) <= 500 for _, p in pieces)
    assert all(p.endswith(". ") for _, p in pieces[:-1])


def test_paragraph_breaks_come_before_sentence_ends():
    paragraph = "One sentence. Another one here. " * 5
    text = "\n\n".join([paragraph] * 20)
    pieces = text_pieces(text, 700)
    assert covers(text, pieces)
    assert all(p.endswith("\n\n") for _, p in pieces[:-1])


def test_whitespace_then_anywhere():
    words = "word " * 1000
    assert all(p.endswith(" ") for _, p in text_pieces(words, 333)[:-1])
    blob = "x" * 1000
    pieces = text_pieces(blob, 300)
    assert covers(blob, pieces) and [len(p) for _, p in pieces] == [300, 300, 300, 100]


def test_limit_must_be_positive():
    with pytest.raises(ValueError, match="limit"):
        text_pieces("text", 0)
