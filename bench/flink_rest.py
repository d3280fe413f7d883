"""Flink's REST API on the embedded cluster a job server starts: checkpoint statistics, stop with a savepoint.

The job server reads ``FLINK_CONF_DIR``; ``FlinkRest.configure`` writes a config there that
puts the REST endpoint on a free loopback port, so a test or a benchmark can watch its own
job while other Flink jobs run on the machine.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path

__all__ = ["FlinkRest", "free_port"]


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class FlinkRest:
    """The REST endpoint of the embedded cluster started with ``conf_dir`` as ``FLINK_CONF_DIR``."""

    def __init__(self, conf_dir: Path):
        self.port = free_port()
        conf_dir.mkdir(parents=True, exist_ok=True)
        (conf_dir / "config.yaml").write_text(f"rest.address: 127.0.0.1\nrest.bind-port: {self.port}\n")
        self.conf_dir = conf_dir

    def _request(self, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def get(self, path: str) -> dict:
        return self._request(path)

    def running_job(self) -> str | None:
        """The id of the one running job; None while the cluster (or the job) is still starting."""
        try:
            jobs = [j for j in self.get("/jobs/overview")["jobs"] if j["state"] == "RUNNING"]
        except OSError:
            return None
        if len(jobs) > 1:
            raise RuntimeError(f"more than one running Flink job: {jobs}")
        return jobs[0]["jid"] if jobs else None

    def checkpoints(self) -> dict:
        """Checkpoint statistics of the running job (``counts``, ``latest``...); {} before it runs."""
        job = self.running_job()
        return self.get(f"/jobs/{job}/checkpoints") if job else {}

    def checkpoint_interval_ms(self) -> int:
        return self.get(f"/jobs/{self.running_job()}/checkpoints/config")["interval"]

    def completed(self) -> int:
        return self.checkpoints().get("counts", {}).get("completed", 0)

    def restarts(self) -> int:
        """How often the running job was restarted after a failure (its exception history)."""
        job = self.running_job()
        return len(self.get(f"/jobs/{job}/exceptions")["exceptionHistory"]["entries"]) if job else 0

    def wait_for_completed(self, count: int, timeout_s: float) -> int:
        """Wait until at least ``count`` checkpoints have completed; returns how many have."""
        deadline = time.monotonic() + timeout_s
        while (completed := self.completed()) < count and time.monotonic() < deadline:
            time.sleep(0.5)
        return completed

    def stop_with_savepoint(self, directory: Path, timeout_s: float = 120) -> Path:
        """Stop the running job with a savepoint in ``directory`` (Flink's stop, not cancel); its path."""
        job = self.running_job()
        if job is None:
            raise RuntimeError("no running Flink job to stop")
        trigger = self._request(f"/jobs/{job}/stop", {"targetDirectory": directory.as_uri(), "drain": False})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.get(f"/jobs/{job}/savepoints/{trigger['request-id']}")
            if status["status"]["id"] == "COMPLETED":
                operation = status["operation"]
                if "failure-cause" in operation:
                    raise RuntimeError(f"savepoint failed: {operation['failure-cause']}")
                return Path(operation["location"].removeprefix("file:"))
            time.sleep(0.5)
        raise RuntimeError(f"no savepoint of job {job} after {timeout_s:.0f}s")
