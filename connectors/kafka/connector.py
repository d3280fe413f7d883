"""The Kafka connector: ``kafka://HOST:PORT/TOPIC`` as ``--input`` and as ``--output``.

As an input, the consumer group's offsets are committed only after the sinks have the
records: at the end of a bounded run, or as acknowledgements arrive when streaming. As an
output, articles go to the topic keyed by id and dead letters to ``--dead_letter_topic``
(default ``<topic>.dead-letters``); the keys the topic already holds are the streaming
dedup's memory across restarts.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics.metric import Metrics
from kafka import KafkaProducer

from newswire.connectors.base import InputConnector, KnownIds, OutputConnector, RecordKind
from newswire.connectors.kafka.commit import CommitAfterWrites, CommitWhenAcknowledged
from newswire.connectors.kafka.known_ids import TopicKeys
from newswire.connectors.kafka.options import KafkaOptions
from newswire.connectors.kafka.settings import TopicUri
from newswire.connectors.kafka.sink import WriteToKafkaTopic
from newswire.connectors.kafka.source import ReadFromKafkaTopic
from newswire.schemas.records import StageOutput

__all__ = ["KafkaInput", "KafkaOutput"]


class KafkaInput(InputConnector):
    """A topic read from the consumer group's committed offsets (bounded: up to its end at start)."""

    options_class = KafkaOptions

    def check(self, reach: bool) -> None:
        TopicUri.parse(self.uri)
        self.options.view_as(KafkaOptions).kafka_read_pacing()

    def read(self, pipeline: beam.Pipeline, streaming: bool, max_raw_bytes: int) -> StageOutput:
        kafka = self.options.view_as(KafkaOptions)
        self._topic = TopicUri.parse(self.uri)
        self._connection = kafka.kafka_connection(self._topic.bootstrap_servers)
        read = pipeline | "Read topic" >> ReadFromKafkaTopic(
            self._topic, self._connection, kafka.kafka_group_id, bounded=not streaming,
            pacing=kafka.kafka_read_pacing(),
        )
        self._spans = read.spans
        return StageOutput(good=read.messages, dead_letters=None)  # every message is read: parse judges it

    def commit(self, completions: list[beam.PCollection], streaming: bool) -> None:
        group_id = self.options.view_as(KafkaOptions).kafka_group_id
        if streaming:
            acknowledged = completions | "Acknowledged" >> beam.Flatten()
            acknowledged | "Commit offsets" >> CommitWhenAcknowledged(
                self._connection, group_id, self._topic.topic
            )
        else:
            self._spans | "Commit offsets" >> CommitAfterWrites(self._connection, group_id, completions)


# Key, framing header, record and batch headers: well under this.
_RECORD_OVERHEAD_BYTES = 1024


class KafkaOutput(OutputConnector):
    """A topic for articles (keyed by id) and one for dead letters."""

    options_class = KafkaOptions

    def check(self, reach: bool) -> None:
        self._topic(RecordKind.DEAD_LETTERS)

    def _topic(self, kind: RecordKind) -> TopicUri:
        articles = TopicUri.parse(self.uri)
        if kind is RecordKind.ARTICLES:
            return articles
        dead_letter_topic = self.options.view_as(KafkaOptions).dead_letter_topic
        return articles.with_topic(dead_letter_topic or f"{articles.topic}.dead-letters")

    def write(
        self, records: beam.PCollection, kind: RecordKind, written: Metrics.DelegatingCounter
    ) -> beam.PCollection:
        kafka = self.options.view_as(KafkaOptions)
        topic = self._topic(kind)
        return records | kind.label >> WriteToKafkaTopic(
            topic, kafka.kafka_connection(topic.bootstrap_servers), kind.schema, written,
            kafka.schema_registry_url,
        )

    def max_record_bytes(self) -> int:
        """The producer's ``max_request_size``, less room for the key and the framing."""
        return KafkaProducer.DEFAULT_CONFIG["max_request_size"] - _RECORD_OVERHEAD_BYTES

    def known_ids(self, ttl_s: float) -> KnownIds | None:
        topic = self._topic(RecordKind.ARTICLES)
        connection = self.options.view_as(KafkaOptions).kafka_connection(topic.bootstrap_servers)
        return TopicKeys(connection, topic.topic, ttl_s)
