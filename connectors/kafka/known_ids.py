"""The article ids already on an output topic: the dedup stage's memory across restarts.

A local runner keeps no state across a crash, and at-least-once delivery re-reads every
message whose offset was not yet committed, some of whose articles were already written.
The output topic is keyed by article id, so the keys it received within the dedup window are
exactly the ids that must not be written again: the topic is the dedup state's changelog,
as in Kafka Streams.
"""

from __future__ import annotations

import dataclasses
import time

from kafka import TopicPartition

from newswire.connectors.kafka.settings import KafkaConnection
from newswire.connectors.kafka.source import group_consumer

__all__ = ["TopicKeys"]

_POLL_TIMEOUT_MS = 500


@dataclasses.dataclass(frozen=True)
class TopicKeys:
    """The keys of the records a topic received in the last ``window_s`` seconds."""

    connection: KafkaConnection
    topic: str
    window_s: float

    def load(self) -> frozenset[str]:
        consumer = group_consumer(self.connection, None)
        try:
            partitions = consumer.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            if not tps:
                return frozenset()
            since_ms = int((time.time() - self.window_s) * 1000)
            starts = consumer.offsets_for_times({tp: since_ms for tp in tps})
            ends = consumer.end_offsets(tps)
            pending = {tp for tp in tps if starts[tp] is not None and starts[tp].offset < ends[tp]}
            consumer.assign(list(pending))
            for tp in pending:
                consumer.seek(tp, starts[tp].offset)
            keys: set[str] = set()
            while pending:
                for tp, records in consumer.poll(timeout_ms=_POLL_TIMEOUT_MS).items():
                    keys.update(r.key.decode() for r in records if r.key is not None and r.offset < ends[tp])
                pending = {tp for tp in pending if consumer.position(tp) < ends[tp]}
            return frozenset(keys)
        finally:
            consumer.close()
