"""The one Airflow DAG file of the MLOps plugin: every stored workflow becomes a DAG.

In a worker only the DAG being run is built (Airflow's parsing context); everywhere else all are.
Nothing here raises: see airflow_mlops_dag_factory.store.
"""

from airflow.sdk import get_parsing_context

from airflow_mlops_dag_factory.build import build_dags
from airflow_mlops_dag_factory.store import load_workflows

for _dag_id, _dag in build_dags(load_workflows(dag_id=get_parsing_context().dag_id)).items():
    globals()[_dag_id] = _dag
