#!/usr/bin/env bash
# Runs the demo: migrate, seed, then the web server and a django-q2 worker together.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-1}"
export LOG_FORMAT="${LOG_FORMAT:-plain}"
PY=.venv/bin/python
PORT="${DEMO_PORT:-8000}"
export SITE_URL="${SITE_URL:-http://127.0.0.1:${PORT}}"  # calendar links and alert emails point here

$PY manage.py migrate --noinput
$PY manage.py seed_demo

cleanup() {
  trap - INT TERM EXIT
  kill "${WEB_PID:-}" "${WORKER_PID:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "Stopped the web server and the worker."
}
trap cleanup INT TERM EXIT

$PY manage.py qcluster &
WORKER_PID=$!
$PY manage.py runserver "127.0.0.1:${PORT}" --noreload &
WEB_PID=$!

sleep 2
cat <<TXT

Plejenet is running (Ctrl-C stops the web server and the worker):
  Pages:        http://127.0.0.1:${PORT}/   (log in as konsulent, plejeforaelder, ...;
                staff codes: .venv/bin/python manage.py demo_totp konsulent)
  Admin:        http://127.0.0.1:${PORT}/admin/
  Health:       http://127.0.0.1:${PORT}/healthz
  API:          http://127.0.0.1:${PORT}/api/v1/
  API docs:     http://127.0.0.1:${PORT}/api/docs/
Log in with the demo logins printed above.
TXT
wait -n "$WEB_PID" "$WORKER_PID"
