from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_1f2ed97d20f09ad4.txt"


@pytest.fixture
def seed_bytes() -> bytes:
    return SEED.read_bytes()
