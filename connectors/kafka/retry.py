"""Riding out a broker that is briefly away (a restart, a leader move) instead of failing.

kafka-python's producer and fetcher retry by themselves; the one-off calls the pipeline
makes (offset look-ups, commits, metadata) raise at once. A local runner fails the whole
job when a bundle raises, so those calls go through ``with_retries``: retriable Kafka errors
are retried with backoff for up to ``deadline_s``, anything else raises as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from kafka.errors import KafkaError

__all__ = ["with_retries"]

_LOG = logging.getLogger(__name__)
T = TypeVar("T")


def with_retries(call: Callable[[], T], what: str, deadline_s: float = 180) -> T:
    """``call()``, retried while it fails with a retriable Kafka error and time is left."""
    delay = 0.2
    give_up = time.monotonic() + deadline_s
    while True:
        try:
            return call()
        except KafkaError as error:
            if not error.retriable or time.monotonic() + delay > give_up:
                raise
            _LOG.warning("%s failed (%s); retrying in %.1f s", what, error, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
