"""``newswire bench --flink-soak``: the streaming job on Flink's embedded cluster for a long time.

What a job that consumes a topic for days must not do, watched for ``--minutes`` (default 30)
with checkpoints every ``--checkpoint-ms`` (default 2,000):

* let its checkpoints grow: the latest completed checkpoint's size (Flink's REST API) is
  sampled throughout and compared with its size at minute 2, once the job's state has
  settled (the target: within 1.5x). The dedup step rightly keeps each article id for
  ``--dedup_ttl_hours`` (about 500 bytes of checkpoint an id), so the soak sets it to one
  minute (``--dedup-ttl-minutes``): the ids then come and go within the run, and whatever
  else grows shows;
* fail a checkpoint or restart;
* lose or double an article: input comes in bursts (``--rate`` articles/s for
  ``--burst-seconds``) between idle stretches (``--idle-seconds``), on a 2-partition topic,
  and at the end every article produced must be on the output topic exactly once by id.

Each output record's latency is its Kafka timestamp minus its input message's. With
``--unpatched`` the job server is the one without the project's patch to Beam's Flink runner
(``deploy/flink/job-server.sh --unpatched``), measured the same way.

The last line printed is JSON: ``{"minutes", "checkpoint_bytes_first", "checkpoint_bytes_last",
"checkpoint_bytes_max", "checkpoints_completed", "checkpoints_failed", "restarts",
"articles_in", "articles_out", "duplicates_out", "latency_p50_s", "latency_p95_s",
"latency_p99_s", ...}``.
"""

from __future__ import annotations

import argparse
import collections
import json
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from kafka import KafkaProducer

from newswire.bench.corpus import SEEDS, generate_articles, render_feed, sample_articles
from newswire.bench.flink_rest import FlinkRest
from newswire.bench.kafka import collect, create_topics, percentile, read_topic, start_broker, start_job
from newswire.pipelines import launch

__all__ = ["main"]

# The minute at which a job's state has settled (dedup ids, open reads): the size later ones are held to.
_SETTLED_MINUTE = 2


class _Checkpoints:
    """Samples of the latest completed checkpoint's size, and the failure counts around them."""

    def __init__(self, rest: FlinkRest):
        self._rest = rest
        self.sizes: list[tuple[float, int]] = []  # (seconds since the clock started, bytes)
        self.completed = 0
        self._failed_at_first: int | None = None
        self.failed = 0
        self.restored = 0

    def sample(self, elapsed_s: float) -> None:
        stats = self._rest.checkpoints()
        latest = (stats.get("latest") or {}).get("completed")
        if not latest:
            return
        counts = stats["counts"]
        if self._failed_at_first is None:  # triggers refused while the job was starting are not failures
            self._failed_at_first = counts["failed"]
        self.failed = counts["failed"] - self._failed_at_first
        self.completed, self.restored = counts["completed"], counts["restored"]
        self.sizes.append((elapsed_s, latest["state_size"]))

    def at_minute(self, minute: float) -> int:
        """The first size sampled at or after ``minute`` (the last one if none is that late)."""
        return next((size for elapsed, size in self.sizes if elapsed >= minute * 60), self.sizes[-1][1])


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="newswire bench --flink-soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="How long to run (default %(default)s).")
    parser.add_argument("--checkpoint-ms", type=int, default=2000, help="Checkpoint interval.")
    parser.add_argument("--rate", type=float, default=5.0, help="Articles/s during a burst.")
    parser.add_argument("--burst-seconds", type=float, default=30.0)
    parser.add_argument("--idle-seconds", type=float, default=90.0)
    parser.add_argument("--dedup-ttl-minutes", type=float, default=1.0,
                        help="The job's --dedup_ttl_hours, in minutes (default %(default)s).")
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="Checkpoint size sampling period.")
    parser.add_argument("--unpatched", action="store_true",
                        help="Use the job server without the project's patch (for comparison).")
    args = parser.parse_args(argv)

    bootstrap = start_broker()
    articles = generate_articles(sample_articles(SEEDS), 10**9, seed=404)
    run = uuid.uuid4().hex[:8]
    source, output = f"soak-in-{run}", f"soak-out-{run}"
    create_topics(bootstrap, source, output, f"{output}.dead-letters")
    with tempfile.TemporaryDirectory(prefix="newswire-flink-soak-") as scratch:
        scratch_dir = Path(scratch)
        rest = FlinkRest(scratch_dir / "flink-conf")
        extra = ["--runner=FlinkRunner", f"--checkpointing_interval={args.checkpoint_ms}",
                  f"--dedup_ttl_hours={args.dedup_ttl_minutes / 60}"]
        if args.unpatched:
            extra.append(f"--flink_job_server_jar={launch.flink_job_server_jar(unpatched=True)}")
        log = scratch_dir / "job.log"
        env = {"FLINK_CONF_DIR": str(rest.conf_dir),
               "NEWSWIRE_FLINK_CHECKPOINT_DIR": str(scratch_dir / "checkpoints")}
        job = start_job(source, output, bootstrap, log, *extra, env=env)
        producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        produced: list[str] = []
        try:
            # Start-up: the clock starts once these are out.
            produced.extend(_produce(producer, source, articles, 5))
            collect(bootstrap, output, len(produced), timeout_s=600, job=job)
            warm = len(produced)
            checkpoints = _soak(args, rest, producer, source, articles, produced)
            collect(bootstrap, output, len(produced), timeout_s=600, job=job)
            time.sleep(3 * args.checkpoint_ms / 1000)  # anything written twice would show up by now
            written = read_topic(bootstrap, output)
            checkpoints.sample(args.minutes * 60)
            restarts = max(rest.restarts(), checkpoints.restored)
        except Exception:
            print(log.read_text()[-5000:])
            raise
        finally:
            producer.close()
            job.send_signal(signal.SIGTERM)
            try:
                job.wait(timeout=120)
            except subprocess.TimeoutExpired:
                job.kill()
    counts = collections.Counter(record.key for record in written)
    paced = set(produced[warm:])
    latencies = sorted(r.written - r.produced for r in written if r.key in paced)
    settled = [size for elapsed, size in checkpoints.sizes if elapsed >= _SETTLED_MINUTE * 60]
    figures = {
        "minutes": args.minutes,
        "checkpoint_interval_ms": args.checkpoint_ms,
        "dedup_ttl_minutes": args.dedup_ttl_minutes,
        "unpatched": args.unpatched,
        "checkpoint_bytes_first": checkpoints.at_minute(_SETTLED_MINUTE),
        "checkpoint_bytes_last": checkpoints.sizes[-1][1],
        "checkpoint_bytes_max": max(settled or [checkpoints.sizes[-1][1]]),
        "checkpoints_completed": checkpoints.completed,
        "checkpoints_failed": checkpoints.failed,
        "restarts": restarts,
        "articles_in": len(produced),
        "articles_out": len(counts),
        "duplicates_out": sum(n - 1 for n in counts.values()),
        "missing": len(set(produced) - set(counts)),
        "latency_p50_s": round(percentile(latencies, 50), 3),
        "latency_p95_s": round(percentile(latencies, 95), 3),
        "latency_p99_s": round(percentile(latencies, 99), 3),
    }
    figures["checkpoint_growth"] = round(
        figures["checkpoint_bytes_max"] / figures["checkpoint_bytes_first"], 3)
    print(json.dumps(figures))
    return 0


def _produce(producer: KafkaProducer, topic: str, articles, count: int) -> list[str]:
    batch = [next(articles) for _ in range(count)]
    for article in batch:
        producer.send(topic, render_feed(article).encode())
    producer.flush()
    return [article.id for article in batch]


def _soak(
    args: argparse.Namespace, rest: FlinkRest, producer: KafkaProducer, topic: str, articles,
    produced: list[str],
) -> _Checkpoints:
    """Bursts and idle stretches for ``args.minutes``, sampling checkpoint sizes; a line a minute."""
    checkpoints = _Checkpoints(rest)
    started = time.monotonic()
    cycle = args.burst_seconds + args.idle_seconds
    next_sample = next_line = 0.0
    while (elapsed := time.monotonic() - started) < args.minutes * 60:
        if elapsed % cycle < args.burst_seconds:
            produced.extend(_produce(producer, topic, articles, 1))
        if elapsed >= next_sample:
            checkpoints.sample(elapsed)
            next_sample += args.sample_seconds
        if elapsed >= next_line and checkpoints.sizes:
            print(f"minute {elapsed / 60:5.1f}: checkpoint {checkpoints.sizes[-1][1]:>10,} bytes, "
                  f"{checkpoints.completed} completed, {checkpoints.failed} failed, "
                  f"{len(produced)} articles produced", flush=True)
            next_line += 60
        time.sleep(1 / args.rate if elapsed % cycle < args.burst_seconds else 0.5)
    return checkpoints
