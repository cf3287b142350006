#!/usr/bin/env bash
# Runs schemathesis against /api/openapi.json of a live `mailbox serve`, signed in as a supervisor
# so staff routes are exercised too. Fails on any 5xx or any response that breaks the schema.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/debug/mailbox
dir=$(mktemp -d)
"$bin" serve --data-dir "$dir" --addr 127.0.0.1:0 --sweep-interval 5 > "$dir/out" 2> "$dir/err" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" "$dir/out" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$dir/out" | head -n 1)
[ -n "$url" ] || { echo "server did not start:"; cat "$dir/err"; exit 1; }
token=$(.venv/bin/python - "$url" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/api/v1/auth/login", method="POST",
    data=json.dumps({"username": "zfb", "password": "mailbox-demo"}).encode(),
    headers={"content-type": "application/json"})
print(json.load(urllib.request.urlopen(req))["token"])
PY
)
# Logout is left out: it would end the session the other operations run under.
.venv/bin/schemathesis run "$url/api/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" --seed 1 \
  --exclude-path /api/v1/auth/logout \
  --no-color
