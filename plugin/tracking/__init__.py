"""Experiment tracking: sending each Airflow run to an external tracker (MLflow), optional and best effort."""
