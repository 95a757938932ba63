"""The plugin's JSON REST API: a Flask blueprint under ``/pluginsv2/mlops/api/v1``, thin over the services."""
