# One image for every Concierge service; the compose file picks the module to run.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
COPY bench ./bench
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 concierge \
    && mkdir -p /data && chown concierge /data
COPY deploy/config ./deploy/config
USER concierge
ENV CONCIERGE_HTTP_HOST=0.0.0.0
VOLUME ["/data"]
