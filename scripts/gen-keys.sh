#!/usr/bin/env bash
# Make a fresh interceptor identity key pair with `sentinel keys identity`.
#   scripts/gen-keys.sh            print SENTINEL_IDENTITY_KEY=... and SENTINEL_INTERCEPTOR_PUBLIC_KEYS=...
#   scripts/gen-keys.sh --write    put them into .env (created from .env.example if missing)
# The first value is secret: the interceptor only. The second goes to the tool server.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ -x .venv/bin/sentinel ]]; then SENTINEL=(.venv/bin/sentinel)
elif command -v sentinel >/dev/null 2>&1; then SENTINEL=(sentinel)
else SENTINEL=("${PYTHON:-python3}" -m sentinel_cli)
fi

case "${1:-}" in
  "") exec "${SENTINEL[@]}" keys identity ;;
  --write) ;;
  -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
  *) echo "unknown option: $1" >&2; exit 2 ;;
esac

lines="$("${SENTINEL[@]}" keys identity 2>/dev/null)"
identity="$(grep '^SENTINEL_IDENTITY_KEY=' <<<"$lines")"
public="$(grep '^SENTINEL_INTERCEPTOR_PUBLIC_KEYS=' <<<"$lines")"
if [[ -z "$identity" || -z "$public" ]]; then
  echo "sentinel keys identity did not print a key pair" >&2
  exit 1
fi
if [[ ! -f .env ]]; then
  cp .env.example .env
fi
chmod 600 .env
if grep -q '^SENTINEL_IDENTITY_KEY=.\+' .env; then
  echo ".env already has SENTINEL_IDENTITY_KEY; not replacing it (remove the line to rotate)" >&2
  exit 1
fi
tmp="$(mktemp "$ROOT/.env.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
# Replace the (empty) lines in place, or append them if .env lacks them.
awk -v id="$identity" -v pub="$public" '
  /^SENTINEL_IDENTITY_KEY=/            { print id;  seen_id = 1;  next }
  /^SENTINEL_INTERCEPTOR_PUBLIC_KEYS=/ { print pub; seen_pub = 1; next }
  { print }
  END { if (!seen_id) print id; if (!seen_pub) print pub }
' .env >"$tmp"
chmod 600 "$tmp"
mv "$tmp" .env
trap - EXIT
echo "wrote a new identity key pair to .env (public key: ${public#*=})"
