"""Dedup stage: an article that arrives more than once is kept once.

Usage::

    deduplicated = articles | DeduplicateArticles()                      # bounded input
    deduplicated = articles | DeduplicateStream(ttl_s=86400, known_ids)   # unbounded input
    deduplicated.unique        # PCollection[Article]
    deduplicated.duplicates    # PCollection[Source]: the copies dropped


Identity is the article's content id (normalized headline and body, see
``records.article_id``), so the same article in two files, or the same file read twice,
collapses to one record.

* Bounded: a group by id; the copy kept is the first by source (uri, partition, offset,
  position): the same copy on every run, whatever order the runner delivers them in.
* Unbounded: the first copy to arrive is kept. Per id, keyed state remembers it until the
  watermark passes its timestamp plus ``ttl_s`` (an event-time timer clears it; the Kafka
  source's watermark follows record timestamps and the clock when idle), so state stays
  bounded; ids already written before a restart come from ``known_ids`` (the output
  topic's keys, ``connectors.kafka.known_ids``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

import apache_beam as beam
from apache_beam import typehints
from apache_beam.coders import BooleanCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration

from newswire.connectors.base import KnownIds
from newswire.pipelines import counters
from newswire.schemas.records import Article

__all__ = ["DedupOutput", "DeduplicateArticles", "DeduplicateStream"]

DUPLICATES = "duplicates"


class DedupOutput(NamedTuple):
    """Articles kept, and the sources of the copies dropped (acknowledged like writes)."""

    unique: beam.PCollection
    duplicates: beam.PCollection


def _key_by_id(articles: beam.PCollection[Article]) -> beam.PCollection:
    return articles | "Key by content id" >> beam.Map(lambda a: (a.id, a)).with_output_types(
        tuple[str, Article]
    )


@typehints.with_input_types(tuple[str, Iterable[Article]])
@typehints.with_output_types(Article)
class _KeepFirstCopyFn(beam.DoFn):
    def process(self, keyed: tuple[str, Iterable[Article]]) -> Iterator[Article | beam.pvalue.TaggedOutput]:
        copies = list(keyed[1])
        kept = min(copies, key=lambda article: article.source.sort_key())
        for copy in copies:
            if copy is not kept:
                counters.DUPLICATES_DROPPED.inc()
                yield beam.pvalue.TaggedOutput(DUPLICATES, copy.source)
        yield kept


class DeduplicateArticles(beam.PTransform):
    """Bounded articles to distinct articles by content id; counts the copies it drops."""

    def expand(self, articles: beam.PCollection[Article]) -> DedupOutput:
        outputs = (
            _key_by_id(articles)
            | "Group copies" >> beam.GroupByKey()
            | "Keep first copy" >> beam.ParDo(_KeepFirstCopyFn()).with_outputs(DUPLICATES, main="unique")
        )
        return DedupOutput(unique=outputs.unique, duplicates=outputs[DUPLICATES])


@typehints.with_input_types(tuple[str, Article])
@typehints.with_output_types(Article)
class _KeepFirstSightingFn(beam.DoFn):
    SEEN = ReadModifyWriteStateSpec("seen", BooleanCoder())
    # An event-time timer: a processing-time timer would hold the stage's output watermark at
    # the element's timestamp until it fires, a whole TTL later, stalling every window
    # downstream (the streaming file sink's among them).
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, ttl_s: float, known_ids: KnownIds | None):
        self._ttl = Duration(seconds=ttl_s)
        self._known_ids = known_ids

    def setup(self) -> None:
        self._known = self._known_ids.load() if self._known_ids is not None else frozenset()

    def process(
        self,
        keyed: tuple[str, Article],
        timestamp=beam.DoFn.TimestampParam,
        seen=beam.DoFn.StateParam(SEEN),
        forget=beam.DoFn.TimerParam(FORGET),
    ) -> Iterator[Article | beam.pvalue.TaggedOutput]:
        article_id, article = keyed
        if seen.read() or article_id in self._known:
            counters.DUPLICATES_DROPPED.inc()
            yield beam.pvalue.TaggedOutput(DUPLICATES, article.source)
            return
        seen.write(True)
        forget.set(timestamp + self._ttl)
        yield article

    @on_timer(FORGET)
    def forget(self, seen=beam.DoFn.StateParam(SEEN)) -> None:
        seen.clear()


class DeduplicateStream(beam.PTransform):
    """Unbounded articles to distinct articles, remembering each id for ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float, known_ids: KnownIds | None = None):
        super().__init__()
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self._ttl_s = ttl_s
        self._known_ids = known_ids

    def expand(self, articles: beam.PCollection[Article]) -> DedupOutput:
        outputs = _key_by_id(articles) | "Keep first sighting" >> beam.ParDo(
            _KeepFirstSightingFn(self._ttl_s, self._known_ids)
        ).with_outputs(DUPLICATES, main="unique")
        return DedupOutput(unique=outputs.unique, duplicates=outputs[DUPLICATES])

    def display_data(self) -> dict:
        return {"ttl_s": self._ttl_s}
