"""The article ids already on an output topic: the dedup stage's memory across restarts.

A local runner keeps no state across a crash, and at-least-once delivery re-reads every
message whose offset was not yet committed, some of whose articles were already written.
The output topic is keyed by article id, so the keys it received within the dedup window are
exactly the ids that must not be written again: the topic is the dedup state's changelog,
as in Kafka Streams. With each key its record's timestamp, so that an id is forgotten a TTL
after it was written, as the dedup's keyed state forgets.

Read once per worker process (every DoFn instance there shares it), with a deadline, keys
only (the values, whole articles, are fetched but never decoded), into ``WrittenIds``.
"""

from __future__ import annotations

import array
import bisect
import dataclasses
import threading
import time
from collections.abc import Iterable, Iterator

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaTimeoutError
from kafka.serializer import Deserializer

from newswire.connectors.kafka.settings import KafkaConnection
from newswire.connectors.kafka.source import group_consumer

__all__ = ["TopicKeys", "WrittenIds"]

_POLL_TIMEOUT_MS = 500
_ID_BYTES = 16  # an article id is 32 hex digits (``records.article_id``)
_RUNS = 8  # slices of the window by write time, each freed whole


def _binary_id(key: bytes | None) -> bytes | None:
    """The 16 bytes of an article id from a record key; None for a key that is no article id."""
    if key is None or len(key) != 2 * _ID_BYTES:
        return None
    try:
        binary = bytes.fromhex(key.decode("ascii"))
    except ValueError:
        return None
    return binary if binary.hex().encode("ascii") == key else None  # lower-case hex, nothing else


class _ArticleIdKeys(Deserializer):
    """Record keys as ``_binary_id``: the only part of a record the read decodes."""

    def deserialize(self, topic: str, headers: list, data: bytes | None) -> bytes | None:
        return _binary_id(data)


@dataclasses.dataclass(frozen=True)
class _Run:
    """Ids written within one slice of time: sorted, end to end, beside their write times."""

    keys: bytes
    written: array.array
    newest: int

    def __len__(self) -> int:
        return len(self.written)

    def __getitem__(self, i: int) -> bytes:
        return self.keys[i * _ID_BYTES:(i + 1) * _ID_BYTES]

    def written_ms(self, key: bytes) -> int | None:
        i = bisect.bisect_left(self, key)
        return self.written[i] if i < len(self) and self[i] == key else None

    @classmethod
    def of(cls, keys: bytearray, written: array.array) -> _Run:
        """The run of unsorted ``keys`` (end to end) and their times; an id seen twice keeps its latest."""
        order = sorted(range(len(written)), key=lambda i: keys[i * _ID_BYTES:(i + 1) * _ID_BYTES])
        packed, times = bytearray(), array.array("q")
        previous = None
        for i in order:
            key = keys[i * _ID_BYTES:(i + 1) * _ID_BYTES]
            if key == previous:
                times[-1] = max(times[-1], written[i])
            else:
                packed += key
                times.append(written[i])
                previous = key
        return cls(bytes(packed), times, max(times))


class WrittenIds:
    """Article ids with the time (ms) each was last written, in about 24 bytes an id.

    A ``dict[str, int]`` took 148 bytes an id (``bench.known_ids``): 148 MB in every worker
    process for a topic that receives a million articles a day. Here an id is its 16 binary
    bytes in a sorted run, its time an 8-byte slot of an ``array``; a look-up is a binary
    search in each run. The runs slice the window by write time, so ``forget_up_to`` frees
    whole runs and never rebuilds one. Runs are replaced, never changed, so the DoFns of a
    process share the object without a lock.
    """

    def __init__(self, runs: Iterable[_Run] = ()):
        self._runs = tuple(runs)  # oldest first

    @classmethod
    def collect(cls, written: Iterable[tuple[bytes, int]], since_ms: int, window_ms: int) -> WrittenIds:
        """From ``(binary id, written ms)`` pairs of the window ``since_ms`` onwards (``window_ms`` long)."""
        slices = [(bytearray(), array.array("q")) for _ in range(_RUNS)]
        for key, written_ms in written:
            keys, times = slices[min(_RUNS - 1, max(0, (written_ms - since_ms) * _RUNS // window_ms))]
            keys += key
            times.append(written_ms)
        return cls(_Run.of(keys, times) for keys, times in slices if times)

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    def written_ms(self, article_id: str) -> int | None:
        key = bytes.fromhex(article_id)
        for run in reversed(self._runs):  # the newest first: an id written again is in a later run
            if (written_ms := run.written_ms(key)) is not None:
                return written_ms
        return None

    def forget_up_to(self, written_ms: int) -> None:
        self._runs = tuple(run for run in self._runs if run.newest > written_ms)


@dataclasses.dataclass(frozen=True)
class TopicKeys:
    """The keys of the records a topic received in the last ``window_s`` seconds.

    ``deadline_s``: how long reading them may take. A topic that cannot be read in time is
    broken infrastructure: the read raises ``TimeoutError`` naming the topic, and the job
    fails, rather than go on with part of the ids and write their articles again.
    """

    connection: KafkaConnection
    topic: str
    window_s: float
    deadline_s: float = 120.0

    def load(self) -> WrittenIds:
        """The ids and their times, read once per worker process; the same object on every call."""
        with _LOADED_LOCK:
            if self not in _LOADED:
                _LOADED[self] = self._read()
            return _LOADED[self]

    def _read(self) -> WrittenIds:
        give_up = time.monotonic() + self.deadline_s

        def left_ms() -> int:
            left = give_up - time.monotonic()
            if left <= 0:
                raise self._overdue()
            return max(1, int(left * 1000))

        since_ms = int((time.time() - self.window_s) * 1000)
        try:
            consumer = group_consumer(
                self.connection, None, key_deserializer=_ArticleIdKeys(), bootstrap_timeout_ms=left_ms()
            )
            try:
                written = self._written(consumer, since_ms, left_ms)
                return WrittenIds.collect(written, since_ms, max(1, int(self.window_s * 1000)))
            finally:
                consumer.close()
        except KafkaTimeoutError as error:
            if time.monotonic() < give_up:
                raise
            raise self._overdue() from error

    def _overdue(self) -> TimeoutError:
        return TimeoutError(
            f"reading the article ids on Kafka topic {self.topic!r} at {self.connection.bootstrap_servers} "
            f"took over {self.deadline_s:g} s"
        )

    def _written(self, consumer: KafkaConsumer, since_ms: int, left_ms) -> Iterator[tuple[bytes, int]]:
        """``(binary id, timestamp)`` of each record from ``since_ms`` to the end offsets seen first."""
        partitions = consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        if not tps:
            return
        starts = consumer.offsets_for_times({tp: since_ms for tp in tps}, timeout_ms=left_ms())
        ends = consumer.end_offsets(tps, timeout_ms=left_ms())
        pending = {tp for tp in tps if starts[tp] is not None and starts[tp].offset < ends[tp]}
        consumer.assign(list(pending))
        for tp in pending:
            consumer.seek(tp, starts[tp].offset)
        while pending:
            polled = consumer.poll(timeout_ms=min(_POLL_TIMEOUT_MS, left_ms()))
            for tp, records in polled.items():
                # The key deserializer left None for a key that is no article id.
                yield from ((r.key, r.timestamp) for r in records
                            if r.key is not None and r.offset < ends[tp])
            pending = {tp for tp in pending if (consumer.position(tp, timeout_ms=left_ms()) or 0) < ends[tp]}


_LOADED: dict[TopicKeys, WrittenIds] = {}
_LOADED_LOCK = threading.Lock()
