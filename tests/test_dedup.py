"""Dedup stage: one record per content id, the same copy kept on every run."""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newswire.pipelines import counters
from newswire.pipelines.dedup import DeduplicateArticles
from newswire.schemas.records import Article, Caption, Source, article_id


def article(headline: str, body: tuple[str, ...], uri: str, position: int = 0) -> Article:
    return Article(headline=headline, captions=(Caption("Pic", "AFP"),), body=body,
                   source=Source(uri=uri, position=position, line=1))


def dedup(articles: list[Article], expected_kept: list[tuple[str, str, int]], two_reads: bool = False) -> int:
    """Run the stage, assert which (headline, uri, position) it keeps; return the duplicates count.

    ``two_reads``: the stage decides from a second, differently ordered copy of the input
    (ids and sources only), as it does for files.
    """
    pipeline = TestPipeline()
    copies = pipeline | "Read again" >> beam.Create(list(reversed(articles))) if two_reads else None
    deduplicated = pipeline | beam.Create(articles) | DeduplicateArticles(copies=copies)
    kept = deduplicated.unique | beam.Map(lambda a: (a.headline, a.source.uri, a.source.position))
    assert_that(kept, equal_to(expected_kept), label="kept")
    dropped = sorted((a.source for a in articles), key=Source.sort_key)
    for k in expected_kept:
        dropped.remove(next(s for s in dropped if (s.uri, s.position) == k[1:]))
    assert_that(deduplicated.duplicates, equal_to(dropped), label="dropped sources")
    result = pipeline.run()
    result.wait_until_finish()
    return counters.summarize(result).duplicates_dropped


@pytest.mark.parametrize("two_reads", [False, True], ids=["group-articles", "group-ids-of-a-second-read"])
def test_same_article_in_two_files_is_kept_once_from_the_first_source(two_reads):
    a = article("Same", ("One.", "Two."), "/in/b.txt", 3)
    b = dataclasses.replace(a, source=Source("/in/a.txt", 7, 40))
    c = dataclasses.replace(a, source=Source("/in/b.txt", 1, 9))
    dropped = dedup([a, b, c, article("Other", ("Three.",), "/in/b.txt")],
                    [("Other", "/in/b.txt", 0), ("Same", "/in/a.txt", 7)], two_reads)
    assert dropped == 2


@pytest.mark.parametrize("two_reads", [False, True], ids=["group-articles", "group-ids-of-a-second-read"])
def test_same_kept_copy_whatever_the_input_order(two_reads):
    copies = [article("Same", ("Body.",), f"/in/{name}.txt", pos) for name, pos in
              [("c", 0), ("a", 5), ("a", 2), ("b", 1)]]
    for ordering in (copies, list(reversed(copies)), copies[2:] + copies[:2]):
        assert dedup(ordering, [("Same", "/in/a.txt", 2)], two_reads) == 3


def test_identity_is_headline_and_body_not_captions_or_source():
    a = article("Headline", ("Body.",), "/in/a.txt")
    assert a.id == dataclasses.replace(a, captions=(), source=Source("x", 9, 9)).id
    assert a.id != dataclasses.replace(a, body=("Other body.",)).id
    assert a.id != dataclasses.replace(a, headline="Other").id


def test_identity_folds_whitespace_but_keeps_case_and_order():
    assert article_id("A  headline", ("Some\ttext.",)) == article_id("A headline", ("Some text.",))
    assert article_id("A headline", ("Some text.",)) != article_id("a headline", ("Some text.",))
    assert article_id("H", ("One.", "Two.")) != article_id("H", ("Two.", "One."))
    assert article_id("H", ("One. Two.",)) != article_id("H", ("One.", "Two."))


def test_distinct_articles_all_pass():
    distinct = [article(f"H{i}", ("Body.",), "/in/a.txt", i) for i in range(5)]
    assert dedup(distinct, [(f"H{i}", "/in/a.txt", i) for i in range(5)]) == 0
