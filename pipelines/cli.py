"""``newswire``: the console script.

    newswire run --input seeds/ --output out/ [Beam pipeline options...]
    newswire run --streaming --input kafka://HOST:PORT/TOPIC --output kafka://HOST:PORT/TOPIC
    newswire run --job_config config/jobs/seeds-to-avro.yaml --runner_config deploy/flink/runner-embedded.yaml
    newswire bench [--articles 2000]
    newswire bench --kafka [--rate 50 --seconds 60]
    newswire bench --memory [--large-mb 2048 --small-mb 20]

``run`` executes the job and prints a summary whose numbers must add up (records in =
articles written + duplicates dropped + dead letters); it exits 1 when they do not. Stopped
(Ctrl-C or SIGTERM: how a ``--streaming`` job ends), it prints the counters so far, or why
they are unknown, cancels the job and exits 130. Without
``--runner`` a batch job runs on Beam's local FnApiRunner in one process per core (the plain
``DirectRunner`` name first tries to start Prism, which it fetches from the network), and a
``--streaming`` job on the Prism binary the set-up built. With Beam's ``--no_wait_until_finish``
(and for a Dataflow ``--dry_run``) it returns once the runner has the job, without a summary.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TestOptions

from newswire.pipelines import config, job
from newswire.pipelines.launch import DATAFLOW_RUNNER, Stopped, pipeline_options, run_job, submit
from newswire.pipelines.options import NewswireOptions

__all__ = ["main"]


def _drop_worker_noise(record: logging.LogRecord) -> bool:
    """Hide the one warning every local worker process logs at start-up, which asks nothing of users."""
    return "No semi_persistent_directory found" not in record.getMessage()


def _check_io(options: PipelineOptions) -> None:
    """Fail before building a pipeline when ``--input`` or ``--output`` cannot be right.

    A dry run only builds the job, so it does not look for input files (which may be on a
    cloud filesystem that must not be reached).
    """
    dry_run = options.view_as(TestOptions).dry_run
    if dry_run and options.view_as(StandardOptions).runner != DATAFLOW_RUNNER:
        raise ValueError(f"--dry_run builds a job without submitting it on {DATAFLOW_RUNNER} only")
    job.check(options, reach=not dry_run)


def _print_run_help() -> None:
    parser = argparse.ArgumentParser(
        prog="newswire run",
        description="Run the pipeline. Beam's pipeline options (--runner, --direct_num_workers, "
        "--flink_master, ...) are accepted too and passed to the runner.",
    )
    config.add_job_arguments(parser)
    parser.print_help()


def _run(argv: Sequence[str]) -> int:
    if "-h" in argv or "--help" in argv:
        _print_run_help()
        return 0
    try:
        options = pipeline_options(argv)
        _check_io(options)
    except ValueError as error:
        print(f"newswire: {error}", file=sys.stderr)
        return 2
    standard = options.view_as(StandardOptions)
    dry_run = options.view_as(TestOptions).dry_run
    if dry_run or standard.no_wait_until_finish:
        result = submit(options)
        verb = "built (dry run, not submitted)" if dry_run else "submitted"
        print(f"newswire: job {verb} on {standard.runner}: {result.state}")
        return 0
    try:
        summary = run_job(options)
    except Stopped as stopped:  # how a --streaming job ends: Ctrl-C, or SIGTERM (below)
        print("\n".join(stopped.run.lines()))
        print("newswire: stopped", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # a second Ctrl-C while the first was being handled
        print("newswire: stopped", file=sys.stderr)
        return 130
    print("\n".join(summary.lines()))
    print(f"output: {options.view_as(NewswireOptions).output}")
    return 0 if summary.balanced else 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="newswire", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "run", add_help=False,
        help="Run the pipeline (newswire run --help lists its options and Beam's).",
    )
    commands.add_parser(
        "bench", add_help=False,
        help="Measure batch throughput against raw spaCy; with --kafka, streaming throughput and latency; "
        "with --flink-soak, a long streaming run on Flink.",
    )
    # SIGTERM (what `timeout`, Kubernetes and Docker send) stops a run the way Ctrl-C does, so
    # what it started is stopped too: Beam stops a Flink job server or Prism at exit only
    # when the interpreter exits normally, and SIGTERM's default would leave them running.
    signal.signal(signal.SIGTERM, _interrupt)
    arguments, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("apache_beam.runners.portability.local_job_service").addFilter(_drop_worker_noise)
    if arguments.command == "bench":
        # Here, not at the top: a run need not import the benchmarks (and the clients they use).
        from newswire.bench import batch, flink_soak, kafka, memory

        if "--kafka" in rest:
            return kafka.main([arg for arg in rest if arg != "--kafka"])
        if "--memory" in rest:
            return memory.main([arg for arg in rest if arg != "--memory"])
        if "--flink-soak" in rest:
            return flink_soak.main([arg for arg in rest if arg != "--flink-soak"])
        return batch.main(rest)
    return _run(rest)


if __name__ == "__main__":
    sys.exit(main())
