"""Insight reports and row offers stored untyped (version 1) become version 2: the documents
of ``valuation.core.report.InsightReport`` and ``pricing.row_offer.RowOffer``.

A version-1 report named its rows ``{"dataset", "row", …}`` and kept the suspect rows as
lists of positions per dataset (``"own"`` for the consumer's); version 2 names every row a
row reference ``{"player", "row", …}`` (``player`` the dataset id, None for the consumer's
rows), keeps the suspects as one list of them, calls the per-dataset sections ``sources`` and
``by_source``, and says why a section is empty in its ``error`` beside its (empty) fields.
A version-1 report that predates ``examined`` and ``training_rows`` examined every row: both
become the candidates' rows. A row offer only gains its version. Going back undoes each step.
This is the one place that reads version 1.
"""

from django.db import migrations

VERSION = 2
OWN = "own"
REFERENCE_KEYS = ("label", "value")


def _ref_forward(ref: dict) -> dict:
    return {"player": ref["dataset"], "row": ref["row"], **_said(ref)}


def _ref_backward(ref: dict) -> dict:
    return {"dataset": ref["player"], "row": ref["row"], **_said(ref)}


def _said(ref: dict) -> dict:
    """What a row reference says of its row beyond where it is (drivers: label and value)."""
    return {key: ref[key] for key in REFERENCE_KEYS if ref.get(key) is not None}


def _renamed(item: dict, old: str, new: str) -> dict:
    return {(new if key == old else key): value for key, value in item.items()}


def _findings(section: dict, ref) -> dict:
    """The sensitivity section with each finding's rows converted by ``ref``."""
    out = dict(section)
    if out.get("loss"):
        out["loss"] = {**out["loss"], "rows": [ref(r) for r in out["loss"]["rows"]]}
    out["coefficients"] = [
        {**c, "rows": [ref(r) for r in c["rows"]]} for c in out.get("coefficients", [])
    ]
    return out


def report_forward(report: dict) -> dict:
    prune, rows = report["prune"], report["rows"]
    suspects = {key: value for key, value in prune["rows"].items() if key != "by_dataset"}
    candidate_rows = sum(item["rows"] for item in rows["by_dataset"])
    suspects.setdefault("examined", candidate_rows)
    suspects.setdefault("training_rows", candidate_rows)
    suspects["rows"] = [
        {"player": None if name == OWN else int(name), "row": row}
        for name, positions in prune["rows"]["by_dataset"].items()
        for row in positions
    ]
    debug = dict(report["debug"])
    if "error" not in debug:
        debug["points"] = [
            {**point, "drivers": [_ref_forward(d) for d in point["drivers"]]}
            for point in debug["points"]
        ]
    sensitivity = report["sensitivity"]
    return {
        "version": VERSION,
        "metric": report["metric"],
        "suspect_share": report["suspect_share"],
        "looked_at": report["looked_at"],
        "prune": {
            "score": prune["score"],
            "sources": [_renamed(item, "dataset", "source") for item in prune["datasets"]],
            "suspects": suspects,
        },
        "debug": debug,
        "sensitivity": sensitivity
        if "error" in sensitivity
        else _findings(sensitivity, _ref_forward),
        "rows": {
            "k": rows["k"],
            "by_source": [_renamed(item, "dataset", "source") for item in rows["by_dataset"]],
        },
    }


def report_backward(report: dict) -> dict:
    prune, rows = report["prune"], report["rows"]
    suspects = {key: value for key, value in prune["suspects"].items() if key != "rows"}
    suspects["by_dataset"] = {}
    for ref in prune["suspects"]["rows"]:
        name = OWN if ref["player"] is None else str(ref["player"])
        suspects["by_dataset"].setdefault(name, []).append(ref["row"])
    debug, sensitivity = report["debug"], report["sensitivity"]
    if debug.get("error"):
        debug = {"error": debug["error"]}
    else:
        debug = {
            "n_valid": debug["n_valid"],
            "points": [
                {**point, "drivers": [_ref_backward(d) for d in point["drivers"]]}
                for point in debug["points"]
            ],
        }
    if sensitivity.get("error"):
        sensitivity = {"error": sensitivity["error"]}
    else:
        sensitivity = {
            k: v for k, v in _findings(sensitivity, _ref_backward).items() if k != "error"
        }
    return {
        "metric": report["metric"],
        "suspect_share": report["suspect_share"],
        "looked_at": report["looked_at"],
        "prune": {
            "score": prune["score"],
            "datasets": [_renamed(item, "source", "dataset") for item in prune["sources"]],
            "rows": suspects,
        },
        "debug": debug,
        "sensitivity": sensitivity,
        "rows": {
            "k": rows["k"],
            "by_dataset": [_renamed(item, "source", "dataset") for item in rows["by_source"]],
        },
    }


def offer_forward(offer: dict) -> dict:
    return {"version": VERSION, **offer}


def offer_backward(offer: dict) -> dict:
    return {key: value for key, value in offer.items() if key != "version"}


def _migrate(apps, report, offer, stored_version):
    TaskInsight = apps.get_model("marketplace", "TaskInsight")
    for insight in TaskInsight.objects.iterator(chunk_size=200):
        changed = {}
        if insight.report and insight.report.get("version", 1) == stored_version:
            changed["report"] = report(insight.report)
        if insight.row_offer and insight.row_offer.get("version", 1) == stored_version:
            changed["row_offer"] = offer(insight.row_offer)
        if changed:
            TaskInsight.objects.filter(pk=insight.pk).update(**changed)


def forward(apps, schema_editor):
    _migrate(apps, report_forward, offer_forward, 1)


def backward(apps, schema_editor):
    _migrate(apps, report_backward, offer_backward, VERSION)


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0012_quote_explanation_lines")]

    operations = [migrations.RunPython(forward, backward)]
