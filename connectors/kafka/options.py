"""The Kafka connector's options (``--kafka_*``, ``--dead_letter_topic``, ``--schema_registry_url``).

Declared here rather than with the job's own options so that the connector is the one
module that knows Kafka; Beam parses every ``PipelineOptions`` subclass, so these flags are
accepted wherever the connector is registered.
"""

from __future__ import annotations

import os

from apache_beam.options.pipeline_options import PipelineOptions

from newswire.connectors.kafka.settings import KafkaConnection
from newswire.connectors.kafka.source import ReadPacing

__all__ = ["KafkaOptions"]


class KafkaOptions(PipelineOptions):
    """How to reach the brokers of a ``kafka://`` input or output, and how to read and write there."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--dead_letter_topic",
            help="With a Kafka --output: the topic for dead letters. Default: <output topic>.dead-letters.",
        )
        parser.add_argument(
            "--kafka_group_id", default=os.environ.get("NEWSWIRE_KAFKA_GROUP_ID", "newswire"),
            help="Consumer group whose committed offsets a Kafka --input starts from and "
            "advances (env NEWSWIRE_KAFKA_GROUP_ID). Default: %(default)s.",
        )
        parser.add_argument(
            "--kafka_read_seconds", type=float, default=ReadPacing.busy_seconds,
            help="Streaming from Kafka: how long one read of a partition goes on taking the records "
            "the client already holds (a backlog) before it hands back to the runner (longer: fewer "
            "deferrals; its records leave with its bundle). Default: %(default)s.",
        )
        parser.add_argument(
            "--kafka_idle_resume_seconds", type=float, default=ReadPacing.idle_resume_seconds,
            help="Streaming from Kafka: how long a partition that had nothing new waits before "
            "it is polled again (shorter: less latency at low rates, more deferrals). "
            "Default: %(default)s.",
        )
        parser.add_argument(
            "--schema_registry_url", default=os.environ.get("NEWSWIRE_SCHEMA_REGISTRY_URL"),
            help="Write Kafka values in the Confluent wire format under ids from this schema "
            "registry (env NEWSWIRE_SCHEMA_REGISTRY_URL). Default: Avro single-object encoding.",
        )
        for name, help_text in _KAFKA_CLIENT_SETTINGS.items():
            env = f"NEWSWIRE_KAFKA_{name.upper()}"
            parser.add_argument(
                f"--kafka_{name}", default=os.environ.get(env), help=f"{help_text} (env {env})."
            )

    def kafka_read_pacing(self) -> ReadPacing:
        return ReadPacing(self.kafka_read_seconds, self.kafka_idle_resume_seconds)

    def kafka_connection(self, bootstrap_servers: str) -> KafkaConnection:
        """Client settings for the brokers of a topic URI. Passwords come from the environment only."""
        return KafkaConnection(
            bootstrap_servers=bootstrap_servers,
            security_protocol=self.kafka_security_protocol or "PLAINTEXT",
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            ssl_cafile=self.kafka_ssl_cafile,
            ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
            sasl_password_secret=self.kafka_sasl_password_secret,
            ssl_password_secret=self.kafka_ssl_password_secret,
        )


# Kafka client settings that are not secrets. Passwords are read from the environment on the
# workers (connectors.kafka.settings), so they never reach an option, a log or a job graph.
_KAFKA_CLIENT_SETTINGS = {
    "security_protocol": "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    "sasl_mechanism": "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
    "sasl_username": "SASL user; the password is read from NEWSWIRE_KAFKA_SASL_PASSWORD",
    "ssl_cafile": "CA bundle to verify the brokers",
    "ssl_certfile": "client certificate",
    "ssl_keyfile": "client key; its password is read from NEWSWIRE_KAFKA_SSL_PASSWORD",
    "sasl_password_secret": "Secret Manager secret version (projects/P/secrets/S/versions/V) holding the "
    "SASL password, read on the workers when NEWSWIRE_KAFKA_SASL_PASSWORD is not set there (Dataflow)",
    "ssl_password_secret": "Secret Manager secret version holding the client key's password, read on the "
    "workers when NEWSWIRE_KAFKA_SSL_PASSWORD is not set there",
}
