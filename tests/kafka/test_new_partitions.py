"""Partitions added to the input topic while a streaming job runs are read without a restart."""

from __future__ import annotations

import signal
import time

import pytest
from confluent_kafka.admin import AdminClient
from kafka.admin import KafkaAdminClient, NewPartitions

from newswire.bench.corpus import render_feed
from newswire.connectors.kafka.source import PARTITION_CHECK_SECONDS
from tests.kafka.test_streaming import ARTICLES, StreamingJob, decode, produce_slowly, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.streaming]


def add_partitions(bootstrap: str, topic: str, total: int) -> None:
    """Grow ``topic`` to ``total`` partitions; return once the broker's metadata lists them all.

    A producer that looked before then would drop a record sent to a new partition.
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_partitions({topic: NewPartitions(total_count=total)})
    finally:
        admin.close()
    listing, deadline = AdminClient({"bootstrap.servers": bootstrap}), time.monotonic() + 30
    while len(listing.list_topics(topic, timeout=10).topics[topic].partitions) < total:
        assert time.monotonic() < deadline, f"{topic} still lacks partitions"
        time.sleep(0.2)


def test_partitions_added_mid_run_are_read_and_each_article_written_once(topics, tmp_path):
    source, output = topics.create(partitions=1), topics.create(prefix="articles")
    job = StreamingJob(topics, source, output, tmp_path)
    job.start()
    try:
        before, after = ARTICLES[:10], ARTICLES[10:]
        produce_slowly(topics, source, before)
        wait_for(topics, output, len(before), job)  # the job reads partition 0
        add_partitions(topics.bootstrap, source, 3)
        expected = {a.id: 0 for a in before}
        for i, article in enumerate(after):
            partition = 1 + i % 2
            topics.produce(source, [render_feed(article).encode()], partition=partition)
            expected[article.id] = partition
        wait_for(topics, output, len(ARTICLES), job, timeout_s=4 * PARTITION_CHECK_SECONDS + 120)
        time.sleep(5)  # anything written twice would show up by now
        messages = topics.read_all(output)
        records = [decode(m.value()) for m in messages]
        assert sorted(m.key().decode() for m in messages) == sorted(expected)  # each id exactly once
        assert {r["id"]: r["source"]["partition"] for r in records} == expected
        assert sorted(r["headline"] for r in records) == sorted(a.headline for a in ARTICLES)
        deadline = time.monotonic() + 120
        while topics.committed(source, group=source) != {0: 10, 1: 10, 2: 10} and time.monotonic() < deadline:
            time.sleep(1)
        assert topics.committed(source, group=source) == {0: 10, 1: 10, 2: 10}, job.log_tail()
        assert job.stop(signal.SIGINT) == 130, job.log_tail()
    finally:
        job.kill()
