"""A team's notifier and webhook hear of a deadline miss: a real Airflow notifier class, a real HTTP server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from airflow.sdk.bases.notifier import BaseNotifier

from nightshift.airflow.deadline import _notify, _post

pytestmark = pytest.mark.unit

PAYLOAD = {"score_date": "2026-03-02", "description": "nightly_scoring missed its deadline for 2026-03-02"}
HEARD: list[str] = []


class ListNotifier(BaseNotifier):
    """Keeps what it was asked to send, after Airflow rendered its templated ``text``."""

    template_fields = ("text",)

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def notify(self, context) -> None:
        HEARD.append(self.text)


def test_the_notifier_named_in_params_renders_the_miss() -> None:
    _notify(f"{__name__}.ListNotifier", {"text": "paged: {{ miss.description }}"}, {}, PAYLOAD)
    assert HEARD[-1] == "paged: nightly_scoring missed its deadline for 2026-03-02"


def test_a_class_that_is_not_a_notifier_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="json.JSONDecoder is not an Airflow notifier"):
        _notify("json.JSONDecoder", {}, {}, PAYLOAD)


def test_the_webhook_connection_gets_the_miss_as_json(monkeypatch) -> None:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.handle_request, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hooks/nightshift"
    monkeypatch.setenv("AIRFLOW_CONN_MORNING_WEBHOOK", json.dumps({"conn_type": "http", "host": url}))
    try:
        _post("morning_webhook", PAYLOAD)
    finally:
        server.server_close()
    assert received == [PAYLOAD]
