#!/usr/bin/env bash
# Benchmark of the Lambda functions (not part of the test run): release binary size (zipped) of each
# function, and cold start — process start to first response — against a minimal Lambda runtime API
# served here, with moto for DynamoDB and SQS. Builds for this machine's architecture (x86_64 here);
# the deployed arm64 build (`cargo lambda build --profile release-lambda --arm64`) needs `ziglang`
# from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
runs=${RUNS:-5}
cargo lambda build --profile release-lambda >&2
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/python scripts/moto-atomic.py -H 127.0.0.1 -p "$port" > "$dir/moto.log" 2>&1 &
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
cargo run -q --release -p mailbox-lambda --bin mailbox-aws-setup -- --endpoint "http://127.0.0.1:$port" --table bench --queue-prefix bench- --bucket bench-files >&2
printf '%-10s %12s %12s %18s\n' function binary_MB zipped_MB "cold_start_ms(med)"
for fn in submit query site console assign reply staff triage handoff deadlines; do
  bin=target/lambda/$fn/bootstrap
  (cd "$(dirname "$bin")" && zip -q -9 "$dir/$fn.zip" bootstrap)
  event=$(ls events/ | grep -E "^${fn}(-|\.)" | head -n 1)
  [ "$fn" = deadlines ] && event=deadlines-sweep.json
  ms=$(.venv/bin/python - "$bin" "events/$event" "$runs" "$port" <<'PY'
import http.server, json, os, statistics, subprocess, sys, threading, time
binary, event, runs, moto = sys.argv[1], open(sys.argv[2]).read(), int(sys.argv[3]), sys.argv[4]
times = []
for _ in range(runs):
    done = threading.Event()
    served = {"next": False}
    class Runtime(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_GET(self):
            if served["next"]:
                done.wait(5); time.sleep(5); return
            served["next"] = True
            body = event.encode()
            self.send_response(200)
            for k, v in [("Lambda-Runtime-Aws-Request-Id", "bench"), ("Lambda-Runtime-Deadline-Ms", str(int(time.time()*1000) + 30000)),
                         ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench"), ("Content-Length", str(len(body)))]:
                self.send_header(k, v)
            self.end_headers(); self.wfile.write(body)
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(202); self.send_header("Content-Length", "0"); self.end_headers()
            done.set()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}", TABLE_NAME="bench", ATTACHMENTS_BUCKET="bench-files", QUEUE_PREFIX="bench-", QUEUE_URL_PREFIX=f"http://127.0.0.1:{moto}/123456789012/",
               AWS_ENDPOINT_URL=f"http://127.0.0.1:{moto}", AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_LAMBDA_FUNCTION_NAME="bench", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256", AWS_LAMBDA_FUNCTION_VERSION="1", RUST_LOG="error")
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if done.wait(30):
        times.append((time.perf_counter() - start) * 1000)
    proc.kill(); proc.wait(); server.shutdown()
print(f"{statistics.median(times):.1f}" if times else "failed")
PY
)
  printf '%-10s %12.1f %12.1f %18s\n' "$fn" "$(echo "$(stat -c %s "$bin") / 1048576" | bc -l)" "$(echo "$(stat -c %s "$dir/$fn.zip") / 1048576" | bc -l)" "$ms"
done
