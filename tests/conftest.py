"""Fixtures for every test: the sample, and the real Kafka broker (the project's own KRaft script).

The broker fixtures live here rather than in tests/kafka/ because the Flink streaming test
(tests/test_flink.py) uses them too.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_1f2ed97d20f09ad4.txt"
KAFKA_SH = ROOT / "deploy" / "local" / "kafka.sh"


@pytest.fixture
def seed_bytes() -> bytes:
    return SEED.read_bytes()


@pytest.fixture(scope="session")
def ruler_model(tmp_path_factory) -> Path:
    """The fast NER stand-in (``bench.ner_stand_in``), for tests where the model is not the point."""
    from newswire.bench.ner_stand_in import save_ruler_model

    return save_ruler_model(tmp_path_factory.mktemp("ner") / "ruler_stand_in")


def _script(command: str) -> str:
    completed = subprocess.run([str(KAFKA_SH), command], capture_output=True, text=True, timeout=300)
    if completed.returncode != 0 and command != "status":
        raise RuntimeError(f"kafka.sh {command} failed:\n{completed.stderr[-3000:]}")
    return completed.stdout.strip() if completed.returncode == 0 else ""


@pytest.fixture(scope="session")
def bootstrap() -> Iterator[str]:
    """The broker's address; started for the session unless it was already running."""
    was_running = bool(_script("status"))
    address = _script("start")
    yield address
    if not was_running:
        _script("stop")


class Topics:
    """Independent client (librdkafka, via confluent-kafka) for producing and reading back."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        self._admin = AdminClient({"bootstrap.servers": bootstrap})

    def create(self, partitions: int = 1, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        futures = self._admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        futures[name].result(timeout=30)
        return name

    def uri(self, topic: str) -> str:
        return f"kafka://{self.bootstrap}/{topic}"

    def produce(self, topic: str, values: list[bytes], partition: int | None = None) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap})
        for value in values:
            if partition is None:
                producer.produce(topic, value)
            else:
                producer.produce(topic, value, partition=partition)
        assert producer.flush(30) == 0

    def read_all(self, topic: str, timeout_s: float = 30) -> list:
        """Every message now on the topic (all partitions), in partition then offset order."""
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"check-{uuid.uuid4().hex}",
                             "enable.auto.commit": False})
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        messages = []
        for partition in sorted(metadata.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, low)])
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                message = consumer.poll(1)
                if message is None or message.error():
                    continue
                messages.append(message)
                if message.offset() >= high - 1:
                    break
        consumer.close()
        return messages

    def committed(self, topic: str, group: str) -> dict[int, int]:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        offsets = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        consumer.close()
        return {tp.partition: tp.offset for tp in offsets}


@pytest.fixture(scope="session")
def topics(bootstrap) -> Topics:
    return Topics(bootstrap)
