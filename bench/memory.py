"""``newswire bench --memory``: peak memory of a batch run over one large file against one small file.

Usage::

    newswire bench --memory [--large-mb 2048] [--small-mb 20]

Each run is ``newswire run`` over one generated file of feed articles (the sample's,
numbered, paragraphs shuffled: all distinct), with the fast NER stand-in
(``bench.ner_stand_in``), since the model's own memory is not what is measured. While it
runs, every process of its tree is sampled from ``/proc`` (``VmHWM``, a process's peak
resident set), and the figure is the peak of the largest process: the runner, a worker, or
a NER process. Files are read as slices of whole articles and the bounded dedup groups only
ids (``pipelines.dedup``), so that figure should not grow with the file; the ids and sources
grouped do grow, about a hundred bytes an article.

The last line printed is JSON: ``{"small_mb", "large_mb", "small_peak_rss_mb",
"large_peak_rss_mb", "ratio", "small_articles", "large_articles", "large_seconds"}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from newswire.bench.corpus import SEEDS, generate_articles, render_feed, sample_articles
from newswire.bench.ner_stand_in import save_ruler_model

__all__ = ["descendants", "main", "peak_rss_of_tree"]

_SAMPLE_EVERY_S = 0.25


def _write_feed(path: Path, megabytes: int) -> int:
    """Write distinct feed articles until the file holds ``megabytes`` MiB; returns how many."""
    samples = sample_articles(SEEDS)
    target = megabytes << 20
    written = count = 0
    with path.open("w", encoding="utf-8") as handle:
        for article in generate_articles(samples, sys.maxsize):
            text = render_feed(article) + "\n\n\n"
            handle.write(text)
            written += len(text.encode("utf-8"))
            count += 1
            if written >= target:
                return count
    return count


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` now (children, theirs, ...), from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.extend(kids := children.get(todo.pop(), []))
        todo.extend(kids)
    return found


def _peak_kib(pid: int) -> int:
    try:
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_of_tree(process: subprocess.Popen) -> dict[int, int]:
    """Until ``process`` exits: each process of its tree and the largest peak RSS (KiB) seen for it."""
    peaks: dict[int, int] = {}
    while process.poll() is None:
        for pid in [process.pid, *descendants(process.pid)]:
            peaks[pid] = max(peaks.get(pid, 0), _peak_kib(pid))
        time.sleep(_SAMPLE_EVERY_S)
    return peaks


def _run(feed: Path, output: Path, model: Path) -> tuple[float, float, str]:
    """(largest peak RSS in MiB, seconds, stdout) of ``newswire run`` over ``feed``."""
    command = [str(Path(sys.executable).parent / "newswire"), "run", "--input", str(feed),
               "--output", str(output), "--ner_model", str(model)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result: dict[str, str] = {}
    reader = threading.Thread(
        target=lambda: result.update(zip(("out", "err"), process.communicate(), strict=True))
    )
    reader.start()
    peaks = peak_rss_of_tree(process)
    reader.join()
    seconds = time.perf_counter() - started
    if process.returncode != 0 or "(balanced)" not in result["out"]:
        raise RuntimeError(f"the memory run over {feed} failed:\n{result['out']}\n{result['err'][-3000:]}")
    return max(peaks.values()) / 1024, seconds, result["out"]


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="newswire bench --memory")
    parser.add_argument("--large-mb", type=int, default=2048, help="Size of the large file (MiB).")
    parser.add_argument("--small-mb", type=int, default=20, help="Size of the small file (MiB).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newswire-bench-memory-") as scratch:
        root = Path(scratch)
        model = save_ruler_model(root / "ruler_stand_in")
        figures = {"small_mb": args.small_mb, "large_mb": args.large_mb}
        for name, megabytes in (("small", args.small_mb), ("large", args.large_mb)):
            feed = root / f"{name}.txt"
            figures[f"{name}_articles"] = _write_feed(feed, megabytes)
            peak, seconds, _ = _run(feed, root / f"out-{name}", model)
            feed.unlink()
            figures[f"{name}_peak_rss_mb"] = round(peak, 1)
            figures[f"{name}_seconds"] = round(seconds, 1)
            print(f"{name}: {megabytes} MiB, {figures[f'{name}_articles']} articles, "
                  f"largest process peaked at {peak:.0f} MiB, {seconds:.0f} s", flush=True)
        figures["ratio"] = round(figures["large_peak_rss_mb"] / figures["small_peak_rss_mb"], 3)
        print(f"peak RSS, large file / small file: {figures['ratio']}")
        print(json.dumps(figures))
    return 0
