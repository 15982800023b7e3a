# The stream-sla worker image (used by deploy/compose and deploy/k8s).
# The web port binds 0.0.0.0 because probes and Prometheus reach a container from outside it.
# The status page (lead ids, owners, teams) and /metrics (rep names) are then open to whoever
# reaches the port: publish it on 127.0.0.1 only (compose), fence it with a NetworkPolicy (k8s),
# and/or set STREAM_SLA_WEB_AUTH_TOKEN or STREAM_SLA_WEB_AUTH_USER/_PASSWORD; /live and /ready
# stay open for probes.

# Build stage: the SLA core compiled by mypyc (deploy/native.sh, ~1.6x the events per CPU
# second of the pure-Python core); gcc and Python's headers stay in this stage.
FROM python:3.11 AS native
WORKDIR /src
COPY pyproject.toml README.md ./
COPY stream_sla ./stream_sla
COPY topics ./topics
COPY deploy/native.sh ./deploy/native.sh
RUN pip install --no-cache-dir . "mypy>=2.4,<3" && PYTHON=python bash deploy/native.sh /native

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    STREAM_SLA_WEB_HOST=0.0.0.0 STREAM_SLA_DATA_DIR=/var/lib/stream-sla
WORKDIR /app
COPY pyproject.toml README.md ./
COPY stream_sla ./stream_sla
COPY topics ./topics
COPY policies ./policies
COPY deploy/gateway ./deploy/gateway
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home /var/lib/stream-sla stream-sla \
    && mkdir -p /var/lib/stream-sla && chown stream-sla /var/lib/stream-sla
# The compiled overlay over the installed package: its extension modules load before the .py.
COPY --from=native /native/stream_sla /usr/local/lib/python3.11/site-packages/stream_sla
COPY --from=native /native/*.so /usr/local/lib/python3.11/site-packages/
USER stream-sla
EXPOSE 6066 6067
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/live', timeout=2)"
ENTRYPOINT ["stream-sla"]
CMD ["worker"]
