"""BPE training and encoding: bpe_rs side by side with Hugging Face `tokenizers`,
`sentencepiece` (BPE) and YouTokenToMe, in one run, same corpus, vocabulary size, minimum
frequency and thread count.

    python benchmarks/bpe_bench.py                                   # the course data
    sh ../shared/bench/build_corpus.sh /tmp/corpus                   # a real 80 MB English corpus
    python benchmarks/bpe_bench.py /tmp/corpus/large.txt --vocab-size 32000 --threads 1 2

Each measurement runs in its own process, so peak memory (max RSS of that process, imports
included) and thread settings do not leak between libraries. Libraries that are not
installed are skipped (`pip install tokenizers sentencepiece`; YouTokenToMe needs
`pip install cython && pip install --no-build-isolation youtokentome`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "biotech_news.tsv"
LIBS = ("bpe_rs", "tokenizers", "sentencepiece", "youtokentome")


def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(lib: str, task: str, corpus: str, vocab: int, min_freq: int, threads: int, model_dir: str) -> dict:
    """One measurement, inside a fresh process. `corpus` is a plain text file, one document a line."""
    lines = Path(corpus).read_text(encoding="utf-8").splitlines()
    model = Path(model_dir) / lib
    if lib == "bpe_rs":
        import numpy  # noqa: F401  (imported by the first encode_batch_flat call: keep it out of the timing)

        import bpe_rs

        if task == "train":
            start = time.perf_counter()
            tok = bpe_rs.Tokenizer.train_files([corpus], vocab_size=vocab, min_frequency=min_freq, threads=threads)
            seconds = time.perf_counter() - start
            tok.save(str(model) + ".json")
        else:
            tok = bpe_rs.Tokenizer.load(str(model) + ".json")
            start = time.perf_counter()
            ids, _ = tok.encode_batch_flat(lines, threads=threads)
            seconds, n_tokens = time.perf_counter() - start, len(ids)
    elif lib == "tokenizers":
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        if task == "train":
            tok = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
            tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
            trainer = trainers.BpeTrainer(
                vocab_size=vocab,
                min_frequency=min_freq,
                special_tokens=["<pad>", "<unk>"],
                end_of_word_suffix="</w>",
                show_progress=False,
            )
            start = time.perf_counter()
            tok.train([corpus], trainer)
            seconds = time.perf_counter() - start
            tok.save(str(model) + ".json")
        else:
            tok = Tokenizer.from_file(str(model) + ".json")
            start = time.perf_counter()
            n_tokens = sum(len(e.ids) for e in tok.encode_batch(lines))
            seconds = time.perf_counter() - start
    elif lib == "sentencepiece":
        import sentencepiece as spm

        if task == "train":
            start = time.perf_counter()
            spm.SentencePieceTrainer.train(
                input=corpus,
                model_prefix=str(model),
                vocab_size=vocab,
                model_type="bpe",
                character_coverage=1.0,
                num_threads=threads,
                max_sentence_length=1 << 20,
                minloglevel=2,
                hard_vocab_limit=False,
            )
            seconds = time.perf_counter() - start
        else:
            sp = spm.SentencePieceProcessor(model_file=str(model) + ".model")
            start = time.perf_counter()
            n_tokens = sum(len(x) for x in sp.encode(lines, num_threads=threads))
            seconds = time.perf_counter() - start
    elif lib == "youtokentome":
        import youtokentome as yttm

        if task == "train":
            start = time.perf_counter()
            yttm.BPE.train(data=corpus, vocab_size=vocab, model=str(model) + ".yttm", n_threads=threads, coverage=1.0)
            seconds = time.perf_counter() - start
        else:
            bpe = yttm.BPE(str(model) + ".yttm", n_threads=threads)
            start = time.perf_counter()
            n_tokens = sum(len(x) for x in bpe.encode(lines, output_type=yttm.OutputType.ID))
            seconds = time.perf_counter() - start
    else:
        raise SystemExit(f"unknown library {lib}")
    out = {"seconds": seconds, "peak_mb": peak_mb()}
    if task == "encode":
        out["tokens"] = n_tokens
    return out


def measure(lib, task, corpus, vocab, min_freq, threads, model_dir) -> dict | None:
    env = {
        **os.environ,
        "RAYON_NUM_THREADS": str(threads),
        "RAYON_RS_NUM_CPUS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "true",
    }
    cmd = [sys.executable, __file__, "--child", lib, task, corpus, str(vocab), str(min_freq), str(threads), model_dir]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  {lib} {task}: skipped ({last[:100]})", file=sys.stderr)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


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
        lib, task, corpus, vocab, min_freq, threads, model_dir = sys.argv[2:9]
        print(json.dumps(child(lib, task, corpus, int(vocab), int(min_freq), int(threads), model_dir)))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", default=[str(DEFAULT_DATA)])
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--min-frequency", type=int, default=2)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--libs", nargs="+", default=list(LIBS), choices=LIBS)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for f in args.files:
            corpus, size = as_text_file(Path(f), Path(tmp))
            mb = size / 1e6
            print(f"\n{Path(f).name}: {mb:.1f} MB, vocab {args.vocab_size}, min frequency {args.min_frequency}")
            print(
                f"{'library':<14}{'threads':>8}{'train s':>10}{'x bpe_rs':>10}{'train MB':>10}"
                f"{'encode s':>10}{'MB/s':>8}{'x bpe_rs':>10}{'tokens':>12}"
            )
            for threads in args.threads:
                base = {}
                for lib in args.libs:
                    train = measure(lib, "train", corpus, args.vocab_size, args.min_frequency, threads, tmp)
                    enc = (
                        measure(lib, "encode", corpus, args.vocab_size, args.min_frequency, threads, tmp)
                        if train
                        else None
                    )
                    if not train:
                        continue
                    if lib == "bpe_rs":
                        base = {"train": train["seconds"], "encode": enc["seconds"] if enc else None}
                    t_ratio = train["seconds"] / base["train"] if base else float("nan")
                    line = f"{lib:<14}{threads:>8}{train['seconds']:>10.2f}{t_ratio:>10.2f}{train['peak_mb']:>10.0f}"
                    if enc:
                        e_ratio = enc["seconds"] / base["encode"] if base.get("encode") else float("nan")
                        line += (
                            f"{enc['seconds']:>10.2f}{mb / enc['seconds']:>8.1f}{e_ratio:>10.2f}{enc['tokens']:>12,}"
                        )
                    print(line, flush=True)
    print("\nx bpe_rs: time relative to bpe_rs with the same thread count (above 1: bpe_rs is faster).")


if __name__ == "__main__":
    main()
