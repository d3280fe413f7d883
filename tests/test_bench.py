"""``newswire bench``: raw spaCy and the pipeline alternately, the median ratio and its spread.

Structure and consistency only: timings on a shared machine are not asserted.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.spacy]

NEWSWIRE = Path(sys.executable).parent / "newswire"


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(NEWSWIRE), "bench", *args], capture_output=True, text=True, timeout=900,
                          check=False)


def test_bench_alternates_at_least_three_rounds_and_reports_the_median_ratio():
    completed = bench("--articles", "20")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert set(figures) == {"articles", "pipeline_articles_per_s", "spacy_articles_per_s", "ratio",
                            "ratio_min", "ratio_max", "rounds"}
    assert figures["articles"] == 20
    assert figures["rounds"] >= 3
    assert 0 < figures["ratio_min"] <= figures["ratio"] <= figures["ratio_max"]
    matches = [re.fullmatch(r"round (\d+)/(\d+): (spaCy|pipeline) .*?(?:ratio (\d+\.\d+))?", line)
               for line in lines if line.startswith("round ")]
    rounds = figures["rounds"]
    # Alternating: spaCy, then the pipeline, in every round.
    assert [m.group(1, 2, 3) for m in matches] == [(str(n), str(rounds), side) for n in range(1, rounds + 1)
                                                   for side in ("spaCy", "pipeline")]
    ratios = [float(m.group(4)) for m in matches if m.group(3) == "pipeline"]
    assert min(ratios) == pytest.approx(figures["ratio_min"], abs=0.001)
    assert max(ratios) == pytest.approx(figures["ratio_max"], abs=0.001)


def test_fewer_than_three_rounds_are_refused():
    completed = bench("--rounds", "2")
    assert completed.returncode == 2
    assert "at least 3" in completed.stderr
