"""The web forms: what a person types, checked for shape only; the services decide.

Amounts are typed in currency units and cleaned to integer cents. A service's refusal
(:class:`~marketplace.services.errors.ServiceError`) is attached to the field it names via
:meth:`WebForm.show`, so the page shows it next to that field with everything else the
person typed still in place.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms

from marketplace.models import Dataset
from marketplace.services.accounts import ROLES
from marketplace.services.errors import ServiceError
from marketplace.services.wallet import MAX_DEPOSIT_CENTS
from marketplace.web.formatting import money, sentence
from pricing.money import MAX_AMOUNT_CENTS
from valuation.core.catalog import METRIC_LABELS, METRICS, MODEL_LABELS, MODELS

TASK_KINDS = [
    ("classification", "A category (classification)"),
    ("regression", "A number (regression)"),
]
TABLE_ACCEPT = ".csv,.parquet,text/csv"


class CentsField(forms.DecimalField):
    """An amount typed in currency units (``12.50``), cleaned to integer cents (``1250``)."""

    def __init__(self, *, min_cents: int = 0, max_cents: int = MAX_AMOUNT_CENTS, **kwargs):
        kwargs.setdefault("widget", forms.NumberInput(attrs={"inputmode": "decimal"}))
        super().__init__(
            max_digits=14,
            decimal_places=2,
            min_value=Decimal(min_cents) / 100,
            max_value=Decimal(max_cents) / 100,
            **kwargs,
        )

    def clean(self, value):
        amount = super().clean(value)
        return None if amount is None else int(amount * 100)


class WebForm(forms.Form):
    """A form whose errors point assistive technology at the message and that can show a
    service's refusal next to the field it concerns."""

    #: Service field name → form field name, where they differ.
    service_fields: dict[str, str] = {}

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                # Point at the message, and keep pointing at the help text as Django does.
                auto_id = self[name].auto_id
                described = [f"{auto_id}_error"]
                if self.fields[name].help_text:
                    described.append(f"{auto_id}_helptext")
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = " ".join(described)

    def show(self, exc: ServiceError) -> None:
        """Attach a service's refusal to its field (or to the whole form)."""
        name = self.service_fields.get(exc.field or "", exc.field)
        self.add_error(name if name in self.fields else None, sentence(exc.message))


class SignupForm(WebForm):
    username = forms.RegexField(
        regex=r"^[\w.@+-]{3,150}$",
        max_length=150,
        help_text="3 to 150 letters, digits or @ . + - _",
        error_messages={"invalid": "Use 3 to 150 letters, digits or @ . + - _ (no spaces)."},
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(
        required=False,
        help_text="Optional.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        strip=False,
        help_text="At least 8 characters; not a common password, not all digits.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    roles = forms.MultipleChoiceField(
        label="I want to",
        choices=[
            ("provider", "Sell data (provider)"),
            ("consumer", "Buy data for a prediction task (consumer)"),
        ],
        widget=forms.CheckboxSelectMultiple,
        help_text="Choose one or both.",
        error_messages={"required": "Choose at least one: sell data, buy data, or both."},
    )

    def clean_roles(self) -> list[str]:
        roles = self.cleaned_data["roles"]
        return [role for role in ROLES if role in roles]


class DatasetUploadForm(WebForm):
    file = forms.FileField(
        label="Data file",
        help_text="CSV (UTF-8, with a header line) or Parquet.",
        widget=forms.ClearableFileInput(attrs={"accept": TABLE_ACCEPT}),
    )
    title = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Where the data comes from and what a row is.",
    )
    license = forms.CharField(
        max_length=100,
        help_text="For example CC-BY-4.0, CC0-1.0, or your own terms.",
        widget=forms.TextInput(attrs={"list": "license-suggestions"}),
    )
    label_column = forms.CharField(
        max_length=200,
        label="Label column",
        help_text="The column your data predicts; every other column is a feature.",
    )
    reserve_price = CentsField(
        required=False,
        label="Reserve price",
        help_text="The least you accept per sale. Leave empty for no reserve.",
    )
    preview_policy = forms.ChoiceField(
        label="Preview for buyers",
        choices=Dataset.Preview.choices,
        initial=Dataset.Preview.HEAD,
        widget=forms.RadioSelect,
        help_text="Up to 5 rows that buyers may see before they pay.",
    )
    service_fields = {"reserve_price_cents": "reserve_price"}


class TaskAwareSelect(forms.Select):
    """A select whose options say which kinds of task they suit (``data-tasks``), so the
    page can offer only the ones that fit the chosen kind."""

    def __init__(self, tasks: dict[str, list[str]], attrs=None):
        super().__init__(attrs)
        self.tasks = tasks

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["attrs"]["data-tasks"] = " ".join(self.tasks.get(str(value), []))
        return option


def _metric_choices() -> list:
    groups = []
    for kind, title in (("classification", "Classification"), ("regression", "Regression")):
        names = [(m, METRIC_LABELS[m]) for m, k in METRICS.items() if k == kind]
        groups.append((title, names))
    return groups


class TaskForm(WebForm):
    title = forms.CharField(max_length=200, required=False, help_text="A name you will recognise.")
    validation_file = forms.FileField(
        label="Validation data",
        help_text="Rows the datasets are judged on: the same feature columns and the label. "
        "CSV or Parquet; it stays private.",
        widget=forms.ClearableFileInput(attrs={"accept": TABLE_ACCEPT}),
    )
    kind = forms.ChoiceField(
        label="What do you predict?",
        choices=TASK_KINDS,
        initial="classification",
        widget=forms.RadioSelect(attrs={"data-task-kind": ""}),
    )
    label_column = forms.CharField(
        max_length=200,
        label="Label column",
        help_text="The column of your validation data to predict.",
        widget=forms.TextInput(attrs={"list": "label-suggestions"}),
    )
    metric = forms.ChoiceField(
        choices=_metric_choices(),
        initial="accuracy",
        help_text="How predictions are scored; higher is better.",
        widget=TaskAwareSelect({m: [k] for m, k in METRICS.items()}),
    )
    model = forms.ChoiceField(
        choices=list(MODEL_LABELS.items()),
        initial="logistic_regression",
        help_text="The model trained on the datasets to measure what each adds.",
        widget=TaskAwareSelect({m: list(kinds) for m, kinds in MODELS.items()}),
    )
    budget = CentsField(
        min_cents=1,
        help_text="The most you will pay. It is held in your wallet while the task runs "
        "and whatever is not spent is released.",
    )
    value_per_point = CentsField(
        label="Value of one point",
        help_text="What 0.01 more of your metric is worth to you (e.g. one point of accuracy).",
    )
    baseline_file = forms.FileField(
        required=False,
        label="Your own training data",
        help_text="Always used, never paid for: the datasets are judged on what they add to it.",
        widget=forms.ClearableFileInput(attrs={"accept": TABLE_ACCEPT}),
    )
    candidates = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        label="Datasets to consider",
        help_text="Leave all unticked to consider every dataset that fits your columns.",
        widget=forms.CheckboxSelectMultiple,
    )
    service_fields = {"budget_cents": "budget", "value_per_point_cents": "value_per_point"}

    def __init__(self, *args, for_sale=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["candidates"].choices = [
            (
                d.pk,
                f"{d.title} — {d.owner.username}, {d.n_rows:,} rows, label “{d.label_column}”"
                + (f", reserve {money(d.reserve_price_cents)}" if d.reserve_price_cents else ""),
            )
            for d in for_sale
        ]

    def clean(self):
        data = super().clean()
        kind, metric, model = data.get("kind"), data.get("metric"), data.get("model")
        if kind and metric and METRICS[metric] != kind:
            self.add_error(
                "metric",
                f"{METRIC_LABELS[metric]} scores {METRICS[metric]}; "
                f"you chose to predict {'a number' if kind == 'regression' else 'a category'}.",
            )
        if kind and model and kind not in MODELS[model]:
            self.add_error("model", f"{MODEL_LABELS[model]} does not do {kind}.")
        return data

    def service_arguments(self) -> dict:
        """The cleaned form as :func:`~marketplace.services.tasks.task_submit` arguments."""
        data = self.cleaned_data
        return {
            "title": data["title"],
            "validation_file": data["validation_file"],
            "label_column": data["label_column"],
            "metric": data["metric"],
            "model": data["model"],
            "budget_cents": data["budget"],
            "value_per_point_cents": data["value_per_point"],
            "baseline_file": data["baseline_file"] or None,
            "candidates": data["candidates"] or None,
        }


class DepositForm(WebForm):
    amount = CentsField(
        min_cents=1,
        max_cents=MAX_DEPOSIT_CENTS,
        help_text="Demo credits: no card is charged.",
    )
    service_fields = {"amount_cents": "amount"}


SORTS = {
    "newest": ("Newest", "-created_at"),
    "cheapest": ("Lowest reserve price", "reserve_price_cents"),
    "dearest": ("Highest reserve price", "-reserve_price_cents"),
    "largest": ("Most rows", "-n_rows"),
    "popular": ("Most sold", "-sales_count"),
    "title": ("Title A–Z", "title"),
}


class BrowseForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=200)
    label = forms.CharField(
        required=False,
        label="Label column",
        max_length=200,
        widget=forms.TextInput(attrs={"list": "label-suggestions"}),
    )
    task_type = forms.ChoiceField(
        required=False,
        label="Task",
        choices=[("", "Any"), ("classification", "Classification"), ("regression", "Regression")],
    )
    min_rows = forms.IntegerField(required=False, min_value=1, label="At least rows")
    max_reserve = CentsField(required=False, label="Reserve at most")
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, label) for key, (label, _) in SORTS.items()],
        initial="newest",
    )

    def criteria(self) -> dict:
        """The search as :func:`~marketplace.selectors.datasets.dataset_browse` arguments;
        a criterion that does not validate is left out (and shown with its error)."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "search": data.get("q", ""),
            "label_column": data.get("label", ""),
            "task_type": data.get("task_type", ""),
            "min_rows": data.get("min_rows"),
            "max_reserve_cents": data.get("max_reserve"),
            "ordering": SORTS[data.get("sort") or "newest"][1],
        }
