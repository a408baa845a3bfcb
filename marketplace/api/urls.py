"""Routes of the REST API under ``/api/``."""

from django.urls import path

from marketplace.api import accounts, datasets, wallet

urlpatterns = [
    path("auth/register/", accounts.RegisterApi.as_view(), name="api-register"),
    path("auth/token/", accounts.TokenApi.as_view(), name="api-token"),
    path("me/", accounts.MeApi.as_view(), name="api-me"),
    path("datasets/", datasets.DatasetListApi.as_view(), name="api-datasets"),
    path("datasets/<int:pk>/", datasets.DatasetDetailApi.as_view(), name="api-dataset"),
    path(
        "datasets/<int:pk>/download/",
        datasets.DatasetDownloadApi.as_view(),
        name="api-dataset-download",
    ),
    path("wallet/", wallet.WalletApi.as_view(), name="api-wallet"),
    path("wallet/deposit/", wallet.DepositApi.as_view(), name="api-wallet-deposit"),
]
