"""A stopped run prints what its counters said by then, or why that is unknown, and is cancelled.

The streaming case runs for real: ``newswire run --streaming`` on Prism against the broker,
stopped with SIGINT once every message's outcome is out.
"""

from __future__ import annotations

import re
import signal
import time

import pytest
from apache_beam.metrics.execution import MetricKey, MetricResult
from apache_beam.metrics.metric import MetricName

from newswire.pipelines import counters, launch
from tests.kafka.test_streaming import ARTICLES, StreamingJob, produce_slowly, wait_for


class FakeResult:
    """A running job's result: these (name, committed, attempted) counters, or an error on asking."""

    def __init__(self, reported=(), error: Exception | None = None, cancel_error: Exception | None = None):
        self._reported = [MetricResult(MetricKey("step", MetricName(counters.NAMESPACE, name)), committed,
                                       attempted) for name, committed, attempted in reported]
        self._error, self._cancel_error = error, cancel_error
        self.cancelled = False

    def metrics(self):
        if self._error:
            raise self._error
        return self

    def query(self, _filter):
        return {"counters": self._reported}

    def cancel(self):
        if self._cancel_error:
            raise self._cancel_error
        self.cancelled = True


def test_counters_of_an_open_bundle_count_nothing_and_show_as_in_flight():
    result = FakeResult([("records_in", 3, 0), ("articles_written", 2, None), ("entities_found", None, 40)])
    stopped = launch.stop(result, "PrismRunner")
    assert result.cancelled
    assert stopped.lines()[0] == "stopped: counters so far"
    assert "entities found:       0" in stopped.lines()
    assert stopped.lines()[-2:] == [
        "records in = written + duplicates + dead letters: 3 = 2 + 0 + 0 (not balanced: 1 still in flight "
        "when the job stopped)",
        "job cancelled on PrismRunner",
    ]


@pytest.mark.parametrize(("result", "why"), [
    (FakeResult(), "SomeRunner reported none (nothing counted yet, or it reports the counters of finished "
                   "jobs only)"),
    (FakeResult([("records_in", None, 3)]), "SomeRunner reported attempted values only, none committed"),
    (FakeResult(error=ConnectionError("refused")), "SomeRunner could not be asked: ConnectionError: refused"),
])
def test_counters_that_cannot_be_known_are_said_to_be_unknown_not_zero(result, why):
    assert launch.stop(result, "SomeRunner").lines() == [f"stopped: counters unknown: {why}",
                                                         "job cancelled on SomeRunner"]


def test_a_job_that_cannot_be_cancelled_is_said_to_be_so():
    result = FakeResult([("records_in", 1, 1)], cancel_error=NotImplementedError())
    assert launch.stop(result, "SomeRunner").lines()[-1] == "job not cancelled: NotImplementedError"


@pytest.mark.kafka
@pytest.mark.streaming
def test_a_stopped_streaming_job_prints_its_counters_so_far_and_exits_130(topics, tmp_path):
    source, output = topics.create(partitions=2), topics.create(prefix="articles")
    job = StreamingJob(topics, source, output, tmp_path)
    job.start()
    try:
        produce_slowly(topics, source, ARTICLES[:4])
        topics.produce(source, [b""])  # a dead letter
        produce_slowly(topics, source, ARTICLES[:1])  # a duplicate
        wait_for(topics, output, 4, job)
        # All 6 offsets committed: every record's outcome is out, so its bundle's counters are committed.
        deadline = time.monotonic() + 150
        while sum(topics.committed(source, group=source).values()) < 6 and time.monotonic() < deadline:
            time.sleep(1)
        assert sum(topics.committed(source, group=source).values()) == 6, job.log_tail()
        assert job.stop(signal.SIGINT) == 130, job.log_tail()
        deadline = time.monotonic() + 30
        while (left := job.leftover_processes()) and time.monotonic() < deadline:
            time.sleep(1)
        assert left == [], job.log_tail()  # Prism and the NER processes went with it
    finally:
        job.kill()
    lines = "".join(log.read_text() for log in tmp_path.glob("job-*.log")).splitlines()
    summary = lines[lines.index("stopped: counters so far"):]
    assert summary[1:8] == [
        "inputs read:          6",
        "records in:           6",
        "articles parsed:      5",
        "duplicates dropped:   1",
        "dead letters written: 1",
        summary[6],
        "articles written:     4",
    ]
    assert int(re.fullmatch(r"entities found: +(\d+)", summary[6]).group(1)) > 0
    assert summary[8] == "records in = written + duplicates + dead letters: 6 = 4 + 1 + 1 (balanced)"
    assert summary[9] == "job cancelled on PrismRunner"
    assert "newswire: stopped" in lines
