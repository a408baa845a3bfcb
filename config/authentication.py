"""API token authentication with a lifetime.

DRF's tokens never expire. Here a token older than ``DATAFAIR_TOKEN_TTL_DAYS`` days is
refused (401, "expired; log in again"); logging in replaces an expired token with a new one,
``DELETE /api/auth/token/`` revokes the caller's token, and a password change revokes every
token of the account (:func:`marketplace.services.accounts.revoke_tokens_on_password_change`).

Like :mod:`config.parsers`, this module imports no DRF view: the REST_FRAMEWORK setting
names it, and DRF's views read that setting when they are imported.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


def token_expired(token) -> bool:
    """Whether ``token`` (DRF's ``Token``) is older than the configured lifetime."""
    days = settings.DATAFAIR_TOKEN_TTL_DAYS
    return days > 0 and token.created < timezone.now() - timedelta(days=days)


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise AuthenticationFailed("Token expired; log in again for a new one.")
        return user, token
