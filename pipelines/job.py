"""The job: a source, ``ProcessArticles``, and sinks, chosen by ``--input`` and ``--output``.

Files and Kafka topics combine freely: ``--input`` is a path/glob or ``kafka://HOST:PORT/TOPIC``,
``--output`` a folder or a topic (dead letters then go to ``--dead_letter_topic``). With a
Kafka input the consumer group's offsets are committed only after the sinks have the
records: at the end of a bounded run, or as acknowledgements arrive when streaming.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import StandardOptions

import schemas
from connectors.avro import WriteAvroRecords, WriteWindowedAvroRecords
from connectors.files import ReadInputFiles
from connectors.kafka.commit import CommitAfterWrites, CommitWhenAcknowledged
from connectors.kafka.known_ids import TopicKeys
from connectors.kafka.settings import TopicUri, is_kafka_uri
from connectors.kafka.sink import WriteToKafkaTopic
from connectors.kafka.source import ReadFromKafkaTopic
from pipelines import counters
from pipelines.options import NewswireOptions
from pipelines.process import ProcessArticles

__all__ = ["ARTICLES_PREFIX", "DEAD_LETTERS_PREFIX", "build", "dead_letter_topic"]

ARTICLES_PREFIX = "articles"
DEAD_LETTERS_PREFIX = "dead-letters"


def dead_letter_topic(job: NewswireOptions) -> TopicUri:
    """Where dead letters go when ``--output`` is a topic."""
    output = TopicUri.parse(job.output)
    return output.with_topic(job.dead_letter_topic or f"{output.topic}.dead-letters")


def _write(records: beam.PCollection, job: NewswireOptions, dead_letters: bool) -> beam.PCollection:
    """Write articles (or dead letters) to the output; returns a PCollection that completes with it."""
    schema = schemas.DEAD_LETTER if dead_letters else schemas.ARTICLE
    label = "Write dead letters" if dead_letters else "Write articles"
    counter = counters.DEAD_LETTERS_WRITTEN if dead_letters else counters.ARTICLES_WRITTEN
    if is_kafka_uri(job.output):
        topic = dead_letter_topic(job) if dead_letters else TopicUri.parse(job.output)
        return records | label >> WriteToKafkaTopic(
            topic, job.kafka_connection(topic.bootstrap_servers), schema, counter, job.schema_registry_url
        )
    prefix = DEAD_LETTERS_PREFIX if dead_letters else ARTICLES_PREFIX
    path = FileSystems.join(job.output, prefix)
    if not records.is_bounded:
        return records | label >> WriteWindowedAvroRecords(
            path, schema, job.avro_codec, counter, job.file_window_seconds
        )
    return records | label >> WriteAvroRecords(path, schema, job.avro_codec, counter)


def _known_ids(job: NewswireOptions) -> TopicKeys | None:
    """Streaming dedup's memory across restarts: the keys already on a Kafka output topic."""
    if not is_kafka_uri(job.output):
        return None
    topic = TopicUri.parse(job.output)
    return TopicKeys(job.kafka_connection(topic.bootstrap_servers), topic.topic, job.dedup_ttl_hours * 3600)


def build(pipeline: beam.Pipeline, job: NewswireOptions) -> None:
    """Attach the whole job to ``pipeline``: read, process, write articles and dead letters."""
    job.require_io()
    streaming = pipeline.options.view_as(StandardOptions).streaming
    read_errors = []
    if is_kafka_uri(job.input):
        topic = TopicUri.parse(job.input)
        connection = job.kafka_connection(topic.bootstrap_servers)
        kafka = pipeline | "Read topic" >> ReadFromKafkaTopic(
            topic, connection, job.kafka_group_id, bounded=not streaming, pacing=job.kafka_read_pacing()
        )
        raw_inputs = kafka.messages
    else:
        files = pipeline | "Read files" >> ReadInputFiles(job.input, job.dead_letter_max_bytes)
        raw_inputs, read_errors = files.good, [files.dead_letters]
    processed = raw_inputs | "Process" >> ProcessArticles(
        job.ner_model, job.ner_batch_size, job.dead_letter_max_bytes,
        dedup_ttl_s=job.dedup_ttl_hours * 3600, known_ids=_known_ids(job), ner_processes=job.ner_processes,
    )
    dead_letters = [*read_errors, processed.dead_letters] | "All dead letters" >> beam.Flatten()
    articles_done = _write(processed.good, job, dead_letters=False)
    dead_letters_done = _write(dead_letters, job, dead_letters=True)
    if not is_kafka_uri(job.input):
        return
    if streaming:
        acknowledged = (
            articles_done, dead_letters_done, processed.duplicates
        ) | "Acknowledged" >> beam.Flatten()
        acknowledged | "Commit offsets" >> CommitWhenAcknowledged(connection, job.kafka_group_id)
    else:
        kafka.spans | "Commit offsets" >> CommitAfterWrites(
            connection, job.kafka_group_id, [articles_done, dead_letters_done]
        )
