"""A user's roles in the market: provider (sells data), consumer (buys), or both."""

from django.conf import settings
from django.db import models


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    is_provider = models.BooleanField(default=False)
    is_consumer = models.BooleanField(default=False)
    #: What the username looks like (:func:`marketplace.services.accounts.name_skeleton`):
    #: a new name whose skeleton is taken is refused, so no one registers a look-alike.
    name_skeleton = models.CharField(max_length=150, db_index=True, default="", editable=False)

    def __str__(self) -> str:
        return f"{self.user} ({', '.join(self.roles) or 'no role'})"

    @property
    def roles(self) -> list[str]:
        return [
            role
            for role, on in (("provider", self.is_provider), ("consumer", self.is_consumer))
            if on
        ]
