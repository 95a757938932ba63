"""Pages of the plugin inside Airflow's UI (Flask-AppBuilder views served under ``/pluginsv2``)."""
