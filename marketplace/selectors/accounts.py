"""What an account may read about itself."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from rest_framework.authtoken.models import Token

from config.authentication import token_expired


def token_status(*, user) -> dict:
    """``user``'s API token (or None), when it expires (None: never) and whether it has."""
    token = Token.objects.filter(user=user).first()
    days = settings.DATAFAIR_TOKEN_TTL_DAYS
    expires = token.created + timedelta(days=days) if token is not None and days > 0 else None
    return {
        "token": token,
        "expires": expires,
        "expired": token is not None and token_expired(token),
    }
