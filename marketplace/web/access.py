"""Who may open a page: signed-in users, and for some pages a market role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

ROLE_PAGES = {
    "provider": "This page is for providers: people who sell data. Your account buys data only.",
    "consumer": "This page is for consumers: people who buy data for a task. "
    "Your account sells data only.",
}


def roles_of(user) -> list[str]:
    """A signed-in user's market roles (none for accounts made outside sign-up)."""
    profile = getattr(user, "profile", None)
    return profile.roles if profile is not None else []


def role_required(role: str) -> Callable:
    """Sign in first; then refuse, with a page saying why, users without ``role``."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if role not in roles_of(request.user):
                raise PermissionDenied(ROLE_PAGES[role])
            return view(request, *args, **kwargs)

        return guarded

    return decorator
