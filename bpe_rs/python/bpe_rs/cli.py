"""Command line: `python -m bpe_rs {train,encode,decode}` (also `bpe-rs`).

    python -m bpe_rs train --input corpus.txt --vocab-size 32000 --out tok.json [--hf tokenizer.json]
    python -m bpe_rs encode --tokenizer tok.json --input corpus.txt --out ids.npz
    python -m bpe_rs decode --tokenizer tok.json --input ids.npz [--out decoded.txt]

Corpus files: `.tsv` with a `text` column, anything else one document per line; `-` reads
standard input. `encode` writes `ids` (uint32) and `offsets` (int64) to an `.npz` file: the ids
of document i are `ids[offsets[i]:offsets[i + 1]]`. Errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def writable(path: str, what: str) -> Path:
    """Checks before any work that a file can be written at `path` (not standard output)."""
    p = Path(path)
    if p.is_dir():
        raise CliError(f"{p}: the {what} path is a folder")
    probe = p.with_name(f".{p.name}.check{os.getpid()}")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise CliError(f"{p}: cannot write the {what} there: {e.strerror or e}") from None
    return p


@contextmanager
def atomic(path: Path):
    """A temporary file beside `path`, renamed over it when the block succeeds."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            yield f
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def progress_bar(enabled: bool):
    """A `progress(done, total)` callback over merges: tqdm where installed, else a plain line.
    The bar appears at the first report, so arguments refused before training show none."""
    if not enabled:
        yield None
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    bars = []

    def report(done: int, total: int) -> None:
        if tqdm is None:
            print(f"\rmerges {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
            return
        if not bars:
            bars.append(tqdm(total=total, desc="merges", unit="merge", file=sys.stderr))
        bars[0].total = total
        bars[0].update(done - bars[0].n)

    try:
        yield report
    finally:
        for bar in bars:
            bar.close()


def read_texts(source: str) -> list[str]:
    import bpe_rs

    if source != "-":
        return bpe_rs.read_corpus(source)
    raw = sys.stdin.buffer.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise CliError(f"<stdin>:{line}: not valid UTF-8") from None
    return [line for line in text.splitlines() if line]


def cmd_train(args: argparse.Namespace) -> None:
    import bpe_rs

    for p in args.input:
        if not Path(p).is_file():
            raise CliError(f"{p}: no such file")
    writable(args.out, "tokenizer")
    if args.hf:
        writable(args.hf, "Hugging Face tokenizer")
    size = sum(Path(p).stat().st_size for p in args.input)
    start = time.perf_counter()
    with progress_bar(not args.quiet) as report:
        tok = bpe_rs.Tokenizer.train_files(
            args.input,
            vocab_size=args.vocab_size,
            min_frequency=args.min_frequency,
            special_tokens=args.special_tokens,
            bos_token=args.bos_token,
            eos_token=args.eos_token,
            byte_fallback=args.byte_fallback,
            pre_tokenizer=args.pre_tokenizer,
            regex=args.regex,
            min_char_frequency=args.min_char_frequency,
            max_token_length=args.max_token_length,
            threads=args.threads,
            progress=report,
        )
    seconds = time.perf_counter() - start
    tok.save(args.out)
    if args.hf:
        tok.save_hf(args.hf)
    merges = tok.merges()
    print(f"corpus: {', '.join(args.input)} ({size / 1e6:.1f} MB)")
    print(f"vocabulary {tok.vocab_size} ({len(merges)} merges) in {seconds:.2f}s -> {args.out}")
    print("first merges: " + "  ".join(f"{a} + {b}" for a, b in merges[:10]))


def cmd_encode(args: argparse.Namespace) -> None:
    import numpy as np

    import bpe_rs

    out = writable(args.out, "ids")
    tok = bpe_rs.Tokenizer.load(args.tokenizer)
    docs = read_texts(args.input)
    start = time.perf_counter()
    ids, offsets = tok.encode_batch_flat(
        docs, allow_special=args.allow_special, add_bos=args.add_bos, add_eos=args.add_eos, threads=args.threads
    )
    seconds = time.perf_counter() - start
    with atomic(out) as f:
        np.savez(f, ids=ids, offsets=offsets)
    chars = sum(len(d) for d in docs)
    print(
        f"{len(docs)} documents, {chars:,} characters -> {len(ids):,} tokens in {seconds:.3f}s "
        f"({chars / max(len(ids), 1):.2f} characters per token, {int((ids == bpe_rs.UNK_ID).sum())} <unk>) -> {out}",
        file=sys.stderr,
    )


def cmd_decode(args: argparse.Namespace) -> None:
    import numpy as np

    import bpe_rs

    out = None if args.out == "-" else writable(args.out, "text")
    tok = bpe_rs.Tokenizer.load(args.tokenizer)
    try:
        with np.load(args.input) as data:
            ids, offsets = data["ids"], data["offsets"]
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise CliError(f"{args.input}: not an .npz with ids and offsets ({type(e).__name__}: {e})") from None
    ok = offsets.ndim == 1 and len(offsets) >= 1 and offsets[0] == 0 and offsets[-1] == len(ids)
    if not ok or (np.diff(offsets) < 0).any():
        raise CliError(f"{args.input}: offsets must rise from 0 to the number of ids")
    lines = [
        tok.decode(ids[offsets[i] : offsets[i + 1]], skip_special_tokens=not args.keep_special)
        for i in range(len(offsets) - 1)
    ]
    text = "".join(line.replace("\n", " ") + "\n" for line in lines)
    if out is None:
        sys.stdout.write(text)
    else:
        with atomic(out) as f:
            f.write(text.encode("utf-8"))


def add_commands(sub) -> None:
    """The train / encode / decode subcommands (shared with `python -m pytrain bpe`)."""
    p = sub.add_parser("train", help="learn merges from corpus files")
    p.add_argument("--input", nargs="+", required=True, help=".txt (one document per line) or .tsv (text column)")
    p.add_argument("--vocab-size", type=int, required=True)
    p.add_argument("--out", default="tokenizer.json")
    p.add_argument("--hf", metavar="FILE", help="also write a Hugging Face tokenizer.json")
    p.add_argument("--min-frequency", type=int, default=2, help="a pair is merged only if seen this often")
    p.add_argument("--special-tokens", nargs="*", default=[], metavar="TOKEN")
    p.add_argument("--bos-token", help="one of the special tokens, added by encode --add-bos")
    p.add_argument("--eos-token", help="one of the special tokens, added by encode --add-eos")
    p.add_argument("--byte-fallback", action="store_true", help="unseen characters as byte tokens, not <unk>")
    p.add_argument("--pre-tokenizer", choices=["whitespace", "punct", "regex"], default="whitespace")
    p.add_argument("--regex", help="the pattern of --pre-tokenizer regex (e.g. GPT-2's)")
    p.add_argument("--min-char-frequency", type=int, default=1, help="rarer characters take no id")
    p.add_argument("--max-token-length", type=int, help="no token longer than this many characters")
    p.add_argument("--threads", type=int, help="default: all cores")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("encode", help="encode a corpus into ids and offsets (.npz)")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--input", required=True, help="a corpus file, or - for one document per line on stdin")
    p.add_argument("--out", required=True, help=".npz with arrays ids and offsets")
    p.add_argument("--allow-special", action="store_true", help="special tokens written in the text become ids")
    p.add_argument("--add-bos", action="store_true")
    p.add_argument("--add-eos", action="store_true")
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_encode)
    p = sub.add_parser("decode", help="decode an .npz written by encode, one document per line")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--out", default="-", help="a text file, or - for stdout")
    p.add_argument("--keep-special", action="store_true", help="keep special tokens in the text")
    p.set_defaults(func=cmd_decode)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bpe_rs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def run(args: argparse.Namespace) -> int:
    """Runs a parsed command; user errors become one line on stderr and status 2."""
    try:
        args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (CliError, ValueError, OSError) as e:
        print("error: " + " ".join(str(e).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
