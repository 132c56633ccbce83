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
mkdir -p var
# Zone C gets its own settings and nothing else: an allowlist, not a list of what to drop,
# so a secret added to .env later (an identity seed, a database password) never reaches it.
# MCP_SETTINGS is every McpSettings field (tests/unit/test_service_environments.py checks).
MCP_SETTINGS=(SENTINEL_MCP_ID SENTINEL_INTERCEPTOR_PUBLIC_KEYS SENTINEL_REDIS_URL SENTINEL_REDIS_PREFIX
              SENTINEL_MCP_AUDIT_LOG SENTINEL_MCP_DATA_DIR SENTINEL_LEEWAY_SECONDS SENTINEL_MCP_VERIFY
              SENTINEL_MAX_BODY_BYTES SENTINEL_MAX_SESSION_SECONDS SENTINEL_SESSION_KEY_CACHE_SIZE
              SENTINEL_READ_TIMEOUT_SECONDS SENTINEL_KEEP_ALIVE_SECONDS SENTINEL_MAX_CONNECTIONS)
keep=(PATH HOME LANG LC_ALL TZ "${MCP_SETTINGS[@]}")
environment=()
for name in "${keep[@]}"; do
  if [[ -n "${!name+set}" ]]; then environment+=("$name=${!name}"); fi
done
exec env -i "${environment[@]}" "$PYTHON" -m sentinel_cli serve mcp --host "$HOST" --port "$PORT"
