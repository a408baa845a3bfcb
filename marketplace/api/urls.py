"""Routes of the REST API under ``/api/``."""

from django.urls import path, re_path

from config.api import api_not_found
from marketplace.api import accounts, datasets, pools, tasks, wallet

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
    path(
        "datasets/<int:pk>/review/", datasets.DatasetReviewApi.as_view(), name="api-dataset-review"
    ),
    path("tasks/", tasks.TaskListApi.as_view(), name="api-tasks"),
    path("tasks/<int:pk>/", tasks.TaskDetailApi.as_view(), name="api-task"),
    path("tasks/<int:pk>/cancel/", tasks.TaskCancelApi.as_view(), name="api-task-cancel"),
    path("tasks/<int:pk>/purchase/", tasks.TaskPurchaseApi.as_view(), name="api-task-purchase"),
    path("tasks/<int:pk>/insights/", tasks.TaskInsightApi.as_view(), name="api-task-insights"),
    path("tasks/<int:pk>/row-offer/", tasks.TaskRowOfferApi.as_view(), name="api-task-row-offer"),
    path("tasks/<int:pk>/pools/", pools.TaskPoolCreateApi.as_view(), name="api-task-pools"),
    path("pools/", pools.PoolListApi.as_view(), name="api-pools"),
    path("pools/<int:pk>/", pools.PoolDetailApi.as_view(), name="api-pool"),
    path("pools/<int:pk>/labels/", pools.PoolLabelApi.as_view(), name="api-pool-labels"),
    path("pools/<int:pk>/export/", pools.PoolExportApi.as_view(), name="api-pool-export"),
    path("orders/", tasks.OrderListApi.as_view(), name="api-orders"),
    path("orders/<int:pk>/", tasks.OrderDetailApi.as_view(), name="api-order"),
    path("payouts/", tasks.PayoutListApi.as_view(), name="api-payouts"),
    path("wallet/", wallet.WalletApi.as_view(), name="api-wallet"),
    path("wallet/deposit/", wallet.DepositApi.as_view(), name="api-wallet-deposit"),
]

# Any other path under one of these resources (``/api/tasks/abc/``, ``/api/orders/1/x/``) gets
# the API's JSON 404; the site's HTML 404 page is for the other paths.
RESOURCES = sorted({str(route.pattern).split("/", 1)[0] for route in urlpatterns})
urlpatterns.append(re_path(rf"^(?:{'|'.join(RESOURCES)})/", api_not_found, name="api-not-found"))
