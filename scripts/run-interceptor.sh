#!/usr/bin/env bash
# Run the interceptor (Zone B) by hand, without Docker:  scripts/run-interceptor.sh [--host H] [--port P]
# Reads .env (see .env.example); needs SENTINEL_IDENTITY_KEY (scripts/gen-keys.sh --write)
# and a running tool server at MCP_UPSTREAM_URL (scripts/run-mcp.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"

HOST="${SENTINEL_HOST:-127.0.0.1}"
PORT="${SENTINEL_PORT:-8000}"
parse_host_port "$@"
if [[ -z "${SENTINEL_IDENTITY_KEY:-}" ]]; then
  echo "SENTINEL_IDENTITY_KEY is not set: run scripts/gen-keys.sh --write (or set it in .env)" >&2
  exit 1
fi
# The tool server's settings are not the interceptor's business.
unset SENTINEL_MCP_VERIFY SENTINEL_MCP_AUDIT_LOG SENTINEL_MCP_DATA_DIR
mkdir -p var
exec "$PYTHON" -m sentinel_cli serve interceptor --host "$HOST" --port "$PORT"
