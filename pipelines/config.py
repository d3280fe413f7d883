"""Job and runner configuration files: ``--job_config FILE`` and ``--runner_config FILE``.

A job config says what a job does (input, output, model, streaming...); a runner config says
where and how it runs (runner, parallelism, checkpointing, project, machine type...). The
split is enforced, not just suggested: a job config may name only newswire's options, a
runner config only Beam's, so moving a job between runners swaps one file and cannot change
what the job computes.

Both are flat YAML mappings of option names (flags without ``--``) to values::

    # config/jobs/kafka-to-kafka.yaml          # deploy/flink/runner-embedded.yaml
    input: kafka://broker:9092/news-raw         runner: FlinkRunner
    output: kafka://broker:9092/news-articles   flink_master: "[local]"
    streaming: true                             checkpointing_interval: 10000

``${VAR}`` (or ``${VAR:-default}``) in a value is replaced from the environment, so files
can be committed while brokers, projects, buckets and image names come from where the job is
launched. Flags on the command
line override both files.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from apache_beam.options.pipeline_options import PipelineOptions

from newswire.connectors import registry
from newswire.pipelines.options import NewswireOptions

__all__ = ["FLINK_BOOLEAN_DEFAULTS", "JOB_CONFIG_FLAG", "RUNNER_CONFIG_FLAG", "Configured",
           "add_job_arguments", "job_option_names", "load", "runner_option_names", "split_config_flags"]

JOB_CONFIG_FLAG = "--job_config"
RUNNER_CONFIG_FLAG = "--runner_config"

# Batch or streaming is part of what a job means (a bounded read of a topic versus a
# continuous one), so it belongs to the job even though it is Beam's flag.
_JOB_OPTIONS_OF_BEAM = frozenset({"streaming"})
# Options of Beam's Java Flink runner (FlinkPipelineOptions in beam-runners-flink 2.62.0, the
# job server deploy/flink/job-server.sh assembles) that the Python SDK does not declare. Python
# passes them through to the job server as flags; tests/test_flink.py checks each against the jar.
FLINK_RUNNER_OPTIONS = frozenset({
    "allow_non_restored_state", "attached_mode", "auto_watermark_interval", "checkpoint_timeout_millis",
    "checkpointing_interval", "checkpointing_mode", "disable_metrics", "enable_stable_input_drain",
    "execution_mode_for_batch", "execution_retry_delay", "fail_on_checkpointing_errors", "faster_copy",
    "finish_bundle_before_checkpointing", "flink_conf_dir", "force_unaligned_checkpoint_enabled",
    "job_check_interval_in_secs", "latency_tracking_interval", "max_bundle_size", "max_bundle_time_mills",
    "min_pause_between_checkpoints", "num_concurrent_checkpoints", "number_of_execution_retries",
    "object_reuse", "operator_chaining", "re_iterable_group_by_key_result", "report_checkpoint_duration",
    "retain_externalized_checkpoints_on_cancellation", "savepoint_path", "shutdown_sources_after_idle_ms",
    "state_backend", "state_backend_factory", "state_backend_storage_path", "unaligned_checkpoint_enabled",
})
# The Flink runner's boolean options and their defaults there. Beam's Python SDK declares each
# as a bare flag that flips the default (``--name``, never ``--name=true``), so a boolean value
# from a file or the command line becomes that flag, or nothing when it is the default.
FLINK_BOOLEAN_DEFAULTS = {
    "allow_non_restored_state": False, "attached_mode": True, "disable_metrics": False,
    "enable_stable_input_drain": False, "fail_on_checkpointing_errors": True, "faster_copy": False,
    "finish_bundle_before_checkpointing": False, "force_unaligned_checkpoint_enabled": False,
    "object_reuse": False, "operator_chaining": True, "re_iterable_group_by_key_result": False,
    "retain_externalized_checkpoints_on_cancellation": False, "unaligned_checkpoint_enabled": False,
}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """Add newswire's own options and every registered connector's to ``parser``."""
    for options_class in (NewswireOptions, *registry.option_classes()):
        options_class._add_argparse_args(parser)


def job_option_names() -> frozenset[str]:
    """The options a job config may set: newswire's own and its connectors', plus ``streaming``."""
    parser = argparse.ArgumentParser(add_help=False)
    add_job_arguments(parser)
    return frozenset(action.dest for action in parser._actions) | _JOB_OPTIONS_OF_BEAM


def _python_option_names() -> frozenset[str]:
    return frozenset(PipelineOptions([]).get_all_options())


def runner_option_names() -> frozenset[str]:
    """The options a runner config may set: Beam's that are not job options, and the Flink runner's."""
    return (_python_option_names() | FLINK_RUNNER_OPTIONS) - job_option_names()


@dataclass(frozen=True)
class Configured:
    """A command line with its config files read: option values from the files, and the rest."""

    values: dict[str, object]
    argv: list[str]

    def named_on_command_line(self) -> frozenset[str]:
        return frozenset(arg[2:].split("=", 1)[0] for arg in self.argv if arg.startswith("--"))

    def explicit(self) -> frozenset[str]:
        """Option names set by a file or named on the command line (so no default replaces them)."""
        return frozenset(self.values) | self.named_on_command_line()

    def pipeline_options(self) -> PipelineOptions:
        """Beam options: the command line, plus the files' values for options it does not name.

        Values of options Python declares are set as they are (typed by YAML); the Java
        runner's options become flags, which is how Python hands them on to the job server.
        """
        named = self.named_on_command_line()
        argv = [flag for argument in self.argv for flag in _java_boolean_flag(argument)]
        from_files = {name: value for name, value in self.values.items() if name not in named}
        if not from_files:
            return PipelineOptions(argv)
        python = _python_option_names()
        runner_flags = [
            flag for name, value in from_files.items() if name not in python
            for flag in _java_flag(name, value)
        ]
        declared = {name: value for name, value in from_files.items() if name in python}
        return PipelineOptions([*runner_flags, *argv], **declared)


def _java_flag(name: str, value: object) -> list[str]:
    """A Java runner option as the flags Beam's Python SDK hands on to the job server."""
    if name in FLINK_BOOLEAN_DEFAULTS:
        return [f"--{name}"] if value != FLINK_BOOLEAN_DEFAULTS[name] else []
    return [f"--{name}={value}"]


def _java_boolean_flag(argument: str) -> list[str]:
    """``--name=true|false`` of a Flink boolean option as ``_java_flag`` has it; others as they are."""
    flag, has_value, value = argument.partition("=")
    name = flag[2:]
    if not (has_value and flag.startswith("--") and name in FLINK_BOOLEAN_DEFAULTS):
        return [argument]
    if value.lower() not in ("true", "false"):
        raise ValueError(f"{flag} takes true or false, not {value!r}")
    return _java_flag(name, value.lower() == "true")


def _expand(value: object, path: Path) -> object:
    """``${VAR}`` replaced from the environment; a value that is only a variable gets its YAML type.

    An unset variable without a default is an error rather than an empty string: an empty
    project or broker would fail later and further from its cause.
    """
    if isinstance(value, list):
        return [_expand(item, path) for item in value]
    if not isinstance(value, str):
        return value

    def variable(match: re.Match) -> str:
        name, default = match[1], match[2]
        if name not in os.environ and default is None:
            raise ValueError(f"{path}: {match[0]} is not set in the environment")
        return os.environ.get(name, default)

    expanded = _VARIABLE.sub(variable, value)
    return yaml.safe_load(expanded) if _VARIABLE.fullmatch(value) else expanded


def load(path: Path, allowed: frozenset[str], kind: str) -> dict[str, object]:
    """The option values in one config file, each checked to be a ``kind`` option."""
    try:
        content = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read {kind} config {path}: {error}") from error
    if not isinstance(content, Mapping):
        raise ValueError(f"{path}: a {kind} config is a mapping of option names to values")
    unknown = sorted(str(name) for name in content if name not in allowed)
    if unknown:
        raise ValueError(
            f"{path}: {', '.join(unknown)} {'is not a' if len(unknown) == 1 else 'are not'} "
            f"{kind} option{'' if len(unknown) == 1 else 's'} (job configs hold newswire's options, "
            "runner configs Beam's)"
        )
    return {name: _expand(value, path) for name, value in content.items() if value is not None}


def split_config_flags(argv: Sequence[str]) -> Configured:
    """Read the files ``--job_config`` and ``--runner_config`` name; keep every other argument."""
    # The allowed names are worked out only for a file that is given: every run starts here.
    files = {JOB_CONFIG_FLAG: (job_option_names, "job"), RUNNER_CONFIG_FLAG: (runner_option_names, "runner")}
    values: dict[str, object] = {}
    rest: list[str] = []
    arguments = iter(argv)
    for argument in arguments:
        flag, has_value, value = argument.partition("=")
        if flag not in files:
            rest.append(argument)
            continue
        if not has_value:
            value = next(arguments, "")
        if not value:
            raise ValueError(f"{flag} needs a file")
        allowed, kind = files[flag]
        values.update(load(Path(value), allowed(), kind))
    return Configured(values, rest)
