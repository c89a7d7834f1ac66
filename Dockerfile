# One image for every workload: the training Job (`calhousing pipeline`), the predictor
# (`calhousing serve`), the MLflow tracking server (`calhousing mlflow-server`) and later the
# drift CronJob. Dependencies come from uv.lock exactly (`uv sync --frozen`).
#
#   docker build -t calhousing-mlops:dev .
#   # behind a TLS-intercepting proxy, hand the build its CA bundle (never copied into the image):
#   docker build --secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt -t calhousing-mlops:dev .

# Any Debian-like image with Python 3.11 (3.12 works too) and useradd; both stages use it, so
# the virtualenv's interpreter path holds in the final stage.
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG UV_VERSION=0.13.8
ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src

# uv itself, in a throwaway venv of this stage only.
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi; \
    python3 -m venv /opt/uv && /opt/uv/bin/pip install "uv==${UV_VERSION}"

# Dependencies first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=secret,id=ca_bundle,required=false \
    --mount=type=cache,target=/root/.cache/uv \
    if [ -s /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi; \
    /opt/uv/bin/uv sync --frozen --no-dev --no-install-project --python python3

# Then the project, installed as a wheel (not editable): the final stage needs no sources.
# uv keys its cache of a local project on pyproject.toml only: rebuild it from these sources.
COPY calhousing ./calhousing
COPY training ./training
COPY inference ./inference
COPY monitoring ./monitoring
COPY core ./core
RUN --mount=type=secret,id=ca_bundle,required=false \
    --mount=type=cache,target=/root/.cache/uv \
    if [ -s /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi; \
    /opt/uv/bin/uv sync --frozen --no-dev --no-editable --python python3 \
      --reinstall-package calhousing-mlops


FROM ${BASE_IMAGE}
ARG UID=10001
LABEL org.opencontainers.image.title="calhousing-mlops" \
      org.opencontainers.image.description="California Housing: training, MLflow, V2 serving" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed, high UID that matches the chart's runAsUser; no login shell, no home of its own.
RUN groupadd --system --gid "${UID}" calhousing \
    && useradd --system --uid "${UID}" --gid "${UID}" --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin calhousing
COPY --from=build /app/.venv /app/.venv
COPY params.yaml /app/params.yaml
ENV PATH=/app/.venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CALHOUSING_PARAMS=/app/params.yaml \
    HOME=/tmp \
    DVC_NO_ANALYTICS=1
WORKDIR /app
USER ${UID}:${UID}
# MLflow, V2 REST, V2 gRPC, metrics.
EXPOSE 5000 8080 8081 8082
ENTRYPOINT ["calhousing"]
CMD ["--help"]
