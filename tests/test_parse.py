"""Parse stage: golden file on the sample, the feed's variations, and bad input."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newswire.pipelines.parse import ParseArticles, parse_input
from newswire.schemas.records import Article, Caption, DeadLetter, DeadLetterReason, RawInput, Source, Stage
from tests import golden
from tests.conftest import SEED

SOURCE = Source(uri="/in/feed.txt", position=0, line=1)


def parse(data: bytes | str, max_raw_bytes: int = 1000) -> list[Article | DeadLetter]:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return list(parse_input(RawInput(SOURCE, data), max_raw_bytes))


def articles(data: bytes | str) -> list[Article]:
    records = parse(data)
    assert all(isinstance(r, Article) for r in records), records
    return records


def feed_article(headline: str, captions: list[str], body: list[str]) -> str:
    """One article as the scraped feed writes it."""
    block = "\n".join(line for c in captions for line in (f" {c}", c))
    header = f"{headline}\n\n{block}" if captions else headline
    return f"{header}\nTT\n\n{header}\n\n" + "\n\n".join(body)


# --- the sample -------------------------------------------------------------------------


def test_sample_matches_golden_file(seed_bytes):
    assert golden.expected_records(SEED) == golden.load(SEED.name)


def test_sample_yields_four_articles_with_exact_fields(seed_bytes):
    parsed = articles(seed_bytes)
    assert [a.headline for a in parsed] == [
        "Iran Proxies in Iraq Threaten US with Sophisticated Weapons",
        "Iran Mobilizes Remnants of Fourth Division to Stoke Syria Unrest",
        "Somali President to Visit Türkiye After Israeli Recognition of Somaliland",
        "Iraq's Parliament Elects Al-Halbousi as Its New Speaker",
    ]
    assert [[c.credit for c in a.captions] for a in parsed] == [
        ["Reuters"], [None], ["AFP"], ["AP Photo/Hadi Mizban"]
    ]
    assert parsed[0].captions == (Caption("US soldiers in Taji military base, north Baghdad", "Reuters"),)
    assert parsed[1].captions == (Caption("Circulating images of Syria’s Fourth Division", None),)
    assert parsed[3].captions[0].text.endswith("Monday, Dec. 29, 2025.")
    assert [len(a.body) for a in parsed] == [25, 11, 10, 6]
    assert parsed[0].body[0].startswith("The US security authorities suspect")
    assert parsed[0].body[-1] == (
        "The explosive-laden drone crashed, causing no injuries or damage, "
        "coalition officials said but fueled the growing worries."
    )
    assert parsed[3].body[-1].endswith("also sanctioned by Washington.")  # no final newline


def test_sample_bodies_hold_no_marker_headline_or_caption(seed_bytes):
    for article in articles(seed_bytes):
        header = {article.headline, *(c.text for c in article.captions)}
        for paragraph in article.body:
            assert paragraph != "TT"
            assert not any(h in paragraph for h in header), paragraph


def test_sample_sources_point_at_each_article_headline(seed_bytes):
    lines = seed_bytes.decode("utf-8").split("\n")
    for position, article in enumerate(articles(seed_bytes)):
        assert article.source.position == position
        assert lines[article.source.line - 1] == article.headline


def test_ids_are_stable_and_distinct(seed_bytes):
    first, second = articles(seed_bytes), articles(seed_bytes)
    assert [a.id for a in first] == [a.id for a in second]
    assert len({a.id for a in first}) == 4
    assert all(len(a.id) == 32 and int(a.id, 16) >= 0 for a in first)


# --- what a real feed also sends ---------------------------------------------------------


def test_crlf_line_ends_parse_like_lf(seed_bytes):
    crlf = seed_bytes.replace(b"\n", b"\r\n")
    assert [(a.headline, a.captions, a.body) for a in articles(crlf)] == [
        (a.headline, a.captions, a.body) for a in articles(seed_bytes)
    ]


def test_several_captions_each_once_in_order():
    text = feed_article("Headline", ["First photo (Reuters)", "Second photo (AFP)", "Third photo"], ["Body."])
    (article,) = articles(text)
    assert article.captions == (
        Caption("First photo", "Reuters"), Caption("Second photo", "AFP"), Caption("Third photo", None)
    )
    assert article.body == ("Body.",)


def test_article_without_captions_keeps_marker_out():
    (article,) = articles(feed_article("Quiet day", [], ["Nothing happened.", "Still nothing."]))
    assert article.captions == ()
    assert article.body == ("Nothing happened.", "Still nothing.")


def test_plain_article_without_caption_block():
    (article,) = articles("Plain headline\n\nFirst paragraph.\n\nSecond paragraph.\n")
    assert article.headline == "Plain headline"
    assert article.captions == ()
    assert article.body == ("First paragraph.", "Second paragraph.")


def test_many_articles_with_every_separator():
    a = feed_article("One", ["Pic one (Reuters)"], ["Body one."])
    b = feed_article("Two", ["Pic two"], ["Body two."])
    c = feed_article("Three", [], ["Body three."])
    d = "Four\n\nBody four."
    e = feed_article("Five", ["Pic five (AP)"], ["Body five."])
    text = a + "\n\n\n" + b + "\n\n\u00a0\n\n" + c + "\n\n\n\n" + d + "\n\n\n" + "\n\n" + e
    parsed = articles(text)
    assert [x.headline for x in parsed] == ["One", "Two", "Three", "Four", "Five"]
    assert [x.body for x in parsed] == [(f"Body {n}.",) for n in ("one", "two", "three", "four", "five")]
    assert [x.source.position for x in parsed] == [0, 1, 2, 3, 4]


def test_feed_articles_one_blank_line_apart_are_split_at_the_marker():
    one, two = feed_article("One", ["Pic (Reuters)"], ["Body one."]), feed_article("Two", [], ["Body two."])
    text = one + "\n\n" + two
    parsed = articles(text)
    assert [(x.headline, x.body) for x in parsed] == [("One", ("Body one.",)), ("Two", ("Body two.",))]


def test_unicode_quotes_kept_and_no_break_spaces_normalized():
    text = "Minister\u00a0says \u201cno\u201d\n\n\u00a0It\u2019s\u00a0over,\u201d he said.\u00a0\n"
    (article,) = articles(text)
    assert article.headline == "Minister says \u201cno\u201d"
    assert article.body == ("It\u2019s over,\u201d he said.",)


def test_text_is_nfc_normalized():
    decomposed = "Tu\u0308rkiye\n\nVisit to Tu\u0308rkiye.\n"
    (article,) = articles(decomposed)
    assert article.headline == "Türkiye"
    assert article.body == ("Visit to Türkiye.",)


def test_wrapped_paragraph_lines_are_kept_as_lines():
    (article,) = articles("Headline\n\nA paragraph wrapped\nonto two lines.\n\nNext.")
    assert article.body == ("A paragraph wrapped\nonto two lines.", "Next.")


def test_utf8_byte_order_mark_is_dropped():
    (article,) = articles(b"\xef\xbb\xbfHeadline\n\nBody.")
    assert article.headline == "Headline"


# --- bad input: dead letters, and the rest of the input survives -------------------------


def test_empty_input_is_a_dead_letter():
    for data in (b"", b"\n \n\r\n"):
        (dead,) = parse(data)
        assert (dead.reason, dead.stage) == (DeadLetterReason.EMPTY_INPUT, Stage.PARSE)
        assert dead.raw == data and dead.source == SOURCE


def test_binary_input_is_a_dead_letter_bounded_in_size():
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20
    (dead,) = parse(data, max_raw_bytes=100)
    assert dead.reason is DeadLetterReason.BINARY_INPUT
    assert dead.raw == data[:100] and dead.raw_size == len(data)
    assert dead.to_avro()["raw_truncated"] is True
    assert "not text" in dead.message


def test_invalid_utf8_costs_only_its_own_article():
    good = feed_article("Good", [], ["Fine body."]).encode()
    bad = "Bad caf\u00e9\n\nBody of the bad one.".encode().replace("\u00e9".encode(), b"\xe9")
    records = parse(good + b"\n\n\n" + bad + b"\n\n\n" + good.replace(b"Good", b"Also good"))
    assert [type(r).__name__ for r in records] == ["Article", "DeadLetter", "Article"]
    dead = records[1]
    assert dead.reason is DeadLetterReason.DECODE_ERROR
    assert dead.message == "invalid UTF-8 at byte 7 of the article"
    assert dead.raw == bad
    assert (dead.source.position, dead.source.line) == (1, good.count(b"\n") + 4)


def test_article_without_body_is_a_dead_letter():
    records = parse("Lonely headline\n\n\n" + feed_article("Real", [], ["Body."]))
    assert isinstance(records[0], DeadLetter) and isinstance(records[1], Article)
    assert records[0].reason is DeadLetterReason.NO_BODY
    assert "Lonely headline" in records[0].message
    assert records[0].raw == b"Lonely headline"


def test_header_only_feed_article_is_a_dead_letter():
    (dead,) = parse("Headline\n\n Pic (AFP)\nPic (AFP)\nTT\n\nHeadline\n\n Pic (AFP)\nPic (AFP)\n")
    assert dead.reason is DeadLetterReason.NO_BODY


def test_control_characters_make_an_article_a_dead_letter():
    (dead,) = parse("Headline\n\nBody \x1b[31m with escapes.")
    assert dead.reason is DeadLetterReason.BINARY_INPUT


def test_parse_transform_splits_articles_from_dead_letters(seed_bytes):
    with TestPipeline() as pipeline:
        parsed = pipeline | beam.Create(
            [RawInput(SOURCE, seed_bytes), RawInput(Source("/in/empty.txt", 0, 1), b"")]
        ) | ParseArticles(max_raw_bytes=10)
        assert_that(parsed.good | beam.Map(lambda a: a.headline[:9]),
                    equal_to(["Iran Prox", "Iran Mobi", "Somali Pr", "Iraq's Pa"]), label="articles")
        assert_that(parsed.dead_letters | beam.Map(lambda d: (d.reason.value, d.source.uri)),
                    equal_to([("EMPTY_INPUT", "/in/empty.txt")]), label="dead letters")


def test_parse_transform_rejects_negative_excerpt_size():
    with pytest.raises(ValueError, match="max_raw_bytes"):
        ParseArticles(max_raw_bytes=-1)


def test_input_of_only_no_break_space_lines_is_a_dead_letter():
    (dead,) = parse("\u00a0\n\u00a0\n")
    assert dead.reason is DeadLetterReason.EMPTY_INPUT


def test_every_record_knows_how_many_its_input_produced(seed_bytes):
    records = parse(seed_bytes + b"\n\n\nHeadline only")
    assert [r.source.parts for r in records] == [5] * 5
    assert parse(b"")[0].source.parts == 1


# --- no flood of dead letters ------------------------------------------------------------------


def test_a_run_of_bad_chunks_is_one_dead_letter_covering_them_all():
    """2,000 stray TT lines apart by blank lines: one NO_BODY dead letter, not 2,000."""
    data = "\n\n\n".join(["TT"] * 2_000)
    (dead,) = parse(data, max_raw_bytes=50)
    assert (dead.reason, dead.stage, dead.chunks) == (DeadLetterReason.NO_BODY, Stage.PARSE, 2_000)
    assert dead.raw == data.encode()[:50] and dead.raw_size == len(data)
    assert dead.message.startswith("2000 consecutive chunks are not articles (NO_BODY x2000); first:")
    assert (dead.source.position, dead.source.line, dead.source.parts) == (0, 1, 1)


def test_good_articles_split_runs_of_bad_ones_and_keep_their_reasons():
    good = "Headline\n\nBody paragraph."
    bad_utf8 = "Caf\udce9 headline\n\nBody.".encode("utf-8", errors="surrogateescape")
    other = good.replace("Body", "Other").encode()
    data = b"\n\n\n".join([b"TT", b"TT", good.encode(), bad_utf8, b"Only a headline", other])
    records = parse(data)
    assert [(type(r).__name__, getattr(r, "reason", None), getattr(r, "chunks", None)) for r in records] == [
        ("DeadLetter", DeadLetterReason.NO_BODY, 2),
        ("Article", None, None),
        ("DeadLetter", DeadLetterReason.DECODE_ERROR, 2),
        ("Article", None, None),
    ]
    assert "(DECODE_ERROR x1, NO_BODY x1)" in records[2].message
    assert records[2].raw == b"\n\n\n".join([bad_utf8, b"Only a headline"])  # exactly the input's bytes
    assert [r.source.position for r in records] == [0, 2, 3, 5]
    assert {r.source.parts for r in records} == {4}


def test_a_slice_of_a_file_places_its_articles_in_the_whole_file():
    slice_source = Source(uri="/in/feed.txt", position=7, line=120)
    records = list(parse_input(RawInput(slice_source, b"A\n\nBody a.\n\n\nB\n\nBody b.", part=3), 100))
    assert [(r.headline, r.source.position, r.source.line) for r in records] == [("A", 7, 120), ("B", 8, 125)]
