"""The pipeline's counters, and the run summary that checks they account for every input.

Every stage counts what it takes in and lets out under one namespace; after a run the CLI
reads them back from the runner and checks the balance

    records in = articles written + duplicates dropped + dead letters written

where a record in is one article found in an input, or one whole input that could not be
split into articles at all (empty, binary, unreadable). A run stopped before its end (a
streaming job is stopped with Ctrl-C or SIGTERM) prints what the runner had counted by then
(``StoppedRun``), or why that is not known: zeros are never made up for counters never read.
"""

from __future__ import annotations

import dataclasses

from apache_beam.metrics import Metrics
from apache_beam.metrics.execution import MetricResult
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.runner import PipelineResult

__all__ = ["RunSummary", "StoppedRun", "so_far", "summarize"]

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
    def outcomes(self) -> int:
        return self.articles_written + self.duplicates_dropped + self.dead_letters_written

    @property
    def balanced(self) -> bool:
        """True when every record in is accounted for by exactly one outcome."""
        return self.records_in == self.outcomes

    def lines(self, stopped: bool = False) -> list[str]:
        """The summary; ``stopped``: of a run stopped midway, whose records in may have no outcome yet."""
        if self.balanced:
            verdict = "balanced"
        elif stopped and self.records_in > self.outcomes:
            verdict = f"not balanced: {self.records_in - self.outcomes} still in flight when the job stopped"
        else:
            verdict = "NOT BALANCED: records were lost or double-counted"
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


@dataclasses.dataclass(frozen=True)
class StoppedRun:
    """What a run stopped before its end had counted, or why that is unknown; and what became of the job."""

    summary: RunSummary | None
    unknown_because: str = ""
    job: str = ""

    def lines(self) -> list[str]:
        if self.summary is None:
            counts = [f"stopped: counters unknown: {self.unknown_because}"]
        else:
            counts = ["stopped: counters so far", *self.summary.lines(stopped=True)]
        return [*counts, self.job] if self.job else counts


def summarize(result: PipelineResult) -> RunSummary:
    """Read the committed counters of a finished run."""
    return _summary(_counters(result))


def so_far(result: PipelineResult, runner: str) -> StoppedRun:
    """What the committed counters of a job that has not finished say, if the runner reports them.

    Committed values are those of finished bundles, as at the end of a run. Prism reports them
    while a job runs, and a counter of a bundle still open only as attempted, without a
    committed value: nothing of it was committed, so it counts 0, and the records that bundle
    holds show as in flight. A runner that reports no counters, or no committed value at all,
    says nothing about how much was done, so the run is marked unknown rather than summarized
    as zeros. Raises whatever the runner's client raises.
    """
    reported = _counters(result)
    if not reported:
        return StoppedRun(None, f"{runner} reported none (nothing counted yet, or it reports the "
                                f"counters of finished jobs only)")
    if all(counter.committed is None for counter in reported):
        return StoppedRun(None, f"{runner} reported attempted values only, none committed")
    return StoppedRun(_summary(reported))


def _counters(result: PipelineResult) -> list[MetricResult]:
    return result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]


def _summary(reported: list[MetricResult]) -> RunSummary:
    totals = {field.name: 0 for field in dataclasses.fields(RunSummary)}
    for counter in reported:
        totals[counter.key.metric.name] += counter.committed or 0
    return RunSummary(**totals)
