"""bpe_rs from Python: the fast trainer against a naive reference that recounts every pair
after every merge, encoding, decoding, files and errors."""

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe_rs

EOW = bpe_rs.EOW_ID


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


def naive_train(docs, vocab_size, min_frequency):
    """Textbook BPE: recount all pairs, merge the most frequent (smallest pair on ties)."""
    counts = Counter(w for d in docs for w in d.split())
    alphabet = sorted({c for w in counts for c in w})
    ids = {c: 3 + i for i, c in enumerate(alphabet)}
    words = {w: [ids[c] for c in w] + [EOW] for w in counts}
    merges, next_id = [], 3 + len(alphabet)
    while next_id < vocab_size:
        pairs = Counter()
        for w, syms in words.items():
            for p in zip(syms, syms[1:], strict=False):
                pairs[p] += counts[w]
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < min_frequency:
            break
        words = {w: apply_merge(s, best, next_id) for w, s in words.items()}
        merges.append(best)
        next_id += 1
    return alphabet, merges


def merges_as_ids(tok):
    return [(tok.token_to_id(a), tok.token_to_id(b)) for a, b in tok.merges()]


# Python's str.split and Rust's split_whitespace differ only on U+001C..U+001F.
TEXT_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x1c\x1d\x1e\x1f")
small_docs = st.lists(st.text(alphabet=st.sampled_from("aabbcdé \n"), max_size=40), max_size=12)


@settings(max_examples=150, deadline=None)
@given(docs=small_docs, vocab_size=st.integers(3, 70), min_frequency=st.integers(1, 3))
def test_training_matches_naive_reference_on_1_and_2_threads(docs, vocab_size, min_frequency):
    alphabet, merges = naive_train(docs, vocab_size, min_frequency)
    for threads in (1, 2):
        tok = bpe_rs.Tokenizer.train(docs, vocab_size=vocab_size, min_frequency=min_frequency, threads=threads)
        assert tok.vocab()[3 : 3 + len(alphabet)] == alphabet
        assert merges_as_ids(tok) == merges


@settings(max_examples=100, deadline=None)
@given(docs=small_docs, vocab_size=st.integers(3, 60))
def test_encoding_equals_replaying_the_merges(docs, vocab_size):
    tok = bpe_rs.Tokenizer.train(docs, vocab_size=vocab_size, min_frequency=1)
    alphabet = tok.vocab()[3 : 3 + len(tok.vocab()) - 3 - len(tok.merges())]
    first = 3 + len(alphabet)
    for doc in docs:
        expected = []
        for w in doc.split():
            syms = [3 + alphabet.index(c) for c in w] + [EOW]
            for rank, pair in enumerate(merges_as_ids(tok)):
                syms = apply_merge(syms, pair, first + rank)
            expected += syms
        assert tok.encode(doc) == expected
    assert tok.encode_batch(docs) == [tok.encode(d) for d in docs]


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=TEXT_CHARS, max_size=200), vocab_size=st.integers(3, 300))
def test_decode_encode_roundtrip_on_random_unicode(text, vocab_size):
    tok = bpe_rs.Tokenizer.train([text], vocab_size=vocab_size, min_frequency=1)
    assert tok.decode(tok.encode(text)) == " ".join(text.split())


def test_batch_flat_matches_batch():
    docs = ["the cat sat on the mat", "", "a dog", "the the the"] * 10
    tok = bpe_rs.Tokenizer.train(docs, vocab_size=40, min_frequency=1)
    ids, offsets = tok.encode_batch_flat(docs, threads=2)
    assert ids.dtype == np.uint32 and offsets.dtype == np.int64 and len(offsets) == len(docs) + 1
    batch = tok.encode_batch(docs)
    assert [ids[offsets[i] : offsets[i + 1]].tolist() for i in range(len(docs))] == batch


def test_unknown_characters_empty_strings_and_empty_corpus():
    tok = bpe_rs.Tokenizer.train(["abc abd"], vocab_size=100, min_frequency=1)
    ids = tok.encode("azb")
    assert bpe_rs.UNK_ID in ids
    assert tok.decode(ids) == "a\ufffdb"
    assert tok.encode("") == [] and tok.encode(" \t\n") == []
    assert tok.encode_batch([]) == []
    empty = bpe_rs.Tokenizer.train([], vocab_size=100)
    assert len(empty) == 3 and empty.encode("x") == [bpe_rs.UNK_ID, EOW]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.decode([10_000])
    with pytest.raises(ValueError, match="single str"):
        tok.encode_batch("not a list")


def test_special_tokens_are_reserved():
    tok = bpe_rs.Tokenizer.train(["hello world"], vocab_size=50, min_frequency=1)
    assert tok.vocab()[:3] == ["<pad>", "<unk>", "</w>"]
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
    tok = bpe_rs.Tokenizer.train(docs, vocab_size=60, min_frequency=1)
    path = tmp_path / "tok.json"
    tok.save(str(path))
    again = bpe_rs.Tokenizer.load(str(path))
    assert again.merges() == tok.merges() and again.vocab() == tok.vocab()
    assert again.encode_batch(docs) == tok.encode_batch(docs)
    assert [p.name for p in tmp_path.iterdir()] == ["tok.json"]  # no temporary file left behind


def _saved(tmp_path):
    tok = bpe_rs.Tokenizer.train(["the cat sat on the mat"], vocab_size=30, min_frequency=1)
    tok.save(str(tmp_path / "good.json"))
    return json.loads((tmp_path / "good.json").read_text())


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda d: "{not json", "not a valid bpe_rs tokenizer file"),
        (lambda d: json.dumps(d)[:50], "EOF"),
        (lambda d: json.dumps({**d, "version": 99}), "version 99 is not supported"),
        (lambda d: json.dumps({**d, "merges": [[999, 3], *d["merges"]]}), "does not exist"),
        (lambda d: json.dumps({**d, "vocab": [*d["vocab"][:-1], "zz"]}), "vocab entry"),
        (lambda d: json.dumps({**d, "merges": d["merges"] + d["merges"][:1]}), "repeats an earlier merge"),
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


def test_train_files_txt_and_tsv(tmp_path):
    (tmp_path / "a.txt").write_text("low lower lowest\n\nnewer newest\n")
    (tmp_path / "b.tsv").write_text("labels\ttext\nx\tlow low\ny\tnew\n")
    tok = bpe_rs.Tokenizer.train_files(
        [str(tmp_path / "a.txt"), str(tmp_path / "b.tsv")], vocab_size=40, min_frequency=1
    )
    in_memory = bpe_rs.Tokenizer.train(
        ["low lower lowest", "newer newest", "low low", "new"], vocab_size=40, min_frequency=1
    )
    assert tok.merges() == in_memory.merges()
    assert bpe_rs.read_corpus(str(tmp_path / "b.tsv")) == ["low low", "new"]


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


def test_trains_on_the_course_data(biotech_tsv):
    tok = bpe_rs.Tokenizer.train_files([str(biotech_tsv)], vocab_size=2000, min_frequency=2)
    docs = bpe_rs.read_corpus(str(biotech_tsv))
    assert len(docs) == 381 and len(tok) == 2000
    ids, offsets = tok.encode_batch_flat(docs)
    assert tok.decode(ids[offsets[0] : offsets[1]].tolist()) == docs[0]
    assert len(ids) < sum(len(d) for d in docs) / 3  # real compression: > 3 characters per token
