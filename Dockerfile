# hotline-router service image. Configured only through environment variables (see README).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY router ./router
COPY consumers ./consumers
COPY schemas ./schemas
COPY config ./config
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --upgrade pip && /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 LOG_FORMAT=json HTTP_HOST=0.0.0.0 HTTP_PORT=8080
RUN useradd --system --uid 10001 --home /nonexistent hotline
COPY --from=build /opt/venv /opt/venv
USER hotline
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"HTTP_PORT\",\"8080\")}/healthz', timeout=2)"
ENTRYPOINT ["hotline-router"]
CMD ["serve", "--role", "all"]
