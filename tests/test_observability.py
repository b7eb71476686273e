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


def test_logged_paths_keep_our_url_words_and_ids_and_cut_anything_a_client_typed():
    assert safe_path("/api/v1/calendar-feeds/Layla/") == "/api/v1/calendar-feeds/<x>/"
    assert safe_path("/workspace/placements/12/") == "/workspace/placements/12/"
    assert safe_path("/portal/Anna%20Demo/checkin/") == "/portal/<x>/checkin/"
    assert safe_path("/api/v1/children/123456789/") == "/api/v1/children/123456789/"
    # CPR-shaped, with or without the dash: not an id.
    assert safe_path("/api/v1/children/0101011234/") == "/api/v1/children/<x>/"
    assert safe_path("/api/v1/children/010101-1234/") == "/api/v1/children/<x>/"


def test_django_not_found_lines_carry_the_cleaned_path(client, db, caplog):
    caplog.set_level(logging.INFO)
    client.get("/api/v1/calendar-feeds/Layla/")
    client.get("/workspace/Layla-Demo/")
    lines = []
    for record in caplog.records:
        RequestIdFilter().filter(record)
        lines.append(JsonFormatter().format(record))
    assert any("Not Found: /api/v1/calendar-feeds/<x>/" in line for line in lines), lines
    assert any('"path": "/workspace/<x>/"' in line for line in lines), lines
    assert not any("Layla" in line for line in lines), lines
