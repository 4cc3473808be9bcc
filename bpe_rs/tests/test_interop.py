"""Interop: Hugging Face `tokenizers` loads what `save_hf` writes and gives exactly bpe_rs's ids;
tokenizers pickle; batch calls work in forked and spawned `DataLoader` workers; the command line."""

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import bpe_rs

ROOT = Path(__file__).resolve().parents[2]
SHARED_TSV = ROOT.parent / "shared" / "data" / "biotech_news.tsv"
# The benchmark corpus of ../shared/bench/build_corpus.sh, where it was built (BPE_CORPUS or ./corpus).
MEDIUM = Path(os.environ.get("BPE_CORPUS", ROOT / "corpus")) / "medium.txt"
GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
MIXED = [
    "The quick brown fox, (jumps) over 12 lazy dogs!",
    "naïve café résumé — “quotes” and ‘more’; 3.14159 π ≈ 3",
    "東京 is big. Emoji 🙂👍 and tabs\there, new\nlines; x²",
    "it's we're they'll I'd you've   spaced    out  ",
] * 30

tokenizers = pytest.importorskip("tokenizers", reason="Hugging Face tokenizers is a test-only dependency")


def same_ids_in_hf(tok: bpe_rs.Tokenizer, texts: list[str], tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    tok.save_hf(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    ours = tok.encode_batch(texts)
    theirs = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    for text, a, b in zip(texts, ours, theirs, strict=True):
        assert a == b, text[:80]
    again = bpe_rs.Tokenizer.from_hf(path)
    assert again.vocab() == tok.vocab() and again.encode_batch(texts[:50]) == ours[:50]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"byte_fallback": True, "min_char_frequency": 3},
        {"pre_tokenizer": "punct", "special_tokens": ["<s>", "</s>"]},
        {"pre_tokenizer": "regex", "regex": GPT2, "byte_fallback": True},
    ],
    ids=["whitespace", "byte-fallback", "punct", "gpt2-regex"],
)
def test_hugging_face_gives_the_same_ids(tmp_path, options):
    train = MIXED[: len(MIXED) // 2]
    vocab = 600 if options.get("byte_fallback") else 300
    tok = bpe_rs.Tokenizer.train(train, vocab_size=vocab, min_frequency=1, **options)
    unseen = ["Zebra Quokka ÆØÅ 世界 ünïcödé!", "brand new words", "x"]
    same_ids_in_hf(tok, MIXED + unseen, tmp_path)


@pytest.mark.skipif(not SHARED_TSV.is_file(), reason=f"{SHARED_TSV} is absent (course data, not part of a clone)")
def test_hugging_face_gives_the_same_ids_on_the_course_data(tmp_path):
    docs = bpe_rs.read_corpus(SHARED_TSV)
    for options in ({}, {"byte_fallback": True, "pre_tokenizer": "punct"}):
        tok = bpe_rs.Tokenizer.train(docs[:200], vocab_size=2000, **options)
        same_ids_in_hf(tok, docs, tmp_path)


@pytest.mark.skipif(not MEDIUM.is_file(), reason=f"{MEDIUM} is absent: build it with ../shared/bench/build_corpus.sh")
def test_hugging_face_gives_the_same_ids_on_the_benchmark_corpus(tmp_path):
    tok = bpe_rs.Tokenizer.train_files([MEDIUM], vocab_size=8000)
    same_ids_in_hf(tok, bpe_rs.read_corpus(MEDIUM), tmp_path)


def test_a_version_1_tokenizer_has_no_hugging_face_form(tmp_path):
    v1 = {"format": "bpe_rs", "version": 1, "settings": {"vocab_size": 6, "min_frequency": 1},
          "special_tokens": ["<pad>", "<unk>", "</w>"], "alphabet": ["a"], "merges": [],
          "vocab": ["<pad>", "<unk>", "</w>", "a"]}  # fmt: skip
    (tmp_path / "v1.json").write_text(json.dumps(v1))
    with pytest.raises(ValueError, match="train it again"):
        bpe_rs.Tokenizer.load(tmp_path / "v1.json").save_hf(tmp_path / "hf.json")


def test_tokenizers_pickle():
    tok = bpe_rs.Tokenizer.train(MIXED, vocab_size=400, min_frequency=1, byte_fallback=True, special_tokens=["<s>"])
    again = pickle.loads(pickle.dumps(tok))
    assert isinstance(again, bpe_rs.Tokenizer) and again.vocab() == tok.vocab()
    assert again.encode_batch(MIXED) == tok.encode_batch(MIXED) and again.special_tokens == ["<s>"]


WORKER = textwrap.dedent(
    """
    import sys
    import torch
    from torch.utils.data import DataLoader, Dataset
    import bpe_rs

    class Texts(Dataset):
        def __init__(self, tok, texts):
            self.tok, self.texts = tok, texts

        def __len__(self):
            return len(self.texts)

        def __getitem__(self, i):
            ids, offsets = self.tok.encode_batch_flat([self.texts[i]] * 64)  # the thread pool, in a worker
            return torch.from_numpy(ids[: offsets[1]].astype("int64"))

    if __name__ == "__main__":
        texts = [f"text number {i} about cats and dogs" for i in range(64)]
        tok = bpe_rs.Tokenizer.train(texts, vocab_size=120)
        tok.encode_batch(texts * 100)  # the parent uses its pool before the workers start
        expected = [torch.tensor(tok.encode(t)) for t in texts]
        loader = DataLoader(Texts(tok, texts), batch_size=None, num_workers=2,
                            multiprocessing_context=sys.argv[1], timeout=60)
        got = list(loader)
        assert all(torch.equal(a, b) for a, b in zip(got, expected)) and len(got) == len(expected)
        print("ok", sys.argv[1])
    """
)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_batch_calls_work_in_dataloader_workers(tmp_path, context):
    pytest.importorskip("torch")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    r = subprocess.run([sys.executable, str(script), context], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0 and f"ok {context}" in r.stdout, r.stderr[-2000:]


def cli(*args, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bpe_rs", *args], input=stdin, capture_output=True, timeout=120, cwd=cwd
    )


def test_command_line_train_encode_decode(tmp_path):
    lines = [t.replace("\n", " ") for t in MIXED]  # one document per line
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(lines) + "\n")
    tok, hf = tmp_path / "tok.json", tmp_path / "hf.json"
    r = cli(
        "train",
        "--input",
        str(corpus),
        "--vocab-size",
        "400",
        "--min-frequency",
        "1",
        "--byte-fallback",
        "--out",
        str(tok),
        "--hf",
        str(hf),
    )
    assert r.returncode == 0 and b"vocabulary 400" in r.stdout, r.stderr
    assert json.loads(hf.read_text())["model"]["type"] == "BPE"
    r = cli("encode", "--tokenizer", str(tok), "--input", str(corpus), "--out", str(tmp_path / "ids.npz"))
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "ids.npz") as data:
        ids, offsets = data["ids"], data["offsets"]
    loaded = bpe_rs.Tokenizer.load(tok)
    assert ids.dtype == np.uint32 and offsets.dtype == np.int64 and len(offsets) == len(lines) + 1
    assert ids[offsets[0] : offsets[1]].tolist() == loaded.encode(lines[0])
    r = cli("decode", "--tokenizer", str(tok), "--input", str(tmp_path / "ids.npz"))
    assert r.returncode == 0 and r.stdout.decode().splitlines() == [" ".join(t.split()) for t in lines]
    r = cli("encode", "--tokenizer", str(tok), "--input", "-", "--out", str(tmp_path / "s.npz"), stdin=b"a b\nc\n")
    assert r.returncode == 0 and len(np.load(tmp_path / "s.npz")["offsets"]) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--input", "missing.txt", "--vocab-size", "10"], b"missing.txt: no such file"),
        (["train", "--input", "{c}", "--vocab-size", "1000000000000"], b"vocab_size"),
        (["train", "--input", "{c}", "--vocab-size", "-5"], b"vocab_size"),
        (["train", "--input", "{c}", "--vocab-size", "2"], b"leaves no room"),
        (["train", "--input", "{c}", "--vocab-size", "50", "--threads", "0"], b"threads"),
        (["train", "--input", "{c}", "--vocab-size", "50", "--out", "{c}/x.json"], b"cannot write the tokenizer"),
        (["train", "--input", "{c}", "--vocab-size", "50", "--pre-tokenizer", "regex"], b"needs regex="),
        (["encode", "--tokenizer", "{c}", "--input", "{c}", "--out", "{t}/o.npz"], b"not a valid tokenizer file"),
        (["decode", "--tokenizer", "{tok}", "--input", "{c}"], b"not an .npz"),
    ],
)
def test_command_line_errors_are_one_line(tmp_path, args, message):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\nd e\n")
    tok = tmp_path / "tok.json"
    bpe_rs.Tokenizer.train(["a b c"], vocab_size=20).save(tok)
    args = [a.format(c=corpus, t=tmp_path, tok=tok) for a in args]
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr and b"Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"]])
def test_the_command_line_imports_no_torch(argv, tmp_path):
    code = "import sys\nfrom bpe_rs.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    code += "print('TORCH', 'torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
    assert "TORCH False" in r.stdout
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n")
    train = ["train", "--input", str(corpus), "--vocab-size", "20", "--out", str(tmp_path / "t.json"), "--quiet"]
    r = subprocess.run([sys.executable, "-c", code.replace("main(sys.argv[1:])", "main(sys.argv[1:])"), *train],
                       capture_output=True, text=True)  # fmt: skip
    assert "TORCH False" in r.stdout and (tmp_path / "t.json").is_file()
