"""The one schema-registry call the sink needs: register a schema, get its id.

Speaks the Confluent Schema Registry REST API (``POST /subjects/{subject}/versions``), which
returns the existing id when the schema is already registered under the subject, so every
worker can call it at start-up.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from newswire import schemas

__all__ = ["SchemaRegistryError", "register_schema"]

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryError(RuntimeError):
    """The registry refused the schema or could not be reached."""


def register_schema(registry_url: str, subject: str, schema_name: str, timeout_s: float = 10) -> int:
    """The registry's id for a schema of ``schemas/`` under ``subject`` (``<topic>-value`` by convention)."""
    body = json.dumps({"schema": schemas.standalone_json(schema_name)}).encode()
    request = urllib.request.Request(
        f"{registry_url.rstrip('/')}/subjects/{subject}/versions",
        data=body,
        method="POST",
        headers={"Content-Type": _CONTENT_TYPE, "Accept": _CONTENT_TYPE},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(json.load(response)["id"])
    except (urllib.error.URLError, KeyError, ValueError, OSError) as error:
        raise SchemaRegistryError(f"cannot register {subject} at {registry_url}: {error}") from error
