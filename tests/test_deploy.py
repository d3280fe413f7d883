"""Deployment files that cannot run here (no Docker engine) are checked against what does."""

from __future__ import annotations

import re

import yaml

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
