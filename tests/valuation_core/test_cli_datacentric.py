"""The data-centric subcommands, run in process through ``main`` on small files.

Rows in every output are 1-based data rows of their file; the tests plant rows at known
0-based positions and look for them one higher.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from valuation.cli import main
from valuation.core import Dataset
from valuation.core.detection import dataset_similarity
from valuation.core.methods import KNNShapley

FEATURES = ["f1", "f2", "f3"]
FLIPPED = [4, 17, 29, 42]  # 0-based rows of train.csv whose labels are flipped


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out, err)
    return code, out.getvalue(), err.getvalue()


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Separable classes; train.csv has FLIPPED labels, and four providers."""
    folder = tmp_path_factory.mktemp("datacentric")
    X, y = make_blobs(
        n_samples=[100, 100], centers=[[0, 0, 0], [3, 3, 3]], cluster_std=1.0, random_state=4
    )
    frame = pd.DataFrame(X, columns=FEATURES)
    frame["label"] = y
    train = frame.iloc[:100].copy()
    train.loc[FLIPPED, "label"] = 1 - train.loc[FLIPPED, "label"]
    train.to_csv(folder / "train.csv", index=False)
    train.assign(provider=[f"p{i % 4}" for i in range(100)]).to_csv(
        folder / "bundle.csv", index=False
    )
    frame.iloc[100:150].to_csv(folder / "valid.csv", index=False)
    pool = frame.iloc[150:].drop(columns="label").reset_index(drop=True)
    pool.to_csv(folder / "pool.csv", index=False)
    pool.assign(label=0).to_csv(folder / "pool_labeled.csv", index=False)
    pool.drop(columns="f2").to_csv(folder / "pool_narrow.csv", index=False)
    frame.iloc[:100].to_csv(folder / "clean.csv", index=False)
    rng = np.random.default_rng(1)
    regression = pd.DataFrame(rng.normal(size=(90, 3)), columns=FEATURES)
    regression["label"] = regression @ np.array([2.0, 0.05, -1.0]) + rng.normal(size=90)
    regression.iloc[:60].to_csv(folder / "reg_train.csv", index=False)
    regression.iloc[60:].to_csv(folder / "reg_valid.csv", index=False)
    return folder


def test_quality_lists_the_flipped_rows_among_suspects(files):
    out = files / "quality.json"
    code, stdout, err = run(
        "quality", str(files / "train.csv"), "--valid", str(files / "valid.csv"),
        "--label", "label", "--seed", "0", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out.read_text())
    suspects = [item["row"] for item in report["suspects"]]
    assert len(suspects) == 10  # 10 % of 100
    assert {row + 1 for row in FLIPPED} <= set(suspects)
    assert {"consensus", "knn-shapley", "data-oob", "lava"} <= set(report["suspects"][0])
    removal = {item["kind"]: item for item in report["removals"]}["suspects"]
    assert sorted(removal["rows"]) == sorted(suspects)
    assert removal["change"] == pytest.approx(removal["score_after"] - removal["score_before"])
    assert removal["change"] > 0  # dropping the flipped rows helps on clean validation data
    assert "suspect rows" in stdout and f"wrote {out}" in stdout
    assert str(FLIPPED[0] + 1) in stdout.splitlines()[1]


def test_prune_names_the_harmful_dataset_with_its_file_rows(files):
    bundle = pd.read_csv(files / "bundle.csv")
    bad = bundle["provider"] == "p1"
    bundle.loc[bad, "label"] = 1 - bundle.loc[bad, "label"]  # one provider flips everything
    bundle.to_csv(files / "bundle_bad.csv", index=False)
    out = files / "prune.json"
    code, stdout, err = run(
        "prune", str(files / "bundle_bad.csv"), "--valid", str(files / "valid.csv"),
        "--label", "label", "--group", "provider", "--metric", "neg_log_loss",
        "--seed", "0", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    found = json.loads(out.read_text())
    first = found["datasets"][0]
    assert first["dataset"] == "p1" and first["change"] > 0
    assert first["rows"] == (np.flatnonzero(bad.to_numpy()) + 1).tolist()
    assert found["metric"] == "neg_log_loss" and len(found["rows"]["rows"]) == 10
    assert "drop dataset p1 (25 rows)" in stdout


def test_buy_rows_stays_within_budget_at_the_stated_prices(files):
    out = files / "rows.csv"
    code, stdout, err = run(
        "buy-rows", str(files / "train.csv"), "--valid", str(files / "valid.csv"),
        "--label", "label", "--budget-cents", "150", "--cents-per-point", "20",
        "--floor-cents", "3", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    bought = read_csv(out)
    assert bought and sum(int(row["price_cents"]) for row in bought) <= 150
    frame = pd.read_csv(files / "train.csv")
    values = (
        KNNShapley(k=5)
        .fit(
            Dataset(frame[FEATURES].to_numpy(), frame["label"].to_numpy()),
            Dataset(*_xy(files / "valid.csv")),
        )
        .result_.values
    )
    for row in bought:
        value = values[int(row["row"]) - 1]
        assert float(row["value"]) == pytest.approx(value, rel=1e-9)
        # 20 cents a point (0.01) is 2000 cents per unit of value, never below the floor.
        assert int(row["price_cents"]) == max(3, round(2000 * value)) and value > 0
    assert not {row + 1 for row in FLIPPED} & {int(row["row"]) for row in bought}
    total = sum(int(row["price_cents"]) for row in bought)
    assert f"for {total} cents (budget 150" in stdout

    code, stdout, _ = run(
        "buy-rows", str(files / "train.csv"), "--valid", str(files / "valid.csv"),
        "--label", "label", "--budget-cents", "0", "--cents-per-point", "20",
    )  # fmt: skip
    assert code == 0 and stdout.startswith("buy-rows: 0 of 100 rows for 0 cents")


def _xy(path: Path) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_csv(path)
    return frame[FEATURES].to_numpy(), frame["label"].to_numpy()


@pytest.mark.parametrize("strategy", ["value", "uncertainty", "random"])
def test_rank_pool_lists_a_batch_of_pool_rows(files, strategy):
    out = files / f"ranked_{strategy}.csv"
    code, stdout, err = run(
        "rank-pool", str(files / "train.csv"), "--pool", str(files / "pool.csv"),
        "--valid", str(files / "valid.csv"), "--label", "label", "--strategy", strategy,
        "--batch", "7", "--seed", "2", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    ranked = read_csv(out)
    assert [row["rank"] for row in ranked] == [str(i) for i in range(1, 8)]
    rows = [int(row["row"]) for row in ranked]
    assert len(set(rows)) == 7 and all(1 <= row <= 50 for row in rows)
    scores = [float(row["score"]) for row in ranked]
    assert scores == sorted(scores, reverse=True)
    assert f"rank-pool ({strategy}): 50 pool rows" in stdout


def test_explain_names_the_planted_rows_behind_a_wrong_prediction(tmp_path):
    # Label 1 around (4, 4) with three label-0 rows planted right beside one validation row.
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.5, (20, 2)), rng.normal(4, 0.5, (20, 2))])
    y = np.repeat([0, 1], 20)
    planted = [5, 26, 33]
    X[planted] = [[4.0, 4.0], [4.02, 4.0], [4.0, 4.02]]
    y[planted] = 0
    train = pd.DataFrame(X, columns=["a", "b"]).assign(label=y)
    train.to_csv(tmp_path / "train.csv", index=False)
    valid = pd.DataFrame([[0.1, 0.0], [4.01, 4.01], [4.5, 3.5]], columns=["a", "b"])
    valid.assign(label=[0, 1, 1]).to_csv(tmp_path / "valid.csv", index=False)
    out = tmp_path / "explain.json"
    code, stdout, err = run(
        "explain", str(tmp_path / "train.csv"), "--valid", str(tmp_path / "valid.csv"),
        "--label", "label", "--model", "knn", "--top", "3", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    explained = json.loads(out.read_text())
    assert [item["valid_row"] for item in explained] == [2]
    assert (explained[0]["label"], explained[0]["predicted"]) == (1, 0)
    drivers = explained[0]["drivers"]
    assert sorted(d["row"] for d in drivers) == [row + 1 for row in planted]
    assert all(d["label"] == 0 and d["value"] < 0 for d in drivers)
    assert "validation row 2: label 1, predicted 0" in stdout


def test_sensitivity_rows_cross_the_threshold_when_refitted(files):
    out = files / "sensitivity.json"
    code, stdout, err = run(
        "sensitivity", str(files / "reg_train.csv"), "--valid", str(files / "reg_valid.csv"),
        "--label", "label", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out.read_text())
    assert report["model"] == "ridge" and report["loss"]["name"] == "squared error"
    loss = report["loss"]
    assert loss["k"] is not None and loss["confirmed"] is True
    train, valid = pd.read_csv(files / "reg_train.csv"), pd.read_csv(files / "reg_valid.csv")
    keep = np.setdiff1d(np.arange(60), [row["row"] - 1 for row in loss["rows"]])
    scaler = StandardScaler().fit(train[FEATURES])
    model = Ridge(alpha=1.0).fit(scaler.transform(train[FEATURES].iloc[keep]), train["label"][keep])
    after = np.mean((valid["label"] - model.predict(scaler.transform(valid[FEATURES]))) ** 2)
    assert after >= loss["threshold"] == pytest.approx(1.1 * loss["original"])
    assert [c["name"] for c in report["coefficients"]][0] == "f2"  # the weak one first
    assert stdout.startswith("sensitivity (ridge on standardised features, 60 rows)")


def test_screen_flags_flips_and_measures_copies(files):
    out = files / "screen.json"
    code, stdout, err = run(
        "screen", str(files / "train.csv"), "--reference", str(files / "valid.csv"),
        "--label", "label", "--against", str(files / "clean.csv"),
        "--against", str(files / "pool.csv"), "--seed", "0", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    screen = json.loads(out.read_text())
    assert {row + 1 for row in FLIPPED} <= {item["row"] for item in screen["label_flips"]}
    assert len(screen["backdoor"]) == 10 and set(screen["backdoor"][0]) == {
        "row",
        "consensus",
        "lava",
    }
    similarity = {item["file"]: item["similarity"] for item in screen["similarity"]}
    assert similarity["clean.csv"] == 1.0  # same features, only labels differ
    expected = dataset_similarity(_xy(files / "train.csv")[0], pd.read_csv(files / "pool.csv"))
    assert similarity["pool.csv"] == pytest.approx(expected) and expected < 1.0
    assert "similarity to clean.csv: 1.000" in stdout
    # The platform's verdict, from the same functions: a copy of clean.csv is held for it.
    verdict = screen["verdict"]
    assert verdict["held"] is True and verdict["version"] == 2
    assert verdict["numbers"]["similar_to"]["clean.csv"] == 1.0
    assert verdict["numbers"]["label_flips"]["reference"] == "other providers"
    assert {"change_points", "p_value", "flagged_rows"} <= set(verdict["numbers"]["label_flips"])
    assert "are near duplicates of each other (similarity 1.00 ≥ 0.5)" in verdict["reasons"][0]
    assert "verdict: held — 100% of its rows" in stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (
            ["rank-pool", "train.csv", "--pool", "pool_labeled.csv", "--valid", "valid.csv"],
            "pool_labeled.csv has the label column 'label'",
        ),
        (
            ["rank-pool", "train.csv", "--pool", "pool_narrow.csv", "--valid", "valid.csv"],
            "pool_narrow.csv does not have the feature columns of the training file: it lacks 'f2'",
        ),
        (
            ["rank-pool", "reg_train.csv", "--pool", "pool.csv", "--valid", "reg_valid.csv"],
            "rank-pool needs a classification label",
        ),
        (
            ["screen", "train.csv", "--reference", "valid.csv", "--against", "pool_narrow.csv"],
            "lacks 'f2'",
        ),
        (["quality", "missing.csv", "--valid", "valid.csv"], "no such file"),
        (["quality", "train.csv", "--valid", "valid.csv", "--share", "1.5"], "--share must lie"),
        (["prune", "train.csv", "--valid", "valid.csv", "--group", "who"], "'who' not found"),
        (
            ["buy-rows", "train.csv", "--valid", "valid.csv", "--budget-cents", "-1"]
            + ["--cents-per-point", "5"],
            "--budget-cents must be at least 0, got -1",
        ),
        (["explain", "reg_train.csv", "--valid", "reg_valid.csv"], "explain needs a class"),
        (["sensitivity", "train.csv", "--valid", "pool.csv"], "pool.csv: label column"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_two(files, args, words):
    command, first, *rest = args
    paths = [str(files / item) if item.endswith(".csv") else item for item in [first, *rest]]
    code, stdout, err = run(command, *paths, "--label", "label")
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err, err
