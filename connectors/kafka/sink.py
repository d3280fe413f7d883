"""Kafka sink: records as Avro values on a topic, acknowledged once the broker has them.

Usage::

    written = records | WriteToKafkaTopic(topic_uri, connection, schemas.ARTICLE,
                                          counters.ARTICLES_WRITTEN)
    written    # PCollection[Source]: the source of every record the brokers acknowledged

The key is the article ``id`` (dead letters, which have none, go unkeyed), so a compacted
topic keeps one record per article and a consumer can deduplicate by key. Values are framed
by ``serde``: single-object encoding, or the Confluent wire format under a registry-assigned
schema id when a registry URL is given.

The producer is idempotent (``acks=all``), and the bundle does not finish until every send
of it is acknowledged: a failed send fails the bundle, the runner retries it, and nothing is
reported written that is not on the brokers. The acknowledgements let the source commit
offsets only for messages whose every record is out.
"""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics.metric import Metrics
from apache_beam.utils.windowed_value import WindowedValue
from kafka import KafkaProducer

from newswire import schemas
from newswire.connectors.kafka.registry import register_schema
from newswire.connectors.kafka.serde import ConfluentFraming, SingleObjectFraming
from newswire.connectors.kafka.settings import KafkaConnection, TopicUri
from newswire.schemas.records import Article, DeadLetter, Source

__all__ = ["WriteToKafkaTopic"]

_ACK_TIMEOUT_S = 120


def _key(record: Article | DeadLetter) -> bytes | None:
    return record.id.encode() if isinstance(record, Article) else None


class _ProduceFn(beam.DoFn):
    def __init__(
        self,
        connection: KafkaConnection,
        topic: str,
        schema_name: str,
        registry_url: str | None,
        written: Metrics.DelegatingCounter,
    ):
        self._connection = connection
        self._topic = topic
        self._schema_name = schema_name
        self._registry_url = registry_url
        self._written = written

    def setup(self) -> None:
        schema = schemas.load(self._schema_name)
        if self._registry_url:
            schema_id = register_schema(self._registry_url, f"{self._topic}-value", self._schema_name)
            self._framing = ConfluentFraming(schema, schema_id)
        else:
            self._framing = SingleObjectFraming(schema)
        self._producer = KafkaProducer(
            **self._connection.client_config(), acks="all", enable_idempotence=True, linger_ms=5
        )

    def start_bundle(self) -> None:
        self._pending: list = []

    def process(
        self,
        record: Article | DeadLetter,
        timestamp=beam.DoFn.TimestampParam,
        window=beam.DoFn.WindowParam,
    ) -> None:
        value = self._framing.encode(record.to_avro())
        future = self._producer.send(self._topic, key=_key(record), value=value)
        self._pending.append((future, record.source, timestamp, window))

    def finish_bundle(self) -> Iterator[WindowedValue]:
        self._producer.flush(timeout=_ACK_TIMEOUT_S)
        for future, source, timestamp, window in self._pending:
            future.get(timeout=_ACK_TIMEOUT_S)  # raises if the brokers did not take it
            self._written.inc()
            yield WindowedValue(source, timestamp, [window])
        self._pending = []

    def teardown(self) -> None:
        producer = getattr(self, "_producer", None)
        if producer is not None:
            producer.close(timeout=_ACK_TIMEOUT_S)


class WriteToKafkaTopic(beam.PTransform):
    """Write records to a topic; outputs the ``Source`` of each acknowledged record."""

    def __init__(
        self,
        uri: TopicUri,
        connection: KafkaConnection,
        schema_name: str,
        written: Metrics.DelegatingCounter,
        registry_url: str | None = None,
    ):
        super().__init__()
        self._uri = uri
        self._connection = connection
        self._schema_name = schema_name
        self._written = written
        self._registry_url = registry_url

    def expand(self, records: beam.PCollection) -> beam.PCollection[Source]:
        return records | "Produce" >> beam.ParDo(
            _ProduceFn(self._connection, self._uri.topic, self._schema_name, self._registry_url,
                       self._written)
        )

    def display_data(self) -> dict:
        return {"topic": str(self._uri), "schema": self._schema_name,
                "framing": "confluent" if self._registry_url else "single-object"}
