"""A NER process killed mid-run: the run still writes every article with entities, or fails loudly.

It never reports success with dead letters for a process that died (broken infrastructure
is not bad input).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newswire.bench.memory import descendants
from tests import avro_files
from tests.hostile_inputs import _article

pytestmark = [pytest.mark.e2e, pytest.mark.spacy]

NEWSWIRE = Path(sys.executable).parent / "newswire"
ARTICLES = 800


def _ner_processes(pid: int) -> list[int]:
    """The spawned processes of the job's NER pools (not the resource tracker)."""
    pids = []
    for child in descendants(pid):
        try:
            cmdline = (Path("/proc") / str(child) / "cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            pids.append(child)
    return pids


def test_a_killed_ner_process_costs_no_article(tmp_path):
    rng = random.Random(5)
    folder = tmp_path / "in"
    folder.mkdir()
    for f in range(4):
        text = "\n\n\n".join(_article(rng, f * 1000 + k, 3) for k in range(ARTICLES // 4))
        (folder / f"feed-{f}.txt").write_text(text)
    out = tmp_path / "out"
    job = subprocess.Popen(
        [str(NEWSWIRE), "run", "--input", str(folder), "--output", str(out), "--ner_processes", "2",
         "--ner_batch_size", "16"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    killed = None
    deadline = time.monotonic() + 240
    while killed is None and job.poll() is None and time.monotonic() < deadline:
        pool = _ner_processes(job.pid)
        if pool:
            time.sleep(4)  # the models have loaded and batches are on their way
            victims = [p for p in _ner_processes(job.pid) if p in pool]
            if victims:
                os.kill(victims[0], signal.SIGKILL)
                killed = victims[0]
        time.sleep(0.2)
    stdout, stderr = job.communicate(timeout=600)
    assert killed is not None, "the NER pool never started (or the run ended first)"
    dead_letters = avro_files.read_fastavro(out, "dead-letters") if out.exists() else []
    assert not [d for d in dead_letters if d["reason"] == "ENRICH_ERROR"]
    if job.returncode != 0:  # failing loudly is allowed; then the cause is named
        assert "BrokenProcessPool" in stderr or "terminated abruptly" in stderr, stderr[-3000:]
        return
    articles = avro_files.read_fastavro(out, "articles")
    assert len(articles) == ARTICLES, stdout
    assert all(a["entities"] for a in articles)
    balance = f"records in = written + duplicates + dead letters: {ARTICLES} = {ARTICLES} + 0 + 0 (balanced)"
    assert balance in stdout
    assert "a NER process of" in stderr and "died; starting a new pool" in stderr
