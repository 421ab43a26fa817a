# Sourced by bench/token_endpoint and bench/token_cpu: a fresh database, a signing key, the `bench` client
# granted api:read on https://api.bench.internal, and the production server (granian RSGI, as bin/run)
# started on 127.0.0.1:$PORT in a process group of its own. Sets client_id, client_secret and server (the
# group's id, killed on exit). Reads ROOT, PY, PORT, DB; knobs INTERFACE, GRANIAN_WORKERS, AUTHPORTAL_THREADS.
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB
export AUTHPORTAL_DATA_DIR=$(mktemp -d -t authportal-bench.XXXXXX)
export AUTHPORTAL_ISSUER=http://127.0.0.1:$PORT
export LOG_LEVEL=WARNING
cd "$ROOT"
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py collectstatic --noinput -v 0
"$PY" manage.py ensure_signing_key >/dev/null
"$PY" manage.py create_service bench_api --audience https://api.bench.internal --scope api:read >/dev/null
read -r client_id client_secret < <("$PY" manage.py create_client bench --grant bench_api:api:read --json \
  | tail -n1 | jq -r '"\(.client_id) \(.client_secret)"')

# The production server, as `make run` starts it (bin/run).
export AUTHPORTAL_THREADS=${AUTHPORTAL_THREADS:-4}
if [[ ${INTERFACE:-rsgi} == wsgi ]]; then
  serve=(--interface wsgi --blocking-threads "$AUTHPORTAL_THREADS" authportal.wsgi:application)
else
  serve=(--interface rsgi authportal.rsgi:application)
fi
setsid "$(dirname "$PY")/granian" --host 127.0.0.1 --port "$PORT" --no-ws --workers "${GRANIAN_WORKERS:-2}" \
  "${serve[@]}" >"$AUTHPORTAL_DATA_DIR/server.log" 2>&1 &
server=$!
trap 'kill -- -$server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/.well-known/jwks.json" >/dev/null && break; sleep 0.2; done
