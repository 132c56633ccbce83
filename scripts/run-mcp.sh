#!/usr/bin/env bash
# Run the tool server (Zone C) by hand, without Docker:  scripts/run-mcp.sh [--host H] [--port P]
# Reads .env (see .env.example); needs SENTINEL_INTERCEPTOR_PUBLIC_KEYS (scripts/gen-keys.sh --write).
# Keep it where only the interceptor can reach it (the default host is 127.0.0.1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"

HOST="${SENTINEL_MCP_HOST:-127.0.0.1}"
PORT="${SENTINEL_MCP_PORT:-9000}"
parse_host_port "$@"
if [[ -z "${SENTINEL_INTERCEPTOR_PUBLIC_KEYS:-}" ]]; then
  echo "SENTINEL_INTERCEPTOR_PUBLIC_KEYS is not set: run scripts/gen-keys.sh --write (or set it in .env)" >&2
  exit 1
fi
# Zone C holds no secrets of the other zones: drop them before starting.
unset SENTINEL_IDENTITY_KEY SENTINEL_API_KEY SENTINEL_DATABASE_URL SUPABASE_SERVICE_ROLE_KEY \
      OPENROUTER_API_KEY OPENAI_API_KEY
mkdir -p var
exec "$PYTHON" -m sentinel_cli serve mcp --host "$HOST" --port "$PORT"
