# monitor as a container: non-root user; state, config and rules on volumes.
#   docker build -t monitor .
#   docker run -d --name monitor \
#       -v monitor-state:/app/state -v monitor-config:/app/config -v monitor-rules:/app/rules \
#       -e MONITOR_SMTP_PASSWORD=... monitor
#   docker exec monitor monitor feeds add https://www.politico.eu/feed/   # kept in the config volume
#   docker exec monitor monitor status
# Named volumes start as a copy of the shipped config/ and rules/; to use your own files
# instead, bind-mount them (-v /srv/monitor/config:/app/config) or point MONITOR_CONFIG at
# a mounted file. The health check is `monitor status --check`: unhealthy when the daemon
# is not running or stuck, a channel keeps failing, or most feeds fail.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    MONITOR_CONFIG=/app/config/monitor.yaml \
    XDG_CACHE_HOME=/app/state/cache
WORKDIR /app

COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install --no-cache-dir . && useradd --system --uid 10001 --user-group --home-dir /app monitor

COPY config ./config
COPY rules ./rules
RUN mkdir -p /app/state && chown -R 10001:10001 /app/state /app/config /app/rules

USER 10001:10001
VOLUME ["/app/state", "/app/config", "/app/rules"]
HEALTHCHECK --interval=1m --timeout=30s --start-period=2m --retries=3 CMD ["monitor", "status", "--check"]
ENTRYPOINT ["monitor"]
CMD ["run"]
