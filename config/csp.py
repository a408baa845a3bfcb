"""Content-Security-Policy: every page may load scripts, styles, images and fonts from our own
origin only, and run no inline script, so a cell, title or column name that slipped past
escaping still could not execute. The policy is the setting ``DATAFAIR_CSP``."""

from __future__ import annotations

from functools import wraps

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Sends the policy with every response that has none of its own."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.DATAFAIR_CSP)
        return response


def inline_styles_allowed(view):
    """``view`` under the policy with inline styles allowed (Swagger UI sets some as it
    draws); scripts stay as strict as everywhere."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        policy = settings.DATAFAIR_CSP.replace(
            "style-src 'self'", "style-src 'self' 'unsafe-inline'"
        )
        response.headers["Content-Security-Policy"] = policy
        return response

    return wrapped
