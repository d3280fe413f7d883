"""Kafka source: raw article text from a topic, one ``RawInput`` per message.

Usage::

    inputs = pipeline | ReadFromKafkaTopic(topic_uri, connection, group_id="newswire",
                                           bounded=True)

Split the way Bytewax splits a source: which partitions exist (planning) and how to read
one partition (``_ReadPartitionFn``, a splittable DoFn whose restriction is the partition's
offset range). Each partition starts at the consumer group's committed offset, or the
earliest offset the broker still has.

* bounded (batch): the partitions are planned once (``_PlanPartitionsFn``), each read up to
  the end offset seen when the job started, then the job finishes;
* unbounded (``--streaming``): the partitions are planned again every
  ``PARTITION_CHECK_SECONDS`` (``_PlanNewPartitionsFn``), so that partitions added to the
  topic while the job runs are read too, from where the group left them (the earliest offset
  for a new one). Each read polls, waiting a moment for records, and then
  goes on taking records as long as the client has more at hand (a backlog), for at most
  ``ReadPacing.busy_seconds``; then it hands the rest of the range back to the runner (a
  deferral), so the runner can checkpoint and share the worker between partitions, and the
  records it read leave with its bundle. A read that finds nothing new is resumed
  ``ReadPacing.idle_resume_seconds`` later, one with records at once. The watermark follows
  record timestamps and, when the broker confirms that a partition has nothing new, moves to
  the current time so that an idle partition does not hold back windows and timers
  downstream. A poll that failed (the client raised, or the broker was away) says nothing
  of that and leaves the watermark where it was.

The source never commits offsets itself: the sink's acknowledgements do that once the
records a message produced are written (``connectors.kafka.commit``).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import sys
import time
from collections.abc import Iterator
from typing import NamedTuple

import apache_beam as beam
from apache_beam import typehints
from apache_beam.coders import VarIntCoder
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.transforms.userstate import SetStateSpec
from apache_beam.utils.timestamp import Duration, Timestamp
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from newswire.connectors.kafka.retry import with_retries
from newswire.connectors.kafka.settings import KafkaConnection, TopicUri
from newswire.schemas.records import RawInput, Source

_LOG = logging.getLogger(__name__)

__all__ = [
    "PARTITION_CHECK_SECONDS",
    "KafkaRead",
    "PartitionSpan",
    "ReadFromKafkaTopic",
    "ReadPacing",
    "group_consumer",
    "group_start",
    "plan_partitions",
]

_FOREVER = sys.maxsize
_POLL_TIMEOUT_MS = 200
_MAX_RECORDS_PER_POLL = 500
# How often a streaming read looks for partitions added to the topic.
PARTITION_CHECK_SECONDS = 15.0


@dataclasses.dataclass(frozen=True)
class ReadPacing:
    """How an unbounded read shares its time between polling and handing back to the runner.

    Every deferral costs the runner a timer, a state write and a new bundle (and, on the
    unpatched 2.62.0 Flink runner, checkpoint bytes for good), so fewer is better; but what a
    read yields leaves it only when its bundle ends, so a longer read adds latency. Measured
    with ``newswire bench --kafka`` (README, "Speed").

    * ``busy_seconds``: how long one read goes on taking records while the client has more
      at hand (a backlog; at the head of a partition a read returns after one poll);
    * ``idle_resume_seconds``: how long a read that found nothing new waits before it polls
      again (an unpatched 2.62.0 Flink runner drops a delay's sub-second part).
    """

    busy_seconds: float = 1.0
    idle_resume_seconds: float = 0.1

    def __post_init__(self) -> None:
        if self.busy_seconds < 0 or self.idle_resume_seconds < 0:
            raise ValueError(f"read pacing must not be negative: {self}")


@dataclasses.dataclass(frozen=True)
class PartitionSpan:
    """One partition to read: from ``start`` up to ``stop`` (exclusive; ``None``: forever)."""

    topic: str
    partition: int
    start: int
    stop: int | None


def group_consumer(connection: KafkaConnection, group_id: str | None, **settings) -> KafkaConsumer:
    """A consumer that never commits by itself (the pipeline commits after its sinks).

    ``settings``: further kafka-python settings (a key deserializer, a bootstrap timeout).
    """
    return KafkaConsumer(
        **connection.client_config(),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **settings,
    )


def group_start(consumer: KafkaConsumer, tp: TopicPartition) -> int:
    """Where the group resumes a partition: its committed offset, else the earliest one.

    Also the earliest when retention has deleted the records at the committed offset. The
    reader starts there and the committer counts from there, so the two must agree.
    """
    earliest = with_retries(lambda: consumer.beginning_offsets([tp])[tp], f"start offset of {tp}")
    committed = with_retries(lambda: consumer.committed(tp), f"committed offset of {tp}")
    return earliest if committed is None else max(committed, earliest)


def plan_partitions(
    connection: KafkaConnection, topic: str, group_id: str, bounded: bool,
    planned: frozenset[int] = frozenset(),
) -> list[PartitionSpan]:
    """Every partition of ``topic`` not in ``planned``, from the group's committed offset (or the earliest).

    A fresh consumer each time, so the partitions come from fresh metadata (a long-lived
    client refreshes its own only every five minutes). A topic that lists no partition is
    an error at the first plan; later, with partitions planned, it is a metadata blip and
    plans nothing.
    """
    consumer = group_consumer(connection, group_id)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions and not planned:
            raise ValueError(f"Kafka topic {topic!r} does not exist at {connection.bootstrap_servers}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions - planned)]
        if not bounded:
            return [PartitionSpan(topic, tp.partition, group_start(consumer, tp), None) for tp in tps]
        latest = with_retries(lambda: consumer.end_offsets(tps), f"end offsets of {topic}")
        return [PartitionSpan(topic, tp.partition, group_start(consumer, tp), latest[tp]) for tp in tps]
    finally:
        consumer.close()


class _PlanPartitionsFn(beam.DoFn):
    """Plan every partition once (a bounded read)."""

    def __init__(self, connection: KafkaConnection, topic: str, group_id: str):
        self._connection = connection
        self._topic = topic
        self._group_id = group_id

    def process(self, _: bytes) -> Iterator[PartitionSpan]:
        yield from plan_partitions(self._connection, self._topic, self._group_id, bounded=True)


# Latest end offset each partition reader has seen in this process, for backlog estimates.
_END_OFFSETS: dict[tuple[str, int], int] = {}


class _EndlessOffsetTracker(OffsetRestrictionTracker):
    """The offsets of a partition with no end: checkpointed by the runner, never cut in parts.

    A fractional split of ``[position, sys.maxsize)`` would hand a worker a bogus range
    starting near offset 2**62 (Prism asks for such splits when a read runs long).
    """

    def is_bounded(self) -> bool:
        return False

    def try_split(self, fraction_of_remainder: float):
        return None if fraction_of_remainder > 0 else super().try_split(0)


class _PartitionRestrictions(RestrictionProvider):
    """A partition's offset range; never pre-split (a partition is read in order)."""

    def initial_restriction(self, span: PartitionSpan) -> OffsetRange:
        return OffsetRange(span.start, span.stop if span.stop is not None else _FOREVER)

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        if restriction.stop == _FOREVER:
            return _EndlessOffsetTracker(restriction)
        return OffsetRestrictionTracker(restriction)

    def truncate(self, span: PartitionSpan, restriction: OffsetRange) -> OffsetRange | None:
        """On drain, an endless read stops where it is; a bounded one finishes."""
        return None if restriction.stop == _FOREVER else restriction

    def split(self, span: PartitionSpan, restriction: OffsetRange) -> Iterator[OffsetRange]:
        yield restriction

    def restriction_size(self, span: PartitionSpan, restriction: OffsetRange) -> int:
        """Backlog in messages: what is left of a bounded range, or up to the last end seen."""
        if restriction.stop != _FOREVER:
            return restriction.size()
        end = _END_OFFSETS.get((span.topic, span.partition), restriction.start)
        return max(0, end - restriction.start)


def _advance(watermark: ManualWatermarkEstimator, timestamp: Timestamp) -> None:
    """Move the watermark forward to ``timestamp``; it never moves back."""
    current = watermark.current_watermark()
    if current is None or timestamp > current:
        watermark.set_watermark(timestamp)


_RESTRICTION = beam.DoFn.RestrictionParam(_PartitionRestrictions())
_WATERMARK = beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider())


class _TickRestrictions(RestrictionProvider):
    """The ticks of a planning beat, numbered from 0, forever; stopped on drain."""

    def initial_restriction(self, topic: str) -> OffsetRange:
        return OffsetRange(0, _FOREVER)

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return _EndlessOffsetTracker(restriction)

    def truncate(self, topic: str, restriction: OffsetRange) -> None:
        return None

    def split(self, topic: str, restriction: OffsetRange) -> Iterator[OffsetRange]:
        yield restriction

    def restriction_size(self, topic: str, restriction: OffsetRange) -> int:
        return 0


_TICKS = beam.DoFn.RestrictionParam(_TickRestrictions())


@typehints.with_input_types(str)
@typehints.with_output_types(tuple[str, int])
class _TickFn(beam.DoFn):
    """``(topic, n)`` at once and then every ``interval_s``: when to look for new partitions.

    Beam's ``PeriodicImpulse`` would do, but it leaves its watermark at its last tick, and a
    read's watermark is never ahead of its input's: every window and event-time timer
    downstream would lag by up to the interval. This beat sets its watermark to its next
    tick, whose timestamp is never earlier.
    """

    def __init__(self, interval_s: float):
        self._interval = Duration(seconds=interval_s)

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        topic: str,
        tracker: OffsetRestrictionTracker = _TICKS,
        watermark: ManualWatermarkEstimator = _WATERMARK,
    ) -> Iterator[beam.window.TimestampedValue]:
        tick = tracker.current_restriction().start
        if not tracker.try_claim(tick):
            return
        now = Timestamp.now()
        ahead = watermark.current_watermark()
        yield beam.window.TimestampedValue((topic, tick), now if ahead is None else max(now, ahead))
        _advance(watermark, now + self._interval)
        tracker.defer_remainder(self._interval)


@typehints.with_input_types(tuple[str, int])
@typehints.with_output_types(PartitionSpan)
class _PlanNewPartitionsFn(beam.DoFn):
    """At each tick, a span for each partition of the topic not planned before (an unbounded read).

    The partitions planned are keyed state (the key: the topic), written with the spans of the
    same bundle: a bundle that is retried plans its partitions again, one that completed never.
    What a new partition received before it was planned can be behind the watermark by up to
    the interval: late, which nothing downstream drops (the dedup and the commits keep their
    state in the global window; the file sink re-stamps records as they arrive).
    """

    PLANNED = SetStateSpec("planned", VarIntCoder())

    def __init__(self, connection: KafkaConnection, group_id: str):
        self._connection = connection
        self._group_id = group_id

    def process(
        self, tick: tuple[str, int], planned=beam.DoFn.StateParam(PLANNED)
    ) -> Iterator[PartitionSpan]:
        topic, _ = tick
        known = frozenset(planned.read())
        spans = with_retries(
            lambda: plan_partitions(self._connection, topic, self._group_id, bounded=False, planned=known),
            f"planning the partitions of {topic}",
        )
        for span in spans:
            if known:
                _LOG.info("new partition %s/%d: reading from offset %d", topic, span.partition, span.start)
            planned.add(span.partition)
            yield span


class _ReadPartitionFn(beam.DoFn):
    """Read one partition's offset range (bounded: to its end; see the unbounded subclass)."""

    def __init__(self, connection: KafkaConnection, uri: TopicUri):
        self._connection = connection
        self._uri = str(uri)
        self._consumers: dict[TopicPartition, KafkaConsumer] = {}
        self._next_offsets: dict[TopicPartition, int] = {}
        self._offsets: KafkaConsumer | None = None  # for end offsets, beside the partitions' consumers

    def setup(self) -> None:
        self._consumers = {}
        self._next_offsets: dict[TopicPartition, int] = {}
        self._offsets = None

    def teardown(self) -> None:
        clients = [*self._consumers.values(), *([self._offsets] if self._offsets is not None else [])]
        self._consumers, self._next_offsets, self._offsets = {}, {}, None
        for client in clients:
            client.close()

    def _positioned(self, tp: TopicPartition, offset: int) -> KafkaConsumer:
        """The partition's consumer, made to fetch from ``offset`` if it is not already there.

        Where each consumer stands is tracked here rather than asked of the client, whose
        ``position()`` goes to the broker and fails while the broker restarts.
        """
        consumer = self._consumers.get(tp)
        if consumer is None:
            consumer = self._consumers[tp] = group_consumer(self._connection, None)
            consumer.assign([tp])
        if self._next_offsets.get(tp) != offset:
            consumer.seek(tp, offset)
        return consumer

    def _at_end(self, consumer: KafkaConsumer, tp: TopicPartition) -> bool:
        """Whether the broker answers, now, that nothing lies past ``consumer``'s position.

        An empty poll alone does not tell: with the broker away, kafka-python's poll returns
        nothing rather than an error, while the broker may hold records older than now. Asked
        of a client of its own: on the reading consumer's connection the question would wait
        behind the fetch the broker holds open (``fetch_max_wait_ms``).
        """
        if self._offsets is None:
            self._offsets = group_consumer(self._connection, None)
        try:
            end = self._offsets.end_offsets([tp], timeout_ms=_POLL_TIMEOUT_MS)[tp]
        except KafkaError as error:
            if not error.retriable:
                raise
            return False
        # The client's own position: past transaction markers and compacted gaps, unlike the last record's.
        position = consumer.position(tp, timeout_ms=0)
        return position is not None and position >= end

    def _poll(
        self,
        span: PartitionSpan,
        tracker: OffsetRestrictionTracker,
        watermark: ManualWatermarkEstimator,
        start: int,
        wait: bool = True,
    ) -> tuple[list[beam.window.TimestampedValue], int, bool]:
        """Poll the partition once from offset ``start`` (the range's start, or where a poll ended).

        ``wait``: wait up to ``_POLL_TIMEOUT_MS`` for records; otherwise take only what the
        client has already fetched.

        Returns what was claimed, the offset to read next, and whether the tracker refused a
        claim (the runner split the range: the rest belongs to someone else).
        """
        tp = TopicPartition(span.topic, span.partition)
        restriction = tracker.current_restriction()
        consumer = self._positioned(tp, start)
        failed = False
        try:
            timeout_ms = _POLL_TIMEOUT_MS if wait else 0
            polled = consumer.poll(timeout_ms=timeout_ms, max_records=_MAX_RECORDS_PER_POLL)
            records = polled.get(tp, [])
        except KafkaError as error:
            if not error.retriable:
                raise
            _LOG.warning("polling %s failed (%s); will poll again", tp, error)
            records, failed = [], True
        values = []
        span_start = start
        for record in records:
            if not tracker.try_claim(record.offset):
                self._next_offsets.pop(tp, None)  # the consumer ran ahead of what was claimed
                return values, record.offset, True
            timestamp = Timestamp(micros=record.timestamp * 1000)
            source = Source(
                uri=self._uri, position=0, line=1, partition=record.partition, offset=record.offset,
                timestamp=datetime.datetime.fromtimestamp(record.timestamp / 1000, datetime.UTC),
                receipt=span_start,
            )
            span_start = record.offset + 1
            values.append(
                beam.window.TimestampedValue(RawInput(source=source, data=record.value or b""), timestamp)
            )
            _advance(watermark, timestamp)
        end = consumer.highwater(tp)
        if end is not None:
            _END_OFFSETS[(span.topic, span.partition)] = end
        if not records and wait and not failed:
            # Perhaps idle. (A poll that did not wait, or failed, says nothing of that.)
            now = Timestamp.now()
            if self._at_end(consumer, tp):
                _advance(watermark, now)  # nothing older than now can still arrive
        self._next_offsets[tp] = span_start
        if restriction.stop == _FOREVER:
            return values, span_start, False
        # Bounded: the fetch position also steps over offsets that hold no record (compaction,
        # transaction markers), so reaching the planned end is seen even when its last offsets are gaps.
        position = with_retries(lambda: consumer.position(tp), f"position in {tp}")
        self._next_offsets[tp] = position
        return values, position, False

    def process(
        self,
        span: PartitionSpan,
        tracker: OffsetRestrictionTracker = _RESTRICTION,
        watermark: ManualWatermarkEstimator = _WATERMARK,
    ) -> Iterator[beam.window.TimestampedValue]:
        position = tracker.current_restriction().start
        while True:
            values, position, refused = self._poll(span, tracker, watermark, position)
            yield from values
            if refused:
                return
            stop = tracker.current_restriction().stop
            if position >= stop:
                tracker.try_claim(stop)  # refused by design: marks every offset below stop as done
                return


class _ReadUnboundedPartitionFn(_ReadPartitionFn):
    """Read what the partition has (up to ``busy_seconds``), then hand the rest back to the runner.

    A busy partition is resumed at once; one that had nothing new after ``idle_resume_seconds``.
    """

    def __init__(self, connection: KafkaConnection, uri: TopicUri, pacing: ReadPacing):
        super().__init__(connection, uri)
        self._pacing = pacing

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        span: PartitionSpan,
        tracker: OffsetRestrictionTracker = _RESTRICTION,
        watermark: ManualWatermarkEstimator = _WATERMARK,
    ) -> Iterator[beam.window.TimestampedValue]:
        deadline = time.monotonic() + self._pacing.busy_seconds
        start = tracker.current_restriction().start
        values, position, refused = self._poll(span, tracker, watermark, start)
        if not values and not refused:
            tracker.defer_remainder(Duration(seconds=self._pacing.idle_resume_seconds))
            return
        while True:
            yield from values
            if refused:  # the runner checkpointed this read: the rest is no longer ours
                return
            if not values or time.monotonic() >= deadline:
                tracker.defer_remainder(Duration(0))
                return
            values, position, refused = self._poll(span, tracker, watermark, position, wait=False)


class KafkaRead(NamedTuple):
    """What reading a topic yields: the partitions planned, and their messages."""

    spans: beam.PCollection[PartitionSpan]
    messages: beam.PCollection[RawInput]


class ReadFromKafkaTopic(beam.PTransform):
    """Messages of a topic as ``RawInput``s, timestamped with their Kafka timestamps."""

    def __init__(
        self, uri: TopicUri, connection: KafkaConnection, group_id: str, bounded: bool,
        pacing: ReadPacing = ReadPacing(),
    ):
        super().__init__()
        self._uri = uri
        self._connection = connection
        self._group_id = group_id
        self._bounded = bounded
        self._pacing = pacing

    def expand(self, pbegin: beam.pvalue.PBegin) -> KafkaRead:
        if self._bounded:
            read = _ReadPartitionFn(self._connection, self._uri)
            spans = (
                pbegin
                | "Start" >> beam.Impulse()
                | "Plan partitions" >> beam.ParDo(
                    _PlanPartitionsFn(self._connection, self._uri.topic, self._group_id)
                )
            )
        else:
            read = _ReadUnboundedPartitionFn(self._connection, self._uri, self._pacing)
            spans = (
                pbegin
                | "Start" >> beam.Create([self._uri.topic])
                | "Check partitions" >> beam.ParDo(_TickFn(PARTITION_CHECK_SECONDS))
                | "Plan partitions" >> beam.ParDo(_PlanNewPartitionsFn(self._connection, self._group_id))
            )
        messages = spans | "Read partitions" >> beam.ParDo(read)
        return KafkaRead(spans=spans, messages=messages)

    def display_data(self) -> dict:
        return {"topic": str(self._uri), "group_id": self._group_id, "bounded": self._bounded,
                "busy_seconds": self._pacing.busy_seconds,
                "idle_resume_seconds": self._pacing.idle_resume_seconds}
