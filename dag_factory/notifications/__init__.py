"""Slack and email notifications of MLOps runs, sent through Airflow's provider notifiers.

``channels`` says who hears about an event, ``report`` gathers what happened from Airflow's callback
context, ``message`` renders it for Slack and email, ``notifiers`` builds the provider notifiers,
``delivery`` sends to every channel within a time bound and never raises, and ``callbacks`` holds the
callables ``build`` attaches to DAGs and tasks.
"""
