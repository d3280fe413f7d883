"""Where a Kafka topic is and how to connect to it, without ever holding a secret.

``kafka://HOST:PORT[,HOST:PORT...]/TOPIC`` names a topic. Connection settings (security
protocol, SASL mechanism and user, TLS files, consumer group) come from pipeline options;
secrets (the SASL password, the TLS key password) come only from environment variables or,
where workers cannot be given environment variables (Dataflow), from Google Secret Manager
by the name of a secret version. Either way they are read on the worker when a client is
built: they are never pickled into the pipeline, shown in its display data, or passed on a
command line.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from typing import Any

__all__ = [
    "SASL_PASSWORD_ENV",
    "SSL_PASSWORD_ENV",
    "KafkaConnection",
    "TopicUri",
]

SASL_PASSWORD_ENV = "NEWSWIRE_KAFKA_SASL_PASSWORD"
SSL_PASSWORD_ENV = "NEWSWIRE_KAFKA_SSL_PASSWORD"
_URI = re.compile(r"^kafka://(?P<servers>[^/]+)/(?P<topic>[A-Za-z0-9._-]+)$")


@dataclasses.dataclass(frozen=True)
class TopicUri:
    """A topic and the brokers to bootstrap from."""

    bootstrap_servers: str
    topic: str

    @classmethod
    def parse(cls, uri: str) -> TopicUri:
        match = _URI.match(uri)
        if match is None:
            raise ValueError(f"not a Kafka topic URI (kafka://HOST:PORT/TOPIC): {uri!r}")
        return cls(bootstrap_servers=match["servers"], topic=match["topic"])

    def with_topic(self, topic: str) -> TopicUri:
        return dataclasses.replace(self, topic=topic)

    def __str__(self) -> str:
        return f"kafka://{self.bootstrap_servers}/{self.topic}"


@dataclasses.dataclass(frozen=True)
class KafkaConnection:
    """Client settings shared by the source and the sinks; secrets are looked up, not stored."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    sasl_password_secret: str | None = None
    ssl_password_secret: str | None = None

    def client_config(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python clients, secrets filled in from the environment."""
        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl_mechanism"] = self.sasl_mechanism
            config["sasl_plain_username"] = self.sasl_username
            config["sasl_plain_password"] = _secret(SASL_PASSWORD_ENV, self.sasl_password_secret)
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if getattr(self, name):
                config[name] = getattr(self, name)
        ssl_password = _secret(SSL_PASSWORD_ENV, self.ssl_password_secret)
        if ssl_password:
            config["ssl_password"] = ssl_password
        return config


def _secret(env: str, secret_version: str | None) -> str | None:
    """A password from the worker's environment, else from Secret Manager when a version is named."""
    if os.environ.get(env):
        return os.environ[env]
    return secret_manager_value(secret_version) if secret_version else None


@functools.cache
def secret_manager_value(secret_version: str) -> str:
    """The payload of a Secret Manager secret version, read once per process with the worker's credentials."""
    try:
        from google.cloud import secretmanager
    except ImportError as error:  # the dataflow extra is not installed
        raise RuntimeError(
            f"reading {secret_version} needs google-cloud-secret-manager (pip install 'newswire[dataflow]')"
        ) from error
    response = secretmanager.SecretManagerServiceClient().access_secret_version(name=secret_version)
    return response.payload.data.decode("utf-8")
