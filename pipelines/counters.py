"""The pipeline's counters, and the run summary that checks they account for every input.

Every stage counts what it takes in and lets out under one namespace; after a run the CLI
reads them back from the runner and checks the balance

    records in = articles written + duplicates dropped + dead letters written

where a record in is one article found in an input, or one whole input that could not be
split into articles at all (empty, binary, unreadable).
"""

from __future__ import annotations

import dataclasses

from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.runner import PipelineResult

__all__ = ["RunSummary", "summarize"]

NAMESPACE = "newswire"

INPUTS_READ = Metrics.counter(NAMESPACE, "inputs_read")
RECORDS_IN = Metrics.counter(NAMESPACE, "records_in")
ARTICLES_PARSED = Metrics.counter(NAMESPACE, "articles_parsed")
DUPLICATES_DROPPED = Metrics.counter(NAMESPACE, "duplicates_dropped")
ENTITIES_FOUND = Metrics.counter(NAMESPACE, "entities_found")
ARTICLES_WRITTEN = Metrics.counter(NAMESPACE, "articles_written")
DEAD_LETTERS_WRITTEN = Metrics.counter(NAMESPACE, "dead_letters_written")


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What one run read, dropped and wrote."""

    inputs_read: int
    records_in: int
    articles_parsed: int
    duplicates_dropped: int
    entities_found: int
    articles_written: int
    dead_letters_written: int

    @property
    def balanced(self) -> bool:
        """True when every record in is accounted for by exactly one outcome."""
        return self.records_in == (
            self.articles_written + self.duplicates_dropped + self.dead_letters_written
        )

    def lines(self) -> list[str]:
        verdict = "balanced" if self.balanced else "NOT BALANCED: records were lost or double-counted"
        return [
            f"inputs read:          {self.inputs_read}",
            f"records in:           {self.records_in}",
            f"articles parsed:      {self.articles_parsed}",
            f"duplicates dropped:   {self.duplicates_dropped}",
            f"dead letters written: {self.dead_letters_written}",
            f"entities found:       {self.entities_found}",
            f"articles written:     {self.articles_written}",
            f"records in = written + duplicates + dead letters: "
            f"{self.records_in} = {self.articles_written} + {self.duplicates_dropped} + "
            f"{self.dead_letters_written} ({verdict})",
        ]


def summarize(result: PipelineResult) -> RunSummary:
    """Read the committed counters of a finished run."""
    query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    totals = {field.name: 0 for field in dataclasses.fields(RunSummary)}
    for counter in query["counters"]:
        totals[counter.key.metric.name] += counter.committed or 0
    return RunSummary(**totals)
