"""An Airflow DAG file of the MLOps plugin: every stored workflow becomes a DAG.

Not a module to import: the MLOps DAG bundle writes this text as its DAG file(s), and the repository's
dags/mlops_workflows.py links here.

In the MLOps DAG bundle (airflow_mlops_dag_factory.bundle) it builds the workflows as of the bundle version
beside it; in a plain dags folder, the current ones. With ``[mlops] dag_file_shards`` > 1 this file builds
shard 0 and its copies ``mlops_workflows_shard_<i>.py`` build the others; the index comes from the file name.
In a worker only the DAG being run is built (Airflow's parsing context). Nothing here raises: see
airflow_mlops_dag_factory.store.
"""

# Named here so the dag-processor imports it once before forking each parse (parsing_pre_import_modules).
from airflow.providers.standard.operators.python import PythonOperator  # noqa: F401
from airflow.sdk import get_parsing_context

from airflow_mlops_dag_factory.build import dags_for_file

globals().update(dags_for_file(__file__, get_parsing_context().dag_id))
