"""Rate limits and login lockout: what a hostile client would repeat is refused with a 429.

Two mechanisms, one answer:

- **Rates** (:class:`ScopeThrottle`): each action that costs the market something (a token
  or web login, a registration, an upload, which queues screening, a deposit) has a scope and
  a rate in ``DATAFAIR_RATE_LIMITS`` (``"10/min"``, ``"20/hour"``). A client is its user
  when logged in, its address otherwise. The API and the web pages share a scope's count, so
  a client cannot double its budget by switching between them. Counts live in the default
  cache, which every process shares (Redis when ``REDIS_URL`` is set, files otherwise); while
  that cache is unreachable, requests are served unlimited (and a warning logged), not
  refused.
- **Lockout** (django-axes): after ``AXES_FAILURE_LIMIT`` wrong passwords for one username
  from one address, logins for that pair are refused for ``AXES_COOLOFF_TIME`` before any
  password is hashed, on the token endpoint, the login page and the admin alike. Keyed by
  the pair, so nobody can lock another person out from elsewhere.

Both answer 429 with ``Retry-After`` (seconds): JSON ``{"detail": ...}`` under ``/api/``,
a page elsewhere.
"""

from __future__ import annotations

import logging
import math
from functools import wraps
from types import SimpleNamespace

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


class ScopeThrottle(ScopedRateThrottle):
    """DRF's scoped throttle with its rates read from ``DATAFAIR_RATE_LIMITS`` on every
    request (DRF binds its own at import), so a deployment's or a test's settings apply. Only
    POSTs count; a view without ``throttle_scope``, or a scope without a rate, is not
    limited."""

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache (Redis) is down: serve rather than fail
            logger.warning(
                "rate limit of %r not checked: %s: %s", self.scope, type(exc).__name__, exc
            )
            return True

    def get_rate(self):
        return settings.DATAFAIR_RATE_LIMITS.get(self.scope)


def too_many(request: HttpRequest, wait_seconds: float, detail: str) -> HttpResponse:
    """The 429 of a refused request: JSON under ``/api/``, the web page elsewhere."""
    retry = str(max(1, math.ceil(wait_seconds)))
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": detail}, status=429)
    else:
        response = render(request, "web/too_many.html", {"detail": detail}, status=429)
    response["Retry-After"] = retry
    return response


def in_words(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    if seconds < 60:
        return f"{max(1, math.ceil(seconds))} seconds"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def rate_detail(wait_seconds: float) -> str:
    return f"too many requests of this kind; try again in {in_words(wait_seconds)}"


def throttled(scope: str):
    """Limit a web view's POSTs by ``scope``'s rate (the count its API twin uses)."""

    def decorate(view):
        @wraps(view)
        def limited(request, *args, **kwargs):
            throttle = ScopeThrottle()
            if not throttle.allow_request(request, SimpleNamespace(throttle_scope=scope)):
                wait = throttle.wait() or 1
                return too_many(request, wait, rate_detail(wait))
            return view(request, *args, **kwargs)

        return limited

    return decorate


def locked_out(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer once a username and address have failed too often."""
    wait = settings.AXES_COOLOFF_TIME.total_seconds()
    detail = (
        f"too many failed logins for this username from your address; try again in {in_words(wait)}"
    )
    return too_many(request, wait, detail)
