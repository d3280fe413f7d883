"""1,200 hostile Kafka messages through a streaming job on the real broker: all accounted for by name.

Null values, empty and binary values, UTF-16, invalid UTF-8, floods of stray TT lines, articles
near the broker's message limit (too large for the output topic once their entities are
added: a WRITE-stage dead letter), repeats; keys of every kind and headers. Each message is
named by its partition and offset; each must end as an article, a dropped duplicate, or one
dead letter naming it. NER is the fast stand-in: the model is not the point here.
"""

from __future__ import annotations

import collections
import io
import re
import signal

import fastavro
import pytest
from confluent_kafka import Producer

from newswire import schemas
from tests.hostile_inputs import kafka_hostile_values
from tests.kafka.test_streaming import StreamingJob, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.streaming]

COUNT = 1_200
PARTITIONS = 2
_BALANCE = re.compile(
    r"records in = written \+ duplicates \+ dead letters: (\d+) = (\d+) \+ (\d+) \+ (\d+) \((.+)\)"
)


def _decode(value: bytes, name: str) -> dict:
    schema = schemas.load(name)
    return fastavro.schemaless_reader(io.BytesIO(value[10:]), schema, schema)


def test_hostile_messages_are_each_an_article_a_duplicate_or_one_dead_letter(topics, tmp_path, ruler_model):
    source, output = topics.create(partitions=PARTITIONS), topics.create(prefix="articles")
    messages = list(kafka_hostile_values(COUNT, seed=1203))
    repeats = {i: i - 8 for i in range(407, COUNT, 48)}  # the "good" message 8 before, sent again
    for i, j in repeats.items():
        messages[i] = (messages[i][0], messages[j][1], "repeat", None)
    assert all(messages[j][2] == "good" for j in repeats.values())
    producer = Producer({"bootstrap.servers": topics.bootstrap, "message.max.bytes": 2_000_000})
    names: dict[tuple[int, int], int] = {}  # (partition, offset) -> message index
    for i, (key, value, _, _) in enumerate(messages):
        partition = i % PARTITIONS
        names[partition, i // PARTITIONS] = i
        headers = [("kind", messages[i][2].encode()), ("bin", b"\x00\xff"), ("empty", None)]
        producer.produce(source, value=value, key=key, partition=partition, headers=headers)
    assert producer.flush(60) == 0

    job = StreamingJob(topics, source, output, tmp_path, "--ner_model", str(ruler_model))
    try:
        job.start()
        articles_expected = sum(1 for _, _, kind, _ in messages if kind in {"good", "large_article"})
        dead_expected = len(messages) - articles_expected - len(repeats)
        written = wait_for(topics, output, articles_expected, job, timeout_s=400)
        dead = wait_for(topics, f"{output}.dead-letters", dead_expected, job, timeout_s=200)
        code = job.stop(signal.SIGINT, timeout_s=120)
    finally:
        job.kill()
    outcomes: dict[int, list[str]] = collections.defaultdict(list)
    for message in written:
        record = _decode(message.value(), schemas.ARTICLE)
        outcomes[names[record["source"]["partition"], record["source"]["offset"]]].append("article")
    for message in dead:
        record = _decode(message.value(), schemas.DEAD_LETTER)
        outcomes[names[record["source"]["partition"], record["source"]["offset"]]].append(record["reason"])
    wrong = []
    for i, (_, _, kind, expect) in enumerate(messages):
        got = outcomes.pop(i, [])
        if kind == "repeat":
            ok = got == []
        elif expect.dead is None:
            ok = len(got) == 1 and got[0] != "article"
        else:
            ok = got == ["article"] * expect.articles + list(expect.dead)
        if not ok:
            wrong.append((i, kind, got))
    assert not wrong, wrong[:10]
    assert not outcomes
    log = job.log_tail()
    assert code == 130, log
    (balance,) = [m for line in log.splitlines() if (m := _BALANCE.search(line))]
    counts = (COUNT, articles_expected, len(repeats), dead_expected)
    assert balance.groups() == (*map(str, counts), "balanced")
