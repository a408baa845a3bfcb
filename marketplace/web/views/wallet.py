"""The wallet: balances, statement, and demo deposits."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from config.throttling import throttled
from marketplace.models import JournalEntry, LedgerAccount
from marketplace.selectors.wallet import wallet_statement, wallet_summary
from marketplace.services.errors import ServiceError
from marketplace.services.wallet import wallet_deposit
from marketplace.web.formatting import money, money_in_text, sentence
from marketplace.web.forms import DepositForm
from marketplace.web.idempotency import new_key, run_once

ENTRY_KINDS = dict(JournalEntry.Kind.choices)
ACCOUNT_KINDS = {
    LedgerAccount.Kind.WALLET: "Spendable",
    LedgerAccount.Kind.HOLD: "Held",
    LedgerAccount.Kind.PAYABLE: "Earnings",
}


@login_required
@throttled("deposit")
def wallet(request):
    form = DepositForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        amount = form.cleaned_data["amount"]
        try:
            run_once(
                user=request.user,
                key=request.POST.get("confirmation", ""),
                action=f"deposit {amount}",
                work=lambda: {"entry": wallet_deposit(user=request.user, amount_cents=amount).pk},
            )
        except ServiceError as exc:
            form.show(exc)
        else:
            messages.success(request, f"{money(amount)} in demo credits added.")
            return redirect("web:wallet")
    statement = [
        {
            **line,
            "kind": ENTRY_KINDS.get(line["kind"], line["kind"]),
            "account": ACCOUNT_KINDS.get(line["account"], line["account"]),
            "memo": sentence(money_in_text(line["memo"])),
        }
        for line in wallet_statement(user=request.user)
    ]
    context = {
        "form": form,
        "confirmation": new_key(),
        "wallet": wallet_summary(user=request.user),
        "statement": statement,
    }
    return render(request, "web/wallet.html", context, status=400 if form.errors else 200)
