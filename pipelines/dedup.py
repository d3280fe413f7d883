"""Dedup stage (batch): an article that arrives more than once is kept once.

Usage::

    unique = articles | DeduplicateArticles()

Identity is the article's content id (normalized headline and body, see
``records.article_id``), so the same article in two files, or the same file read twice,
collapses to one record. The copy kept is the first by source (uri, partition, offset,
position): the same copy on every run, whatever order the runner delivers them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam import typehints

from pipelines import counters
from pipelines.records import Article

__all__ = ["DeduplicateArticles"]


@typehints.with_input_types(tuple[str, Iterable[Article]])
@typehints.with_output_types(Article)
class _KeepFirstCopyFn(beam.DoFn):
    def process(self, keyed: tuple[str, Iterable[Article]]) -> Iterator[Article]:
        _, copies = keyed
        kept = None
        count = 0
        for copy in copies:
            count += 1
            if kept is None or copy.source.sort_key() < kept.source.sort_key():
                kept = copy
        counters.DUPLICATES_DROPPED.inc(count - 1)
        yield kept


class DeduplicateArticles(beam.PTransform):
    """Articles to distinct articles by content id; counts the copies it drops."""

    def expand(self, articles: beam.PCollection[Article]) -> beam.PCollection[Article]:
        return (
            articles
            | "Key by content id" >> beam.Map(lambda article: (article.id, article)).with_output_types(
                tuple[str, Article]
            )
            | "Group copies" >> beam.GroupByKey()
            | "Keep first copy" >> beam.ParDo(_KeepFirstCopyFn())
        )
