"""``newswire``: the console script.

    newswire run --input seeds/ --output out/ [Beam pipeline options...]
    newswire run --streaming --input kafka://HOST:PORT/TOPIC --output kafka://HOST:PORT/TOPIC
    newswire bench [--articles 2000]
    newswire bench --kafka [--rate 50 --seconds 60]

``run`` executes the job and prints a summary whose numbers must add up (records in =
articles written + duplicates dropped + dead letters); it exits 1 when they do not. Without
``--runner`` a batch job runs on Beam's local FnApiRunner in one process per core (the plain
``DirectRunner`` name first tries to start Prism, which it fetches from the network), and a
``--streaming`` job on the Prism binary the set-up built.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
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

from connectors.files import matching_files
from connectors.kafka.settings import TopicUri, is_kafka_uri
from pipelines import counters, job
from pipelines.options import NewswireOptions

__all__ = ["LOCAL_RUNNER", "LOCAL_STREAMING_RUNNER", "main", "pipeline_options", "run_job"]

LOCAL_RUNNER = "FnApiRunner"
LOCAL_STREAMING_RUNNER = "PrismRunner"
FLINK_JOB_SERVER_SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "flink" / "job-server.sh"
FLINK_CHECKPOINT_INTERVAL_MS = 10_000


def _drop_worker_noise(record: logging.LogRecord) -> bool:
    """Hide the one warning every local worker process logs at start-up, which asks nothing of users."""
    return "No semi_persistent_directory found" not in record.getMessage()


def _given(argv: Sequence[str], flag: str) -> bool:
    return any(arg == flag or arg.startswith(flag + "=") for arg in argv)


def pipeline_options(argv: Sequence[str]) -> PipelineOptions:
    """Options from the command line, with local defaults where the user named no runner.

    Batch: the FnApiRunner on every core (``direct_num_workers=0``) in separate processes,
    since NER is CPU-bound Python and threads would share one core. Streaming: Beam's Prism
    runner, the local runner that really streams, from the binary the set-up built next to
    this Python (``.venv/bin/prism``). ``--runner FlinkRunner``: see ``_flink_defaults``.
    """
    options = PipelineOptions(list(argv))
    standard = options.view_as(StandardOptions)
    if standard.runner is None and standard.streaming:
        standard.runner = LOCAL_STREAMING_RUNNER
        prism = options.view_as(PrismRunnerOptions)
        if not prism.prism_location:
            prism.prism_location = str(Path(sys.executable).parent / "prism")
        if not _given(argv, "--prism_log_level"):
            prism.prism_log_level = "warn"
        _ner_on_every_core(options, argv)
    elif standard.runner == "FlinkRunner":
        options = _flink_defaults(argv, standard.streaming)
    elif standard.runner is None:
        standard.runner = LOCAL_RUNNER
        direct = options.view_as(DirectOptions)
        if not _given(argv, "--direct_running_mode"):
            direct.direct_running_mode = "multi_processing"
        if not _given(argv, "--direct_num_workers"):
            direct.direct_num_workers = 0
    return options


def _ner_on_every_core(options: PipelineOptions, argv: Sequence[str]) -> None:
    """Spread NER over one process per core where a runner gives the job one Python process."""
    if not _given(argv, "--ner_processes"):
        options.view_as(NewswireOptions).ner_processes = os.cpu_count() or 1


def _flink_defaults(argv: Sequence[str], streaming: bool) -> PipelineOptions:
    """Options that run Flink on this machine with no download and no Docker.

    The job server comes from deploy/flink/job-server.sh (assembled from Maven Central), the
    cluster is Flink's embedded one, and the Python workers run in this process (LOOPBACK).
    LOOPBACK runs every SDK worker as a thread of this one process, so NER is spread over
    one process per core, as on Prism. Parallelism stays Flink's default, which for the
    embedded cluster is one slot per core.

    A streaming job checkpoints every ``FLINK_CHECKPOINT_INTERVAL_MS`` unless
    ``--checkpointing_interval`` says otherwise. Without checkpoints Flink does not restart a
    failed job, and a job restarted from none re-reads from the committed offsets; with
    them, a failed task resumes from the last checkpoint (the reader's positions, the dedup
    and commit state), so little is read twice. Ten seconds keeps that replay short while a
    checkpoint of this job costs well under a second here. The option is the job server's
    own (Python does not know it), so the default is passed as an override, which Beam sends
    along once the job server has described its options.
    """
    runner_defaults = {}
    if streaming and not _given(argv, "--checkpointing_interval"):
        runner_defaults["checkpointing_interval"] = FLINK_CHECKPOINT_INTERVAL_MS
    options = PipelineOptions(list(argv), **runner_defaults)
    flink = options.view_as(FlinkRunnerOptions)
    if not flink.flink_job_server_jar:
        flink.flink_job_server_jar = subprocess.run(
            [str(FLINK_JOB_SERVER_SCRIPT)], check=True, capture_output=True, text=True
        ).stdout.strip()
    if not _given(argv, "--flink_master"):
        flink.flink_master = "[local]"
    portable = options.view_as(PortableOptions)
    if not portable.environment_type:
        portable.environment_type = "LOOPBACK"
    if portable.environment_type == "LOOPBACK":
        _ner_on_every_core(options, argv)
    return options


def run_job(options: PipelineOptions) -> counters.RunSummary:
    """Run the job to completion and return what its counters say."""
    newswire = options.view_as(NewswireOptions)
    pipeline = beam.Pipeline(options=options)
    job.build(pipeline, newswire)
    result = pipeline.run()
    result.wait_until_finish()
    return counters.summarize(result)


def _check_io(newswire: NewswireOptions) -> None:
    """Fail before building a pipeline when ``--input`` or ``--output`` cannot be right."""
    for value in (newswire.input, newswire.output):
        if is_kafka_uri(value):
            TopicUri.parse(value)
    if not is_kafka_uri(newswire.input) and not matching_files(newswire.input):
        raise ValueError(f"no input files match {newswire.input!r}")


def _print_run_help() -> None:
    parser = argparse.ArgumentParser(
        prog="newswire run",
        description="Run the pipeline. Beam's pipeline options (--runner, --direct_num_workers, "
        "--flink_master, ...) are accepted too and passed to the runner.",
    )
    NewswireOptions._add_argparse_args(parser)
    parser.print_help()


def _run(argv: Sequence[str]) -> int:
    if "-h" in argv or "--help" in argv:
        _print_run_help()
        return 0
    options = pipeline_options(argv)
    newswire = options.view_as(NewswireOptions)
    try:
        newswire.require_io()
        _check_io(newswire)
    except ValueError as error:
        print(f"newswire: {error}", file=sys.stderr)
        return 2
    try:
        summary = run_job(options)
    except KeyboardInterrupt:  # how a --streaming job is stopped from a terminal
        print("newswire: stopped", file=sys.stderr)
        return 130
    print("\n".join(summary.lines()))
    print(f"output: {newswire.output}")
    return 0 if summary.balanced else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="newswire", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "run", add_help=False,
        help="Run the pipeline (newswire run --help lists its options and Beam's).",
    )
    commands.add_parser(
        "bench", add_help=False,
        help="Measure batch throughput against raw spaCy; with --kafka, streaming throughput and latency.",
    )
    arguments, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("apache_beam.runners.portability.local_job_service").addFilter(_drop_worker_noise)
    if arguments.command == "bench":
        from bench import batch, kafka

        if "--kafka" in rest:
            return kafka.main([arg for arg in rest if arg != "--kafka"])
        return batch.main(rest)
    return _run(rest)


if __name__ == "__main__":
    sys.exit(main())
