# monitor as a container: non-root user, state on a volume.
#   docker build -t monitor .
#   docker run -d --name monitor -v monitor-state:/app/state \
#       -e MONITOR_SMTP_PASSWORD=... monitor
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install . && useradd --system --uid 10001 --home /app monitor

COPY config ./config
COPY rules ./rules
RUN mkdir -p /app/state && chown -R monitor:monitor /app/state

USER monitor
VOLUME ["/app/state"]
HEALTHCHECK --interval=5m --timeout=30s CMD ["monitor", "status"]
ENTRYPOINT ["monitor", "--config", "/app/config/monitor.yaml"]
CMD ["run"]
