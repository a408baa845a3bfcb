"""Registering users with their market roles."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from marketplace.models import Profile
from marketplace.services.errors import ServiceError

ROLES = ("provider", "consumer")


@transaction.atomic
def user_register(*, username: str, password: str, email: str = "", roles: Iterable[str]):
    roles = set(roles)
    unknown = roles - set(ROLES)
    if unknown:
        raise ServiceError(
            f"unknown role {sorted(unknown)[0]!r}; use provider and/or consumer", field="roles"
        )
    if not roles:
        raise ServiceError("choose at least one role: provider, consumer", field="roles")
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise ServiceError("this username is taken", field="username")
    user = User(username=username, email=email)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ServiceError(" ".join(exc.messages), field="password") from None
    user.set_password(password)
    user.save()
    Profile.objects.create(
        user=user, is_provider="provider" in roles, is_consumer="consumer" in roles
    )
    return user
