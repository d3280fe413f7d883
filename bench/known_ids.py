"""Memory of the streaming dedup's known ids (``connectors.kafka.known_ids.WrittenIds``).

    .venv/bin/python -c 'from newswire.bench.known_ids import memory; print(memory())'

Builds ``count`` ids of the article-id shape (``records.article_id``: 32 hex digits), written
over one day, as ``WrittenIds`` and as a plain ``dict[str, int]``, and reports the bytes per id
tracemalloc counts as kept by each, and at the peak of building ``WrittenIds`` (what a worker
needs while it reads the topic).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator

from newswire.connectors.kafka.known_ids import WrittenIds
from newswire.schemas.records import article_id

__all__ = ["memory"]

_DAY_MS = 86_400_000
_SINCE_MS = 1_700_000_000_000


def _written(count: int) -> Iterator[tuple[str, int]]:
    for i in range(count):
        yield article_id(f"Headline {i}", (f"Body of article {i}.",)), _SINCE_MS + i * _DAY_MS // count


def _kept_and_peak(build: Callable[[], object]) -> tuple[int, int]:
    tracemalloc.start()
    try:
        built = build()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del built
    return kept, peak


def memory(count: int = 1_000_000) -> dict[str, float]:
    kept, peak = _kept_and_peak(lambda: WrittenIds.collect(
        ((bytes.fromhex(i), ms) for i, ms in _written(count)), _SINCE_MS, _DAY_MS))
    dict_kept, _ = _kept_and_peak(lambda: dict(_written(count)))
    return {"ids": count, "written_ids_bytes_per_id": round(kept / count, 1),
            "written_ids_peak_bytes_per_id": round(peak / count, 1),
            "dict_bytes_per_id": round(dict_kept / count, 1)}
