# One image for every mcsim service; docker-compose.yml runs one process per container.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
COPY control_instance ./control_instance
COPY execution_instance ./execution_instance
COPY midsourcing ./midsourcing
COPY load_balancer ./load_balancer
RUN pip install . \
    && useradd --uid 10001 --create-home --home-dir /data mcsim

USER mcsim
WORKDIR /data
EXPOSE 8070 8080 8081 8082 8090
# Without a compose file, the image runs the whole stack under the mcsim supervisor.
CMD ["mcsim", "up", "--host", "0.0.0.0", "--demo"]
