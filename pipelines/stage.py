"""The two-output contract every stage follows: records that made it, and dead letters.

Errors are data here, as in Bytewax's ``KafkaOpOut(oks, errs)``: a stage never raises on
bad input, it hands the input to its dead-letter output with a reason code, and the
pipeline writes all dead letters to one sink.
"""

from __future__ import annotations

from typing import NamedTuple

import apache_beam as beam

__all__ = ["DEAD_LETTERS", "StageOutput"]

DEAD_LETTERS = "dead_letters"


class StageOutput(NamedTuple):
    """A stage's good records and its ``DeadLetter`` records."""

    good: beam.PCollection
    dead_letters: beam.PCollection
