"""The offset-commit rule: commit up to the first message whose records are not all out."""

from __future__ import annotations

from newswire.connectors.kafka.commit import PartitionProgress
from newswire.schemas.records import Source


def ack(offset: int, parts: int = 1, span_start: int | None = None) -> Source:
    return Source(uri="kafka://b/t", position=0, line=1, partition=0, offset=offset,
                  parts=parts, receipt=offset if span_start is None else span_start)


def test_commits_only_the_done_prefix():
    progress = PartitionProgress(committed=0)
    assert not progress.acknowledge(ack(1))
    assert progress.committed == 0
    assert progress.acknowledge(ack(0))
    assert progress.committed == 2


def test_a_message_is_done_when_all_its_records_are():
    progress = PartitionProgress(committed=5)
    assert not progress.acknowledge(ack(5, parts=3))
    assert not progress.acknowledge(ack(5, parts=3))
    assert progress.acknowledge(ack(5, parts=3))
    assert progress.committed == 6


def test_gaps_in_offsets_are_bridged_by_span_start():
    progress = PartitionProgress(committed=10)
    assert progress.acknowledge(ack(13, span_start=10))  # offsets 10-12 were gaps
    assert progress.committed == 14
    assert progress.acknowledge(ack(14))
    assert progress.committed == 15


def test_replayed_acknowledgements_below_the_commit_are_ignored():
    progress = PartitionProgress(committed=3)
    assert not progress.acknowledge(ack(1))
    assert progress.committed == 3
