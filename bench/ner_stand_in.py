"""A fast NER stand-in for runs where the model is not what is measured: an entity ruler.

A blank English pipeline whose ``entity_ruler`` knows a few names, saved to a folder and
passed to ``--ner_model`` by path like any trained pipeline: the job loads and runs it the
same way, at a fraction of the statistical model's cost.
"""

from __future__ import annotations

from pathlib import Path

import spacy

__all__ = ["STAND_IN_ENTITIES", "save_ruler_model"]

STAND_IN_ENTITIES = {"Iraq": "GPE", "Syria": "GPE", "Baghdad": "GPE", "Reuters": "ORG", "Mohamud": "PERSON"}


def save_ruler_model(path: Path) -> Path:
    """Save the stand-in pipeline (``en_ruler_stand_in==1.0.0``) under ``path``; returns ``path``."""
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": label, "pattern": name} for name, label in STAND_IN_ENTITIES.items()]
    )
    nlp.meta.update(name="ruler_stand_in", version="1.0.0")
    nlp.to_disk(path)
    return path
