# Sourced by the run scripts: the repository root, its .env, and its Python.
# It must never print a variable's value (they include secrets).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -f "$ROOT/.env" ]]; then
  set -a
  # shellcheck disable=SC1091
  source "$ROOT/.env"
  set +a
fi
if [[ -x "$ROOT/.venv/bin/python" ]]; then
  PYTHON="$ROOT/.venv/bin/python"
else
  PYTHON="${PYTHON:-python3}"
fi
# Empty values in .env mean "use the default"; the services treat unset and
# empty alike except for these, which must be absent rather than empty.
for name in SENTINEL_IDENTITY_KEY SENTINEL_INTERCEPTOR_PUBLIC_KEYS SENTINEL_REDIS_URL SENTINEL_DATABASE_URL \
            SUPABASE_PROJECT_URL SUPABASE_SERVICE_ROLE_KEY; do
  if [[ -z "${!name:-}" ]]; then unset "$name"; fi
done
cd "$ROOT"

# --host H --port P (and --help: the calling script's header) over the HOST/PORT defaults it set.
parse_host_port() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --host) HOST="$2"; shift 2 ;;
      --port) PORT="$2"; shift 2 ;;
      -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
      *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
  done
}
