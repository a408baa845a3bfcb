"""Registering users with their market roles, under names no one can imitate.

Provider names are shown to buyers, so a name that merely *looks* like a registered one is
refused: ``m_cоns1`` (a Cyrillic о) or ``ｍ_cons1`` (a fullwidth ｍ) beside ``m_cons1``.
Names are NFKC-normalised as Django's own user manager does (fullwidth letters become
ASCII), and compared by their :func:`name_skeleton`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from marketplace.models import Profile
from marketplace.services.errors import ServiceError

ROLES = ("provider", "consumer")


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Each character that Unicode's confusables data (via ``confusable_homoglyphs``) lists
    as mistakable for another, mapped to one prototype per group of look-alikes: the lowest
    code point among all characters linked to it, directly or through others (so ``o``,
    Cyrillic ``о`` and Greek ``ο`` share one, whichever lists which)."""
    from confusable_homoglyphs.confusables import confusables_data

    parent: dict[str, str] = {}

    def root(char: str) -> str:
        while parent.get(char, char) != char:
            parent[char] = parent.get(parent[char], parent[char])  # path halving
            char = parent[char]
        return char

    for char, homoglyphs in confusables_data.items():
        for other in (h["c"] for h in homoglyphs):
            if len(char) == 1 and len(other) == 1:
                a, b = root(char), root(other)
                parent.setdefault(a, a)
                parent.setdefault(b, b)
                parent[max(a, b)] = min(a, b)
    return {char: root(char) for char in parent}


def name_skeleton(username: str) -> str:
    """What ``username`` looks like: NFKC-normalised, case-folded, each character replaced
    by the prototype of its look-alikes. Two names with one skeleton can be mistaken for
    each other (``m_cons1``, ``M_CОNS1``, ``m_consl``)."""
    prototypes = _prototypes()
    folded = unicodedata.normalize("NFKC", username).casefold()
    return "".join(prototypes.get(char, char) for char in folded)


def revoke_tokens_on_password_change(sender, instance, update_fields=None, **kwargs) -> None:
    """Receiver of the user model's ``pre_save``: a saved password that differs from the
    stored one (a change in the admin, ``changepassword``, a reset) revokes the account's API
    tokens, so whoever held one must log in with the new password."""
    from rest_framework.authtoken.models import Token

    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    stored = type(instance).objects.filter(pk=instance.pk).values_list("password", flat=True)
    if stored.first() not in (None, instance.password):
        Token.objects.filter(user_id=instance.pk).delete()


def ensure_profile(sender, instance, created=False, raw=False, **kwargs) -> None:
    """Receiver of the user model's ``post_save``: every new account has a profile (no role
    yet) and its name's skeleton, however it was made (``createsuperuser``, the admin), so
    its pages open and no later name can imitate it."""
    if created and not raw:
        Profile.objects.get_or_create(
            user=instance, defaults={"name_skeleton": name_skeleton(instance.username)}
        )


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
    username = User.normalize_username(username)
    if User.objects.filter(username__iexact=username).exists():
        raise ServiceError("this username is taken", field="username")
    skeleton = name_skeleton(username)
    if Profile.objects.filter(name_skeleton=skeleton).exists():
        raise ServiceError(
            "this username looks like one already registered (characters that can be "
            "mistaken for others); choose another",
            field="username",
        )
    user = User(username=username, email=email)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ServiceError(" ".join(exc.messages), field="password") from None
    user.set_password(password)
    user.save()  # ensure_profile gives it a profile; the roles are set here
    Profile.objects.filter(user=user).update(
        is_provider="provider" in roles, is_consumer="consumer" in roles, name_skeleton=skeleton
    )
    return User.objects.select_related("profile").get(pk=user.pk)


def token_issue(*, user):
    """A new API token for ``user`` (the old one, if any, stops working): its key is shown
    once, to the user who asked."""
    from rest_framework.authtoken.models import Token

    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def token_revoke(*, user) -> bool:
    """Revoke ``user``'s API token; whether there was one."""
    from rest_framework.authtoken.models import Token

    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted > 0
