"""Flask-AppBuilder config for every FAB app of Airflow (``/auth``, ``/pluginsv2``, FAB CLI commands).

Selected with ``[fab] config_file``. Besides Airflow's defaults (database login, CSRF on), it installs a
security manager that grants the MLOps permissions to Airflow's default roles on every start and
``airflow sync-perm``; it only adds, never removes, so grants an admin made by hand survive.
"""

from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride
from flask_appbuilder.const import AUTH_DB

from airflow_mlops.security import extend_role_configs

AUTH_TYPE = AUTH_DB
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session; pages stay usable when left open


class MLOpsSecurityManager(FabAirflowSecurityManagerOverride):
    ROLE_CONFIGS = extend_role_configs(FabAirflowSecurityManagerOverride.ROLE_CONFIGS)


SECURITY_MANAGER_CLASS = MLOpsSecurityManager
