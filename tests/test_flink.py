"""The job on Flink (embedded cluster, job server from Maven Central): batch output equal to the
local runner's, and a streaming job Kafka to Kafka that checkpoints."""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from newswire.bench.corpus import render_feed
from newswire.bench.flink_rest import FlinkRest, free_port
from newswire.pipelines import config, launch
from tests import avro_files, golden
from tests.conftest import ROOT, SEED
from tests.kafka.test_streaming import ARTICLES, StreamingJob, assert_each_article_once, decode, wait_for
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
    (jar,) = launch.flink_job_server_jar().parent.glob("lib/beam-runners-flink-*.jar")
    with zipfile.ZipFile(jar) as archive:
        options_class = archive.read("org/apache/beam/runners/flink/FlinkPipelineOptions.class")
    for name in config.FLINK_RUNNER_OPTIONS:
        getter = "get" + "".join(part.capitalize() for part in name.split("_"))
        assert getter.encode() in options_class, getter


def test_the_flink_image_is_the_exact_flink_of_the_job_server():
    """The cluster runs the Flink the job server's jars are built on (deploy/flink/Dockerfile)."""
    (runtime,) = launch.flink_job_server_jar().parent.glob("lib/flink-runtime-*.jar")
    assert flink_image_version() == runtime.name.removeprefix("flink-runtime-").removesuffix(".jar")


def test_flink_streaming_checkpoints_unless_told_otherwise():
    def options(*argv: str) -> dict:
        options = launch.pipeline_options(["--runner=FlinkRunner", *argv])
        return options.get_all_options(retain_unknown_options=True)

    streaming = options("--streaming")
    assert streaming["checkpointing_interval"] == str(launch.FLINK_CHECKPOINT_INTERVAL_MS)
    assert streaming["finish_bundle_before_checkpointing"] is True  # the bare flag Beam hands on
    assert streaming["kafka_idle_resume_seconds"] == launch.FLINK_IDLE_RESUME_SECONDS
    assert options("--streaming", "--kafka_idle_resume_seconds=0.3")["kafka_idle_resume_seconds"] == 0.3
    prism = launch.pipeline_options(["--streaming"]).get_all_options()
    assert (prism["kafka_read_seconds"], prism["kafka_idle_resume_seconds"]) == (1.0, 0.1)
    assert (streaming["state_backend"], streaming["state_backend_storage_path"]) == \
        ("filesystem", launch.flink_checkpoint_dir())
    assert options("--streaming", "--checkpointing_interval=2000")["checkpointing_interval"] == "2000"
    assert "finish_bundle_before_checkpointing" not in options(
        "--streaming", "--finish_bundle_before_checkpointing=false")
    assert "state_backend" not in options("--streaming", "--flink_master=flink:8081")  # the cluster's own
    assert options("--streaming", "--state_backend=rocksdb")["state_backend"] == "rocksdb"
    batch = options()
    assert "checkpointing_interval" not in batch and "state_backend" not in batch  # nothing to checkpoint
    assert batch["ner_processes"] == (os.cpu_count() or 1)  # LOOPBACK: one Python process


def test_the_embedded_cluster_checkpoints_where_the_user_says(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSWIRE_FLINK_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    assert launch.flink_checkpoint_dir() == (tmp_path / "checkpoints").as_uri()


def test_the_flink_boolean_options_defaults_are_the_job_servers():
    """``config.FLINK_BOOLEAN_DEFAULTS`` against ``@Default.Boolean`` in FlinkPipelineOptions' source."""
    (sources,) = launch.flink_job_server_jar().parent.glob("build/beam-runners-flink-*-sources.jar")
    with zipfile.ZipFile(sources) as archive:
        source = archive.read("org/apache/beam/runners/flink/FlinkPipelineOptions.java").decode()
    declared = {
        re.sub(r"(?<!^)([A-Z])", r"_\1", getter).lower(): default == "true"
        for default, getter in re.findall(r"@Default\.Boolean\((true|false)\)\s+[bB]oolean get(\w+)", source)
    }
    assert config.FLINK_BOOLEAN_DEFAULTS == declared


def test_the_job_server_loads_the_patched_runner_classes(tmp_path):
    """The launcher's class path holds the patched copies of the two runner jars (originals: unpatched/)."""
    probe = tmp_path / "LoadedFrom.java"
    probe.write_text("""
public class LoadedFrom {
  public static void main(String[] names) throws Exception {
    for (String name : names) {
      Class<?> loaded = Class.forName(name);
      boolean patched = java.util.Arrays.stream(loaded.getDeclaredFields())
          .anyMatch(f -> f.getName().equals("SDF_RESIDUALS_STATE_ID"));
      java.net.URL jar = loaded.getProtectionDomain().getCodeSource().getLocation();
      System.out.println(name + " " + jar + " " + patched);
    }
  }
}
""")
    handler = ("org.apache.beam.runners.fnexecution.control."
               "BundleCheckpointHandlers$StateAndTimerBundleCheckpointHandler")
    operator = "org.apache.beam.runners.flink.translation.wrappers.streaming.ExecutableStageDoFnOperator"

    def loaded(launcher: Path) -> list[list[str]]:
        run = subprocess.run(["java", "-cp", str(launcher), str(probe), handler, operator],
                             capture_output=True, text=True, timeout=120, check=True)
        return [line.split() for line in run.stdout.splitlines()]

    home = launch.flink_job_server_jar().parent
    patched = loaded(launch.flink_job_server_jar())
    assert [(name, Path(location.removeprefix("file:")).relative_to(home).parts[0], found)
            for name, location, found in patched] == [(handler, "lib", "true"), (operator, "lib", "false")]
    unpatched = loaded(launch.flink_job_server_jar(unpatched=True))
    assert [(name, Path(location.removeprefix("file:")).parent.name, found)
            for name, location, found in unpatched] == \
        [(handler, "unpatched", "false"), (operator, "unpatched", "false")]
    # The patched operator takes a residual out of its state when its timer fires.
    operator_jar = Path(patched[1][1].removeprefix("file:"))
    with zipfile.ZipFile(operator_jar) as archive:
        runner = archive.read(operator.replace(".", "/") + "$SdkHarnessDoFnRunner.class")
    assert b"takeResidual" in runner


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
        topics_and_offsets = {(r["source"]["uri"].rsplit("/", 1)[1], r["source"]["offset"]) for r in records}
        assert topics_and_offsets == {(source, 0)}
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
        assert rest.checkpoint_interval_ms() == launch.FLINK_CHECKPOINT_INTERVAL_MS
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


def _latest_checkpoint(rest: FlinkRest) -> bytes:
    """The files of the latest completed checkpoint (Flink deletes it once the next one completes)."""
    for _ in range(20):
        latest = Path(rest.checkpoints()["latest"]["completed"]["external_path"].removeprefix("file:"))
        try:
            return b"".join(path.read_bytes() for path in sorted(latest.iterdir()))
        except FileNotFoundError:
            time.sleep(0.2)
    raise AssertionError("no completed checkpoint could be read")


def _flink_env(tmp_path: Path, monkeypatch) -> FlinkRest:
    """The REST endpoint of the embedded cluster the next job starts; it checkpoints under ``tmp_path``."""
    rest = FlinkRest(tmp_path / "flink-conf")
    monkeypatch.setenv("FLINK_CONF_DIR", str(rest.conf_dir))  # read by the job server the job starts
    monkeypatch.setenv("NEWSWIRE_FLINK_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    return rest


def _wait_for_commits(topics, source: str, expected: dict[int, int], job: StreamingJob) -> None:
    deadline = time.monotonic() + 90
    while topics.committed(source, group=source) != expected and time.monotonic() < deadline:
        time.sleep(1)
    assert topics.committed(source, group=source) == expected, job.log_tail()


def _end_offsets(topics, topic: str) -> dict[int, int]:
    """Each partition's end offset: how many messages it holds (the tests' topics start at 0)."""
    counts = collections.Counter(message.partition() for message in topics.read_all(topic))
    return {partition: counts[partition] for partition in range(2)}


def _produce(topics, topic: str, articles) -> None:
    topics.produce(topic, [render_feed(article).encode() for article in articles])


@pytest.mark.kafka
@pytest.mark.parametrize("attempt", range(3))
def test_streaming_on_flink_with_2s_checkpoints_reads_and_keeps_no_state_per_deferral(
    attempt, topics, tmp_path, monkeypatch
):
    """Checkpoints every 2 s: the job reads (every attempt), and an idle read's deferrals leave nothing.

    Unpatched, each deferral (about one a second while idle) left a state named after its timer
    (``sdf_checkpoint:<n>:<i>``) in every later checkpoint. Patched, the residuals live in one
    map state, and the only such names are the timers now pending: the one partition's read
    and the streaming read's re-planning tick (another splittable DoFn that defers).
    """
    source, output = topics.create(prefix="flink2s-raw"), topics.create(prefix="flink2s-articles")
    rest = _flink_env(tmp_path, monkeypatch)
    job = StreamingJob(topics, source, output, tmp_path, "--runner", "FlinkRunner",
                       "--checkpointing_interval=2000")
    job.start()
    try:
        topics.produce(source, [SEED.read_bytes()])
        records = [decode(m.value()) for m in wait_for(topics, output, 4, job)]
        assert sorted((golden.golden_view(r) for r in records), key=lambda r: r["source"]["position"]) == \
            golden.load(SEED.name), job.log_tail()
        _wait_for_commits(topics, source, {0: 1}, job)
        # Idle from here: 10 more checkpoints are about 20 deferrals of the partition's read.
        idle_from = rest.completed()
        assert rest.wait_for_completed(idle_from + 10, timeout_s=90) >= idle_from + 10, job.log_tail()
        assert rest.checkpoint_interval_ms() == 2000
        stats = rest.checkpoints()
        failed = [c for c in stats["history"] if c["status"] == "FAILED"]
        assert (failed, stats["counts"]["restored"]) == ([], 0), f"{failed}\n{job.log_tail()}"
        contents = _latest_checkpoint(rest)
        assert b"sdf_checkpoint_residuals" in contents
        assert len(set(re.findall(rb"sdf_checkpoint:\d+:\d+", contents))) <= 2
    finally:
        job.kill()


class WorkerPool:
    """Beam's Python worker pool in a process of its own (the EXTERNAL environment), to be killed."""

    def __init__(self, logs: Path):
        self._logs = logs
        self.port = free_port()
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        # The pool starts each worker as `python -c ...`: this environment's Python must come first.
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        log = (self._logs / f"pool-{time.monotonic_ns()}.log").open("w")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
             f"--service_port={self.port}"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=ROOT,
        )

    def kill(self) -> None:
        """SIGKILL the pool and every worker it started."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=30)


@pytest.mark.kafka
def test_a_killed_python_worker_is_restored_from_a_checkpoint_without_loss_or_doubles(
    topics, tmp_path, monkeypatch
):
    """SIGKILL the Python workers mid-stream: Flink fails the tasks, restores the last checkpoint, goes on."""
    source = topics.create(prefix="flinkfault-raw", partitions=2)
    output = topics.create(prefix="flinkfault-articles")
    rest = _flink_env(tmp_path, monkeypatch)
    pool = WorkerPool(tmp_path)
    pool.start()
    job = StreamingJob(topics, source, output, tmp_path, "--runner", "FlinkRunner",
                       "--checkpointing_interval=2000", "--environment_type=EXTERNAL",
                       f"--environment_config=localhost:{pool.port}")
    job.start()
    try:
        first, second = ARTICLES[:10], ARTICLES[10:]
        _produce(topics, source, first)
        wait_for(topics, output, len(first), job)
        written = rest.completed()
        assert rest.wait_for_completed(written + 1, timeout_s=30) > written, job.log_tail()
        for index, article in enumerate(second):
            _produce(topics, source, [article])
            if index == len(second) // 3:
                pool.kill()
                pool.start()
            time.sleep(0.3)
        wait_for(topics, output, len(ARTICLES), job, timeout_s=300)
        _wait_for_commits(topics, source, _end_offsets(topics, source), job)
        assert_each_article_once(topics, output, ARTICLES)
        assert rest.restarts() >= 1, job.log_tail()  # the failure happened, and the job was restored
        assert rest.checkpoints()["counts"]["restored"] >= 1
    finally:
        job.kill()
        pool.kill()


@pytest.mark.kafka
@pytest.mark.parametrize("first_job_server", ["patched", "unpatched"])
def test_stop_with_a_savepoint_and_resume_from_it_without_loss_or_doubles(
    first_job_server, topics, tmp_path, monkeypatch
):
    """Stop with a savepoint, produce more, resume from it: every article once, offsets committed to the end.

    From the unpatched job server's savepoint, the patched one reads the residuals the old
    code kept in per-timer value states once, and clears them.
    """
    source = topics.create(prefix="flinksp-raw", partitions=2)
    output = topics.create(prefix="flinksp-articles")
    rest = _flink_env(tmp_path, monkeypatch)
    common = ("--runner", "FlinkRunner", "--checkpointing_interval=2000")
    first_jar = launch.flink_job_server_jar(unpatched=first_job_server == "unpatched")
    before = StreamingJob(topics, source, output, tmp_path, *common, f"--flink_job_server_jar={first_jar}")
    before.start()
    after = None
    try:
        first, second = ARTICLES[:12], ARTICLES[12:]
        _produce(topics, source, first)
        wait_for(topics, output, len(first), before)
        time.sleep(3)  # some idle deferrals, so the savepoint holds residuals waiting for their timers
        savepoint = rest.stop_with_savepoint(tmp_path / "savepoints")
        before.wait(timeout_s=120)  # the Flink job finished, and with it the run
        _produce(topics, source, second)
        after = StreamingJob(topics, source, output, tmp_path, *common, f"--savepoint_path={savepoint}")
        after.start()
        wait_for(topics, output, len(ARTICLES), after, timeout_s=240)
        _wait_for_commits(topics, source, _end_offsets(topics, source), after)
        assert_each_article_once(topics, output, ARTICLES)
        restored = rest.checkpoints()["latest"]["restored"]
        assert (restored["is_savepoint"], Path(restored["external_path"].removeprefix("file:"))) == \
            (True, savepoint)
    finally:
        before.kill()
        if after is not None:
            after.kill()
