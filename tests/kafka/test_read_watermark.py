"""The streaming read's watermark moves to the current time only on a poll that found the partition's end.

A fake client stands in for kafka-python, so that a failing broker can be played exactly.
"""

from __future__ import annotations

import pytest
from apache_beam.io.restriction_trackers import OffsetRange
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.runners.sdf_utils import RestrictionTrackerView, ThreadsafeRestrictionTracker
from apache_beam.utils.timestamp import Timestamp
from kafka.errors import KafkaTimeoutError

from newswire.connectors.kafka import source
from newswire.connectors.kafka.settings import KafkaConnection, TopicUri

EARLIER = Timestamp(seconds=1_700_000_000)


class FakeConsumer:
    """What the read asks of a consumer; ``poll`` and ``end_offsets`` return or raise as told."""

    def __init__(self, polled: dict | Exception, end: int | Exception, position: int):
        self.polled, self.end, self.at = polled, end, position

    def assign(self, tps) -> None:
        pass

    def seek(self, tp, offset: int) -> None:
        self.at = offset

    def poll(self, timeout_ms: int, max_records: int) -> dict:
        if isinstance(self.polled, Exception):
            raise self.polled
        return self.polled

    def highwater(self, tp) -> None:
        return None

    def end_offsets(self, tps, timeout_ms: int) -> dict:
        if isinstance(self.end, Exception):
            raise self.end
        return {tp: self.end for tp in tps}

    def position(self, tp, timeout_ms: int | None = None) -> int:
        return self.at

    def close(self) -> None:
        pass


def read_once(monkeypatch, consumer: FakeConsumer, watermark: Timestamp | None) -> Timestamp | None:
    """One unbounded read of partition 0 from offset 3; the watermark it leaves."""
    monkeypatch.setattr(source, "group_consumer", lambda connection, group_id, **settings: consumer)
    uri = TopicUri.parse("kafka://127.0.0.1:1/t")
    read = source._ReadUnboundedPartitionFn(KafkaConnection(bootstrap_servers="127.0.0.1:1"), uri,
                                           source.ReadPacing())
    read.setup()
    tracker = source._PartitionRestrictions().create_tracker(OffsetRange(3, source._FOREVER))
    estimator = ManualWatermarkEstimator(watermark)
    view = RestrictionTrackerView(ThreadsafeRestrictionTracker(tracker))
    assert list(read.process(source.PartitionSpan("t", 0, 3, None), view, estimator)) == []
    read.teardown()
    return estimator.current_watermark()


@pytest.mark.parametrize("before", [None, EARLIER])
@pytest.mark.parametrize("consumer", [
    FakeConsumer(KafkaTimeoutError("poll failed"), end=3, position=3),  # the client raised
    FakeConsumer({}, end=KafkaTimeoutError("no answer"), position=3),  # nothing, and the broker is away
    FakeConsumer({}, end=5, position=3),  # nothing, yet the broker holds records past the position
], ids=["poll raised", "broker away", "records not fetched"])
def test_a_failed_poll_leaves_the_watermark(monkeypatch, consumer, before):
    assert read_once(monkeypatch, consumer, before) == before


@pytest.mark.parametrize("before", [None, EARLIER])
def test_an_empty_poll_at_the_partitions_end_moves_the_watermark_to_now(monkeypatch, before):
    start = Timestamp.now()
    moved = read_once(monkeypatch, FakeConsumer({}, end=3, position=3), before)
    assert start <= moved <= Timestamp.now()
