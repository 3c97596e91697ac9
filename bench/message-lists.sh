#!/usr/bin/env bash
# The message list's filters on a million messages: seeds one application with N messages (one delivery each: 97 %
# succeeded, 2 % failed, 0.5 % exhausted, 0.5 % pending, spread over the last 7 days) straight into Postgres, then
# times each list query through the API (6 calls, the first dropped as warm-up) and prints median and range.
#   bench/message-lists.sh <api url> <admin key> <postgres connection string for psql> [messages]
# e.g. bench/message-lists.sh http://localhost:5080 wh_admin_dev_0000000000000000000000000000 \
#        "host=127.0.0.1 port=15432 user=postgres dbname=webhooksdb" 1000000
set -euo pipefail
api=${1:?api url}; key=${2:?admin key}; pg=${3:?psql connection}; n=${4:-1000000}
psql_bin=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | tail -n 1)
json() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
app=$(curl -sf -X POST "$api/api/v1/apps" -H "Authorization: Bearer $key" -H 'content-type: application/json' -d '{"name":"List bench"}' | json id)
endpoint=$(curl -sf -X POST "$api/api/v1/apps/$app/endpoints" -H "Authorization: Bearer $key" -H 'content-type: application/json' \
  -d '{"url":"https://example.com/bench"}' | json id)
echo "seeding $n messages into $app …" >&2
"$psql_bin" "$pg" -v ON_ERROR_STOP=1 -q <<SQL
INSERT INTO messages (id, application_id, event_type, payload, channels, idempotency_key, priority, created_at, raw)
SELECT 'msg_' || lpad(to_hex((extract(epoch from t) * 1000)::bigint), 12, '0') || substr(md5('$app'), 1, 6) || lpad(g::text, 8, '0'), '$app',
       CASE WHEN g % 3 = 0 THEN 'order.paid' ELSE 'order.created' END,
       '{"amount":' || (g % 1000) || ',"currency":"' || CASE WHEN g % 2 = 0 THEN 'EUR' ELSE 'USD' END || '"}', '{}', 'key-' || g, 5, t, false
FROM (SELECT g, now() - (g * (interval '7 days' / $n)) AS t FROM generate_series(1, $n) g) s;
INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempt_count, next_attempt_at, trigger, priority, queued, created_at, updated_at)
SELECT m.id, '$endpoint', '$app',
       CASE WHEN n % 200 = 0 THEN 'pending' WHEN n % 200 = 1 THEN 'exhausted' WHEN n % 50 = 2 THEN 'failed' ELSE 'succeeded' END,
       1, CASE WHEN n % 200 = 0 OR n % 50 = 2 THEN now() + interval '1 hour' END, 'scheduled', 5, false, m.created_at, m.created_at
FROM (SELECT id, created_at, row_number() OVER () AS n FROM messages WHERE application_id = '$app') m;
ANALYZE messages; ANALYZE deliveries;
SQL
hour=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ); day=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ)
payload='%7B%22amount%22%3A%7B%22%24gte%22%3A990%7D%2C%22currency%22%3A%22EUR%22%7D'
printf '%-60s %10s %20s %6s\n' "query" "median ms" "range ms" "rows"
for q in "" "status=failing" "status=exhausted" "status=pending" "status=delivered" "status=filtered_out&since=$hour" "status=filtered_out&since=$day" \
         "status=filtered_out" "endpointId=$endpoint" "search=key-$((n / 2))" "eventType=order.paid&status=exhausted" "since=$hour&payloadFilter=$payload" \
         "payloadFilter=$payload"; do
  times=()
  for i in 1 2 3 4 5 6; do
    times+=("$(curl -s -o /tmp/list-bench.json -w '%{time_total}' -H "Authorization: Bearer $key" "$api/api/v1/apps/$app/messages?$q")")
  done
  python3 - "$q" "${times[@]}" <<'PY'
import json, statistics, sys
q, ts = sys.argv[1], [float(x) * 1000 for x in sys.argv[3:]]
rows = len(json.load(open('/tmp/list-bench.json')).get('data', []))
label = (q or '(newest first)').replace('%7B%22amount%22%3A%7B%22%24gte%22%3A990%7D%2C%22currency%22%3A%22EUR%22%7D', '{amount>=990,EUR}')
print(f"{label[:60]:<60} {statistics.median(ts):10.1f} {min(ts):9.1f}–{max(ts):<9.1f} {rows:6}")
PY
done
