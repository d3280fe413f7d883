"""Continuous runs on the local streaming runner (Prism) against the real broker.

Every input article must reach the output topic exactly once by id: while the job runs,
after the job is killed (SIGKILL) and restarted, and across a broker restart.
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fastavro
import pytest

from newswire import schemas
from newswire.bench.corpus import generate_articles, render_feed, sample_articles
from tests import avro_files
from tests.conftest import KAFKA_SH, ROOT

pytestmark = [pytest.mark.kafka, pytest.mark.streaming]

NEWSWIRE = Path(sys.executable).parent / "newswire"
ARTICLES = list(generate_articles(sample_articles(ROOT / "seeds"), 30, seed=11))


class StreamingJob:
    """``newswire run --streaming`` in its own process group, so a kill takes Prism with it."""

    def __init__(self, topics, source: str, output: str, logs: Path, *extra: str):
        """``output`` is a topic name, or a folder path for Avro files."""
        output_arg = output if output.startswith("/") else topics.uri(output)
        self._args = [str(NEWSWIRE), "run", "--streaming", "--input", topics.uri(source),
                      "--output", output_arg, "--kafka_group_id", source, *extra]
        self._logs = logs
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        log = (self._logs / f"job-{time.monotonic_ns()}.log").open("w")
        self._process = subprocess.Popen(self._args, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole group, even when the job's own process is gone: what it started may not be."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, sig)
        self._process.wait(timeout=60)

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 60) -> int:
        """``sig`` to the job's own process only (not its group); returns its exit code.

        What the job started (Prism, a Flink job server) it must stop itself: see
        ``leftover_processes``.
        """
        self._process.send_signal(sig)
        return self._process.wait(timeout=timeout_s)

    def wait(self, timeout_s: float) -> int:
        """Wait for the job to end by itself (e.g. its Flink job stopped with a savepoint); its exit code."""
        return self._process.wait(timeout=timeout_s)

    def leftover_processes(self) -> list[str]:
        """``ps`` lines of the processes still alive in the job's process group."""
        ps = subprocess.run(["ps", "-e", "-o", "pgid=,pid=,stat=,args="], capture_output=True, text=True,
                            check=True)
        rows = (line.split(None, 3) for line in ps.stdout.splitlines())
        group = str(self._process.pid)
        return [" ".join(row) for row in rows if row[0] == group and not row[2].startswith("Z")]

    def log_tail(self) -> str:
        return "".join(p.read_text()[-3000:] for p in sorted(self._logs.glob("job-*.log")))


@pytest.fixture
def job_factory(topics, tmp_path):
    jobs = []

    def make(source: str, output: str) -> StreamingJob:
        job = StreamingJob(topics, source, output, tmp_path)
        jobs.append(job)
        return job

    yield make
    for job in jobs:
        job.kill()


def decode(value: bytes) -> dict:
    schema = schemas.load(schemas.ARTICLE)
    return fastavro.schemaless_reader(io.BytesIO(value[10:]), schema, schema)


def wait_for(topics, topic: str, count: int, job: StreamingJob, timeout_s: float = 180) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        messages = topics.read_all(topic, timeout_s=5)
        if len(messages) >= count:
            return messages
        time.sleep(1)
    pytest.fail(f"{len(messages)} of {count} records on {topic} after {timeout_s}s:\n{job.log_tail()}")


def produce_slowly(topics, topic: str, articles, interval_s: float = 0.2) -> None:
    for article in articles:
        topics.produce(topic, [render_feed(article).encode()])
        time.sleep(interval_s)


def assert_each_article_once(topics, output: str, articles) -> None:
    messages = topics.read_all(output)
    keys = collections.Counter(m.key().decode() for m in messages)
    assert {k: n for k, n in keys.items() if n > 1} == {}
    assert set(keys) == {a.id for a in articles}
    headlines = {decode(m.value())["headline"] for m in messages}
    assert headlines == {a.headline for a in articles}


def test_records_stream_through_and_bad_messages_are_dead_letters(topics, job_factory):
    source, output = topics.create(partitions=2), topics.create(prefix="articles")
    job = job_factory(source, output)
    job.start()
    produce_slowly(topics, source, ARTICLES[:10])
    topics.produce(source, [b"", b"Headline without body"])
    produce_slowly(topics, source, ARTICLES[:3])  # the same articles again: dropped as duplicates
    wait_for(topics, output, 10, job)
    dead = wait_for(topics, f"{output}.dead-letters", 2, job)
    schema = schemas.load(schemas.DEAD_LETTER)
    reasons = sorted(fastavro.schemaless_reader(io.BytesIO(m.value()[10:]), schema, schema)["reason"]
                     for m in dead)
    assert reasons == ["EMPTY_INPUT", "NO_BODY"]
    time.sleep(3)
    assert_each_article_once(topics, output, ARTICLES[:10])
    deadline = time.monotonic() + 150
    while sum(topics.committed(source, group=source).values()) < 15 and time.monotonic() < deadline:
        time.sleep(1)
    committed = topics.committed(source, group=source)
    assert sum(committed.values()) == 15, f"{committed}\n{job.log_tail()}"  # every message acknowledged


def test_killed_and_restarted_job_writes_every_article_once(topics, job_factory):
    source, output = topics.create(partitions=2), topics.create(prefix="articles")
    job = job_factory(source, output)
    job.start()
    produce_slowly(topics, source, ARTICLES[:15])
    wait_for(topics, output, 8, job)
    job.kill(signal.SIGKILL)
    produce_slowly(topics, source, ARTICLES[15:25], interval_s=0)
    job.start()
    produce_slowly(topics, source, ARTICLES[25:])
    wait_for(topics, output, len(ARTICLES), job)
    time.sleep(5)  # anything written twice would show up by now
    assert_each_article_once(topics, output, ARTICLES)


def test_broker_restart_mid_stream_loses_nothing_and_duplicates_nothing(topics, job_factory):
    source, output = topics.create(partitions=2), topics.create(prefix="articles")
    job = job_factory(source, output)
    job.start()
    produce_slowly(topics, source, ARTICLES[:12])
    wait_for(topics, output, 5, job)
    subprocess.run([str(KAFKA_SH), "restart"], check=True, capture_output=True, timeout=180)
    produce_slowly(topics, source, ARTICLES[12:])
    wait_for(topics, output, len(ARTICLES), job)
    time.sleep(5)
    assert_each_article_once(topics, output, ARTICLES)


def test_streaming_to_files_writes_one_file_per_window_and_commits_after_it(topics, tmp_path):
    source = topics.create(partitions=2)
    out = tmp_path / "out"
    job = StreamingJob(topics, source, str(out), tmp_path, "--file_window_seconds=3")
    job.start()
    try:
        produce_slowly(topics, source, ARTICLES[:8])
        topics.produce(source, [b""])
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if sum(topics.committed(source, group=source).values()) == 9:
                break
            time.sleep(1)
        else:
            pytest.fail(f"offsets not committed: {topics.committed(source, group=source)}\n{job.log_tail()}")
    finally:
        job.kill()
    records = avro_files.read_apache_avro(out, "articles")
    assert sorted(r["id"] for r in records) == sorted(a.id for a in ARTICLES[:8])
    assert [r["reason"] for r in avro_files.read_fastavro(out, "dead-letters")] == ["EMPTY_INPUT"]
    assert not list(out.glob(".*.tmp"))  # every window file was renamed into place
