"""The one place sources and sinks are registered: a URI's scheme names its connector.

``--input`` and ``--output`` are URIs. A scheme listed here picks its connector; anything else
(a plain path, ``file://``, ``gs://`` or any other Beam filesystem) is files: read as raw text,
written as Avro. Adding a connector is one module and one line in ``INPUTS`` or ``OUTPUTS``
(docs/architecture.md).
"""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from newswire.connectors.avro import AvroFilesOutput
from newswire.connectors.base import InputConnector, OutputConnector
from newswire.connectors.files import FilesInput
from newswire.connectors.jsonl import JsonLinesOutput
from newswire.connectors.kafka.connector import KafkaInput, KafkaOutput
from newswire.connectors.windowed_files import FileSinkOptions

__all__ = ["INPUTS", "OUTPUTS", "input_connector", "option_classes", "output_connector"]

INPUTS: dict[str, type[InputConnector]] = {
    "kafka": KafkaInput,
}
OUTPUTS: dict[str, type[OutputConnector]] = {
    "kafka": KafkaOutput,
    "jsonl": JsonLinesOutput,
}
_FILES_INPUT = FilesInput
_FILES_OUTPUT = AvroFilesOutput


def _scheme(uri: str) -> str:
    return uri.split("://", 1)[0].lower() if "://" in uri else ""


def input_connector(uri: str, options: PipelineOptions) -> InputConnector:
    """The source for ``--input``."""
    return INPUTS.get(_scheme(uri), _FILES_INPUT)(uri, options)


def output_connector(uri: str, options: PipelineOptions) -> OutputConnector:
    """The sink for ``--output``."""
    return OUTPUTS.get(_scheme(uri), _FILES_OUTPUT)(uri, options)


def option_classes() -> list[type[PipelineOptions]]:
    """Every connector's options, for ``newswire run --help`` and the job-config check."""
    connectors = [*INPUTS.values(), *OUTPUTS.values(), _FILES_INPUT, _FILES_OUTPUT]
    found = [FileSinkOptions, *(c.options_class for c in connectors if c.options_class is not None)]
    return list(dict.fromkeys(found))
