#!/usr/bin/env bash
# `make run`: start Azurite unless storage already answers, then serve the app
# with Core Tools (`func start`) when installed, else with the local host.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-7071}"

[ -f local.settings.json ] || { cp local.settings.sample.json local.settings.json; echo "Created local.settings.json from the sample."; }

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if port_open 10001 && port_open 10002; then
  echo "Storage already answers on 127.0.0.1:10001/10002; using it."
else
  mkdir -p .azurite
  node_modules/.bin/azurite --silent --skipApiVersionCheck --loose --disableTelemetry \
    --location .azurite &
  pids+=($!)
  for _ in $(seq 1 100); do port_open 10001 && port_open 10002 && break; sleep 0.1; done
  echo "Azurite started (data in .azurite/)."
fi

https=()
[ -n "${HTTPS:-}" ] && https=(--useHttps)
if command -v func >/dev/null 2>&1; then
  func start --port "$PORT" "${https[@]}" &
else
  .venv/bin/python -m devhost --port "$PORT" "${https[@]}" &
fi
pids+=($!)
wait "${pids[-1]}"
