"""The Avro schemas of every record the pipeline writes, loaded from the ``.avsc`` files beside this module.

The files are the contract with downstream readers; code never restates them. Named types
shared by several records (``newswire.Source``) live in their own file and are resolved by
name, so each is defined exactly once.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import fastavro.schema

__all__ = ["ARTICLE", "DEAD_LETTER", "SCHEMA_DIR", "load", "standalone_json"]

SCHEMA_DIR = Path(__file__).resolve().parent
ARTICLE = "newswire.Article"
DEAD_LETTER = "newswire.DeadLetter"


@functools.cache
def load(name: str) -> dict[str, Any]:
    """The parsed fastavro schema for a full record name such as ``newswire.Article``."""
    return fastavro.schema.load_schema(SCHEMA_DIR / f"{name}.avsc")



def _without_fastavro_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_fastavro_keys(v) for k, v in node.items() if not k.startswith("__")}
    if isinstance(node, list):
        return [_without_fastavro_keys(v) for v in node]
    return node


def standalone_json(name: str) -> str:
    """The record's schema as one JSON document, shared named types inlined where first used.

    For readers that cannot resolve ``.avsc`` files by name: a schema registry, other
    languages' Avro libraries. Keys are sorted so that every process sends a registry the
    same text (fastavro's key order varies between processes).
    """
    return json.dumps(_without_fastavro_keys(load(name)), sort_keys=True)
