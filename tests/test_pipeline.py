"""`fit`, `predict`, `evaluate`, `compare` and `nested`, end to end."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from pytrain import metrics
from pytrain.cli import main
from pytrain.config import FitConfig
from pytrain.data import read_tsv, split_indices
from pytrain.fit import fit
from pytrain.models import Ensemble, ModelConfig, RecurrentClassifier, count_parameters, match_hidden
from pytrain.predict import probabilities
from pytrain.runs import RUN_FILES, load_run

SMALL = {"hidden": 16, "embed_dim": 16, "progress": False}


def small(tmp_path, data, **kw) -> FitConfig:
    return FitConfig(data=str(data), out=str(tmp_path), **{**SMALL, **kw})


def test_fit_learns_labels_that_keywords_predict(tmp_path, corpus_tsv):
    """The fixture's labels follow from keywords: a model that learns anything scores near 1,
    one that learns nothing cannot reach 0.9. (25 epochs: with dropout masks shared by every step
    of a text, a model of 16 features learns more slowly than with a mask per step.)"""
    run = fit(small(tmp_path, corpus_tsv, epochs=25, folds=1, name="learn"))
    assert run.result.test.macro_f1 >= 0.9
    assert {p.name for p in run.run_dir.iterdir()} == {*RUN_FILES, "curves.png"}
    untrained = fit(small(tmp_path, corpus_tsv, epochs=1, folds=1, lr=1e-12, name="untrained"))
    assert untrained.result.test.macro_f1 < 0.9


@pytest.mark.parametrize(
    "kw",
    [
        {"model": "lstm", "folds": 1},
        {"model": "attn", "tokenizer": "bpe", "vocab_size": 120, "folds": 1},
        {"model": "lstm", "layers": 2, "folds": 2},
        {"model": "rnn", "tokenizer": "bpe", "vocab_size": 120, "folds": 3, "pool": "last", "max_len": 20},
    ],
    ids=["lstm", "attn-bpe", "lstm2-folds2", "rnn-bpe-folds3-last"],
)
def test_a_saved_run_reloads_and_reproduces_its_test_scores(tmp_path, corpus_tsv, kw):
    cfg = small(tmp_path, corpus_tsv, epochs=2, name="r", **kw)
    run = fit(cfg)
    saved = load_run(run.run_dir)
    assert isinstance(saved.model, Ensemble) == (cfg.folds > 1)
    if cfg.folds > 1:
        assert len(saved.model.members) == cfg.folds and [h.fold for h in run.result.history[::2]] == list(
            range(cfg.folds)
        )
    assert saved.tokenizer.kind == cfg.tokenizer and saved.model.cfg.kind == cfg.model
    assert saved.max_len == (
        cfg.max_len or json.loads((run.run_dir / "config.json").read_text())["longest_training_text"]
    )
    corpus = read_tsv(corpus_tsv)
    test = split_indices(len(corpus)).test
    probs = probabilities(saved, [corpus.texts[i] for i in test])
    y, _ = saved.labels.encode([corpus.labels[i] for i in test])
    assert metrics.scores(y, saved.decide(probs)).macro_f1 == pytest.approx(run.result.test.macro_f1)
    assert saved.decide(probs).sum(1).min() >= 1  # the at-least-one rule, saved with the run


def test_ensemble_returns_the_logit_of_the_mean_probability():
    torch.manual_seed(0)
    members = [RecurrentClassifier(ModelConfig("rnn", 30, 4, embed_dim=5, hidden=6, dropout=0)) for _ in range(3)]
    ensemble = Ensemble(members).eval()
    tokens, lengths = torch.randint(2, 30, (2, 7)), torch.tensor([7, 4])
    mean = torch.stack([torch.sigmoid(m(tokens, lengths)) for m in members]).mean(0)
    assert torch.allclose(torch.sigmoid(ensemble(tokens, lengths)), mean, atol=1e-6)
    assert not np.allclose(mean.detach().numpy(), torch.sigmoid(members[0](tokens, lengths)).detach().numpy())


def test_predict_and_evaluate_use_the_saved_run(tmp_path, corpus_tsv, capsys):
    args = ["fit", "--data", str(corpus_tsv), "--epochs", "12", "--hidden", "16", "--embed-dim", "16"]
    assert main([*args, "--folds", "2", "--out", str(tmp_path), "--name", "r", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "test macro F1" in out and "run folder" in out
    texts = tmp_path / "new.txt"
    texts.write_text("the fda approval cleared today\nwords nobody has ever seen\n\n")
    assert main(["predict", "--run", str(tmp_path / "r"), "--input", str(texts), "--probs"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(x) for x in captured.out.splitlines()]
    assert len(lines) == 2 and len(lines[0]["probabilities"]) == 5
    assert "regulatory approval" in lines[0]["labels"]
    assert "1 of 2 texts keep no known word" in captured.err
    labelled = tmp_path / "labelled.tsv"
    labelled.write_text("text\tlabels\nthe merger deal\tmerger & acquisition, brand new label\n")
    assert main(["evaluate", "--run", str(tmp_path / "r"), "--data", str(labelled)]) == 0
    out = capsys.readouterr().out
    assert "not known to the run" in out and "brand new label" in out and "macro F1" in out


def test_match_params_picks_the_lstm_hidden_size(tmp_path, corpus_tsv):
    cfg = small(tmp_path, corpus_tsv, model="lstm", match_params="rnn", rnn_hidden=256, epochs=1, folds=1, name="m")
    r = fit(cfg).result
    rnn = ModelConfig("rnn", r.vocab_size, 5, cfg.embed_dim, 256, dropout=cfg.dropout)
    assert r.hidden == match_hidden(rnn, ModelConfig("lstm", r.vocab_size, 5, cfg.embed_dim))
    assert abs(r.parameters - count_parameters(rnn)) / count_parameters(rnn) < 0.05


def test_scores_on_unseen_test_texts_leave_out_texts_repeated_from_training(tmp_path, corpus_tsv):
    rows = corpus_tsv.read_text().splitlines()
    split = split_indices(len(rows) - 1)
    # Copy two training rows over two test rows: those test texts are then "seen".
    for t, s in zip(split.test[:2], split.train[:2], strict=True):
        rows[t + 1] = rows[s + 1]
    data = tmp_path / "dup.tsv"
    data.write_text("\n".join(rows) + "\n")
    r = fit(small(tmp_path, data, epochs=1, folds=1, name="d")).result
    assert r.test.texts == len(split.test) and r.test_unseen.texts == len(split.test) - 2


def test_compare_writes_the_report(tmp_path, corpus_tsv):
    args = ["compare", "--quick", "--data", str(corpus_tsv), "--limit", "80", "--epochs", "1", "--max-len", "16"]
    args += ["--vocab-sizes", "100", "--seeds", "0,1", "--out", str(tmp_path), "--name", "c"]
    assert main(args) == 0
    out = tmp_path / "c"
    assert {p.name for p in out.iterdir()} == {"report.md", "results.json", "f1.png", "curves.png"}
    report = (out / "report.md").read_text()
    results = json.loads((out / "results.json").read_text())
    assert len(results["runs"]) == 4 * 2 * 2  # models x tokenizers x seeds
    config = results["config"]
    assert config["patience"] == 25 and config["epochs"] == 1  # --quick, but --epochs wins
    assert config["folds"] == 1 and config["rnn_hidden"] == 128 and config["max_len"] == 16 and config["crop"] == 0
    params = {r["cell"]["model"]: r["result"]["parameters"] for r in results["runs"]}
    assert all(abs(p - params["RNN"]) / params["RNN"] < 0.1 for p in params.values())  # matched to the RNN
    assert "seeds 0, 1" in report and "max length 16" in report
    # One row per cell, with the mean ± std of its two seeds.
    for run in ("RNN", "LSTM", "LSTM x2", "LSTM+attention"):
        for tok in ("word", "bpe 100"):
            row = next(line for line in report.splitlines() if line.startswith(f"| {run} | {tok} |"))
            f1 = [
                r["result"]["test"]["macro_f1"]
                for r in results["runs"]
                if r["cell"]["model"] == run and r["cell"]["tokenizer"] == tok.split()[0]
            ]
            mean, std = np.mean(f1), np.std(f1)
            cols = row.split(" | ")
            assert (f"{mean:.3f} ± {std:.3f}" if std else f"{mean:.3f}") in cols[6]
            assert cols[7] == f"{min(f1):.3f}"  # the lowest seed


def test_compare_runs_at_once_give_the_results_of_runs_in_turn(tmp_path, corpus_tsv):
    from pytrain.compare import grid, run_grid

    base = small(tmp_path, corpus_tsv, limit=80, epochs=2, folds=1, max_len=16)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = {jobs: run_grid(replace(base, jobs=jobs), grid([100]), [0]) for jobs in (1, 2)}
    finally:
        torch.set_num_threads(threads)
    assert [(r.cell, r.seed) for r in runs[1]] == [(r.cell, r.seed) for r in runs[2]]  # grid order
    for one, two in zip(runs[1], runs[2], strict=True):
        assert one.result.test == two.result.test
        assert [replace(h, seconds=0) for h in one.result.history] == [
            replace(h, seconds=0) for h in two.result.history
        ]


def test_nested_labels_every_training_text_once_with_models_that_never_saw_it(corpus_tsv, monkeypatch):
    from pytrain import fit as fit_module
    from pytrain.nested import nested_decisions

    seen: list[tuple[set, set]] = []
    real_prepare = fit_module.prepare

    def spy(cfg, split=None):
        seen.append((set(split.train) | set(split.val), set(split.test)))
        return real_prepare(cfg, split)

    monkeypatch.setattr(fit_module, "prepare", spy)
    for folds in (1, 2):
        seen.clear()
        cfg = FitConfig(data=str(corpus_tsv), limit=60, epochs=1, hidden=8, embed_dim=8, folds=folds, progress=False)
        res = nested_decisions(cfg, outer=3)
        course = split_indices(60)
        training = set(course.train) | set(course.val)
        assert len(res.per_fold) == 3 and res.labels.shape == res.decisions.shape and len(res.labels) == len(training)
        held_out = [test for _, test in seen]
        assert set().union(*held_out) == training and sum(map(len, held_out)) == len(training)
        assert all(not (fitted & test) for fitted, test in seen)  # never trained on what it labels
        assert res.decisions.sum(1).min() >= 1  # the at-least-one rule applies as in fit


@pytest.mark.course
def test_fit_on_the_course_data(tmp_path, biotech_tsv):
    cfg = FitConfig(data=str(biotech_tsv), epochs=2, folds=2, max_len=64, out=str(tmp_path), name="c", **SMALL)
    r = fit(cfg).result
    n = len(read_tsv(biotech_tsv))
    assert r.sizes["test"] == len(split_indices(n).test) and r.sizes["train"] + r.sizes["test"] == n
    assert len(r.test.per_label_f1) == len(r.thresholds) > 10 and 0.0 <= r.test.macro_f1 <= 1.0
    again = fit(replace(cfg, name="c2")).result
    assert again.test.macro_f1 == r.test.macro_f1  # seeded: runs reproduce


def test_bpe_dropout_re_encodes_the_training_texts_each_epoch(tmp_path, corpus_tsv, monkeypatch):
    from pytrain.tokens import BpeTokenizer

    calls = []
    real = BpeTokenizer.encode_batch

    def spy(self, texts, dropout=0.0, seed=0):
        calls.append((len(texts), dropout, seed))
        return real(self, texts, dropout, seed)

    monkeypatch.setattr(BpeTokenizer, "encode_batch", spy)
    cfg = small(tmp_path, corpus_tsv, tokenizer="bpe", vocab_size=150, bpe_dropout=0.2, epochs=3, folds=1, name="d")
    r = fit(cfg).result
    dropped = [c for c in calls if c[1] > 0]
    assert [c[2] for c in dropped] == [1, 2, 3] and {c[1] for c in dropped} == {0.2}  # one draw per epoch
    assert all(n == r.sizes["train"] for n, _, _ in dropped)  # the training texts only, never val or test
    assert json.loads((tmp_path / "d" / "config.json").read_text())["bpe_dropout"] == 0.2


@pytest.mark.parametrize(
    "kw", [{}, {"tokenizer": "bpe", "vocab_size": 150, "bpe_dropout": 0.2}], ids=["word", "bpe-dropout"]
)
def test_folds_trained_at_once_are_the_models_trained_in_turn(tmp_path, corpus_tsv, kw):
    """Each fold model has its own seed, so forked workers (one thread each) give the models,
    histories and scores that one process gives on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = {
            jobs: fit(small(tmp_path, corpus_tsv, epochs=3, folds=3, jobs=jobs, name=f"j{jobs}", **kw))
            for jobs in (1, 2)
        }
    finally:
        torch.set_num_threads(threads)
    one, two = (load_run(runs[j].run_dir).model for j in (1, 2))
    for a, b in zip(one.state_dict().values(), two.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    histories = [[replace(h, seconds=0) for h in runs[j].result.history] for j in (1, 2)]
    assert histories[0] == histories[1] and len(histories[0]) == 9
    assert runs[1].result.test == runs[2].result.test
    assert runs[2].result.peak_memory_mb > 0


def test_the_fold_bar_ends_full_when_folds_stop_early(tmp_path, corpus_tsv, capsys):
    run = fit(small(tmp_path, corpus_tsv, epochs=8, patience=1, folds=3, jobs=2, progress=True, name="bar"))
    assert len(run.result.history) < 24  # some fold stopped early
    assert "3 folds, 2 at a time: 100%" in capsys.readouterr().err
