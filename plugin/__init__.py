"""airflow-mlops: build, run and govern ML workflows inside Apache Airflow 3 (the web plugin half)."""
