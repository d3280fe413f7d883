"""Committing a consumer group's offsets only once what a message produced is out.

Every record the pipeline makes from a Kafka message ends in exactly one of three ways:
written to the article sink, written to the dead-letter sink, or dropped as a duplicate.
Each of those ends reports the record's ``Source``, an acknowledgement. A message is done
when all ``source.parts`` of its records are acknowledged, and a partition's offset is
committed up to the first message that is not done, so a restart after a crash re-reads
exactly the messages whose records might not all be out (at-least-once; the dedup stage
drops what had already been written).

* ``CommitWhenAcknowledged`` (streaming): a stateful DoFn per partition tracks outstanding
  messages and commits as the done prefix grows. Offsets the broker skipped (compaction,
  transaction markers) are bridged by the source's ``receipt``: the first offset the read that
  returned a message covered.
* ``CommitAfterWrites`` (bounded): commits each partition's planned end once every sink has
  finished.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from newswire.connectors.kafka.retry import with_retries
from newswire.connectors.kafka.settings import KafkaConnection
from newswire.connectors.kafka.source import PartitionSpan, group_consumer, group_start
from newswire.schemas.records import Source

__all__ = ["CommitAfterWrites", "CommitWhenAcknowledged", "PartitionProgress"]


def _commit(consumer: KafkaConsumer, topic: str, partition: int, offset: int) -> None:
    offsets = {TopicPartition(topic, partition): OffsetAndMetadata(offset, "", -1)}
    with_retries(lambda: consumer.commit(offsets), f"committing {topic}/{partition} at {offset}")


class PartitionProgress:
    """Outstanding messages of one partition and the offset that is safe to commit.

    Pure bookkeeping (no Kafka, no Beam), so the commit rule is testable on its own.
    """

    def __init__(self, committed: int):
        self.committed = committed
        self._by_start: dict[int, int] = {}  # span start -> message offset
        self._acked: dict[int, int] = {}  # message offset -> records acknowledged
        self._parts: dict[int, int] = {}  # message offset -> records it produced

    def acknowledge(self, source: Source) -> bool:
        """Count one record of a message as out; True when the committable offset moved."""
        offset = source.offset
        if offset is None or offset < self.committed:
            return False  # already committed: a replayed record
        span_start = source.receipt if source.receipt is not None else offset
        self._by_start[span_start] = offset
        self._parts[offset] = source.parts
        self._acked[offset] = self._acked.get(offset, 0) + 1
        moved = False
        while (offset := self._by_start.get(self.committed)) is not None and \
                self._acked.get(offset, 0) >= self._parts[offset]:
            del self._by_start[self.committed], self._acked[offset], self._parts[offset]
            self.committed = offset + 1
            moved = True
        return moved


class _CommitAcknowledgedFn(beam.DoFn):
    PROGRESS = ReadModifyWriteStateSpec("progress", PickleCoder())

    def __init__(self, connection: KafkaConnection, group_id: str, topic: str):
        self._connection = connection
        self._group_id = group_id
        self._topic = topic

    def setup(self) -> None:
        self._consumer = group_consumer(self._connection, self._group_id)

    def teardown(self) -> None:
        self._consumer.close()

    def process(
        self, keyed: tuple[str, Source], progress_state=beam.DoFn.StateParam(PROGRESS)
    ) -> Iterator[tuple[str, int]]:
        _, source = keyed
        progress = progress_state.read()
        if progress is None:
            tp = TopicPartition(self._topic, source.partition)
            progress = PartitionProgress(group_start(self._consumer, tp))
        if progress.acknowledge(source):
            _commit(self._consumer, self._topic, source.partition, progress.committed)
            yield f"{self._topic}/{source.partition}", progress.committed
        progress_state.write(progress)


class CommitWhenAcknowledged(beam.PTransform):
    """Commit offsets of ``topic`` as acknowledgements complete messages; outputs the commits made."""

    def __init__(self, connection: KafkaConnection, group_id: str, topic: str):
        super().__init__()
        self._connection = connection
        self._group_id = group_id
        self._topic = topic

    def expand(self, acknowledgements: beam.PCollection[Source]) -> beam.PCollection:
        return (
            acknowledgements
            | "Only messages" >> beam.Filter(lambda source: source.partition is not None)
            | "Key by partition" >> beam.Map(lambda source: (str(source.partition), source))
            | "Commit done prefix" >> beam.ParDo(
                _CommitAcknowledgedFn(self._connection, self._group_id, self._topic)
            )
        )


class _CommitSpanEndsFn(beam.DoFn):
    def __init__(self, connection: KafkaConnection, group_id: str):
        self._connection = connection
        self._group_id = group_id

    def process(self, span: PartitionSpan, sinks_done: Iterable[int]) -> Iterator[tuple[str, int]]:
        consumer = group_consumer(self._connection, self._group_id)
        try:
            _commit(consumer, span.topic, span.partition, span.stop)
        finally:
            consumer.close()
        yield f"{span.topic}/{span.partition}", span.stop


class CommitAfterWrites(beam.PTransform):
    """Commit every planned partition end once all ``sinks`` (PCollections) are complete."""

    def __init__(self, connection: KafkaConnection, group_id: str, sinks: list[beam.PCollection]):
        super().__init__()
        self._connection = connection
        self._group_id = group_id
        self._sinks = sinks

    def expand(self, spans: beam.PCollection[PartitionSpan]) -> beam.PCollection:
        counts = [
            sink | f"Count sink {i}" >> beam.combiners.Count.Globally() for i, sink in enumerate(self._sinks)
        ]
        done = counts | "All sinks" >> beam.Flatten()
        return spans | "Commit planned ends" >> beam.ParDo(
            _CommitSpanEndsFn(self._connection, self._group_id), sinks_done=beam.pvalue.AsList(done)
        )
