"""Avro message values with a standard header, so any Avro-aware consumer can decode them.

Two framings:

* Avro single-object encoding (the default): ``C3 01``, the schema's 8-byte little-endian
  CRC-64-AVRO fingerprint of its Parsing Canonical Form, then the Avro binary datum. A
  reader that knows the schema checks the fingerprint; no registry is needed.
* The Confluent wire format, when a schema registry is used: byte ``0``, the 4-byte
  big-endian schema id the registry assigned, then the Avro binary datum.

Errors are raised as ``AvroFramingError`` so callers can dead-letter a bad message without
knowing fastavro's exception types.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import fastavro
import fastavro.schema

__all__ = [
    "SINGLE_OBJECT_MAGIC",
    "AvroFramingError",
    "ConfluentFraming",
    "SingleObjectFraming",
    "fingerprint",
]

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
_CONFLUENT_MAGIC = b"\x00"


class AvroFramingError(ValueError):
    """A value that is not a framed Avro datum of the expected schema."""


def fingerprint(schema: dict[str, Any]) -> bytes:
    """The schema's CRC-64-AVRO fingerprint, as the 8 bytes single-object encoding carries."""
    canonical = fastavro.schema.to_parsing_canonical_form(schema)
    return bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))


def _datum(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    try:
        fastavro.schemaless_writer(buffer, schema, record)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise AvroFramingError(f"record does not fit schema {schema['name']}: {error}") from error
    return buffer.getvalue()


def _read_datum(schema: dict[str, Any], payload: bytes) -> dict[str, Any]:
    try:
        return fastavro.schemaless_reader(io.BytesIO(payload), schema, schema)
    except (EOFError, ValueError, IndexError, UnicodeDecodeError, struct.error) as error:
        raise AvroFramingError(f"not a {schema['name']} datum: {error}") from error


class _HeaderFraming:
    """A fixed header, then the Avro binary datum of one schema."""

    def __init__(self, schema: dict[str, Any], header: bytes, header_name: str):
        self._schema = schema
        self._header = header
        self._header_name = header_name

    def encode(self, record: dict[str, Any]) -> bytes:
        return self._header + _datum(self._schema, record)

    def decode(self, value: bytes) -> dict[str, Any]:
        if not value.startswith(self._header):
            raise AvroFramingError(
                f"value does not start with the {self._header_name} ({self._header.hex()}): "
                f"{value[: len(self._header)].hex()}"
            )
        return _read_datum(self._schema, value[len(self._header) :])


class SingleObjectFraming(_HeaderFraming):
    """Avro single-object encoding for one schema."""

    def __init__(self, schema: dict[str, Any]):
        super().__init__(
            schema, SINGLE_OBJECT_MAGIC + fingerprint(schema), f"single-object header of {schema['name']}"
        )


class ConfluentFraming(_HeaderFraming):
    """The Confluent wire format for one schema under a registry-assigned id."""

    def __init__(self, schema: dict[str, Any], schema_id: int):
        super().__init__(schema, _CONFLUENT_MAGIC + struct.pack(">I", schema_id), "Confluent header")
