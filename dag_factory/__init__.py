"""Pure library that turns MLOps workflow specs into Airflow DAGs.

It never imports the web plugin and never writes to any database, so it stays importable in the
dag-processor's parse subprocess and in workers, where Airflow's own database is out of reach.
"""
