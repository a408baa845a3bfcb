"""Role checks for the API."""

from rest_framework.permissions import BasePermission


def _profile(request):
    user = request.user
    return getattr(user, "profile", None) if user and user.is_authenticated else None


class IsProvider(BasePermission):
    message = "This needs a provider account."

    def has_permission(self, request, view):
        profile = _profile(request)
        return bool(profile and profile.is_provider)


class IsConsumer(BasePermission):
    message = "This needs a consumer account."

    def has_permission(self, request, view):
        profile = _profile(request)
        return bool(profile and profile.is_consumer)
