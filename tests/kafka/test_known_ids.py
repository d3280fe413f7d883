"""The ids an output topic already holds, with their record times: read once a process, with a deadline.

The structure and the dedup's use of it are tested on their own; reading a topic against the
real broker.
"""

from __future__ import annotations

import threading
import time
import uuid

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from confluent_kafka import Producer

from newswire.connectors.kafka import known_ids
from newswire.connectors.kafka.known_ids import TopicKeys, WrittenIds, _binary_id
from newswire.connectors.kafka.settings import KafkaConnection
from newswire.pipelines.dedup import DeduplicateStream
from newswire.schemas.records import Article, Source, article_id

HOUR_MS = 3_600_000
SINCE_MS = 1_700_000_000_000
A, B, C, D = (article_id(h, ("Body.",)) for h in "ABCD")


def collect(*written: tuple[str, int]) -> WrittenIds:
    return WrittenIds.collect(((bytes.fromhex(i), ms) for i, ms in written), SINCE_MS, 8 * HOUR_MS)


def test_each_id_has_its_latest_write_time():
    ids = collect((A, SINCE_MS + 5), (B, SINCE_MS + 3 * HOUR_MS), (A, SINCE_MS + 7 * HOUR_MS),
                  (A, SINCE_MS + 6))
    assert (ids.written_ms(A), ids.written_ms(B), ids.written_ms(C)) == \
        (SINCE_MS + 7 * HOUR_MS, SINCE_MS + 3 * HOUR_MS, None)
    assert len(collect(*((article_id(str(i), ()), SINCE_MS + i) for i in range(1000)))) == 1000


def test_forgetting_frees_only_the_runs_whose_every_id_is_older():
    ids = collect((A, SINCE_MS + 10), (B, SINCE_MS + HOUR_MS + 10), (C, SINCE_MS + HOUR_MS + 20))
    ids.forget_up_to(SINCE_MS + HOUR_MS + 10)  # B's run holds C, written later: it stays
    assert (ids.written_ms(A), ids.written_ms(B), ids.written_ms(C)) == \
        (None, SINCE_MS + HOUR_MS + 10, SINCE_MS + HOUR_MS + 20)
    ids.forget_up_to(SINCE_MS + HOUR_MS + 20)
    assert len(ids) == 0


def test_keys_that_are_no_article_id_are_left_out():
    assert _binary_id(A.encode()) == bytes.fromhex(A)
    spaced = A[:14].encode() + b"  " + A[16:].encode()  # 32 characters; fromhex skips spaces: 15 bytes
    accented = A[:30].encode() + "é".encode()
    others = (None, b"", A.upper().encode(), A[:-1].encode(), b"g" * 32, accented, spaced)
    assert [_binary_id(k) for k in others] == [None] * 7


class _Known:
    """A sink that holds articles A, B and D, written at 1,000 s."""

    def load(self) -> WrittenIds:
        return WrittenIds.collect([(bytes.fromhex(i), 1_000_000) for i in (A, B, D)], 0, 2_000_000)


def article(headline: str, offset: int) -> Article:
    return Article(headline=headline, captions=(), body=("Body.",),
                   source=Source(uri="kafka://b/t", position=0, line=1, partition=0, offset=offset))


def test_a_known_id_counts_for_copies_less_than_a_ttl_after_it_was_written():
    copies = [(article("A", 0), 1050), (article("D", 1), 1099.999), (article("B", 2), 1100),
              (article("C", 3), 1050)]
    pipeline = TestPipeline()
    kept = (
        pipeline
        | beam.Create(copies)
        | beam.Map(lambda c: beam.window.TimestampedValue(c[0], c[1]))
        | DeduplicateStream(ttl_s=100, known_ids=_Known())
    )
    assert_that(kept.unique | beam.Map(lambda a: a.source.offset), equal_to([2, 3]), label="kept")
    assert_that(kept.duplicates | beam.Map(lambda s: s.offset), equal_to([0, 1]), label="dropped")
    pipeline.run().wait_until_finish()


def test_a_process_reads_a_topic_once_however_many_ask_at_once(monkeypatch):
    reads = []

    def read(keys: TopicKeys) -> WrittenIds:
        reads.append(keys)
        time.sleep(0.2)
        return WrittenIds()

    monkeypatch.setattr(TopicKeys, "_read", read)
    keys = TopicKeys(KafkaConnection(bootstrap_servers="127.0.0.1:1"), f"t-{uuid.uuid4().hex}", 60)
    loaded = []
    threads = [threading.Thread(target=lambda: loaded.append(keys.load())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reads) == 1 and len(loaded) == 4 and all(ids is loaded[0] for ids in loaded)
    assert known_ids._LOADED.pop(keys) is loaded[0]


def test_a_read_past_its_deadline_fails_naming_the_topic():
    keys = TopicKeys(KafkaConnection(bootstrap_servers="127.0.0.1:1"), "news-articles", 60, deadline_s=1)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"'news-articles' at 127\.0\.0\.1:1 took over 1 s"):
        keys.load()
    assert time.monotonic() - started < 10


@pytest.mark.kafka
def test_the_keys_of_the_window_are_read_with_their_record_times(topics):
    topic = topics.create(partitions=2)
    now_ms = int(time.time() * 1000)
    producer = Producer({"bootstrap.servers": topics.bootstrap})
    written = [(A, now_ms - 3 * HOUR_MS, 0), (A, now_ms - 10 * 60_000, 1), (B, now_ms - 30 * 60_000, 0),
               (C, now_ms - 60_000, 1), ("not-an-article-id", now_ms - 60_000, 0)]
    for key, timestamp_ms, partition in written:
        producer.produce(topic, b"\xff\x00 not Avro", key=key.encode(), timestamp=timestamp_ms,
                         partition=partition)
    producer.produce(topic, b"no key", timestamp=now_ms, partition=1)
    assert producer.flush(30) == 0
    ids = TopicKeys(KafkaConnection(bootstrap_servers=topics.bootstrap), topic, window_s=2 * 3600).load()
    assert (len(ids), ids.written_ms(A), ids.written_ms(B), ids.written_ms(C)) == \
        (3, now_ms - 10 * 60_000, now_ms - 30 * 60_000, now_ms - 60_000)
