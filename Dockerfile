# One image for both server zones: the interceptor (Zone B) and the tool server
# (Zone C). docker-compose.yml runs it twice with different commands and, above
# all, different environments: the identity *private* key goes to the
# interceptor only, never to the tool server.
#
#   docker build -t sentinel .
#   docker run --rm -p 8000:8000 --env-file .env sentinel            # interceptor
#   docker run --rm --env-file .env -e SENTINEL_HEALTH_PORT=9000 sentinel sentinel serve mcp --host 0.0.0.0 --port 9000

# ---- build: install the server extra into a virtual environment -------------
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/venv
# Only what the package needs: no tests, no .env, no .git in the image.
COPY pyproject.toml README.md requirements-server.lock ./
COPY sentinel_contract ./sentinel_contract
COPY sentinel_redis ./sentinel_redis
COPY sentinel_policy ./sentinel_policy
COPY sentinel_http ./sentinel_http
COPY sentinel_agent ./sentinel_agent
COPY sentinel_cli ./sentinel_cli
COPY interceptor ./interceptor
COPY mcp_server ./mcp_server
COPY sentinel_sdk ./sentinel_sdk
COPY rule_maker ./rule_maker
# Exactly what the lock pins (hashes checked), then the project without its dependencies.
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r requirements-server.lock \
 && /opt/venv/bin/pip install --no-deps --no-build-isolation .

# ---- runtime: no compiler, no source tree, an unprivileged user ---------------
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 sentinel \
 && useradd --system --uid 10001 --gid sentinel --home-dir /app --shell /usr/sbin/nologin sentinel
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root examples ./examples
# var/ holds the audit logs and the tool server's sandbox; the only writable path.
RUN mkdir -p /app/var && chown sentinel:sentinel /app/var
USER sentinel:sentinel
EXPOSE 8000 9000
# Readiness, not liveness: /readyz answers 503 (naming what) while the config store, Redis or
# the tool server (interceptor), or the trust store (tool server) cannot be used.
HEALTHCHECK --interval=10s --timeout=4s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('SENTINEL_HEALTH_PORT', '8000'), timeout=3)"]
# `sentinel serve`, not bare uvicorn: it applies SENTINEL_READ_TIMEOUT_SECONDS, SENTINEL_KEEP_ALIVE_SECONDS
# and SENTINEL_MAX_CONNECTIONS (sentinel_http.serve_app).
CMD ["sentinel", "serve", "interceptor", "--host", "0.0.0.0", "--port", "8000"]
