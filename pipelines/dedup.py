"""Dedup stage: an article that arrives more than once is kept once.

Usage::

    deduplicated = articles | DeduplicateArticles()                      # bounded input
    deduplicated = articles | DeduplicateArticles(copies=articles_again)  # bounded, read twice
    deduplicated = articles | DeduplicateStream(ttl_s=86400, known_ids)   # unbounded input
    deduplicated.unique        # PCollection[Article]
    deduplicated.duplicates    # PCollection[Source]: the copies dropped


Identity is the article's content id (normalized headline and body, see
``records.article_id``), so the same article in two files, or the same file read twice,
collapses to one record.

* Bounded: the copy kept is the first by source (uri, partition, offset, position): the
  same copy on every run, whatever order the runner delivers them in. Given ``copies``
  (the same articles from a second read of the input), only their ids and sources are
  grouped, and the sources to drop reach the articles as a side input: no runner holds
  every article for the group (local runners shuffle in memory), at the cost of parsing
  twice. Without it, the articles themselves are grouped by id.
* Unbounded: the first copy to arrive is kept. Per id, keyed state remembers it until the
  watermark passes its timestamp plus ``ttl_s`` (an event-time timer clears it; the Kafka
  source's watermark follows record timestamps and the clock when idle), so state stays
  bounded; ids already written before a restart come from ``known_ids`` (the output
  topic's keys and their record times, ``connectors.kafka.known_ids``), loaded once per
  worker process. A known id counts for a copy timestamped less than ``ttl_s`` after it was
  written, as the keyed state would; each timer that fires shows the watermark has passed
  its time, so the ids that expired before it are freed then.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

import apache_beam as beam
from apache_beam import typehints
from apache_beam.coders import BooleanCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration, Timestamp

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


@typehints.with_input_types(tuple[str, Iterable[tuple]])
@typehints.with_output_types(tuple)
def _later_copies(keyed: tuple[str, Iterable[tuple]]) -> Iterator[tuple]:
    """The sources (as sort keys) of every copy of an id but the first."""
    yield from sorted(keyed[1])[1:]


@typehints.with_input_types(Article, list[tuple])
@typehints.with_output_types(Article)
class _DropLaterCopiesFn(beam.DoFn):
    def process(self, article: Article, later: list[tuple]) -> Iterator[Article | beam.pvalue.TaggedOutput]:
        if article.source.sort_key() in self._later(later):
            counters.DUPLICATES_DROPPED.inc()
            yield beam.pvalue.TaggedOutput(DUPLICATES, article.source)
            return
        yield article

    def _later(self, later: list[tuple]) -> frozenset[tuple]:
        """The side input as a set, built once per worker (the runner hands the same list)."""
        if getattr(self, "_later_list", None) is not later:
            self._later_list, self._later_set = later, frozenset(later)
        return self._later_set


class DeduplicateArticles(beam.PTransform):
    """Bounded articles to distinct articles by content id; counts the copies it drops."""

    def __init__(self, copies: beam.PCollection[Article] | None = None):
        super().__init__()
        self._copies = copies

    def expand(self, articles: beam.PCollection[Article]) -> DedupOutput:
        if self._copies is not None:
            later = (
                self._copies
                | "Id and source" >> beam.Map(lambda a: (a.id, a.source.sort_key())).with_output_types(
                    tuple[str, tuple]
                )
                | "Group sources by id" >> beam.GroupByKey()
                | "Later copies" >> beam.FlatMap(_later_copies)
            )
            outputs = articles | "Drop later copies" >> beam.ParDo(
                _DropLaterCopiesFn(), beam.pvalue.AsList(later)
            ).with_outputs(DUPLICATES, main="unique")
            return DedupOutput(unique=outputs.unique, duplicates=outputs[DUPLICATES])
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
        self._ttl_ms = int(ttl_s * 1000)
        self._known_ids = known_ids

    def setup(self) -> None:
        self._written = self._known_ids.load() if self._known_ids is not None else None

    def _known(self, article_id: str, timestamp: Timestamp) -> bool:
        """Written to the sink less than a TTL before this copy's time (before the job started)."""
        written_ms = self._written.written_ms(article_id) if self._written is not None else None
        return written_ms is not None and timestamp.micros // 1000 < written_ms + self._ttl_ms

    def process(
        self,
        keyed: tuple[str, Article],
        timestamp=beam.DoFn.TimestampParam,
        seen=beam.DoFn.StateParam(SEEN),
        forget=beam.DoFn.TimerParam(FORGET),
    ) -> Iterator[Article | beam.pvalue.TaggedOutput]:
        article_id, article = keyed
        if seen.read() or self._known(article_id, timestamp):
            counters.DUPLICATES_DROPPED.inc()
            yield beam.pvalue.TaggedOutput(DUPLICATES, article.source)
            return
        seen.write(True)
        forget.set(timestamp + self._ttl)
        yield article

    @on_timer(FORGET)
    def forget(self, fired=beam.DoFn.TimestampParam, seen=beam.DoFn.StateParam(SEEN)) -> None:
        seen.clear()
        if self._written is not None:
            # The watermark has passed ``fired``: the ids written a TTL before it count for no copy to come.
            self._written.forget_up_to(fired.micros // 1000 - self._ttl_ms)


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
