"""Files streamed into slices of whole articles: the same articles as a whole read, bounded memory."""

from __future__ import annotations

import io

import pytest

from newswire.connectors.file_slices import FileSlicer, SliceLimits, read_lines
from newswire.pipelines.parse import parse_input
from newswire.schemas.records import Article, DeadLetter, DeadLetterReason, RawInput, Source, Stage


def outcome(record: Article | DeadLetter) -> tuple:
    if isinstance(record, Article):
        return ("article", record.headline, record.body, record.source.position, record.source.line)
    return ("dead", record.reason, record.source.position, record.source.line, record.chunks)


def sliced(data: bytes, slice_bytes: int, max_article_bytes: int = 1 << 20) -> tuple[list, list]:
    """(outcomes, emitted) of streaming ``data`` through the slicer and parsing every slice."""
    slicer = FileSlicer("/in/feed.txt", SliceLimits(slice_bytes, max_article_bytes, 100))
    lines = read_lines(io.BytesIO(data), max_article_bytes + 1)
    emitted = [out for line in lines for out in slicer.push(line)]
    emitted += list(slicer.finish())
    records = [
        record
        for out in emitted
        for record in ([out] if isinstance(out, DeadLetter) else parse_input(out, 100))
    ]
    return [outcome(r) for r in records], emitted


def whole(data: bytes) -> list:
    return [outcome(r) for r in parse_input(RawInput(Source("/in/feed.txt", 0, 1), data), 100)]


@pytest.mark.parametrize("slice_bytes", [1, 700, 5_000, 1 << 20])
@pytest.mark.parametrize("separator", [b"\n\n\n", b"\n\n", b"\r\n\r\n\r\n\r\n\r\n"])
def test_slices_parse_into_the_articles_of_the_whole_file(seed_bytes, slice_bytes, separator):
    """Articles apart by two blank lines, by one (feed articles: found by their TT marker), by many."""
    line_end = b"\r\n" if b"\r" in separator else b"\n"
    data = separator.join([seed_bytes.strip().replace(b"\n", line_end)] * 7)
    got, emitted = sliced(data, slice_bytes)
    assert got == whole(data)
    assert len([g for g in got if g[0] == "article"]) == 28
    assert all(isinstance(e, RawInput) for e in emitted)
    assert [e.part for e in emitted] == list(range(len(emitted)))
    if slice_bytes == 1:
        assert len(emitted) >= 7  # cut at (nearly) every article


def test_cr_only_line_ends_and_a_bom(seed_bytes):
    data = b"\xef\xbb\xbf" + seed_bytes.replace(b"\n", b"\r")
    got, _ = sliced(data, 100)
    assert got == whole(data) and len(got) == 4


def test_an_article_larger_than_the_bound_is_one_dead_letter_and_the_rest_is_read(seed_bytes):
    endless = b"Headline\n\n" + b"word " * 40_000 + b"\n" + b"more\n" * 10_000
    data = seed_bytes + b"\n\n\n" + endless + b"\n\n\n" + seed_bytes
    got, emitted = sliced(data, 1_000, max_article_bytes=50_000)
    dead = [e for e in emitted if isinstance(e, DeadLetter)]
    assert len(dead) == 1
    (letter,) = dead
    assert (letter.reason, letter.stage, letter.chunks) == (DeadLetterReason.TOO_LARGE, Stage.READ, 1)
    assert letter.raw == endless[:100]
    assert letter.raw_size == len(endless) + 3  # and the blank lines after it
    assert letter.source.position == 4 and letter.source.line == seed_bytes.count(b"\n") + 4
    articles = [g for g in got if g[0] == "article"]
    assert [a[3] for a in articles] == [0, 1, 2, 3, 5, 6, 7, 8]


def test_a_line_with_no_end_is_read_in_constant_memory():
    data = b"x" * (5 << 20)
    got, emitted = sliced(data, 1_000, max_article_bytes=100_000)
    assert got == [("dead", DeadLetterReason.TOO_LARGE, 0, 1, 1)]
    assert emitted[0].raw_size == len(data) and emitted[0].raw == b"x" * 100


def test_read_lines_cuts_long_lines_and_keeps_every_line_end():
    data = b"a\r\nbb\rccc\n" + b"d" * 50 + b"\ne"
    lines = list(read_lines(io.BytesIO(data), 10))
    assert [line.raw for line in lines] == [b"a\r\n", b"bb\r", b"ccc\n", b"d" * 10, b"e"]
    assert [line.size for line in lines] == [3, 3, 4, 51, 1]
    assert [line.cut for line in lines] == [False, False, False, True, False]


def test_consecutive_oversized_articles_merge_into_one_dead_letter():
    data = b"\n\n\n".join([b"y" * 2_000, b"z" * 2_000, b"Headline\n\nBody text here."])
    got, _ = sliced(data, 100, max_article_bytes=1_000)
    assert got == [
        ("dead", DeadLetterReason.TOO_LARGE, 0, 1, 2),
        ("article", "Headline", ("Body text here.",), 2, 7),
    ]


@pytest.mark.parametrize("data", [b"", b"\n", b"  \n\t\n\n\n\n"])
def test_an_empty_file_is_one_empty_input(data):
    got, emitted = sliced(data, 100)
    assert got == [("dead", DeadLetterReason.EMPTY_INPUT, 0, 1, 1)]
    assert [e.part for e in emitted] == [0]
