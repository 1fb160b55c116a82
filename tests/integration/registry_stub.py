"""A stand-in for a Confluent-compatible schema registry, on loopback, for integration tests.

Not a registry: it speaks only the part of the REST API that confluent-kafka's client uses
to register a schema and to fetch one by id, keeps everything in memory, and checks no
compatibility. It exists because no real registry can be installed here (see
schemas/README.md); the service under test talks to it over real HTTP with the real client.
It can be stopped and started again on the same port with the same schemas, to play an
outage, and it counts the lookups by id that reach it.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_VERSIONS = re.compile(r"^/subjects/(?P<subject>[^/?]+)/versions(?:\?.*)?$")
_BY_ID = re.compile(r"^/schemas/ids/(?P<id>\d+)(?:\?.*)?$")
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryStub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.lookups: Counter[int] = Counter()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RegistryStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                match = _BY_ID.match(self.path)
                if match is None:
                    self._reply(404, {"error_code": 404, "message": "not found"})
                    return
                schema_id = int(match.group("id"))
                with stub._lock:
                    stub.lookups[schema_id] += 1
                    schema = stub._schemas.get(schema_id)
                if schema is None:
                    self._reply(404, {"error_code": 40403, "message": "Schema not found"})
                else:
                    self._reply(200, {"schema": schema})

            def do_POST(self) -> None:
                match = _VERSIONS.match(self.path)
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                if match is None or body.get("schemaType", "AVRO") != "AVRO":
                    self._reply(422, {"error_code": 42201, "message": "unsupported"})
                    return
                self._reply(200, {"id": stub.register(match.group("subject"), body["schema"])})

            def _reply(self, status: int, document: Any) -> None:
                payload = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def register(self, subject: str, schema: str) -> int:
        with self._lock:
            schema_id = self._ids.setdefault(schema, len(self._ids) + 1)
            self._schemas[schema_id] = schema
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
            return schema_id

    def __enter__(self) -> RegistryStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
