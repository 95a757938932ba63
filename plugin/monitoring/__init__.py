"""Prometheus metrics of the plugin: served at ``/mlops-metrics/metrics`` by the api-server."""
