"""A stand-in for the lending platform's callback endpoint: CallbackFunction really POSTs its signed
events (Standard Webhooks) over HTTP to it. It checks each signature with the stack's
PlatformCallbackSecret, as the platform must, and keeps what it accepted (deduplicated by
webhook-id, as the standard asks of a receiver). ``fail_next`` makes it answer 503 that many times
(to watch the retries and the DLQ)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from arrears.domain.webhooks import SignatureError, verify


class FakePlatform:
    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}  # webhook-id -> event, first delivery kept
        self.deliveries = 0  # every accepted POST, repeats included
        self.refused: list[str] = []  # why a request was refused (a bad signature)
        self.fail_next = 0
        self.secret: Callable[[], list[str]] = lambda: []  # set once the stack is deployed
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = 200
                if platform.fail_next > 0:
                    platform.fail_next -= 1
                    status = 503
                else:
                    try:
                        headers = {k.lower(): v for k, v in self.headers.items()}
                        msg_id = verify(platform.secret(), headers, body, datetime.now(UTC))
                        platform.deliveries += 1
                        platform.events.setdefault(msg_id, json.loads(body))
                    except SignatureError as e:
                        platform.refused.append(str(e))
                        status = 401
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/arrears-callbacks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def use_secret_of(self, secret_arn: str) -> None:
        from arrears.adapters.webhook_secrets import secrets

        self.secret = lambda: list(secrets(secret_arn))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
