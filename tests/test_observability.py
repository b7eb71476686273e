"""Request IDs and JSON log lines."""

from __future__ import annotations

import json
import logging

from config.observability import JsonFormatter, RequestIdFilter, safe_path


def test_response_carries_a_request_id(client, db):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32


def test_sane_incoming_request_id_is_kept_and_junk_is_replaced(client, db):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc12345-proxy")["X-Request-ID"] == "abc12345-proxy"
    assert client.get("/healthz", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"] != "<script>"


def test_access_log_is_json_with_request_id_and_no_token(client, db, caplog):
    caplog.set_level(logging.INFO, logger="plejenet.access")
    response = client.get("/cal/secret-token-value.ics")
    record = next(r for r in caplog.records if r.name == "plejenet.access")
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["path"] == "/cal/<token>"
    assert line["status"] == response.status_code
    assert "secret-token-value" not in json.dumps(line)


def test_safe_path_cuts_feed_tokens():
    assert safe_path("/cal/abcDEF123.ics") == "/cal/<token>"
    assert safe_path("/api/v1/placements/3/") == "/api/v1/placements/3/"
