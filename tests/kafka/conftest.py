"""A real Kafka broker for the tests that are about Kafka: the project's own KRaft script."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

KAFKA_SH = Path(__file__).resolve().parents[2] / "deploy" / "local" / "kafka.sh"


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


class FakeRegistry(BaseHTTPRequestHandler):
    """An in-memory stand-in for a schema registry's register call: ids from 100 per subject."""

    subjects: dict[str, dict[str, int]] = {}
    url = ""

    def do_POST(self):
        schema = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["schema"]
        ids = self.subjects.setdefault(self.path, {})
        body = json.dumps({"id": ids.setdefault(schema, 100 + len(ids))}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_registry() -> Iterator[type[FakeRegistry]]:
    server = HTTPServer(("127.0.0.1", 0), FakeRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeRegistry.subjects = {}
    FakeRegistry.url = f"http://127.0.0.1:{server.server_port}"
    yield FakeRegistry
    server.shutdown()
