"""The wallet: balance, holds, statement, demo deposits."""

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiSchema, ErrorSerializer, api_schema
from marketplace.selectors.wallet import wallet_statement, wallet_summary
from marketplace.services.wallet import MAX_DEPOSIT_CENTS, wallet_deposit


class StatementLineOut(serializers.Serializer):
    entry = serializers.IntegerField()
    kind = serializers.CharField()
    memo = serializers.CharField()
    account = serializers.CharField()
    amount_cents = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class WalletOut(serializers.Serializer):
    balance_cents = serializers.IntegerField(help_text="Spendable now.")
    held_cents = serializers.IntegerField(help_text="Held for running or quoted tasks.")
    earnings_cents = serializers.IntegerField(help_text="Paid out to you as a provider.")
    statement = StatementLineOut(many=True)


class DepositIn(serializers.Serializer):
    amount_cents = serializers.IntegerField(min_value=1, max_value=MAX_DEPOSIT_CENTS)


class WalletApi(APIView):
    schema = ApiSchema()

    @api_schema(responses={200: WalletOut})
    def get(self, request):
        summary = wallet_summary(user=request.user)
        summary["statement"] = wallet_statement(user=request.user)
        return Response(WalletOut(summary).data)


class DepositApi(APIView):
    schema = ApiSchema()
    throttle_scope = "deposit"

    @api_schema(request=DepositIn, responses={201: WalletOut, 400: ErrorSerializer})
    def post(self, request):
        data = DepositIn(data=request.data)
        data.is_valid(raise_exception=True)
        wallet_deposit(user=request.user, amount_cents=data.validated_data["amount_cents"])
        summary = wallet_summary(user=request.user)
        summary["statement"] = wallet_statement(user=request.user)
        return Response(WalletOut(summary).data, status=201)
