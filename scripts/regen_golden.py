"""Regenerate tests/golden/<seed>.json: the parsed articles of each file in seeds/.

Run after a deliberate parser change, then read the diff: the golden files are reviewed
expectations, not snapshots to refresh blindly.

    .venv/bin/python scripts/regen_golden.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.golden import expected_records  # noqa: E402 - needs the repo root on the path

for seed in sorted((ROOT / "seeds").iterdir()):
    target = ROOT / "tests" / "golden" / f"{seed.stem}.json"
    target.write_text(json.dumps(expected_records(seed), indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {target.relative_to(ROOT)}")
