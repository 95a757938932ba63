"""Domain errors of the services; the REST layer maps each to one HTTP status."""

from __future__ import annotations

from airflow_mlops_dag_factory.errors import FieldError


class ServiceError(Exception):
    """Base class: nothing was written when one of these is raised."""


class InvalidInput(ServiceError):
    """400: the input breaks one or more rules; ``errors`` lists every one with its field path."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


class NotFound(ServiceError):
    """404."""


class Conflict(ServiceError):
    """409: a stale revision, or a name already taken."""


class PreconditionRequired(ServiceError):
    """428: a change of something that exists must say which revision of it it is based on."""


class Forbidden(ServiceError):
    """403: the actor may not do this to this object (e.g. edit another user's workflow)."""
