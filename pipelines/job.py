"""The job: a source, ``ProcessArticles``, and sinks, chosen by ``--input`` and ``--output``.

Sources and sinks combine freely; which one a URI names is ``connectors.registry``'s
decision, and this module only asks them for what the job needs (``connectors.base``):
inputs, writes that complete, the ids a sink already holds, and the commit of the source's
position once every record an input produced is written or dropped as a duplicate.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from newswire.connectors import registry
from newswire.connectors.base import RecordKind
from newswire.pipelines import counters
from newswire.pipelines.options import NewswireOptions
from newswire.pipelines.process import ProcessArticles
from newswire.pipelines.record_size import DeadLetterOversizedArticles

__all__ = ["build", "check"]


def check(options: PipelineOptions, reach: bool) -> None:
    """Raise ``ValueError`` when ``--input``/``--output`` or their connectors' options cannot be right."""
    job = options.view_as(NewswireOptions)
    job.require_io()
    registry.input_connector(job.input, options).check(reach)
    registry.output_connector(job.output, options).check(reach)


class _AllDeadLetters(beam.PTransform):
    """The dead letters of the source and of every stage, as one PCollection.

    A source's dead letter stands for a whole input that never reached the parse stage,
    which counts every other record in, so it is counted in here.
    """

    def __init__(self, read_errors: beam.PCollection | None):
        super().__init__()
        self._read_errors = read_errors

    def expand(self, stage_dead_letters: beam.PCollection) -> beam.PCollection:
        if self._read_errors is None:
            return stage_dead_letters
        counted = self._read_errors | "Count unreadable inputs" >> beam.Map(_count_record_in)
        return (counted, stage_dead_letters) | "Merge" >> beam.Flatten()


def _count_record_in(dead_letter):
    counters.RECORDS_IN.inc()
    return dead_letter


def build(pipeline: beam.Pipeline, options: PipelineOptions) -> None:
    """Attach the whole job to ``pipeline``: read, process, write articles and dead letters, commit."""
    job = options.view_as(NewswireOptions)
    job.require_io()
    streaming = options.view_as(StandardOptions).streaming
    source = registry.input_connector(job.input, options)
    sink = registry.output_connector(job.output, options)
    read = source.read(pipeline, streaming, job.dead_letter_max_bytes)
    processed = read.good | "Process" >> ProcessArticles(
        job.ner_model, job.ner_batch_size, job.dead_letter_max_bytes,
        dedup_ttl_s=job.dedup_ttl_hours * 3600, known_ids=sink.known_ids(job.dedup_ttl_hours * 3600),
        ner_processes=job.ner_processes, ner_max_chars=job.ner_max_chars,
        inputs_again=None if streaming else source.read_again(),
    )
    articles, stage_dead_letters = processed.good, processed.dead_letters
    if (max_record_bytes := sink.max_record_bytes()) is not None:
        sized = articles | "Check record sizes" >> DeadLetterOversizedArticles(
            max_record_bytes, job.dead_letter_max_bytes
        )
        articles = sized.good
        stage_dead_letters = (stage_dead_letters, sized.dead_letters) | "With oversized" >> beam.Flatten()
    dead_letters = stage_dead_letters | "All dead letters" >> _AllDeadLetters(read.dead_letters)
    articles_done = sink.write(articles, RecordKind.ARTICLES, counters.ARTICLES_WRITTEN)
    dead_letters_done = sink.write(dead_letters, RecordKind.DEAD_LETTERS, counters.DEAD_LETTERS_WRITTEN)
    source.commit([articles_done, dead_letters_done, processed.duplicates], streaming)
