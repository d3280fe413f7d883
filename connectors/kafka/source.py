"""Kafka source: raw article text from a topic, one ``RawInput`` per message.

Usage::

    inputs = pipeline | ReadFromKafkaTopic(topic_uri, connection, group_id="newswire",
                                           bounded=True)

Split the way Bytewax splits a source: which partitions exist (``_PlanPartitionsFn``, run
once) and how to read one partition (``_ReadPartitionFn``, a splittable DoFn whose
restriction is the partition's offset range). Each partition starts at the consumer
group's committed offset, or the earliest offset the broker still has.

* bounded (batch): each partition is read up to the end offset seen when the job started,
  then the job finishes;
* unbounded (``--streaming``): each read polls, waiting a moment for records, and then
  goes on taking records as long as the client has more at hand (a backlog), for at most
  ``ReadPacing.busy_seconds``; then it hands the rest of the range back to the runner (a
  deferral), so the runner can checkpoint and share the worker between partitions, and the
  records it read leave with its bundle. A read that finds nothing new is resumed
  ``ReadPacing.idle_resume_seconds`` later, one with records at once. The watermark follows
  record timestamps and, when a partition has nothing new, moves to the current time so
  that an idle partition does not hold back windows and timers downstream.

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
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.utils.timestamp import Duration, Timestamp
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from newswire.connectors.kafka.retry import with_retries
from newswire.connectors.kafka.settings import KafkaConnection, TopicUri
from newswire.schemas.records import RawInput, Source

_LOG = logging.getLogger(__name__)

__all__ = [
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


def group_consumer(connection: KafkaConnection, group_id: str | None) -> KafkaConsumer:
    """A consumer that never commits by itself (the pipeline commits after its sinks)."""
    return KafkaConsumer(
        **connection.client_config(),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
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
    connection: KafkaConnection, topic: str, group_id: str, bounded: bool
) -> list[PartitionSpan]:
    """Every partition of ``topic``, from the group's committed offset (or the earliest)."""
    consumer = group_consumer(connection, group_id)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise ValueError(f"Kafka topic {topic!r} does not exist at {connection.bootstrap_servers}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        latest = with_retries(lambda: consumer.end_offsets(tps), f"end offsets of {topic}")
        return [
            PartitionSpan(topic, tp.partition, group_start(consumer, tp), latest[tp] if bounded else None)
            for tp in tps
        ]
    finally:
        consumer.close()


class _PlanPartitionsFn(beam.DoFn):
    def __init__(self, connection: KafkaConnection, topic: str, group_id: str, bounded: bool):
        self._connection = connection
        self._topic = topic
        self._group_id = group_id
        self._bounded = bounded

    def process(self, _: bytes) -> Iterator[PartitionSpan]:
        yield from plan_partitions(self._connection, self._topic, self._group_id, self._bounded)


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


class _ReadPartitionFn(beam.DoFn):
    """Read one partition's offset range (bounded: to its end; see the unbounded subclass)."""

    def __init__(self, connection: KafkaConnection, uri: TopicUri):
        self._connection = connection
        self._uri = str(uri)
        self._consumers: dict[TopicPartition, KafkaConsumer] = {}
        self._next_offsets: dict[TopicPartition, int] = {}

    def setup(self) -> None:
        self._consumers = {}
        self._next_offsets: dict[TopicPartition, int] = {}

    def teardown(self) -> None:
        consumers, self._consumers, self._next_offsets = self._consumers, {}, {}
        for consumer in consumers.values():
            consumer.close()

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
        try:
            timeout_ms = _POLL_TIMEOUT_MS if wait else 0
            polled = consumer.poll(timeout_ms=timeout_ms, max_records=_MAX_RECORDS_PER_POLL)
            records = polled.get(tp, [])
        except KafkaError as error:
            if not error.retriable:
                raise
            _LOG.warning("polling %s failed (%s); will poll again", tp, error)
            records = []
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
        if not records and wait:
            # Idle: nothing older can still arrive. (A poll that did not wait says nothing of that.)
            _advance(watermark, Timestamp.now())
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
        else:
            read = _ReadUnboundedPartitionFn(self._connection, self._uri, self._pacing)
        spans = (
            pbegin
            | "Start" >> beam.Impulse()
            | "Plan partitions" >> beam.ParDo(
                _PlanPartitionsFn(self._connection, self._uri.topic, self._group_id, self._bounded)
            )
        )
        messages = spans | "Read partitions" >> beam.ParDo(read)
        return KafkaRead(spans=spans, messages=messages)

    def display_data(self) -> dict:
        return {"topic": str(self._uri), "group_id": self._group_id, "bounded": self._bounded,
                "busy_seconds": self._pacing.busy_seconds,
                "idle_resume_seconds": self._pacing.idle_resume_seconds}
