"""Connect arguments for Airflow's own database, chosen with ``[database] sql_alchemy_connect_args``.

Used by the local stack (``make run``) and the tests, where several Airflow processes share one SQLite
file: waiting up to a minute for a lock beats failing a request after SQLite's default 5 s.
"""

SQLITE = {"timeout": 60}
NONE: dict = {}
