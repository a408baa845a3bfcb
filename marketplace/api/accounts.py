"""Register, obtain a token, and who am I."""

from django.contrib.auth.signals import user_logged_in
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiSchema, ErrorSerializer, api_schema
from config.authentication import ExpiringTokenAuthentication, token_expired
from config.throttling import ScopeThrottle
from marketplace.selectors.accounts import token_status
from marketplace.services.accounts import ROLES, user_register


class UserOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True, help_text="Empty when none was given.")
    roles = serializers.ListField(child=serializers.ChoiceField(choices=ROLES))

    def to_representation(self, user):
        return {
            "id": user.pk,
            "username": user.username,
            "email": user.email,
            "roles": user.profile.roles,
        }


class RegisterIn(serializers.Serializer):
    username = serializers.RegexField(
        r"^[\w.@+-]{3,150}$", help_text="3–150 letters, digits, @.+-_"
    )
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=ROLES), allow_empty=False, max_length=2
    )


class RegisterOut(UserOut):
    token = serializers.CharField()

    def to_representation(self, user):
        return {**super().to_representation(user), "token": Token.objects.get(user=user).key}


class RegisterApi(APIView):
    schema = ApiSchema()
    # No authentication: a client holding a stale token must still be able to register.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_scope = "register"

    @api_schema(request=RegisterIn, responses={201: RegisterOut, 400: ErrorSerializer}, auth=[])
    def post(self, request):
        data = RegisterIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_register(**data.validated_data)
        Token.objects.create(user=user)
        return Response(RegisterOut(user).data, status=status.HTTP_201_CREATED)


class TokenOut(serializers.Serializer):
    token = serializers.CharField()


class TokenInfoOut(serializers.Serializer):
    created = serializers.DateTimeField()
    expires = serializers.DateTimeField(
        allow_null=True, help_text="Null when tokens never expire (DATAFAIR_TOKEN_TTL_DAYS=0)."
    )
    ends_with = serializers.CharField(help_text="The key's last four characters.")


class TokenApi(ObtainAuthToken):
    schema = ApiSchema()
    # No authentication to log in: logging in again is how a client replaces a stale token.
    # Revoking (DELETE) needs the token itself.
    authentication_classes = []
    throttle_classes = [ScopeThrottle]  # ObtainAuthToken turns throttling off
    throttle_scope = "login"

    def get_authenticators(self):
        if self.request is not None and self.request.method in ("GET", "DELETE"):
            return [ExpiringTokenAuthentication()]
        return []

    def get_permissions(self):
        if self.request is not None and self.request.method in ("GET", "DELETE"):
            return [IsAuthenticated()]
        return [AllowAny()]

    def get_serializer_context(self):
        # The login lockout (django-axes) marks the request it authenticates; give it
        # Django's own, which its middleware turns into the 429 (config/throttling.py).
        return {**super().get_serializer_context(), "request": self.request._request}

    @api_schema(
        request=ObtainAuthToken.serializer_class,
        responses={200: TokenOut, 400: ErrorSerializer},
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        # A login like the web's: it records last_login and clears the lockout's count.
        user_logged_in.send(sender=type(user), request=request._request, user=user)
        token, _ = Token.objects.get_or_create(user=user)
        if token_expired(token):  # a new key, not the old one with a new date
            token.delete()
            token = Token.objects.create(user=user)
        return Response({"token": token.key})

    @api_schema(responses={200: TokenInfoOut})
    def get(self, request, *args, **kwargs):
        """The token this request is signed with: when it was made and expires (never its key)."""
        status_ = token_status(user=request.user)
        token = status_["token"]
        return Response(
            {"created": token.created, "expires": status_["expires"], "ends_with": token.key[-4:]}
        )

    @api_schema(request=None, responses={204: None})
    def delete(self, request, *args, **kwargs):
        """Revoke the token this request is signed with; log in again for a new one."""
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    schema = ApiSchema()

    @api_schema(responses={200: UserOut})
    def get(self, request):
        return Response(UserOut(request.user).data)
