"""Routes of the web UI at the site root (the API lives under ``/api/``)."""

from django.urls import path

from marketplace.web.views import accounts, datasets, insights, pools, review, tasks, wallet

app_name = "web"

urlpatterns = [
    path("", accounts.home, name="home"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/login/", accounts.LoginPage.as_view(), name="login"),
    path("accounts/", accounts.account, name="account"),
    path("accounts/logout/", accounts.LogoutPage.as_view(), name="logout"),
    path("datasets/", datasets.browse, name="datasets"),
    path("datasets/new/", datasets.dataset_upload, name="dataset-upload"),
    path("datasets/mine/", datasets.my_datasets, name="my-datasets"),
    path("datasets/<int:pk>/", datasets.dataset_detail, name="dataset"),
    path("datasets/<int:pk>/download/", datasets.dataset_file, name="dataset-download"),
    path("earnings/", datasets.earnings, name="earnings"),
    path("review/", review.review, name="review"),
    path("tasks/", tasks.tasks, name="tasks"),
    path("tasks/new/", tasks.task_new, name="task-new"),
    path("tasks/<int:pk>/", tasks.task_detail, name="task"),
    path("tasks/<int:pk>/progress/", tasks.task_progress, name="task-progress"),
    path("tasks/<int:pk>/buy/", tasks.task_buy, name="task-buy"),
    path("tasks/<int:pk>/cancel/", tasks.task_cancel_view, name="task-cancel"),
    path("tasks/<int:pk>/rows/", insights.task_rows, name="task-rows"),
    path("tasks/<int:pk>/insights/", insights.task_insights_status, name="task-insights"),
    path("tasks/<int:pk>/pools/new/", pools.pool_new, name="pool-new"),
    path("pools/<int:pk>/", pools.pool_detail, name="pool"),
    path("pools/<int:pk>/export/", pools.pool_export_view, name="pool-export"),
    path("downloads/", tasks.downloads, name="downloads"),
    path("wallet/", wallet.wallet, name="wallet"),
]
