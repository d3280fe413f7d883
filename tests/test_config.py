"""Job and runner config files: what they may hold, how they combine with the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import FlinkRunnerOptions, StandardOptions

from newswire.pipelines import cli, config, launch
from newswire.pipelines.options import NewswireOptions
from tests.conftest import ROOT

JOB_CONFIGS = sorted((ROOT / "config" / "jobs").glob("*.yaml"))
RUNNER_CONFIGS = sorted((ROOT / "deploy").rglob("runner*.yaml"))


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_shipped_configs_are_there():
    assert {p.name for p in JOB_CONFIGS} >= {"seeds-to-avro.yaml", "kafka-to-kafka.yaml"}
    assert {p.relative_to(ROOT / "deploy").as_posix() for p in RUNNER_CONFIGS} >= {
        "local/runner.yaml", "local/runner-streaming.yaml", "flink/runner-embedded.yaml",
        "dataflow/runner.yaml",
    }


@pytest.mark.parametrize("path", JOB_CONFIGS, ids=lambda p: p.name)
def test_every_job_config_holds_only_job_options(path, monkeypatch):
    monkeypatch.setenv("NEWSWIRE_KAFKA_BOOTSTRAP", "broker:9092")
    assert config.load(path, config.job_option_names(), "job")


@pytest.mark.parametrize("path", RUNNER_CONFIGS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_runner_config_holds_only_runner_options(path, monkeypatch):
    for name in ("NEWSWIRE_GCP_PROJECT", "NEWSWIRE_GCP_REGION", "NEWSWIRE_GCS_BUCKET", "NEWSWIRE_IMAGE"):
        monkeypatch.setenv(name, "x")
    values = config.load(path, config.runner_option_names(), "runner")
    assert "runner" in values


def test_the_two_kinds_do_not_overlap():
    assert config.job_option_names() & config.runner_option_names() == frozenset()
    assert {"input", "output", "ner_model", "streaming"} <= config.job_option_names()
    assert {"runner", "flink_master", "parallelism", "sdk_container_image"} <= config.runner_option_names()


def test_a_runner_option_in_a_job_config_is_refused(tmp_path):
    job = write(tmp_path, "job.yaml", "input: seeds/\nrunner: FlinkRunner\n")
    with pytest.raises(ValueError, match=r"job\.yaml: runner is not a job option"):
        config.split_config_flags(["--job_config", job])


def test_a_job_option_in_a_runner_config_is_refused(tmp_path):
    runner = write(tmp_path, "runner.yaml", "runner: FlinkRunner\nner_model: x\noutput: y\n")
    with pytest.raises(ValueError, match=r"ner_model, output are not runner options"):
        config.split_config_flags([f"--runner_config={runner}"])


def test_files_combine_and_the_command_line_wins(tmp_path):
    job = write(tmp_path, "job.yaml", "input: seeds/\noutput: out/\nner_batch_size: 8\nstreaming: true\n")
    runner = write(tmp_path, "runner.yaml", "runner: FlinkRunner\nflink_master: host:8081\nparallelism: 4\n"
                   "flink_job_server_jar: /opt/job-server.jar\n")
    options = launch.pipeline_options(
        ["--job_config", job, "--runner_config", runner, "--output=elsewhere/", "--parallelism", "2"]
    )
    newswire = options.view_as(NewswireOptions)
    assert (newswire.input, newswire.output, newswire.ner_batch_size) == ("seeds/", "elsewhere/", 8)
    assert options.view_as(StandardOptions).streaming is True
    flink = options.view_as(FlinkRunnerOptions)
    assert (flink.flink_master, flink.parallelism) == ("host:8081", 2)  # not the local default [local]
    assert options.get_all_options()["flink_job_server_jar"] == "/opt/job-server.jar"


def test_environment_variables_fill_values(tmp_path, monkeypatch):
    runner = write(tmp_path, "runner.yaml", "runner: FlinkRunner\nparallelism: ${PARALLEL}\n"
                   "flink_master: ${MASTER:-localhost:8081}\n")
    monkeypatch.setenv("PARALLEL", "3")
    values = config.split_config_flags(["--runner_config", runner]).values
    assert values == {"runner": "FlinkRunner", "parallelism": 3, "flink_master": "localhost:8081"}
    monkeypatch.delenv("PARALLEL")
    with pytest.raises(ValueError, match=r"\$\{PARALLEL\} is not set"):
        config.split_config_flags(["--runner_config", runner])


@pytest.mark.parametrize("text", ["- runner\n", "runner: [unclosed\n"])
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path, text):
    with pytest.raises(ValueError, match="runner config"):
        config.split_config_flags(["--runner_config", write(tmp_path, "r.yaml", text)])


def test_the_cli_reports_a_bad_config_and_exits_2(tmp_path, capsys):
    job = write(tmp_path, "job.yaml", "input: seeds/\nmachine_type: n2-standard-4\n")
    assert cli.main(["run", "--job_config", job, "--output", str(tmp_path)]) == 2
    assert "machine_type is not a job option" in capsys.readouterr().err
