# The production image: the official Airflow 3.3 image with this package (plugin, DAG factory, DAG file)
# installed against the same constraints the tests use. Built by `docker compose build`.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}
COPY --chown=airflow:0 . /opt/airflow-mlops
# The official image's rule: install as the airflow user, with Airflow pinned (the constraints pin it).
RUN pip install --no-cache-dir -c /opt/airflow-mlops/airflow_config/constraints.txt \
      "/opt/airflow-mlops[postgres,celery]"
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow-mlops/dags
# [mlops] dag_file_shards: the shard DAG files must exist wherever DAGs are parsed, so they are part of the image.
ARG MLOPS_DAG_FILE_SHARDS=1
RUN airflow-mlops shards write --dag-file /opt/airflow-mlops/dags/mlops_workflows.py --shards "${MLOPS_DAG_FILE_SHARDS}"
