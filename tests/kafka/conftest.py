"""Fixtures only the Kafka tests use; the broker and ``topics`` fixtures are in tests/conftest.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest


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
