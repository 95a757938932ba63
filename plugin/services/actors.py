"""Who is acting, and what the services must let them do beyond the FAB permission the API checked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The caller of a service.

    ``name`` is recorded as author/owner. The REST layer sets the flags from FAB permissions ("MLOps All
    Workflows" can_edit / can_delete, "MLOps Public Templates" can_edit); without them a caller may change
    only what it owns, and may never purge history.
    """

    name: str
    manage_all_workflows: bool = False
    manage_public_templates: bool = False
    purge_history: bool = False
    review_drafts: bool = False  # "MLOps Reviews" can_edit: approve others' drafts, publish without a review

    @classmethod
    def system(cls, name: str) -> Actor:
        """A trusted local caller (the CLI, the template loader): whoever can run it can already do anything."""
        return cls(name, manage_all_workflows=True, manage_public_templates=True, purge_history=True,
                   review_drafts=True)
