"""The command line, run as a new user would: ``python -m valuation`` in a subprocess.

Every scenario is started at once in a module fixture (each run pays the scikit-learn
import), then the tests read their results.
"""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from valuation.cli import METHODS, MethodChoice
from valuation.core import Dataset, ExactShapley
from valuation.core.catalog import make_model

ROOT = Path(__file__).resolve().parents[2]


def frames():
    X, y = make_classification(
        n_samples=120, n_features=3, n_informative=3, n_redundant=0, random_state=0
    )
    frame = pd.DataFrame(X, columns=["f1", "f2", "f3"])
    frame["colour"] = np.where(X[:, 0] > 0, "red", "blue")
    frame["label"] = y
    frame["provider"] = [f"p{(i * 7) % 4}" for i in range(120)]
    return frame.iloc[:40].reset_index(drop=True), frame.iloc[40:].drop(columns="provider")


def scenarios(folder: Path) -> dict[str, list[str]]:
    train, valid = frames()
    train.to_csv(folder / "train.csv", index=False)
    train.drop(columns="provider").to_parquet(folder / "train.parquet")
    valid.to_csv(folder / "valid.csv", index=False)
    valid.drop(columns="f3").to_csv(folder / "valid_missing.csv", index=False)
    train.assign(label=1).to_csv(folder / "one_class.csv", index=False)
    wide = pd.concat([train, train], ignore_index=True)
    wide.assign(note=[f"text {i}" for i in range(80)]).to_csv(folder / "text.csv", index=False)
    valid.assign(note="x").to_csv(folder / "valid_note.csv", index=False)
    t, v = str(folder / "train.csv"), str(folder / "valid.csv")
    groups = ["--label", "label", "--group", "provider"]
    return {
        "exact_groups": [
            t,
            "--valid",
            v,
            *groups,
            "--method",
            "exact",
            "--out",
            str(folder / "exact.csv"),
        ],
        "loo_rows_stdout": [
            t,
            "--valid",
            v,
            "--label",
            "label",
            "--group",
            "provider",
            "--method",
            "loo",
            "--quiet",
        ],
        "loo_rows": [
            str(folder / "train.parquet"),
            "--valid",
            v,
            "--label",
            "label",
            "--method",
            "loo",
            "--out",
            str(folder / "loo.csv"),
        ],
        # A sampled plan of the 40 rows (four providers would be enumerated whole).
        "stratified_a": [
            str(folder / "train.parquet"),
            "--valid",
            v,
            "--label",
            "label",
            "--method",
            "stratified",
            "--seed",
            "3",
            "--budget",
            "400",
            "--out",
            str(folder / "a.csv"),
        ],
        # A sampled plan of the 40 rows (four providers would be enumerated whole).
        "stratified_b": [
            str(folder / "train.parquet"),
            "--valid",
            v,
            "--label",
            "label",
            "--method",
            "stratified",
            "--seed",
            "3",
            "--budget",
            "400",
            "--out",
            str(folder / "b.csv"),
        ],
        "missing_label": [t, "--valid", v, "--label", "target", "--method", "loo"],
        "mismatched": [t, "--valid", str(folder / "valid_missing.csv"), *groups, "--method", "loo"],
        "text_column": [
            str(folder / "text.csv"),
            "--valid",
            str(folder / "valid_note.csv"),
            *groups,
            "--method",
            "loo",
        ],
        "one_class": [str(folder / "one_class.csv"), "--valid", v, *groups, "--method", "loo"],
        "unknown_method": [t, "--valid", v, *groups, "--method", "magic"],
        "unknown_model": [t, "--valid", v, *groups, "--method", "loo", "--model", "svm"],
        "unknown_metric": [t, "--valid", v, *groups, "--method", "loo", "--metric", "r2"],
        "no_file": [str(folder / "nope.csv"), "--valid", v, *groups, "--method", "loo"],
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    started = {
        name: subprocess.Popen(
            [sys.executable, "-m", "valuation", "value", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in scenarios(folder).items()
    }
    done = {}
    for name, process in started.items():
        out, err = process.communicate(timeout=300)
        done[name] = (process.returncode, out, err)
    return folder, done


def read(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_exact_provider_values_match_the_library(runs):
    folder, done = runs
    code, out, err = done["exact_groups"]
    assert code == 0, err
    assert "exact: 4 players, 16 model fits" in out and f"wrote {folder / 'exact.csv'}" in out
    assert "100%" in err
    rows = read(folder / "exact.csv")
    assert [r["player"] for r in rows] == ["p0", "p3", "p2", "p1"]  # first appearance
    train, valid = frames()
    colour = (train["colour"] == "red").to_numpy(float)[:, None]
    X = np.hstack([train[["f1", "f2", "f3"]].to_numpy(), (1 - colour), colour])
    X_valid_colour = (valid["colour"] == "red").to_numpy(float)[:, None]
    X_valid = np.hstack([valid[["f1", "f2", "f3"]].to_numpy(), 1 - X_valid_colour, X_valid_colour])
    expected = ExactShapley(model=make_model("logistic_regression", "classification")).fit(
        Dataset(X, train["label"].to_numpy(), groups=train["provider"].to_numpy()),
        Dataset(X_valid, valid["label"].to_numpy()),
    )
    np.testing.assert_allclose(
        [float(r["value"]) for r in rows], expected.result_.values, atol=1e-9
    )
    assert all(float(r["stderr"]) == 0 for r in rows)


def test_rows_from_parquet_in_input_order(runs):
    folder, done = runs
    code, out, err = done["loo_rows"]
    assert code == 0, err
    rows = read(folder / "loo.csv")
    assert [r["row"] for r in rows] == [str(i) for i in range(1, 41)]
    assert "loo: 40 rows, 41 model fits" in out
    assert np.isfinite([float(r["value"]) for r in rows]).all()


def test_csv_goes_to_stdout_and_the_summary_to_stderr_without_out(runs):
    _, done = runs
    code, out, err = done["loo_rows_stdout"]
    assert code == 0, err
    assert out.splitlines()[0] == "player,value,stderr" and len(out.splitlines()) == 5
    assert "loo: 4 players" in err and "[" not in err.split("\n")[0]  # --quiet: no bar


def test_same_seed_same_output(runs):
    folder, done = runs
    assert done["stratified_a"][0] == done["stratified_b"][0] == 0
    assert "seed 3" in done["stratified_a"][1]
    assert (folder / "a.csv").read_text() == (folder / "b.csv").read_text()


@pytest.mark.parametrize(
    "name, words",
    [
        ("missing_label", "label column 'target' not found"),
        (
            "mismatched",
            "valid_missing.csv does not have the feature columns of train.csv: it lacks 'f3'",
        ),
        ("text_column", "column 'note' is text with 80 distinct values"),
        ("one_class", "one_class.csv: label 'label' has only one class"),
        ("unknown_method", "unknown method 'magic'; choose one of exact, permutation"),
        ("unknown_model", "unknown model 'svm'; choose one of logistic_regression"),
        ("unknown_metric", "metric 'r2' is for regression"),
        ("no_file", "no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_two(runs, name, words):
    _, done = runs
    code, out, err = done[name]
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err, err
    assert "Traceback" not in err


def test_the_method_registry_is_one_line_per_method():
    assert set(METHODS) >= {
        "exact",
        "permutation",
        "stratified",
        "beta",
        "banzhaf",
        "loo",
        "least-core",
    }
    assert all(isinstance(c, MethodChoice) and "\n" not in c.help for c in METHODS.values())
    listing = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "valuation", "methods"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert listing.returncode == 0
    assert [line.split()[0] for line in listing.stdout.splitlines()] == list(METHODS)
    imported = [line.split("|")[-1].strip() for line in listing.stderr.splitlines()]
    assert "valuation.cli" in imported and not any(m.startswith("django") for m in imported)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_registered_method_values_the_providers(tmp_path, method):
    from valuation.cli import main

    train, valid = frames()
    train.to_csv(tmp_path / "train.csv", index=False)
    valid.to_csv(tmp_path / "valid.csv", index=False)
    out = tmp_path / "values.csv"
    args = ["value", str(tmp_path / "train.csv"), "--valid", str(tmp_path / "valid.csv")]
    args += ["--label", "label", "--group", "provider", "--method", method, "--seed", "1"]
    args += ["--quiet", "--out", str(out)]
    assert main(args) == 0
    rows = read(out)
    assert [row["player"] for row in rows] == ["p0", "p3", "p2", "p1"]
    assert all(np.isfinite(float(row["value"])) for row in rows)
