"""The job on Flink (embedded cluster, job server from Maven Central): batch output equal to the
local runner's, and a streaming job Kafka to Kafka that checkpoints."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from pipelines import cli, config
from tests import avro_files, golden
from tests.conftest import SEED
from tests.kafka.test_streaming import StreamingJob, decode, wait_for
from tests.test_deploy import flink_image_version

pytestmark = pytest.mark.flink

NEWSWIRE = Path(sys.executable).parent / "newswire"


def run(tmp_path: Path, name: str, *runner: str) -> Path:
    out = tmp_path / name
    completed = subprocess.run(
        [str(NEWSWIRE), "run", "--input", str(SEED.parent), "--output", str(out), *runner],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "records in = written + duplicates + dead letters: 4 = 4 + 0 + 0 (balanced)" in completed.stdout
    return out


def without_processing_time(records: list[dict]) -> list[dict]:
    stripped = ({k: v for k, v in r.items() if k != "processed_at"} for r in records)
    return sorted(stripped, key=lambda r: r["id"])


def test_flink_output_equals_the_local_runner_output(tmp_path):
    local = run(tmp_path, "local")
    flink = run(tmp_path, "flink", "--runner", "FlinkRunner")
    expected = without_processing_time(avro_files.read_fastavro(local, "articles"))
    assert len(expected) == 4
    assert without_processing_time(avro_files.read_fastavro(flink, "articles")) == expected
    assert avro_files.read_fastavro(flink, "dead-letters") == []


def test_the_flink_options_a_runner_config_may_set_are_the_job_servers():
    """Each of ``config.FLINK_RUNNER_OPTIONS`` is a getter of FlinkPipelineOptions in the job server's jar."""
    (jar,) = cli.flink_job_server_jar().parent.glob("lib/beam-runners-flink-*.jar")
    with zipfile.ZipFile(jar) as archive:
        options_class = archive.read("org/apache/beam/runners/flink/FlinkPipelineOptions.class")
    for name in config.FLINK_RUNNER_OPTIONS:
        getter = "get" + "".join(part.capitalize() for part in name.split("_"))
        assert getter.encode() in options_class, getter


def test_the_flink_image_is_the_exact_flink_of_the_job_server():
    """The cluster runs the Flink the job server's jars are built on (deploy/flink/Dockerfile)."""
    (runtime,) = cli.flink_job_server_jar().parent.glob("lib/flink-runtime-*.jar")
    assert flink_image_version() == runtime.name.removeprefix("flink-runtime-").removesuffix(".jar")


def test_flink_streaming_checkpoints_unless_told_otherwise():
    def options(*argv: str) -> dict:
        options = cli.pipeline_options(["--runner=FlinkRunner", *argv])
        return options.get_all_options(retain_unknown_options=True)

    assert options("--streaming")["checkpointing_interval"] == str(cli.FLINK_CHECKPOINT_INTERVAL_MS)
    assert options("--streaming", "--checkpointing_interval=2000")["checkpointing_interval"] == "2000"
    assert "checkpointing_interval" not in options()  # batch: nothing to checkpoint
    assert options()["ner_processes"] == (os.cpu_count() or 1)  # LOOPBACK: one Python process


class FlinkRest:
    """Flink's REST API on a port of our choosing, set through the job server's FLINK_CONF_DIR."""

    def __init__(self, conf_dir: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        conf_dir.mkdir()
        (conf_dir / "config.yaml").write_text(f"rest.address: 127.0.0.1\nrest.bind-port: {self.port}\n")
        self.conf_dir = conf_dir

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
            return json.load(response)

    def checkpoints(self) -> dict:
        """Checkpoint statistics of the one running job (``counts``, ``latest``...); {} before it runs."""
        try:
            jobs = [j for j in self.get("/jobs/overview")["jobs"] if j["state"] == "RUNNING"]
        except OSError:  # the job server (and its REST endpoint) is still starting
            return {}
        assert len(jobs) <= 1, jobs
        return self.get(f"/jobs/{jobs[0]['jid']}/checkpoints") if jobs else {}

    def checkpoint_interval_ms(self) -> int:
        (job,) = [j for j in self.get("/jobs/overview")["jobs"] if j["state"] == "RUNNING"]
        return self.get(f"/jobs/{job['jid']}/checkpoints/config")["interval"]

    def completed(self) -> int:
        return self.checkpoints().get("counts", {}).get("completed", 0)


@pytest.mark.kafka
def test_streaming_kafka_to_kafka_on_flink_with_checkpoints(topics, tmp_path, monkeypatch):
    source, output = topics.create(prefix="flink-raw"), topics.create(prefix="flink-articles")
    rest = FlinkRest(tmp_path / "flink-conf")
    monkeypatch.setenv("FLINK_CONF_DIR", str(rest.conf_dir))  # read by the job server the job starts
    # The CLI's default checkpoint interval (10 s). With 2 s, the first checkpoint often came
    # while the partition plan's first bundle was open, and the plan never reached the readers.
    job = StreamingJob(topics, source, output, tmp_path, "--runner", "FlinkRunner")
    job.start()
    try:
        topics.produce(source, [SEED.read_bytes()])  # one message, the sample's 4 articles
        messages = wait_for(topics, output, 4, job)
        records = [decode(m.value()) for m in messages]
        assert [m.key().decode() for m in messages] == [r["id"] for r in records]
        assert sorted((golden.golden_view(r) for r in records), key=lambda r: r["source"]["position"]) == \
            golden.load(SEED.name), job.log_tail()
        assert {(r["source"]["topic"], r["source"]["offset"]) for r in records} == {(source, 0)}
        assert all(r["entities"] and r["ner_model"] for r in records)

        deadline = time.monotonic() + 60
        while topics.committed(source, group=source) != {0: 1} and time.monotonic() < deadline:
            time.sleep(1)
        assert topics.committed(source, group=source) == {0: 1}, job.log_tail()  # the topic's end

        after_output = rest.completed()
        deadline = time.monotonic() + 45
        while rest.completed() < after_output + 1 and time.monotonic() < deadline:
            time.sleep(1)
        # A checkpoint of the state the records left behind; none failed, and the job never restarted.
        # (``counts.failed`` also counts triggers Flink skipped while the job was still starting.)
        stats = rest.checkpoints()
        assert stats["counts"]["completed"] >= after_output + 1, f"{stats}\n{job.log_tail()}"
        assert rest.checkpoint_interval_ms() == cli.FLINK_CHECKPOINT_INTERVAL_MS
        failed = [c for c in stats["history"] if c["status"] == "FAILED"]
        assert (failed, stats["counts"]["restored"]) == ([], 0), f"{failed}\n{job.log_tail()}"

        # SIGTERM, as Kubernetes or `timeout` stop it: "newswire: stopped", like Ctrl-C.
        assert job.stop(signal.SIGTERM) == 130, job.log_tail()
        deadline = time.monotonic() + 30
        while (left := job.leftover_processes()) and time.monotonic() < deadline:
            time.sleep(1)
        assert left == [], job.log_tail()  # neither the job server nor a NER process outlived it
    finally:
        job.kill()
