"""The batch job: files in, Avro files out, with ``ProcessArticles`` between them."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

import schemas
from connectors.avro import WriteAvroRecords
from connectors.files import ReadInputFiles
from pipelines import counters
from pipelines.options import NewswireOptions
from pipelines.process import ProcessArticles

__all__ = ["ARTICLES_PREFIX", "DEAD_LETTERS_PREFIX", "build"]

ARTICLES_PREFIX = "articles"
DEAD_LETTERS_PREFIX = "dead-letters"


def build(pipeline: beam.Pipeline, job: NewswireOptions) -> None:
    """Attach the whole job to ``pipeline``: read, process, write articles and dead letters."""
    job.require_io()
    read = pipeline | "Read files" >> ReadInputFiles(job.input, job.dead_letter_max_bytes)
    processed = read.good | "Process" >> ProcessArticles(
        job.ner_model, job.ner_batch_size, job.dead_letter_max_bytes
    )
    dead_letters = (read.dead_letters, processed.dead_letters) | "All dead letters" >> beam.Flatten()
    processed.good | "Write articles" >> WriteAvroRecords(
        FileSystems.join(job.output, ARTICLES_PREFIX), schemas.ARTICLE, job.avro_codec,
        counters.ARTICLES_WRITTEN,
    )
    dead_letters | "Write dead letters" >> WriteAvroRecords(
        FileSystems.join(job.output, DEAD_LETTERS_PREFIX), schemas.DEAD_LETTER, job.avro_codec,
        counters.DEAD_LETTERS_WRITTEN,
    )
