"""`fit`, `predict`, `evaluate` and the command line, end to end on the course data."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from pytrain import metrics
from pytrain.cli import main
from pytrain.data import read_tsv, split_indices
from pytrain.models import Ensemble, ModelConfig, RecurrentClassifier, count_parameters, match_hidden
from pytrain.predict import probabilities
from pytrain.train import FitConfig, fit, load_run

RUN_FILES = {"config.json", "metrics.json", "model.pt", "tokenizer.json", "labels.json", "cleaner.json", "curves.png"}


@pytest.mark.parametrize("tokenizer", ["word", "bpe"])
def test_fit_one_epoch_writes_the_run_folder(tmp_path, biotech_tsv, tokenizer):
    cfg = FitConfig(
        data=str(biotech_tsv),
        tokenizer=tokenizer,
        vocab_size=1500,
        epochs=1,
        hidden=32,
        embed_dim=32,
        max_len=64,
        folds=1,
        out=str(tmp_path),
        name="run",
        progress=False,
    )
    result = fit(cfg)
    assert {p.name for p in result.run_dir.iterdir()} == RUN_FILES
    m = json.loads((result.run_dir / "metrics.json").read_text())
    assert 0.0 <= m["test"]["macro_f1"] <= 1.0 and len(m["history"]) == 1
    assert len(m["test"]["per_label_f1"]) == 28 and m["test"]["sizes"] == {"train": 258, "val": 46, "test": 77}
    assert json.loads((result.run_dir / "config.json").read_text())["tokenizer"] == tokenizer


def test_fold_ensemble_trains_one_model_per_fold_and_reloads(tmp_path, biotech_tsv):
    small = {"epochs": 1, "hidden": 16, "embed_dim": 16, "max_len": 32, "progress": False}
    result = fit(FitConfig(str(biotech_tsv), folds=3, out=str(tmp_path), name="e", **small))
    m = result.metrics
    # The folds replace the validation part: every non-test text is trained on and held out once.
    assert m["sizes"] == {"train": 304, "val": 0, "test": 77}
    assert len(m["best_epochs"]) == 3 and [h["fold"] for h in result.history] == [0, 1, 2]
    run = load_run(result.run_dir)
    assert isinstance(run.model, Ensemble) and len(run.model.members) == 3 and run.max_len == 32
    # The reloaded ensemble reproduces the test scores of the run.
    corpus = read_tsv(biotech_tsv)
    test = split_indices(len(corpus.texts)).test
    names, probs, thresholds = probabilities(run, [corpus.texts[i] for i in test])
    y, _ = run.labels.encode([corpus.labels[i] for i in test])
    assert run.at_least_one  # the default rule, saved with the run
    decisions = metrics.predict(probs, thresholds, run.at_least_one)
    assert metrics.scores(y, decisions)["macro_f1"] == pytest.approx(m["macro_f1"])
    assert decisions.sum(1).min() >= 1


def test_ensemble_returns_the_logit_of_the_mean_probability():
    torch.manual_seed(0)
    members = [RecurrentClassifier(ModelConfig("rnn", 30, 4, embed_dim=5, hidden=6, dropout=0)) for _ in range(3)]
    ensemble = Ensemble(members).eval()
    tokens, lengths = torch.randint(2, 30, (2, 7)), torch.tensor([7, 4])
    mean = torch.stack([torch.sigmoid(m(tokens, lengths)) for m in members]).mean(0)
    assert torch.allclose(torch.sigmoid(ensemble(tokens, lengths)), mean, atol=1e-6)
    assert not np.allclose(mean.detach().numpy(), torch.sigmoid(members[0](tokens, lengths)).detach().numpy())


def test_predict_and_evaluate_use_the_saved_run(tmp_path, biotech_tsv, capsys):
    run = tmp_path / "r"
    assert (
        main(
            [
                "fit",
                "--data",
                str(biotech_tsv),
                "--epochs",
                "1",
                "--hidden",
                "16",
                "--embed-dim",
                "16",
                "--max-len",
                "32",
                "--folds",
                "2",
                "--out",
                str(tmp_path),
                "--name",
                "r",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "test macro F1" in capsys.readouterr().out
    texts = tmp_path / "new.txt"
    texts.write_text("The company announced a new partnership with a hospital.\nShares rose after FDA approval\n")
    assert main(["predict", "--run", str(run), "--input", str(texts), "--probs"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and len(lines[0]["probabilities"]) == 28
    labelled = tmp_path / "labelled.tsv"
    labelled.write_text("text\tlabels\nnew partnership signed\talliance & partnership, brand new label\n")
    assert main(["evaluate", "--run", str(run), "--data", str(labelled)]) == 0
    out = capsys.readouterr().out
    assert "not known to the run" in out and "brand new label" in out and "macro F1" in out


def test_match_params_picks_the_lstm_hidden_size(tmp_path, biotech_tsv):
    cfg = FitConfig(
        data=str(biotech_tsv),
        model="lstm",
        match_params="rnn",
        rnn_hidden=256,
        epochs=1,
        max_len=16,
        folds=1,
        out=str(tmp_path),
        name="m",
        progress=False,
    )
    m = fit(cfg).metrics
    rnn = ModelConfig("rnn", m["vocab_size"], 28, cfg.embed_dim, 256, dropout=cfg.dropout)
    assert m["hidden"] == match_hidden(rnn, ModelConfig("lstm", m["vocab_size"], 28, cfg.embed_dim))
    assert abs(m["parameters"] - count_parameters(rnn)) / count_parameters(rnn) < 0.05


@pytest.mark.parametrize(
    "args, message",
    [
        (["fit", "--data", "/nonexistent/file.tsv"], "no data file found"),
        (["fit", "--folds", "0", "--limit", "30", "--no-progress"], "--folds 0: needs 1"),
        (["predict", "--run", "/nonexistent/run", "--input", "-"], "not a complete run folder"),
        (["bpe", "train", "--input", "/nonexistent.txt", "--vocab-size", "10"], "no such file"),
    ],
)
def test_errors_are_one_line_without_traceback(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bpe_command_line(tmp_path, biotech_tsv):
    out = tmp_path / "tok.json"
    run = lambda *a: subprocess.run([sys.executable, "-m", "pytrain", *a], capture_output=True, text=True)  # noqa: E731
    r = run("bpe", "train", "--input", str(biotech_tsv), "--vocab-size", "1000", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "merges" in r.stdout and "first merges:" in r.stdout and out.is_file()
    r = run("bpe", "encode", "--tokenizer", str(out), "--input", str(biotech_tsv))
    assert r.returncode == 0, r.stderr
    assert "characters per token" in r.stdout
    (tmp_path / "bad.json").write_text("{}")
    r = run("bpe", "encode", "--tokenizer", str(tmp_path / "bad.json"), "--input", str(biotech_tsv))
    assert r.returncode == 2 and "bad.json" in r.stderr and "Traceback" not in r.stderr


def test_compare_writes_the_report(tmp_path, biotech_tsv):
    args = [
        "compare",
        "--quick",
        "--data",
        str(biotech_tsv),
        "--limit",
        "80",
        "--epochs",
        "1",
        "--max-len",
        "16",
        "--rnn-hidden",
        "256",
        "--vocab-sizes",
        "300",
        "--seeds",
        "0,1",
        "--out",
        str(tmp_path),
        "--name",
        "c",
    ]
    assert main(args) == 0
    out = tmp_path / "c"
    assert {p.name for p in out.iterdir()} == {"report.md", "results.json", "f1.png", "curves.png"}
    report = (out / "report.md").read_text()
    for model in ("| RNN |", "| LSTM |", "| LSTM x2 |", "| LSTM+attention |"):
        assert report.count(model) == 2  # word and bpe 300
    results = json.loads((out / "results.json").read_text())
    assert len(results["runs"]) == 4 * 2 * 2  # models x tokenizers x seeds
    assert results["config"]["patience"] == 12 and results["config"]["epochs"] == 1  # --quick, but --epochs wins
    assert results["config"]["folds"] == 1  # --quick trains one model per cell
    assert results["config"]["rnn_hidden"] == 256 and results["config"]["max_len"] == 16
    params = {r["cell"]["model"]: r["metrics"]["parameters"] for r in results["runs"]}
    assert all(abs(p - params["RNN"]) / params["RNN"] < 0.1 for p in params.values())  # matched to the RNN


def test_compare_cross_validation(tmp_path, biotech_tsv):
    args = [
        "compare",
        "--data",
        str(biotech_tsv),
        "--limit",
        "60",
        "--epochs",
        "1",
        "--max-len",
        "8",
        "--rnn-hidden",
        "256",
        "--vocab-sizes",
        "200",
        "--cv",
        "2",
        "--folds",
        "2",
        "--out",
        str(tmp_path),
        "--name",
        "cv",
    ]
    assert main(args) == 0
    results = json.loads((tmp_path / "cv" / "results.json").read_text())
    assert sorted({r["fold"] for r in results["runs"]}) == [0, 1] and len(results["runs"]) == 4 * 2 * 2
    assert results["config"]["folds"] == 2 and {len(r["metrics"]["best_epochs"]) for r in results["runs"]} == {2}
    assert "2-fold cross-validation" in (tmp_path / "cv" / "report.md").read_text()


@pytest.mark.parametrize("folds", [1, 2])
def test_nested_cv_labels_every_training_text_once_with_models_that_never_saw_it(biotech_tsv, folds, monkeypatch):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "nested_cv.py"
    spec = importlib.util.spec_from_file_location("nested_cv", path)
    nested_cv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nested_cv)
    seen: list[tuple[set, set]] = []
    real_prepare = nested_cv.prepare

    def spy(cfg, split):
        seen.append((set(split.train) | set(split.val), set(split.test)))
        return real_prepare(cfg, split)

    monkeypatch.setattr(nested_cv, "prepare", spy)
    cfg = FitConfig(data=str(biotech_tsv), limit=60, epochs=1, hidden=8, embed_dim=8, max_len=16, folds=folds)
    y, decisions, per_fold = nested_cv.nested_decisions(cfg, outer=3)
    course = split_indices(60)
    training = set(course.train) | set(course.val)
    assert len(per_fold) == 3 and y.shape == decisions.shape and len(y) == len(training)
    held_out = [test for _, test in seen]
    assert set().union(*held_out) == training and sum(map(len, held_out)) == len(training)
    assert all(not (fitted & test) for fitted, test in seen)  # never trained on what it labels
    assert decisions.sum(1).min() >= 1  # the at-least-one rule applies as in fit
