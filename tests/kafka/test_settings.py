"""Kafka client settings: passwords are looked up on the worker, never carried by the job."""

from __future__ import annotations

import pickle

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from google.cloud import secretmanager

from newswire.connectors.kafka import settings
from newswire.connectors.kafka.options import KafkaOptions
from newswire.connectors.kafka.settings import SASL_PASSWORD_ENV, SSL_PASSWORD_ENV, KafkaConnection

SASL_SECRET = "projects/newswire/secrets/kafka-sasl/versions/latest"
KEY_SECRET = "projects/newswire/secrets/kafka-key/versions/2"


class FakeSecretManager:
    """In-memory stand-in for SecretManagerServiceClient: the versions it holds, the reads it served."""

    versions = {SASL_SECRET: b"from-secret-manager", KEY_SECRET: b"key-password"}
    reads: list[str] = []

    def access_secret_version(self, name: str):
        self.reads.append(name)
        payload = type("Payload", (), {"data": self.versions[name]})
        return type("Response", (), {"payload": payload})


@pytest.fixture(autouse=True)
def fake_secret_manager(monkeypatch):
    monkeypatch.delenv(SASL_PASSWORD_ENV, raising=False)
    monkeypatch.delenv(SSL_PASSWORD_ENV, raising=False)
    monkeypatch.setattr(secretmanager, "SecretManagerServiceClient", FakeSecretManager)
    FakeSecretManager.reads = []
    settings.secret_manager_value.cache_clear()
    yield
    settings.secret_manager_value.cache_clear()


def sasl(**kwargs) -> KafkaConnection:
    return KafkaConnection("b1:9092,b2:9092", "SASL_SSL", "SCRAM-SHA-512", "newswire", **kwargs)


def test_the_password_comes_from_the_worker_environment_and_is_not_pickled(monkeypatch):
    connection = sasl()
    monkeypatch.setenv(SASL_PASSWORD_ENV, "from-env")
    config = connection.client_config()
    assert config["sasl_plain_password"] == "from-env"
    assert config["bootstrap_servers"] == ["b1:9092", "b2:9092"]
    assert b"from-env" not in pickle.dumps(connection)


def test_without_the_variable_the_named_secret_version_is_read_once_per_process():
    connection = sasl(sasl_password_secret=SASL_SECRET, ssl_password_secret=KEY_SECRET)
    for _ in range(3):
        config = connection.client_config()
    assert (config["sasl_plain_password"], config["ssl_password"]) == ("from-secret-manager", "key-password")
    assert FakeSecretManager.reads == [SASL_SECRET, KEY_SECRET]
    assert b"from-secret-manager" not in pickle.dumps(connection)


def test_the_environment_wins_over_secret_manager(monkeypatch):
    monkeypatch.setenv(SASL_PASSWORD_ENV, "from-env")
    assert sasl(sasl_password_secret=SASL_SECRET).client_config()["sasl_plain_password"] == "from-env"
    assert FakeSecretManager.reads == []


def test_no_password_and_no_secret_means_none():
    assert sasl().client_config()["sasl_plain_password"] is None
    assert "ssl_password" not in sasl().client_config()


def test_the_options_name_the_secret_versions():
    options = PipelineOptions([f"--kafka_sasl_password_secret={SASL_SECRET}", "--kafka_sasl_mechanism=PLAIN"])
    connection = options.view_as(KafkaOptions).kafka_connection("b:9092")
    assert connection.sasl_password_secret == SASL_SECRET
    assert connection.client_config()["sasl_plain_password"] == "from-secret-manager"
