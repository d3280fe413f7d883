"""Launching a job: its options with this machine's defaults for each runner, submitted or run.

``newswire run`` and the bench both start jobs through here, so the bench measures exactly
what users run; the bench imports this module and never the CLI, which imports both. A run
stopped before its end (``KeyboardInterrupt``: Ctrl-C, or SIGTERM in the CLI) raises
``Stopped`` with what its counters said by then, once the job is cancelled.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import (
    DirectOptions,
    FlinkRunnerOptions,
    PipelineOptions,
    PortableOptions,
    PrismRunnerOptions,
    StandardOptions,
)
from apache_beam.runners.runner import PipelineResult
from grpc import Call

from newswire.pipelines import config, counters, job
from newswire.pipelines.deploy_scripts import deploy_script
from newswire.pipelines.options import NewswireOptions

__all__ = ["DATAFLOW_RUNNER", "LOCAL_RUNNER", "LOCAL_STREAMING_RUNNER", "Stopped", "flink_job_server_jar",
           "pipeline_options", "run_job", "stop", "submit"]

LOCAL_RUNNER = "FnApiRunner"
LOCAL_STREAMING_RUNNER = "PrismRunner"
DATAFLOW_RUNNER = "DataflowRunner"
FLINK_RUNNER = "FlinkRunner"
FLINK_CHECKPOINT_INTERVAL_MS = 10_000
FLINK_IDLE_RESUME_SECONDS = 1.0
# Flink masters that mean the job server's own embedded cluster.
EMBEDDED_FLINK_MASTERS = frozenset({"[local]", "[auto]"})


def pipeline_options(argv: Sequence[str]) -> PipelineOptions:
    """Options from the config files and the command line, with local defaults for what they leave unset.

    Without a runner, a batch job runs on the FnApiRunner and a streaming one on Prism. The
    FnApiRunner uses every core (``direct_num_workers=0``) in separate processes, since NER is
    CPU-bound Python and threads would share one core. Prism, the local runner that really
    streams, runs from the binary the set-up built next to this Python (``.venv/bin/prism``),
    and spreads NER over every core since it runs one Python worker. Raises ``ValueError``
    for a config file that cannot be used.
    """
    configured = config.split_config_flags(argv)
    options = configured.pipeline_options()
    standard = options.view_as(StandardOptions)
    if standard.runner == FLINK_RUNNER and standard.streaming:
        configured = _flink_streaming_defaults(configured, options.view_as(FlinkRunnerOptions).flink_master)
        options = configured.pipeline_options()
        standard = options.view_as(StandardOptions)
    explicit = configured.explicit()
    if standard.runner is None:
        standard.runner = LOCAL_STREAMING_RUNNER if standard.streaming else LOCAL_RUNNER
    if standard.runner == LOCAL_STREAMING_RUNNER:
        prism = options.view_as(PrismRunnerOptions)
        if not prism.prism_location:
            prism.prism_location = str(Path(sys.executable).parent / "prism")
        if "prism_log_level" not in explicit:
            prism.prism_log_level = "warn"
        _ner_on_every_core(options, explicit)
    elif standard.runner == LOCAL_RUNNER:
        direct = options.view_as(DirectOptions)
        if "direct_running_mode" not in explicit:
            direct.direct_running_mode = "multi_processing"
        if "direct_num_workers" not in explicit:
            direct.direct_num_workers = 0
    elif standard.runner == FLINK_RUNNER:
        _flink_defaults(options, explicit)
    return options


def _ner_on_every_core(options: PipelineOptions, explicit: frozenset[str]) -> None:
    """Spread NER over one process per core where a runner gives the job one Python process."""
    if "ner_processes" not in explicit:
        options.view_as(NewswireOptions).ner_processes = os.cpu_count() or 1


def flink_checkpoint_dir() -> str:
    """Where the embedded Flink cluster keeps checkpoints (a file URI).

    ``NEWSWIRE_FLINK_CHECKPOINT_DIR``, or ``newswire-flink`` in the temp folder.
    """
    default = Path(tempfile.gettempdir()) / "newswire-flink"
    directory = os.environ.get("NEWSWIRE_FLINK_CHECKPOINT_DIR") or default
    return Path(directory).absolute().as_uri()


def _flink_streaming_defaults(configured: config.Configured, flink_master: str) -> config.Configured:
    """What a streaming Flink job needs to run for days, unless the user says otherwise.

    * Checkpoints every ``FLINK_CHECKPOINT_INTERVAL_MS``. Without them Flink does not restart
      a failed job, and a job started again from none re-reads from the committed offsets;
      with them, a failed task resumes from the last checkpoint (the readers' positions, the
      dedup and commit state), so little is read twice. Ten seconds keeps that replay short.
    * Each bundle finished before a checkpoint barrier passes (``finish_bundle_before_checkpointing``).
      Otherwise a barrier that reaches the partition-planning stage while its only bundle is open
      leaves the plan in a buffer that nothing flushes, and the job never reads (seen at 2 s).
    * A Kafka partition that had nothing new polled again after ``FLINK_IDLE_RESUME_SECONDS``
      rather than 0.1 s: every deferral is a timer and a state entry in each checkpoint until
      it fires, and measured here the longer wait cost Flink's latency little (README, "Speed").
    * On the embedded cluster (``flink_master`` ``[local]`` or ``[auto]``), checkpoints in files under
      ``flink_checkpoint_dir()`` rather than in the job manager's memory, which refuses a
      checkpoint over 5 MB: the dedup state alone passes that in a day of a busy feed.

    All but the Kafka one are options of the Java runner, so they travel as flags (``config``).
    """
    explicit = configured.explicit()
    defaults: dict[str, object] = {
        "checkpointing_interval": FLINK_CHECKPOINT_INTERVAL_MS,
        "finish_bundle_before_checkpointing": True,
        "kafka_idle_resume_seconds": FLINK_IDLE_RESUME_SECONDS,
    }
    if flink_master in EMBEDDED_FLINK_MASTERS and "state_backend" not in explicit:
        defaults |= {"state_backend": "filesystem", "state_backend_storage_path": flink_checkpoint_dir()}
    missing = {name: value for name, value in defaults.items() if name not in explicit}
    return dataclasses.replace(configured, values={**configured.values, **missing})


def flink_job_server_jar(unpatched: bool = False) -> Path:
    """The launcher jar of Beam's Flink job server, built from Maven Central on first use.

    ``unpatched``: the one without the project's patch to the runner (for comparisons only).
    """
    server = deploy_script("NEWSWIRE_FLINK_JOB_SERVER_SCRIPT", "deploy/flink/job-server.sh")
    script = [str(server), *(["--unpatched"] if unpatched else [])]
    launcher = subprocess.run(script, check=True, capture_output=True, text=True)
    return Path(launcher.stdout.strip())


def _flink_defaults(options: PipelineOptions, explicit: frozenset[str]) -> None:
    """Defaults that run Flink on this machine with no download and no Docker.

    The job server comes from deploy/flink/job-server.sh (assembled from Maven Central), the
    cluster is Flink's embedded one, and the Python workers run in this process (LOOPBACK).
    LOOPBACK runs every SDK worker as a thread of this one process, so NER is spread over one
    process per core, as on Prism. Parallelism stays Flink's default, which for the embedded
    cluster is one slot per core.
    """
    flink = options.view_as(FlinkRunnerOptions)
    if not flink.flink_job_server_jar:
        flink.flink_job_server_jar = str(flink_job_server_jar())
    if "flink_master" not in explicit:
        flink.flink_master = "[local]"
    portable = options.view_as(PortableOptions)
    if not portable.environment_type:
        portable.environment_type = "LOOPBACK"
    if portable.environment_type == "LOOPBACK":
        _ner_on_every_core(options, explicit)


def submit(options: PipelineOptions) -> PipelineResult:
    """Build the job and hand it to the runner; returns as soon as the runner has it."""
    pipeline = beam.Pipeline(options=options)
    job.build(pipeline, options)
    return pipeline.run()


class Stopped(KeyboardInterrupt):
    """A run stopped before its end; ``run`` is what its counters said then, and what became of the job.

    A ``KeyboardInterrupt``, so that a caller that does not look for it stops as before.
    """

    def __init__(self, run: counters.StoppedRun):
        super().__init__()
        self.run = run


def run_job(options: PipelineOptions) -> counters.RunSummary:
    """Run the job to completion and return what its counters say; raises ``Stopped`` if it is stopped.

    Beam's job servers (Prism's, Flink's) take SIGINT over while the job is submitted, to stop
    themselves before anything else: that would leave no runner to read a stopped job's
    counters from or to cancel it on. So the handler from before is put back once the runner
    has the job; they are still stopped when this process exits.
    """
    runner = options.view_as(StandardOptions).runner  # read now: the portable runners clear it
    before = signal.getsignal(signal.SIGINT)
    try:
        result = submit(options)
    except KeyboardInterrupt:
        reason = f"the job was stopped before {runner} handed it back"
        if runner == LOCAL_RUNNER:
            reason += " (it does so only once the job has finished)"
        raise Stopped(counters.StoppedRun(None, reason)) from None
    finally:
        signal.signal(signal.SIGINT, before)
    try:
        result.wait_until_finish()
    except KeyboardInterrupt:
        raise Stopped(stop(result, runner)) from None
    return counters.summarize(result)


def stop(result: PipelineResult, runner: str) -> counters.StoppedRun:
    """Read the counters of a job that has not finished, then cancel it.

    In this order, as a runner may drop a cancelled job's counters.
    """
    try:
        so_far = counters.so_far(result, runner)
    except Exception as error:  # noqa: BLE001 - any runner's client: the stop must still print why and cancel
        so_far = counters.StoppedRun(None, f"{runner} could not be asked: {_why(error)}")
    try:
        result.cancel()
    except Exception as error:  # noqa: BLE001 - as above: a job that cannot be cancelled is said to be so
        return dataclasses.replace(so_far, job=f"job not cancelled: {_why(error)}")
    return dataclasses.replace(so_far, job=f"job cancelled on {runner}")


def _why(error: Exception) -> str:
    """One line on what failed: a gRPC call's status and details (a portable job service), or the error."""
    if isinstance(error, Call):
        return f"{error.code().name}: {error.details()}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
