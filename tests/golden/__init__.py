"""Golden files: for each seed file, the article records the parser must produce from it.

A golden record holds every parsed field (not entities, which belong to the model, nor
timestamps): ``expected_records`` is the one definition of that shape, used both to write
the files (``scripts/regen_golden.py``) and to compare against them in the tests.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Any

from newswire.pipelines.parse import parse_input
from newswire.schemas.records import Article, RawInput, Source

GOLDEN_DIR = Path(__file__).resolve().parent


def golden_view(record: dict[str, Any]) -> dict[str, Any]:
    """The parsed fields of an Avro article record, in golden-file form."""
    return {
        "id": record["id"],
        "headline": record["headline"],
        "captions": record["captions"],
        "body": record["body"],
        "source": {"position": record["source"]["position"], "line": record["source"]["line"]},
    }


def expected_records(seed: Path) -> list[dict[str, Any]]:
    """What the parser makes of a seed file today, in golden-file form."""
    raw = RawInput(Source(uri=str(seed), position=0, line=1), seed.read_bytes())
    stamp = datetime.datetime.now(datetime.UTC)
    return [
        golden_view(dataclasses.replace(record, processed_at=stamp).to_avro())
        for record in parse_input(raw, 0)
        if isinstance(record, Article)
    ]


def load(seed_name: str) -> list[dict[str, Any]]:
    return json.loads((GOLDEN_DIR / f"{Path(seed_name).stem}.json").read_text())
