#!/usr/bin/env bash
# Smoke test of every Lambda function under the Lambda runtime emulator: `cargo lambda watch`
# serves the functions, `cargo lambda invoke` sends each the sample events of events/, against a
# moto server for DynamoDB, SQS and EventBridge. Checks each answer's status.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
free_port() { .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.2; done; return 1; }
dir=$(mktemp -d)
moto_port=$(free_port)
invoke_port=$(free_port)
.venv/bin/python scripts/moto-atomic.py -H 127.0.0.1 -p "$moto_port" > "$dir/moto.log" 2>&1 &
moto=$!
watch=""
cleanup() {
  [ -n "$watch" ] && kill -- -"$watch" 2>/dev/null || true
  kill "$moto" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP_LOGS:-}" ] && cp "$dir"/*.log /tmp/ 2>/dev/null; rm -rf "$dir"
}
trap cleanup EXIT
wait_port "$moto_port" || { echo "moto did not start"; cat "$dir/moto.log"; exit 1; }
endpoint="http://127.0.0.1:$moto_port"
# The region of the sample events; the setup tool reads the functions' own variables.
export AWS_REGION=cn-north-1 TABLE_NAME=smoke QUEUE_PREFIX=smoke- EVENT_BUS_NAME=smoke-bus ATTACHMENTS_BUCKET=smoke-files AWS_ENDPOINT_URL="$endpoint"
cargo run -q -p mailbox-lambda --bin mailbox-aws-setup -- --demo
env_vars="TABLE_NAME=smoke,ATTACHMENTS_BUCKET=smoke-files,QUEUE_PREFIX=smoke-,EVENT_BUS_NAME=smoke-bus,QUEUE_URL_PREFIX=$endpoint/123456789012/,AWS_ENDPOINT_URL=$endpoint,AWS_REGION=cn-north-1,AWS_ACCESS_KEY_ID=test,AWS_SECRET_ACCESS_KEY=test"

start_watch() {
  invoke_port=$(free_port)
  set -m
  cargo lambda watch -A 127.0.0.1 -P "$invoke_port" --env-vars "$env_vars" >> "$dir/watch.log" 2>&1 &
  watch=$!
  set +m
  wait_port "$invoke_port" || { echo "cargo lambda watch did not start"; cat "$dir/watch.log"; exit 1; }
}
stop_watch() {
  kill -- -"$watch" 2>/dev/null || true
  wait "$watch" 2>/dev/null || true
  watch=""
}

pass=0
fail=0
check() {
  local fn=$1 event=$2 expect=$3 out
  out=$(cargo lambda invoke "$fn" -A 127.0.0.1 -P "$invoke_port" --data-file "events/$event.json" 2>&1 || true)
  if printf '%s' "$out" | tr -d ' \n' | grep -qF -- "$expect"; then
    echo "ok - $fn $event ($expect)"; pass=$((pass + 1))
  else
    echo "not ok - $fn $event: expected $expect, got: $(printf '%s' "$out" | head -c 400)"; fail=$((fail + 1))
  fi
}
function_checks() {
  case $1 in
    submit) check submit submit '"statusCode":201'; check submit submit-invalid '"statusCode":400'
            check submit open311-post '"statusCode":403' ;;
    query) check query query-stats '"statusCode":200'; check query query-case '"statusCode":404'
           check query open311-services '"statusCode":200' ;;
    assign) check assign assign-accept '"statusCode":404' ;;
    reply) check reply reply-receive '"statusCode":404' ;;
    staff) check staff staff-inbox '"statusCode":200'; check staff staff-unauthenticated '"statusCode":401' ;;
    triage) check triage triage '"itemIdentifier":"triage-0"'; check triage triage-topics '"itemIdentifier":"topics-0"' ;;
    handoff) check handoff handoff '"itemIdentifier":"handoff-1"' ;;
    deadlines) check deadlines deadlines-sweep '"job":"sweep"'; check deadlines deadlines-digest '"job":"digest"'
               check deadlines deadlines-jobs '"batchItemFailures":[{"itemIdentifier":"jobs-1"}]' ;;
    site) check site site-home '"statusCode":200'; check site site-write '"statusCode":201' ;;
    console) check console console-login-wrong '"statusCode":401'; check console console-inbox-expired '"statusCode":303' ;;
    relay) check relay relay-stream '"batchItemFailures":[]' ;;
    notify) check notify notify '"batchItemFailures":[{"itemIdentifier":"notify-0"},{"itemIdentifier":"notify-1"}]' ;;
  esac
}
# One emulator serves every function (cargo lambda routes each invocation to its own function).
start_watch
for fn in submit query assign reply staff triage handoff deadlines site console relay notify; do
  function_checks "$fn"
done
stop_watch
echo "lambda smoke: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
