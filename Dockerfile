# One image for every Concierge service: `concierge serve <service>` picks it
# (intake, decision, gateway); any other `concierge` command runs as a job
# (`provision`, `lag`, `dlq replay`, ...).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY libs ./libs
COPY services ./services
COPY bench ./bench
# constraints.txt pins every transitive dependency (Faust's internals are
# subclassed: faust-streaming and mode must never float).
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --uid 10001 concierge \
    && mkdir -p /data && chown concierge /data
COPY deploy/config ./deploy/config
USER 10001
ENV CONCIERGE_HTTP_HOST=0.0.0.0
VOLUME ["/data"]
ENTRYPOINT ["concierge"]
CMD ["serve", "gateway"]
# Asks /ready of whichever service listens in the container (its port from
# CONCIERGE_<SERVICE>_HTTP_PORT). The start period covers table recovery.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 CMD ["concierge", "ready"]
