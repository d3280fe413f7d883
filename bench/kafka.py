"""``newswire bench --kafka``: the streaming job topic to topic on the local broker.

Measured in one run, on the same machine and the same generated articles:

* batch: the batch job over the articles as files (one worker process per core), for the
  ratio;
* streaming throughput: a backlog of ``--articles`` messages on a 2-partition topic, then
  the streaming job started on it; the rate is taken between the first and the last output
  record (so job start-up is excluded);
* latency: a fresh job at rest, then ``--rate`` articles/s produced for ``--seconds``; each
  output record's latency is its Kafka timestamp minus the timestamp of the message it came
  from (carried in ``source.timestamp``), reported as p50/p95/p99. With ``--pacing
  BUSY:IDLE`` given more than once, one latency run per setting of the Kafka read's pacing
  (``--kafka_read_seconds``, ``--kafka_idle_resume_seconds``), ``--repeat`` times, interleaved;
  ``--latency-only`` skips the two runs above. ``--flink``: the streaming jobs on Flink's embedded
  cluster (with the CLI's Flink defaults) instead of Prism.

The last line printed is JSON with those figures (``latency_by_pacing`` with several ``--pacing``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import fastavro
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from newswire import schemas
from newswire.bench.corpus import SEEDS, generate_articles, render_feed, sample_articles, write_corpus
from newswire.bench.jobs import pipeline_seconds
from newswire.pipelines.deploy_scripts import deploy_script
from newswire.pipelines.options import DEFAULT_NER_MODEL

__all__ = ["OutputRecord", "backlog_rate", "collect", "create_topics", "main", "percentile", "read_topic",
           "start_broker", "start_job", "stop_job"]

NEWSWIRE = Path(sys.executable).parent / "newswire"
_SCHEMA = schemas.load(schemas.ARTICLE)


def start_broker() -> str:
    """Start the local broker ($NEWSWIRE_KAFKA_SCRIPT, or deploy/local/kafka.sh) unless it runs."""
    script = deploy_script("NEWSWIRE_KAFKA_SCRIPT", "deploy/local/kafka.sh")
    return subprocess.run([str(script), "start"], check=True, capture_output=True, text=True,
                          timeout=300).stdout.strip()


def create_topics(bootstrap: str, *names: str, partitions: int = 2) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    admin.close()


def start_job(source: str, output: str, bootstrap: str, log: Path, *runner: str,
              env: dict[str, str] | None = None) -> subprocess.Popen:
    """``newswire run --streaming`` topic to topic in its own process group (Prism unless ``runner`` says)."""
    return subprocess.Popen(
        [str(NEWSWIRE), "run", "--streaming", "--input", f"kafka://{bootstrap}/{source}",
         "--output", f"kafka://{bootstrap}/{output}", "--kafka_group_id", source, *runner],
        stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        env=None if env is None else {**os.environ, **env},
    )


def stop_job(job: subprocess.Popen) -> None:
    os.killpg(job.pid, signal.SIGKILL)
    job.wait(timeout=60)


class OutputRecord(NamedTuple):
    """An article on an output topic: its key, its Kafka timestamp and its input message's, in seconds."""

    key: str
    written: float
    produced: float


def read_topic(bootstrap: str, topic: str) -> list[OutputRecord]:
    """Every record on ``topic`` up to the end offsets it has now."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    seen: list[OutputRecord] = []
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                source = fastavro.schemaless_reader(io.BytesIO(record.value[10:]), _SCHEMA, _SCHEMA)["source"]
                seen.append(OutputRecord(record.key.decode(), record.timestamp / 1000,
                                         source["timestamp"].timestamp()))
    consumer.close()
    return seen


def collect(
    bootstrap: str, topic: str, count: int, timeout_s: float, job: subprocess.Popen | None = None
) -> list[OutputRecord]:
    """The records on ``topic`` once it holds at least ``count``.

    An error after ``timeout_s``, or as soon as ``job`` has exited.
    """
    deadline = time.monotonic() + timeout_s
    while len(seen := read_topic(bootstrap, topic)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(seen)} of {count} records arrived on {topic} in {timeout_s:.0f}s")
        if job is not None and job.poll() is not None:
            raise RuntimeError(f"the job exited ({job.returncode}) with {len(seen)} of {count} on {topic}")
        time.sleep(1)
    return seen


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def backlog_rate(
    bootstrap: str, backlog: list, log: Path, *runner: str, env: dict[str, str] | None = None
) -> float:
    """Articles/s of a streaming job started on a backlog of ``backlog`` messages (2 partitions).

    Taken between the first and the last output record, so the job's start-up is excluded.
    """
    run = uuid.uuid4().hex[:8]
    source, output = f"bench-in-{run}", f"bench-out-{run}"
    create_topics(bootstrap, source, output, f"{output}.dead-letters")
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    for article in backlog:
        producer.send(source, render_feed(article).encode())
    producer.flush()
    producer.close()
    job = start_job(source, output, bootstrap, log, *runner, env=env)
    try:
        records = collect(bootstrap, output, len(backlog), timeout_s=1800, job=job)
        arrivals = sorted(record.written for record in records)
    finally:
        stop_job(job)
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])


def latency_run(
    bootstrap: str, samples: list, paced: list, rate: float, log: Path, *extra: str
) -> list[float]:
    """Each record's latency (output minus input Kafka timestamp), a fresh job fed ``paced`` at ``rate``/s."""
    run = uuid.uuid4().hex[:8]
    source, output = f"bench-lat-in-{run}", f"bench-lat-out-{run}"
    create_topics(bootstrap, source, output, f"{output}.dead-letters")
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    job = start_job(source, output, bootstrap, log, *extra)
    try:
        warm = list(generate_articles(samples, 5, seed=303))
        for article in warm:  # let the job start and load its model before the clock runs
            producer.send(source, render_feed(article).encode())
        producer.flush()
        collect(bootstrap, output, len(warm), timeout_s=300, job=job)
        paced_from = time.time()
        started = time.monotonic()
        for i, article in enumerate(paced):
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
            producer.send(source, render_feed(article).encode())
        producer.flush()
        pairs = collect(bootstrap, output, len(warm) + len(paced), timeout_s=1800, job=job)
    finally:
        stop_job(job)
        producer.close()
    return sorted(r.written - r.produced for r in pairs if r.produced >= paced_from - 0.001)


def _percentiles(latencies: list[float]) -> dict[str, float]:
    return {f"latency_{q}_s": round(percentile(latencies, int(q[1:])), 3) for q in ("p50", "p95", "p99")}


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="newswire bench --kafka", description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000, help="Backlog for throughput.")
    parser.add_argument("--rate", type=float, default=50.0, help="Articles/s for latency.")
    parser.add_argument("--seconds", type=float, default=60.0, help="How long to produce at --rate.")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument(
        "--pacing", action="append", metavar="BUSY:IDLE",
        help="Measure latency with --kafka_read_seconds=BUSY --kafka_idle_resume_seconds=IDLE; "
        "repeat to compare settings, interleaved (default: the job's defaults).",
    )
    parser.add_argument("--repeat", type=int, default=1, help="Latency runs per --pacing, interleaved.")
    parser.add_argument("--latency-only", action="store_true", help="Skip the batch and backlog runs.")
    parser.add_argument("--flink", action="store_true",
                        help="Run the streaming jobs on Flink's embedded cluster instead of Prism.")
    args = parser.parse_args(argv)

    bootstrap = start_broker()
    samples = sample_articles(SEEDS)
    backlog = list(generate_articles(samples, args.articles, seed=101))
    paced = list(generate_articles(samples, int(args.rate * args.seconds), seed=202))
    figures: dict[str, object] = {"articles": len(backlog), "runner": "Flink" if args.flink else "Prism"}
    with tempfile.TemporaryDirectory(prefix="newswire-bench-kafka-") as scratch:
        scratch_dir = Path(scratch)
        if not args.latency_only:
            write_corpus(backlog, scratch_dir / "corpus", 100)
            batch_s = pipeline_seconds(scratch_dir / "corpus", scratch_dir / "out", DEFAULT_NER_MODEL,
                                       args.cores)
            batch_rate = len(backlog) / batch_s
            print(f"batch pipeline over the same {len(backlog)} articles as files: "
                  f"{batch_rate:.1f} articles/s")
            stream_rate = backlog_rate(bootstrap, backlog, scratch_dir / "throughput.log",
                                       *(["--runner=FlinkRunner"] if args.flink else []))
            print(f"streaming throughput on a backlog of {len(backlog)}: {stream_rate:.1f} articles/s "
                  f"({stream_rate / batch_rate:.2f} of batch)")
            figures |= {"batch_articles_per_s": round(batch_rate, 2),
                        "streaming_articles_per_s": round(stream_rate, 2),
                        "streaming_to_batch": round(stream_rate / batch_rate, 3)}
        figures["rate_articles_per_s"] = args.rate
        pacings = args.pacing or [None]
        latencies: dict[str | None, list[float]] = {pacing: [] for pacing in pacings}
        for attempt in range(args.repeat):
            for pacing in pacings:
                extra = ["--runner=FlinkRunner"] if args.flink else []
                if pacing is not None:
                    busy, idle = pacing.split(":")
                    extra += [f"--kafka_read_seconds={busy}", f"--kafka_idle_resume_seconds={idle}"]
                log = scratch_dir / f"latency-{attempt}-{pacing}.log"
                latencies[pacing] += latency_run(bootstrap, samples, paced, args.rate, log, *extra)
                print(f"latency at {args.rate:g} articles/s for {args.seconds:g} s ({len(paced)} articles)"
                      f"{f', pacing {pacing}' if pacing else ''}: "
                      + ", ".join(f"{k} {v * 1000:.0f} ms"
                                  for k, v in _percentiles(latencies[pacing]).items()))
    figures |= _percentiles(latencies[pacings[0]])
    if len(pacings) > 1:
        figures["latency_by_pacing"] = {pacing: _percentiles(values) for pacing, values in latencies.items()}
    print(json.dumps(figures))
    return 0
