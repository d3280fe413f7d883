"""``newswire bench``: batch pipeline throughput against raw spaCy on the same text and cores.

Both figures come from one run on one machine, so their ratio means something on a shared,
noisy machine where absolute numbers do not. Even so, one measurement of each gave ratios
of 0.824 and 0.956 in two runs back to back: the machine's load moves within a run too. So
the two are measured alternately, ``--rounds`` times (at least 3), each round's ratio from
its own pair, and the ratio reported is the median of the rounds' ratios, with their min and
max to show how far they spread:

* baseline: ``nlp.pipe(texts, n_process=cores)`` over every field text (headline, captions,
  paragraphs) of the corpus, with the same model and the same enabled components;
* pipeline: the whole batch job (read, parse, dedup, NER, Avro) over the corpus files, one
  worker process per core, timed from submission to the last file written;
* with ``--flink``, the same job on Flink's embedded cluster (``--runner FlinkRunner`` with
  the CLI's defaults, parallelism and NER processes set to the cores), timed the same way,
  so its start-up (job server, cluster) is included; then the streaming job topic to topic
  on a backlog of the corpus's articles on the local broker, on Prism and on Flink (rate
  between the first and the last output record, start-up excluded; ``bench.kafka``).

The last line printed is JSON: ``{"articles", "pipeline_articles_per_s",
"spacy_articles_per_s", "ratio", "ratio_min", "ratio_max", "rounds"}`` (the rates are the
rounds' medians), plus ``"flink_articles_per_s", "flink_to_local",
"prism_streaming_articles_per_s", "flink_streaming_articles_per_s",
"flink_streaming_to_prism"`` with ``--flink``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from spacy.language import Language

from newswire.bench import kafka
from newswire.bench.corpus import SEEDS, generate_articles, sample_articles, write_corpus
from newswire.bench.jobs import pipeline_seconds
from newswire.pipelines import launch
from newswire.pipelines.enrich import load_ner
from newswire.pipelines.options import DEFAULT_NER_MODEL

__all__ = ["main"]

MIN_ROUNDS = 3


def _rounds(value: str) -> int:
    rounds = int(value)
    if rounds < MIN_ROUNDS:
        raise argparse.ArgumentTypeError(f"at least {MIN_ROUNDS}: the median of fewer says little")
    return rounds


def _spacy_seconds(nlp: Language, texts: list[str], cores: int) -> float:
    started = time.perf_counter()
    for _ in nlp.pipe(texts, n_process=cores):
        pass
    return time.perf_counter() - started


def _streaming_rates(articles: list, scratch: Path, cores: int) -> dict[str, float]:
    """The streaming job's articles/s on a backlog of ``articles``, on Prism and on Flink (embedded)."""
    bootstrap = kafka.start_broker()
    return {
        "Prism": kafka.backlog_rate(bootstrap, articles, scratch / "prism.log"),
        "Flink": kafka.backlog_rate(
            bootstrap, articles, scratch / "flink.log", "--runner=FlinkRunner", f"--parallelism={cores}",
            env={"NEWSWIRE_FLINK_CHECKPOINT_DIR": str(scratch / "flink-checkpoints")},
        ),
    }


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="newswire bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000, help="Corpus size (default %(default)s).")
    parser.add_argument("--per-file", type=int, default=100, help="Articles per corpus file.")
    parser.add_argument("--cores", type=int, default=os.cpu_count(), help="Processes for both sides.")
    parser.add_argument("--ner_model", default=DEFAULT_NER_MODEL)
    parser.add_argument("--ner_batch_size", type=int, default=32)
    parser.add_argument("--rounds", type=_rounds, default=MIN_ROUNDS,
                        help="Rounds of raw spaCy then the pipeline, alternating (default and minimum "
                             "%(default)s); the ratio is their median.")
    parser.add_argument("--flink", action="store_true", help="Also run the batch job on Flink.")
    args = parser.parse_args(argv)

    articles = list(generate_articles(sample_articles(SEEDS), args.articles))
    texts = [text for article in articles for _, _, text in article.field_texts()]
    with tempfile.TemporaryDirectory(prefix="newswire-bench-") as scratch:
        corpus = Path(scratch) / "corpus"
        files = write_corpus(articles, corpus, args.per_file)
        print(f"corpus: {len(articles)} articles, {len(texts)} field texts, {len(files)} files, "
              f"{sum(f.stat().st_size for f in files) / 1e6:.1f} MB; cores: {args.cores}")
        nlp = load_ner(args.ner_model)
        spacy_rates, pipeline_rates = [], []
        for round_ in range(1, args.rounds + 1):
            spacy_s = _spacy_seconds(nlp, texts, args.cores)
            spacy_rates.append(len(articles) / spacy_s)
            print(f"round {round_}/{args.rounds}: spaCy nlp.pipe (n_process={args.cores}): {spacy_s:.2f} s, "
                  f"{spacy_rates[-1]:.1f} articles/s")
            pipeline_s = pipeline_seconds(corpus, Path(scratch) / f"out-{round_}", args.ner_model, args.cores,
                                          args.ner_batch_size)
            pipeline_rates.append(len(articles) / pipeline_s)
            print(f"round {round_}/{args.rounds}: pipeline ({launch.LOCAL_RUNNER}, {args.cores} worker "
                  f"processes): {pipeline_s:.2f} s, {pipeline_rates[-1]:.1f} articles/s, "
                  f"ratio {pipeline_rates[-1] / spacy_rates[-1]:.3f}")
        ratios = [pipeline / spacy for pipeline, spacy in zip(pipeline_rates, spacy_rates, strict=True)]
        print(f"pipeline / spaCy over {args.rounds} rounds: median {statistics.median(ratios):.3f}, "
              f"min {min(ratios):.3f}, max {max(ratios):.3f}")
        if args.flink:
            flink_s = pipeline_seconds(corpus, Path(scratch) / "out-flink", args.ner_model, args.cores,
                                       args.ner_batch_size, flink=True)
            print(f"pipeline (FlinkRunner, parallelism {args.cores}): {flink_s:.2f} s, "
                  f"{len(articles) / flink_s:.1f} articles/s")
            streaming = _streaming_rates(articles, Path(scratch), args.cores)
            print("streaming on a backlog of the same articles: "
                  + ", ".join(f"{runner} {rate:.1f} articles/s" for runner, rate in streaming.items()))
    pipeline_rate = statistics.median(pipeline_rates)
    figures = {
        "articles": len(articles),
        "pipeline_articles_per_s": round(pipeline_rate, 2),
        "spacy_articles_per_s": round(statistics.median(spacy_rates), 2),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "rounds": args.rounds,
    }
    if args.flink:
        flink_rate = len(articles) / flink_s
        figures["flink_articles_per_s"] = round(flink_rate, 2)
        figures["flink_to_local"] = round(flink_rate / pipeline_rate, 3)
        figures["prism_streaming_articles_per_s"] = round(streaming["Prism"], 2)
        figures["flink_streaming_articles_per_s"] = round(streaming["Flink"], 2)
        figures["flink_streaming_to_prism"] = round(streaming["Flink"] / streaming["Prism"], 3)
    print(json.dumps(figures))
    return 0
