# One image for every Python service of the local stack (docker-compose.yaml): the Airflow
# components, the MLflow server and the Spark master and worker share one Python, one pyspark
# and the nightshift package, so a Spark executor unpickles exactly what the driver sent.
FROM python:3.11-slim-bookworm

ENV JAVA_HOME=/usr/lib/jvm/java-17 \
    PATH=/opt/venv/bin:$PATH \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    PYSPARK_DRIVER_PYTHON=/opt/venv/bin/python \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    NIGHTSHIFT_HOME=/opt/nightshift \
    NIGHTSHIFT_LOCAL_DEFAULTS=off

# Dependencies first, in one layer, so that a change to the project's code reuses them.
COPY requirements.txt constraints.txt /opt/nightshift/
# The JRE for Spark; no compiler is needed (every pinned package ships a wheel). xgboost's NCCL
# wheel serves multi-GPU training only and is the largest file in the set: the stack has no GPU.
# JAVA_HOME is a fixed link, whatever the architecture's JVM folder is called.
# The folders the stack mounts volumes on are created here, owned by the service account, so
# that a fresh named volume starts out writable by it.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && ln -s "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /usr/lib/jvm/java-17 \
 && python -m venv /opt/venv \
 && pip install --no-cache-dir -r /opt/nightshift/requirements.txt -c /opt/nightshift/constraints.txt \
 && pip uninstall -y nvidia-nccl-cu12 \
 && useradd --uid 50000 --create-home --shell /bin/bash nightshift \
 && mkdir -p /data/raw /data/work /data/quarantine /data/dvc /data/dvc-remote /opt/airflow/logs /var/lib/mlflow/artifacts /tmp/spark \
    /opt/nightshift/great_expectations/uncommitted \
 && chown -R nightshift /data /opt/airflow /var/lib/mlflow /tmp/spark /opt/nightshift

COPY --chown=nightshift . /opt/nightshift/
RUN pip install --no-cache-dir --no-deps /opt/nightshift \
 && rm -rf /opt/nightshift/build /opt/nightshift/include/*.egg-info

# No WORKDIR: with Docker's copying storage drivers every step after the dependencies copies the
# whole image once more; docker-compose.yaml sets the services' working directory.
USER nightshift
