"""The Airflow DAG file of the MLOps editor's test runs (``mlops_test_runs``): see airflow_mlops_dag_factory.test_runs.

Not a module to import: the MLOps DAG bundle writes this text beside its DAG file(s), and the repository's
dags/mlops_test_runs.py links here. Nothing here raises.
"""

from airflow_mlops_dag_factory.test_runs import dags_for_test_file

globals().update(dags_for_test_file(__file__))
