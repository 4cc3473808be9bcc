"""BPE training and encoding: bpe_rs side by side with Hugging Face `tokenizers`, `sentencepiece`
(BPE), YouTokenToMe and tiktoken, in one run: same corpus, vocabulary size, minimum frequency and
thread count.

    python benchmarks/bpe_bench.py                                   # the course data
    sh ../shared/bench/build_corpus.sh corpus                        # a real 80 MB English corpus
    python benchmarks/bpe_bench.py corpus/large.txt --vocab-size 32000 --threads 2
    python benchmarks/bpe_bench.py corpus/large.txt --vocab-size 32000 --threads 2 --mode bytes regex
    python benchmarks/bpe_bench.py corpus/medium.txt --vocab-size 32000 --threads 2 --e2e

Modes: `plain` (whitespace words; every library in its BPE mode), `bytes` (byte fallback:
bpe_rs, tokenizers, sentencepiece), `regex` (GPT-2's pre-tokenizer pattern: bpe_rs's regex mode
with byte fallback against tokenizers' ByteLevel BPE, and tiktoken's engine encoding with the
ByteLevel model's merges; tiktoken has no trainer).

Each measurement runs in its own process, `--repeats` times (the median time is shown), so peak
memory (max RSS of that process, imports included) and thread settings do not leak between
libraries; training processes never hold the corpus text themselves. `--e2e` also times training
as a user runs it: a whole process, import and command line included (`python -m bpe_rs train`
against a script doing the same with tokenizers). Libraries that are not installed are skipped
(`pip install tokenizers sentencepiece tiktoken`; YouTokenToMe needs `pip install cython && pip
install --no-build-isolation youtokentome`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "biotech_news.tsv"
GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LIBS = {
    "plain": ("bpe_rs", "tokenizers", "sentencepiece", "youtokentome"),
    "bytes": ("bpe_rs", "tokenizers", "sentencepiece"),
    "regex": ("bpe_rs", "tokenizers", "tiktoken"),
}


def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_lines(corpus: str) -> list[str]:
    return Path(corpus).read_text(encoding="utf-8").splitlines()


def train(lib: str, mode: str, corpus: str, vocab: int, min_freq: int, threads: int, model: Path) -> None:
    if lib == "bpe_rs":
        import bpe_rs

        options = {
            "plain": {},
            "bytes": {"byte_fallback": True},
            "regex": {"pre_tokenizer": "regex", "regex": GPT2, "byte_fallback": True},
        }[mode]
        tok = bpe_rs.Tokenizer.train_files(
            [corpus], vocab_size=vocab, min_frequency=min_freq, threads=threads, **options
        )
        tok.save(str(model) + ".json")
    elif lib == "tokenizers":
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        if mode == "regex":
            tok = Tokenizer(models.BPE())
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = decoders.ByteLevel()
            trainer = trainers.BpeTrainer(
                vocab_size=vocab,
                min_frequency=min_freq,
                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                show_progress=False,
            )
        else:
            tok = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>", byte_fallback=mode == "bytes"))
            tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
            trainer = trainers.BpeTrainer(
                vocab_size=vocab,
                min_frequency=min_freq,
                special_tokens=["<pad>", "<unk>"] + ([f"<0x{b:02X}>" for b in range(256)] if mode == "bytes" else []),
                end_of_word_suffix="</w>",
                show_progress=False,
            )
        tok.train([corpus], trainer)
        tok.save(str(model) + ".json")
    elif lib == "sentencepiece":
        import sentencepiece as spm

        spm.SentencePieceTrainer.train(
            input=corpus,
            model_prefix=str(model),
            vocab_size=vocab,
            model_type="bpe",
            character_coverage=1.0 if mode == "plain" else 0.9995,
            byte_fallback=mode == "bytes",
            num_threads=threads,
            max_sentence_length=1 << 20,
            minloglevel=2,
            hard_vocab_limit=False,
        )
    elif lib == "youtokentome":
        import youtokentome as yttm

        yttm.BPE.train(data=corpus, vocab_size=vocab, model=str(model) + ".yttm", n_threads=threads, coverage=1.0)
    else:
        raise SystemExit(f"{lib}: no trainer")


def tiktoken_from_hf(path: Path):
    """tiktoken's engine with the merges of a ByteLevel BPE model (GPT-2's byte <-> unicode map)."""
    import tiktoken

    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    chars, n = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    to_byte = {chr(c): b for b, c in zip(printable, chars, strict=True)}
    vocab = json.loads(path.read_text())["model"]["vocab"]
    ranks = {bytes(to_byte[ch] for ch in token): rank for token, rank in vocab.items()}
    return tiktoken.Encoding("bench", pat_str=GPT2, mergeable_ranks=ranks, special_tokens={})


def encode(lib: str, lines: list[str], threads: int, model: Path) -> tuple[int, float]:
    """(tokens over all lines, seconds of the encoding alone)."""
    if lib == "bpe_rs":
        import bpe_rs

        tok = bpe_rs.Tokenizer.load(str(model) + ".json")
        tok.encode_batch_flat(lines[:10], threads=threads)  # warm: numpy, the thread pool
        start = time.perf_counter()
        ids, _ = tok.encode_batch_flat(lines, threads=threads)
        return len(ids), time.perf_counter() - start
    if lib == "tokenizers":
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(model) + ".json")
        start = time.perf_counter()
        n = sum(len(e.ids) for e in tok.encode_batch(lines, add_special_tokens=False))
        return n, time.perf_counter() - start
    if lib == "tiktoken":
        enc = tiktoken_from_hf(model.with_name("tokenizers.json"))
        start = time.perf_counter()
        n = sum(len(x) for x in enc.encode_ordinary_batch(lines, num_threads=threads))
        return n, time.perf_counter() - start
    if lib == "sentencepiece":
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=str(model) + ".model")
        start = time.perf_counter()
        n = sum(len(x) for x in sp.encode(lines, num_threads=threads))
        return n, time.perf_counter() - start
    import youtokentome as yttm

    bpe = yttm.BPE(str(model) + ".yttm", n_threads=threads)
    start = time.perf_counter()
    n = sum(len(x) for x in bpe.encode(lines, output_type=yttm.OutputType.ID))
    return n, time.perf_counter() - start


def child(lib: str, mode: str, task: str, corpus: str, vocab: int, min_freq: int, threads: int, model_dir: str) -> dict:
    """One measurement, inside a fresh process. `corpus` is a plain text file, one document a line."""
    model = Path(model_dir) / lib
    if task == "train":
        start = time.perf_counter()
        train(lib, mode, corpus, vocab, min_freq, threads, model)
        return {"seconds": time.perf_counter() - start, "peak_mb": peak_mb()}
    lines = read_lines(corpus)
    tokens, seconds = encode(lib, lines, threads, model)
    return {"seconds": seconds, "peak_mb": peak_mb(), "tokens": tokens}


def environment(threads: int) -> dict:
    return {
        **os.environ,
        "RAYON_NUM_THREADS": str(threads),
        "RAYON_RS_NUM_CPUS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "true",
    }


def measure(lib, mode, task, corpus, vocab, min_freq, threads, model_dir, repeats) -> dict | None:
    """The median time (and the highest peak memory) of `repeats` processes."""
    cmd = [sys.executable, __file__, "--child", lib, mode, task, corpus, str(vocab), str(min_freq), str(threads)]
    runs = []
    for _ in range(repeats):
        r = subprocess.run([*cmd, model_dir], capture_output=True, text=True, env=environment(threads))
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["?"])[-1]
            print(f"  {lib} {task}: skipped ({last[:100]})", file=sys.stderr)
            return None
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    out = dict(runs[0])
    out["seconds"] = statistics.median(r["seconds"] for r in runs)
    if "peak_mb" in out:
        out["peak_mb"] = max(r["peak_mb"] for r in runs)
    return out


HF_SCRIPT = """
import sys
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
corpus, vocab, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tok = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, special_tokens=["<pad>", "<unk>"],
                              end_of_word_suffix="</w>", show_progress=False)
tok.train([corpus], trainer)
tok.save(out)
"""


def end_to_end(corpus: str, vocab: int, threads: int, tmp: str, repeats: int) -> None:
    """Training as a user runs it: one whole process each, median of `repeats`."""
    commands = {
        "bpe_rs (python -m bpe_rs train)": [sys.executable, "-m", "bpe_rs", "train", "--input", corpus]
        + ["--vocab-size", str(vocab), "--threads", str(threads), "--out", f"{tmp}/e2e.json", "--quiet"],
        "tokenizers (a script)": [sys.executable, "-c", HF_SCRIPT, corpus, str(vocab), f"{tmp}/e2e-hf.json"],
    }
    print(f"\nend to end, {Path(corpus).name}, vocab {vocab}, {threads} threads, median of {repeats} processes")
    times = {}
    for name, cmd in commands.items():
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=environment(threads))
            runs.append(time.perf_counter() - start)
        times[name] = statistics.median(runs)
    base = next(iter(times.values()))
    for name, s in times.items():
        print(f"{name:<36}{s:>8.2f} s{s / base:>8.2f}x")


def as_text_file(path: Path, tmp: Path) -> tuple[str, int]:
    """Every library reads the same plain-text file: a .tsv's text column, one document a line."""
    if path.suffix.lower() != ".tsv":
        return str(path), path.stat().st_size
    import bpe_rs

    out = tmp / (path.stem + ".txt")
    out.write_text("\n".join(bpe_rs.read_corpus(str(path))) + "\n", encoding="utf-8")
    return str(out), out.stat().st_size


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        lib, mode, task, corpus, vocab, min_freq, threads, model_dir = sys.argv[2:10]
        print(json.dumps(child(lib, mode, task, corpus, int(vocab), int(min_freq), int(threads), model_dir)))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", default=[str(DEFAULT_DATA)])
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--min-frequency", type=int, default=2)
    p.add_argument("--threads", type=int, nargs="+", default=[2])
    p.add_argument("--mode", nargs="+", default=["plain"], choices=list(LIBS))
    p.add_argument("--e2e", action="store_true", help="also time training end to end, as processes")
    p.add_argument("--repeats", type=int, default=3, help="processes per measurement (the median time is shown)")
    args = p.parse_args()
    import tokenizers

    import bpe_rs

    print(f"bpe_rs {bpe_rs.__version__}, tokenizers {tokenizers.__version__}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        for f in args.files:
            corpus, size = as_text_file(Path(f), Path(tmp))
            mb = size / 1e6
            for mode in args.mode:
                head = f"{Path(f).name}: {mb:.1f} MB, mode {mode}, vocab {args.vocab_size}"
                print(f"\n{head}, min frequency {args.min_frequency}")
                print(
                    f"{'library':<14}{'threads':>8}{'train s':>10}{'x bpe_rs':>10}{'train MB':>10}"
                    f"{'encode s':>10}{'MB/s':>8}{'x bpe_rs':>10}{'tokens':>12}"
                )
                for threads in args.threads:
                    base: dict = {}
                    for lib in LIBS[mode]:
                        train_ = None
                        if lib != "tiktoken":
                            train_ = measure(
                                lib,
                                mode,
                                "train",
                                corpus,
                                args.vocab_size,
                                args.min_frequency,
                                threads,
                                tmp,
                                args.repeats,
                            )
                            if not train_:
                                continue
                        enc = measure(
                            lib, mode, "encode", corpus, args.vocab_size, args.min_frequency, threads, tmp, args.repeats
                        )
                        if lib == "bpe_rs":
                            base = {"train": train_["seconds"], "encode": enc["seconds"] if enc else None}
                        line = f"{lib:<14}{threads:>8}"
                        if train_:
                            ratio = train_["seconds"] / base["train"]
                            line += f"{train_['seconds']:>10.2f}{ratio:>10.2f}{train_['peak_mb']:>10.0f}"
                        else:
                            line += f"{'–':>10}{'':>10}{'':>10}"
                        if enc:
                            ratio = enc["seconds"] / base["encode"] if base.get("encode") else float("nan")
                            line += (
                                f"{enc['seconds']:>10.2f}{mb / enc['seconds']:>8.1f}{ratio:>10.2f}{enc['tokens']:>12,}"
                            )
                        print(line, flush=True)
            if args.e2e:
                end_to_end(corpus, args.vocab_size, args.threads[-1], tmp, args.repeats)
    print("\nx bpe_rs: time relative to bpe_rs with the same thread count (above 1: bpe_rs is faster).")


if __name__ == "__main__":
    main()
