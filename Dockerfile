# The production image: the official Airflow 3.3 image with this package (plugin, DAG factory, DAG bundle)
# installed against the same constraints the tests use. Built by `docker compose build`. The workflows' DAG
# files are written by the MLOps DAG bundle in each container (docker-compose.yml configures it).
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}
COPY --chown=airflow:0 . /opt/airflow-mlops
# The official image's rule: install as the airflow user, with Airflow pinned (the constraints pin it).
RUN pip install --no-cache-dir -c /opt/airflow-mlops/airflow_config/constraints.txt \
      "/opt/airflow-mlops[postgres,celery]"
