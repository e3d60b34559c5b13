# presence-gateway: one instance per container. compose.yaml runs two behind HAProxy with
# Redis and PostgreSQL, as tests/e2e/test_load_balancer.py does on the host.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml setup.py README.md LICENSE ./
COPY src ./src
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin presence \
    && mkdir -p /app/data && chown presence /app/data

USER presence
ENV HOST=0.0.0.0 \
    PORT=3000 \
    PRESENCE_DATA_DIR=/app/data \
    LOG_FORMAT=json
EXPOSE 3000

# /healthz answers once the instance serves; /readyz is for the load balancer (it fails
# while Redis is unreachable), /healthz for restarting a process that stopped answering.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"]

# The gateway ends its sessions, settles offline graces and closes its sockets on SIGTERM.
STOPSIGNAL SIGTERM
CMD ["presence-gateway", "serve"]
