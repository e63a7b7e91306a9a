# One image for the TAP service, the dask scheduler and workers, and the ingest steps.
#   docker build -t qserv-access:dev .
#   docker run -p 8000:8000 -v $PWD/demo-data:/qserv/data qserv-access:dev
# deploy/ runs it on Kubernetes (docs/deploy.md).

# --- build: a wheel of this checkout and of its runtime dependencies ---------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY tap_service ./tap_service
COPY qserv_access ./qserv_access
RUN python -m venv /opt/qserv-access \
 && /opt/qserv-access/bin/pip install --upgrade pip \
 && /opt/qserv-access/bin/pip install ".[dask,postgres]"
COPY deploy/image/benchmark.py /opt/qserv-access/bin/qserv-access-benchmark
RUN sed -i '1i #!/opt/qserv-access/bin/python' /opt/qserv-access/bin/qserv-access-benchmark \
 && chmod 755 /opt/qserv-access/bin/qserv-access-benchmark

# --- runtime: the virtual environment only, run as an unprivileged user ------------------
FROM python:3.11-slim
RUN groupadd --gid 10001 qsa \
 && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/qsa qsa \
 && mkdir -p /qserv/data /results \
 && chown -R 10001:10001 /qserv /results
COPY --from=build /opt/qserv-access /opt/qserv-access
ENV PATH=/opt/qserv-access/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    QSA_TAP_WORK_DIR=/results/tap
USER 10001:10001
WORKDIR /home/qsa
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/tap/availability', timeout=4)"]
CMD ["qserv-access", "serve", "--data-dir", "/qserv/data", "--host", "0.0.0.0", "--port", "8000"]
