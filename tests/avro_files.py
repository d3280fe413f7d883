"""Reading the pipeline's Avro output back, with fastavro and with the Apache avro library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import avro.datafile
import avro.io
import fastavro


def files(folder: Path, prefix: str) -> list[Path]:
    return sorted(folder.glob(f"{prefix}-*.avro"))


def read_fastavro(folder: Path, prefix: str) -> list[dict[str, Any]]:
    records = []
    for path in files(folder, prefix):
        with path.open("rb") as handle:
            records.extend(fastavro.reader(handle))
    return records


def read_apache_avro(folder: Path, prefix: str) -> list[dict[str, Any]]:
    records = []
    for path in files(folder, prefix):
        with path.open("rb") as handle, avro.datafile.DataFileReader(handle, avro.io.DatumReader()) as reader:
            records.extend(reader)
    return records


def codec_of(path: Path) -> str:
    with path.open("rb") as handle:
        return fastavro.reader(handle).codec
