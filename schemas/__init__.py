"""The Avro schemas of every record the pipeline writes, loaded from the ``.avsc`` files beside this module.

The files are the contract with downstream readers; code never restates them. Named types
shared by several records (``newswire.Source``) live in their own file and are resolved by
name, so each is defined exactly once.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import fastavro.schema

__all__ = ["ARTICLE", "DEAD_LETTER", "SCHEMA_DIR", "load"]

SCHEMA_DIR = Path(__file__).resolve().parent
ARTICLE = "newswire.Article"
DEAD_LETTER = "newswire.DeadLetter"


@functools.cache
def load(name: str) -> dict[str, Any]:
    """The parsed fastavro schema for a full record name such as ``newswire.Article``."""
    return fastavro.schema.load_schema(SCHEMA_DIR / f"{name}.avsc")

