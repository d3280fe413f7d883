"""Timing one batch run of the job, exactly as ``newswire run`` starts it."""

from __future__ import annotations

import time
from pathlib import Path

from newswire.pipelines import launch

__all__ = ["pipeline_seconds"]


def pipeline_seconds(
    corpus: Path, output: Path, model: str, cores: int, batch_size: int = 32, flink: bool = False
) -> float:
    """Wall time of the batch job over ``corpus`` with ``cores`` workers, locally or on Flink."""
    if flink:
        runner = ["--runner=FlinkRunner", f"--parallelism={cores}", f"--ner_processes={cores}"]
    else:
        runner = [f"--runner={launch.LOCAL_RUNNER}", "--direct_running_mode=multi_processing",
                  f"--direct_num_workers={cores}"]
    options = launch.pipeline_options([
        f"--input={corpus}", f"--output={output}", f"--ner_model={model}",
        f"--ner_batch_size={batch_size}", *runner,
    ])
    started = time.perf_counter()
    summary = launch.run_job(options)
    seconds = time.perf_counter() - started
    if not summary.balanced or summary.articles_written == 0:
        raise RuntimeError("benchmark run did not account for its input:\n" + "\n".join(summary.lines()))
    return seconds
