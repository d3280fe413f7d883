"""Records larger than the sink takes become dead letters before the write, not failed bundles.

Usage::

    sized = articles | DeadLetterOversizedArticles(max_bytes=1_000_000, max_raw_bytes=65536)
    sized.good            # PCollection[Article] the sink will take
    sized.dead_letters    # PCollection[DeadLetter]: TOO_LARGE, stage WRITE

A Kafka producer refuses a record over its ``max_request_size`` (1 MiB by default), and a
bundle that fails on it would be retried for ever. An article can pass every stage and
still be too large once its entities are added (a 900 KB paragraph with 30,000 entities
was 1.44 MB as Avro), so the check is on the record as the sink would encode it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import apache_beam as beam
import fastavro
from apache_beam import typehints

from newswire import schemas
from newswire.schemas.records import (
    DEAD_LETTERS,
    Article,
    DeadLetter,
    DeadLetterReason,
    Stage,
    StageOutput,
)

__all__ = ["DeadLetterOversizedArticles", "avro_size"]


def avro_size(article: Article) -> int:
    """Bytes of the article's Avro datum (without framing)."""
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schemas.load(schemas.ARTICLE), article.to_avro())
    return buffer.tell()


@typehints.with_input_types(Article)
@typehints.with_output_types(Article)
class _SplitOversizedFn(beam.DoFn):
    def __init__(self, max_bytes: int, max_raw_bytes: int):
        self._max_bytes = max_bytes
        self._max_raw_bytes = max_raw_bytes

    def process(self, article: Article) -> Iterator[Article | beam.pvalue.TaggedOutput]:
        size = avro_size(article)
        if size <= self._max_bytes:
            yield article
            return
        yield beam.pvalue.TaggedOutput(DEAD_LETTERS, DeadLetter.of(
            DeadLetterReason.TOO_LARGE, Stage.WRITE,
            f"article {article.id} is {size} bytes as Avro ({len(article.entities)} entities), "
            f"more than the sink takes ({self._max_bytes})",
            article.text_bytes(), article.source, self._max_raw_bytes,
        ))


class DeadLetterOversizedArticles(beam.PTransform):
    """Articles the sink can take, and a TOO_LARGE dead letter for each it cannot."""

    def __init__(self, max_bytes: int, max_raw_bytes: int):
        super().__init__()
        self._max_bytes = max_bytes
        self._max_raw_bytes = max_raw_bytes

    def expand(self, articles: beam.PCollection[Article]) -> StageOutput:
        outputs = articles | "Split oversized" >> beam.ParDo(
            _SplitOversizedFn(self._max_bytes, self._max_raw_bytes)
        ).with_outputs(DEAD_LETTERS, main="articles")
        return StageOutput(good=outputs.articles, dead_letters=outputs[DEAD_LETTERS])
