"""bpe_rs from Python: the fast trainer against a naive reference that recounts every pair
after every merge, encoding against replaying the merges, decoding, files and errors."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe_rs

SHARED_TSV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "biotech_news.tsv"


def apply_merge(symbols, pair, new_id):
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def initial(word):
    """A word's first symbols: its characters, the last one marked as ending the word."""
    return [c + ("</w>" if i == len(word) - 1 else "") for i, c in enumerate(word)]


def naive_train(docs, vocab_size, min_frequency, min_char_frequency=1, max_token_length=None):
    """Textbook BPE: recount all pairs, merge the most frequent (smallest id pair on ties). Rare
    symbols are <unk> and never paired; no token over max_token_length characters; a merge whose
    string exists reuses its id. Returns (vocab, merges as id pairs)."""
    counts = Counter(w for d in docs for w in d.split())
    symbol_counts = Counter()
    for w, n in counts.items():
        for s in initial(w):
            symbol_counts[s] += n
    # Code-point order, "c" before "c</w>".
    symbols = sorted((s for s, n in symbol_counts.items() if n >= min_char_frequency), key=lambda s: (s[0], len(s)))
    vocab = ["<pad>", "<unk>", *symbols]
    index = {t: i for i, t in enumerate(vocab)}
    words = {w: [index.get(s, 1) for s in initial(w)] for w in counts}
    length = lambda t: len(t.removesuffix("</w>"))  # noqa: E731
    merges = []
    while len(vocab) < vocab_size:
        pairs = Counter()
        for w, syms in words.items():
            for a, b in zip(syms, syms[1:], strict=False):
                if 1 not in (a, b) and length(vocab[a]) + length(vocab[b]) <= (max_token_length or 10**9):
                    pairs[a, b] += counts[w]
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < min_frequency:
            break
        merged = vocab[best[0]] + vocab[best[1]]
        if merged not in index:
            index[merged] = len(vocab)
            vocab.append(merged)
        words = {w: apply_merge(s, best, index[merged]) for w, s in words.items()}
        merges.append(best)
    return vocab, merges


def merges_as_ids(tok):
    return [(tok.token_to_id(a), tok.token_to_id(b)) for a, b in tok.merges()]


# Python's str.split and Rust's split_whitespace differ only on U+001C..U+001F.
TEXT_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x1c\x1d\x1e\x1f")
small_docs = st.lists(st.text(alphabet=st.sampled_from("aabbcdé \n"), max_size=40), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    docs=small_docs,
    vocab_size=st.integers(3, 70),
    min_frequency=st.integers(1, 3),
    min_char=st.integers(1, 3),
    max_len=st.sampled_from([None, 2, 3]),
)
def test_training_matches_naive_reference_on_1_and_2_threads(docs, vocab_size, min_frequency, min_char, max_len):
    vocab, merges = naive_train(docs, vocab_size, min_frequency, min_char, max_len)
    for threads in (1, 2):
        tok = bpe_rs.Tokenizer.train(
            docs,
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            min_char_frequency=min_char,
            max_token_length=max_len,
            threads=threads,
        )
        assert tok.vocab() == vocab
        assert merges_as_ids(tok) == merges


@settings(max_examples=100, deadline=None)
@given(docs=small_docs, vocab_size=st.integers(3, 60))
def test_encoding_equals_replaying_the_merges(docs, vocab_size):
    tok = bpe_rs.Tokenizer.train(docs, vocab_size=vocab_size, min_frequency=1)
    vocab = tok.vocab()
    for doc in docs:
        expected = []
        for w in doc.split():
            syms = [vocab.index(s) for s in initial(w)]
            for a, b in tok.merges():
                syms = apply_merge(syms, (vocab.index(a), vocab.index(b)), vocab.index(a + b))
            expected += syms
        assert tok.encode(doc) == expected
    assert tok.encode_batch(docs) == [tok.encode(d) for d in docs]


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=TEXT_CHARS, max_size=200), vocab_size=st.integers(3, 300))
def test_decode_encode_roundtrip_on_random_unicode(text, vocab_size):
    tok = bpe_rs.Tokenizer.train([text], vocab_size=vocab_size, min_frequency=1)
    assert tok.decode(tok.encode(text)) == " ".join(text.split())


def test_summed_counts_of_two_halves_train_what_the_whole_trains():
    docs = [f"doc {i} " + " ".join(["alpha", "beta", "gamma", "alphabet"][: 1 + i % 4]) for i in range(200)]
    halves = [bpe_rs.count_words(docs[:70]), bpe_rs.count_words(docs[70:])]
    summed = Counter(halves[0]) + Counter(halves[1])
    assert dict(summed) == bpe_rs.count_words(docs)
    whole = bpe_rs.Tokenizer.train(docs, vocab_size=60, min_frequency=1)
    parts = bpe_rs.Tokenizer.train_from_counts(dict(summed), vocab_size=60, min_frequency=1)
    assert parts.merges() == whole.merges() and parts.vocab() == whole.vocab()


def test_batch_flat_matches_batch():
    docs = ["the cat sat on the mat", "", "a dog", "the the the"] * 10
    tok = bpe_rs.Tokenizer.train(docs, vocab_size=40, min_frequency=1)
    ids, offsets = tok.encode_batch_flat(docs, threads=2)
    assert ids.dtype == np.uint32 and offsets.dtype == np.int64 and len(offsets) == len(docs) + 1
    batch = tok.encode_batch(docs)
    assert [ids[offsets[i] : offsets[i + 1]].tolist() for i in range(len(docs))] == batch


def test_unknown_characters_empty_strings_and_empty_corpus():
    tok = bpe_rs.Tokenizer.train(["abc abd"], vocab_size=100, min_frequency=1)
    ids = tok.encode("azc")
    assert bpe_rs.UNK_ID in ids
    assert tok.decode(ids) == "a\ufffdc"
    assert tok.encode("") == [] and tok.encode(" \t\n") == []
    assert tok.encode_batch([]) == []
    empty = bpe_rs.Tokenizer.train([], vocab_size=100)
    assert len(empty) == 2 and empty.encode("x") == [bpe_rs.UNK_ID]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.decode([10_000])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.decode([-1])
    with pytest.raises(ValueError, match="single str"):
        tok.encode_batch("not a list")


def test_word_ends_are_symbols_of_their_own():
    tok = bpe_rs.Tokenizer.train(["hello world"], vocab_size=50, min_frequency=1)
    vocab = tok.vocab()
    assert vocab[:2] == ["<pad>", "<unk>"] and "o" in vocab and "o</w>" in vocab and "d</w>" in vocab
    assert (tok.PAD_ID, tok.UNK_ID) == (0, 1)
    assert tok.decode([0, *tok.encode("hello"), 0]) == "hello"


def test_progress_callback_and_errors_from_it():
    calls = []
    bpe_rs.Tokenizer.train(
        ["ab ab ab cd cd"] * 5, vocab_size=20, min_frequency=1, progress=lambda d, t: calls.append(d)
    )
    assert calls[0] == 0 and calls == sorted(calls)

    def boom(done, total):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        bpe_rs.Tokenizer.train(["ab ab ab"], vocab_size=20, min_frequency=1, progress=boom)


def test_save_load_same_ids(tmp_path):
    docs = ["the quick brown fox", "jumps over the lazy dog", "the end"]
    tok = bpe_rs.Tokenizer.train(docs, vocab_size=320, min_frequency=1, byte_fallback=True, special_tokens=["<s>"])
    path = tmp_path / "tok.json"
    tok.save(str(path))
    again = bpe_rs.Tokenizer.load(str(path))
    assert again.merges() == tok.merges() and again.vocab() == tok.vocab()
    assert again.encode_batch(docs) == tok.encode_batch(docs)
    assert again.byte_fallback and again.special_tokens == ["<s>"]
    assert [p.name for p in tmp_path.iterdir()] == ["tok.json"]  # no temporary file left behind


def test_version_1_files_still_load_and_encode_as_before(tmp_path):
    # A version 1 file: a separate </w> symbol (id 2) that merges absorb.
    v1 = {
        "format": "bpe_rs",
        "version": 1,
        "settings": {"vocab_size": 10, "min_frequency": 1},
        "special_tokens": ["<pad>", "<unk>", "</w>"],
        "alphabet": ["a", "b"],
        "merges": [[3, 4], [5, 2]],
        "vocab": ["<pad>", "<unk>", "</w>", "a", "b", "ab", "ab</w>"],
    }
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(v1))
    tok = bpe_rs.Tokenizer.load(path)
    assert tok.encode("ab ab a") == [6, 6, 3, 2]
    assert tok.decode(tok.encode("ab ab a")) == "ab ab a"
    tok.save(tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text())["version"] == 1


def _saved(tmp_path):
    tok = bpe_rs.Tokenizer.train(["the cat sat on the mat"], vocab_size=30, min_frequency=1)
    tok.save(str(tmp_path / "good.json"))
    return json.loads((tmp_path / "good.json").read_text())


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda d: "{not json", "not a valid tokenizer file"),
        (lambda d: json.dumps(d)[:50], "EOF"),
        (lambda d: json.dumps({**d, "version": 99}), "version 99 is not supported"),
        (lambda d: json.dumps({**d, "merges": [[999, 3], *d["merges"]]}), "not a text token"),
        (lambda d: json.dumps({**d, "vocab": [*d["vocab"][:-1], "zz"]}), "vocab entry"),
        (lambda d: json.dumps({**d, "merges": d["merges"] + d["merges"][:1]}), "repeats an earlier merge"),
        (lambda d: json.dumps({**d, "settings": {**d["settings"], "vocab_size": 10**12}}), "larger than"),
        (lambda d: json.dumps({**d, "settings": {**d["settings"], "pre_tokenizer": {"regex": "("}}}), "compile"),
    ],
)
def test_bad_tokenizer_files_give_clear_errors(tmp_path, corrupt, message):
    path = tmp_path / "bad.json"
    path.write_text(corrupt(_saved(tmp_path)))
    with pytest.raises(ValueError, match=message) as err:
        bpe_rs.Tokenizer.load(str(path))
    assert str(path) in str(err.value)


def test_missing_tokenizer_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        bpe_rs.Tokenizer.load(str(tmp_path / "missing.json"))


def test_train_files_txt_and_tsv_in_blocks(tmp_path):
    (tmp_path / "a.txt").write_text("low lower lowest\n\nnewer newest\n")
    (tmp_path / "b.tsv").write_text("\ufefflabels\ttext\nx\tlow low\ny\tnew\n")
    tok = bpe_rs.Tokenizer.train_files(
        [str(tmp_path / "a.txt"), str(tmp_path / "b.tsv")], vocab_size=40, min_frequency=1
    )
    in_memory = bpe_rs.Tokenizer.train(
        ["low lower lowest", "newer newest", "low low", "new"], vocab_size=40, min_frequency=1
    )
    assert tok.merges() == in_memory.merges()
    assert bpe_rs.read_corpus(str(tmp_path / "b.tsv")) == ["low low", "new"]
    # A file larger than one read block (8 MiB) counts as the same text in memory does.
    big = tmp_path / "big.txt"
    lines = [f"word{i % 5000} shared line {i % 7} é" for i in range(400_000)]
    big.write_text("\n".join(lines) + "\n")
    assert big.stat().st_size > 9 * 2**20
    assert bpe_rs.count_words(files=[big]) == bpe_rs.count_words(lines)


def test_bad_corpus_files_name_file_and_line(tmp_path):
    no_text = tmp_path / "no_text.tsv"
    no_text.write_text("body\tlabels\nhello\tx\n")
    with pytest.raises(ValueError, match=r"no_text.tsv:1: no 'text' column"):
        bpe_rs.Tokenizer.train_files([str(no_text)], vocab_size=10)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(b"fine line\nsecond line\ncaf\xe9 au lait\n")
    with pytest.raises(ValueError, match=r"latin1.txt:3: not valid UTF-8"):
        bpe_rs.Tokenizer.train_files([str(latin1)], vocab_size=10)
    ragged = tmp_path / "ragged.tsv"
    ragged.write_text("text\tlabels\na\tb\nc\td\te\n")
    with pytest.raises(ValueError, match=r"ragged.tsv:3: expected 2 tab-separated fields, found 3"):
        bpe_rs.Tokenizer.train_files([str(ragged)], vocab_size=10)
    with pytest.raises(FileNotFoundError):
        bpe_rs.Tokenizer.train_files([str(tmp_path / "nope.txt")], vocab_size=10)


@pytest.mark.skipif(not SHARED_TSV.is_file(), reason=f"{SHARED_TSV} is absent (course data, not part of a clone)")
def test_trains_on_the_course_data():
    tok = bpe_rs.Tokenizer.train_files([str(SHARED_TSV)], vocab_size=2000, min_frequency=2)
    docs = bpe_rs.read_corpus(str(SHARED_TSV))
    assert len(docs) > 300 and len(tok) == 2000
    ids, offsets = tok.encode_batch_flat(docs)
    assert tok.decode(ids[offsets[0] : offsets[1]].tolist()) == docs[0]
    assert len(ids) < sum(len(d) for d in docs) / 3  # real compression: > 3 characters per token
