"""Home, sign up, log in and out, and your account (its API token)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator

from config.throttling import throttled
from marketplace.selectors.accounts import token_status
from marketplace.selectors.datasets import dataset_for_sale, dataset_owned
from marketplace.selectors.tasks import payout_list, task_list
from marketplace.selectors.wallet import wallet_summary
from marketplace.services.accounts import token_issue, token_revoke, user_register
from marketplace.services.errors import ServiceError
from marketplace.services.tasks import task_status
from marketplace.web.access import roles_of
from marketplace.web.forms import SignupForm

DASHBOARD_ROWS = 5


def home(request):
    if not request.user.is_authenticated:
        return render(request, "web/home.html")
    user = request.user
    roles = roles_of(user)
    context = {"roles": roles, "wallet": wallet_summary(user=user)}
    if "consumer" in roles:
        tasks = list(task_list(user=user)[:DASHBOARD_ROWS])
        context["tasks"] = [(task, task_status(task)) for task in tasks]
    if "provider" in roles:
        context["datasets"] = dataset_owned(user=user)[:DASHBOARD_ROWS]
        context["payouts"] = payout_list(user=user)[:DASHBOARD_ROWS]
    else:
        context["for_sale"] = dataset_for_sale(user=user).order_by("-created_at")[:DASHBOARD_ROWS]
    return render(request, "web/dashboard.html", context)


@throttled("register")
def signup(request):
    if request.user.is_authenticated:
        return redirect("web:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_register(**form.cleaned_data)
        except ServiceError as exc:
            form.show(exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to DataFair, {user.username}.")
            return redirect("web:home")
    return render(
        request, "web/accounts/signup.html", {"form": form}, status=400 if form.errors else 200
    )


@method_decorator(throttled("login"), name="post")
class LoginPage(LoginView):
    template_name = "web/accounts/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("web:home")


@login_required
def account(request):
    """Who you are, and your API token: when it was made and expires, a new one, or none."""
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            if token_revoke(user=request.user):
                messages.success(request, "Your API token is revoked: it no longer works.")
            return redirect("web:account")
        new_key = token_issue(user=request.user).key
    context = {
        "roles": roles_of(request.user),
        "new_key": new_key,
        **token_status(user=request.user),
    }
    return render(request, "web/accounts/account.html", context)


class LogoutPage(LogoutView):
    next_page = reverse_lazy("web:home")
