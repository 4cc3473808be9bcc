"""The command line: every bad input stops before the work as one line and exit status 2,
light commands import nothing heavy, and runs are never lost or half-written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytrain.cli import main
from pytrain.config import RANGES, FitConfig
from pytrain.errors import ConfigError
from pytrain.files import RunFolder

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytrain", *args], input=stdin, capture_output=True, timeout=timeout, cwd=ROOT
    )


def one_line_error(capsys, message: str) -> None:
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--epochs", "-3", "--epochs -3: must be >= 1"),
        ("--clip", "-1", "--clip -1.0: must be > 0"),
        ("--max-len", "-1", "--max-len -1: must be >= 1"),
        ("--embed-dim", "0", "--embed-dim 0: must be >= 1"),
        ("--batch-size", "0", "--batch-size 0: must be >= 1"),
        ("--dropout", "1.5", "--dropout 1.5: must be >= 0 and < 1"),
        ("--lr", "-1", "--lr -1.0: must be > 0"),
        ("--lr", "nan", "--lr nan: expected a finite number"),
        ("--test-size", "0", "--test-size 0.0: must be > 0 and < 1"),
        ("--val-size", "0", "--val-size 0.0: must be > 0 and < 1"),
        ("--limit", "0", "--limit 0: must be >= 1"),
        ("--split-seed", "-1", "--split-seed -1: must be >= 0"),
        ("--seed", str(2**40), "--seed 1099511627776: must be >= 0 and <= 4,294,967,295"),
        ("--folds", "0", "--folds 0: must be >= 1"),
        ("--crop", "-1", "--crop -1: must be >= 0"),
        ("--jobs", "0", "--jobs 0: must be >= 1"),
        ("--max-df", "0", "--max-df 0.0: must be > 0"),
        ("--pos-weight-cap", "0.5", "--pos-weight-cap 0.5: must be >= 1"),
        ("--name", "a/b", "--name a/b: a run name is a plain folder name"),
    ],
)
def test_out_of_range_options_stop_before_any_data_is_read(option, value, message, capsys):
    assert main(["fit", "--data", "/nonexistent.tsv", option, value]) == 2  # the data is never looked at
    one_line_error(capsys, message)


def test_every_numeric_option_has_a_range():
    numeric = {f for f, v in vars(FitConfig()).items() if isinstance(v, int | float) and not isinstance(v, bool)}
    assert numeric | {"min_count", "attn_dim", "max_len", "max_tokens", "limit", "jobs"} == set(RANGES)
    for field, (low, _high, _closed) in RANGES.items():
        with pytest.raises(ConfigError, match=field):
            FitConfig(**{field: low - 1}).validate()


@pytest.mark.parametrize(
    "args, message",
    [
        (["fit", "--data", "/nonexistent/file.tsv"], "no data file found"),
        (["fit", "--folds", "9", "--limit", "10"], "--folds 9: more folds than the 8 training texts"),
        (["fit", "--min-df", "1000"], "cleaning left every training text empty"),
        (["predict", "--run", "/nonexistent/run", "--input", "-"], "no such run folder"),
        (["bpe", "train", "--input", "/nonexistent.txt", "--vocab-size", "10"], "no such file"),
        (["compare", "--seeds", "1,x"], "--seeds 1,x: expected comma-separated whole numbers"),
        (["compare", "--vocab-sizes", "2"], "--vocab-size 2: must be >= 8"),
        (["nested", "--outer", "1", "--limit", "20"], "--outer 1: needs 2 <= outer"),
        (["data", "convert", "/nonexistent.csv", "out.tsv"], "/nonexistent.csv: cannot read"),
    ],
)
def test_errors_are_one_line_without_traceback(args, message, capsys, tmp_path, corpus_tsv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if "--data" not in args and args[0] in ("fit", "compare", "nested"):
        args = [*args, "--data", str(corpus_tsv), "--no-progress"]
    assert main(args) == 2
    one_line_error(capsys, message)


def test_labels_all_empty_are_refused(tmp_path, capsys):
    data = tmp_path / "nolabels.tsv"
    data.write_text("text\tlabels\n" + "".join(f"text number {i} words\t\n" for i in range(20)))
    assert main(["fit", "--data", str(data), "--out", str(tmp_path)]) == 2
    one_line_error(capsys, "no row has a label")
    assert not any(p.is_dir() for p in tmp_path.iterdir())  # no run folder left behind


@pytest.mark.parametrize("command", [["--help"], ["bpe", "train", "--help"], ["data", "convert", "--help"]])
def test_light_commands_import_neither_torch_nor_sklearn(command):
    code = (
        "import sys\nfrom pytrain.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'sklearn', 'matplotlib', 'scipy'})\n"
        "print('HEAVY', heavy)"
    )
    r = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, cwd=ROOT)
    assert "HEAVY []" in r.stdout, r.stdout + r.stderr


def test_bpe_train_imports_no_torch_and_checks_its_output_first(tmp_path, corpus_tsv):
    code = (
        "import sys\nfrom pytrain.cli import main\nrc = main(sys.argv[1:])\n"
        "print('HEAVY', sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'sklearn'}), rc)"
    )
    out = tmp_path / "tok.json"
    args = ["bpe", "train", "--input", str(corpus_tsv), "--vocab-size", "100", "--out", str(out)]
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)
    assert "HEAVY [] 0" in r.stdout and out.is_file(), r.stdout + r.stderr
    (tmp_path / "file").write_text("x")
    r = run_cli(
        "bpe", "train", "--input", str(corpus_tsv), "--vocab-size", "100", "--out", str(tmp_path / "file/t.json")
    )
    assert r.returncode == 2 and b"cannot write the tokenizer" in r.stderr and b"merges" not in r.stderr


def test_run_folder_is_refused_when_taken_and_left_clean_on_failure(tmp_path, corpus_tsv, capsys):
    base = ["fit", "--data", str(corpus_tsv), "--epochs", "1", "--folds", "1", "--hidden", "8", "--no-progress"]
    assert main([*base, "--out", str(tmp_path), "--name", "same"]) == 0
    capsys.readouterr()
    before = (tmp_path / "same" / "model.pt").read_bytes()
    assert main([*base, "--out", str(tmp_path), "--name", "same"]) == 2
    one_line_error(capsys, "the run folder exists")
    assert (tmp_path / "same" / "model.pt").read_bytes() == before


def test_a_failure_after_the_claim_leaves_no_folder(tmp_path, corpus_tsv, monkeypatch):
    from pytrain import runs
    from pytrain.fit import fit

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs, "save_run", full_disk)
    cfg = FitConfig(data=str(corpus_tsv), epochs=1, folds=1, hidden=8, out=str(tmp_path), name="x", progress=False)
    with pytest.raises(OSError, match="No space"):
        fit(cfg)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    assert fit(cfg).run_dir == tmp_path / "x"  # and the name is free for a rerun


def test_two_runs_with_one_name_the_second_is_refused_while_the_first_writes(tmp_path):
    folder = RunFolder(tmp_path, "same")
    partial = folder.claim()
    assert partial.is_dir() and not folder.final.exists()
    with pytest.raises(ValueError, match="another run .* is writing it"):
        RunFolder(tmp_path, "same").claim()
    assert folder.commit() == tmp_path / "same" and not partial.exists()
    with pytest.raises(ValueError, match="exists"):
        RunFolder(tmp_path, "same").claim()


def test_a_partial_folder_left_by_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    partial = tmp_path / ".x.partial"
    partial.mkdir()
    (partial / ".owner").write_text(dead.stdout.strip())
    (partial / "config.json").write_text("half")
    folder = RunFolder(tmp_path, "x")
    assert folder.claim() == partial and not (partial / "config.json").exists()
    folder.abort()
    assert not partial.exists()


def test_concurrent_fits_with_one_name_exactly_one_wins(tmp_path, corpus_tsv):
    args = ["fit", "--data", str(corpus_tsv), "--epochs", "3", "--folds", "1", "--hidden", "8", "--no-progress"]
    args += ["--out", str(tmp_path), "--name", "same"]
    procs = [subprocess.Popen([sys.executable, "-m", "pytrain", *args], cwd=ROOT, stderr=subprocess.PIPE) for _ in "ab"]
    codes = sorted(p.wait(timeout=300) for p in procs)
    assert codes == [0, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, corpus_tsv) -> Path:
    out = tmp_path_factory.mktemp("runs")
    args = ["fit", "--data", str(corpus_tsv), "--epochs", "2", "--folds", "2", "--hidden", "8", "--embed-dim", "8"]
    assert main([*args, "--out", str(out), "--name", "r", "--no-progress"]) == 0
    return out / "r"


@pytest.mark.parametrize(
    "file, damage, message",
    [
        ("model.pt", lambda b: b[: len(b) // 2], "model.pt: cannot read the weights"),
        ("model.pt", lambda b: b"garbage", "model.pt: cannot read the weights"),
        ("labels.json", lambda b: b[:-5], "labels.json: cannot read"),
        ("labels.json", lambda b: b'["a", "b"]', "labels.json: its 2 labels disagree with the 5 thresholds"),
        ("cleaner.json", lambda b: b"{}", "cleaner.json: missing or malformed entry"),
        ("metrics.json", lambda b: b'{"test": 1}', "metrics.json: missing or malformed entry"),
        ("metrics.json", lambda b: b"\xff\xfe", "metrics.json: cannot read"),
        ("config.json", lambda b: b"[]", "config.json: expected a JSON dict"),
        ("tokenizer.json", lambda b: b'{"format": "pytrain-words", "vocab": 3}', "tokenizer.json: 'vocab' must be"),
    ],
)
def test_a_damaged_run_file_is_named_in_one_line(trained_run, tmp_path, file, damage, message, capsys):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    (run / file).write_bytes(damage((run / file).read_bytes()))
    texts = tmp_path / "t.txt"
    texts.write_text("the merger deal\n")
    assert main(["predict", "--run", str(run), "--input", str(texts)]) == 2
    one_line_error(capsys, message)


def test_predict_input_checks(trained_run, tmp_path):
    r = run_cli("predict", "--run", str(trained_run), "--input", "-", stdin=b"good text\n\xff\xfe bad\n")
    assert r.returncode == 2 and b"<stdin>:2: not valid UTF-8" in r.stderr and b"Traceback" not in r.stderr
    r = run_cli("predict", "--run", str(trained_run), "--input", "-", stdin=b"\xef\xbb\xbfthe fda approval\n")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1
    r = run_cli("predict", "--run", str(trained_run), "--input", "-", stdin=b"\n  \n")
    assert r.returncode == 2 and b"no text to label" in r.stderr


def test_a_huge_text_is_cut_to_the_run_s_length_and_batched_by_budget(trained_run):
    from pytrain.predict import probabilities
    from pytrain.runs import load_run

    run = load_run(trained_run)
    short = "the fda approval cleared"
    huge = " ".join(["merger deal acquire"] * 300_000)  # 900k words
    probs = probabilities(run, [short, huge, short])  # (members, texts, labels): the run is a 2-fold ensemble
    assert probs.shape == (2, 3, 5) and (probs[:, 0] == probs[:, 2]).all()
    cut = probabilities(run, [" ".join(["merger deal acquire"] * (run.max_len // 3 + 1))])
    assert probs[:, 1] == pytest.approx(cut[:, 0], abs=1e-6)  # only the first max_len tokens count


def test_evaluate_refuses_unlabelled_data_and_stops_quietly_on_a_closed_pipe(trained_run, tmp_path):
    data = tmp_path / "nolabels.tsv"
    data.write_text("text\tlabels\nsome text\t\n")
    r = run_cli("evaluate", "--run", str(trained_run), "--data", str(data))
    assert r.returncode == 2 and b"no row has a label" in r.stderr
    labelled = tmp_path / "l.tsv"
    labelled.write_text("text\tlabels\n" + "the merger deal\tmerger & acquisition\n" * 50)
    cmd = f"{sys.executable} -m pytrain evaluate --run {trained_run} --data {labelled} | head -1"
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, cwd=ROOT, timeout=120)
    assert b"Traceback" not in r.stderr and b"BrokenPipe" not in r.stderr and len(r.stdout.splitlines()) == 1


def test_data_convert_command(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("Title,Content,Label 1,Label 2\nT,Big news!,event organisation,\n")
    r = run_cli("data", "convert", str(src), str(tmp_path / "out.tsv"), "--rename-label", "event organisation=x y")
    assert r.returncode == 0 and (tmp_path / "out.tsv").read_text() == "text\tlabels\nbig news\tx y\n"
    r = run_cli("data", "convert", str(src), str(tmp_path / "o.tsv"), "--rename-label", "novalue")
    assert r.returncode == 2 and b"expected OLD=NEW" in r.stderr
    (tmp_path / "empty.csv").write_text("")
    r = run_cli("data", "convert", str(tmp_path / "empty.csv"), str(tmp_path / "o.tsv"))
    assert r.returncode == 2 and b"empty file" in r.stderr and not (tmp_path / "o.tsv").exists()


def test_the_run_folder_holds_config_metrics_and_plot(trained_run):
    config = json.loads((trained_run / "config.json").read_text())
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert config["folds"] == 2 and config["model_config"]["kind"] == "rnn"
    assert set(metrics) >= {"test", "test_unseen", "thresholds", "history", "empty_texts"}
    assert (trained_run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(trained_run.parent.glob(".*"))  # no partial or temporary files left


def test_an_output_folder_that_cannot_be_written_stops_fit_before_any_work(tmp_path, corpus_tsv, capsys, monkeypatch):
    from pytrain import fit as fit_module

    def never(*args):
        raise AssertionError("data was read")

    monkeypatch.setattr(fit_module, "prepare", never)
    (tmp_path / "file").write_text("x")
    assert main(["fit", "--data", str(corpus_tsv), "--out", str(tmp_path / "file" / "runs")]) == 2
    one_line_error(capsys, "cannot write run folders there")
