"""What users of Hugging Face tokenizers and sentencepiece expect: byte fallback, special
tokens, BOS/EOS, pre-tokenizers, an alphabet limit, a token length limit, BPE-dropout; and every
argument checked, with no input reaching a Rust panic."""

import contextlib
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpe_rs

DOCS = ["the cat sat on the mat", "the dog ate the hat", "cats and dogs", "a (world), world! 42nd world"] * 5
GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def test_byte_fallback_encodes_unseen_characters_as_bytes_and_decodes_them_exactly():
    tok = bpe_rs.Tokenizer.train(DOCS, vocab_size=400, min_frequency=1, byte_fallback=True)
    vocab = tok.vocab()
    assert vocab[2:258] == [f"<0x{b:02X}>" for b in range(256)]
    for text in ["the 猫 sat", "naïve café", "emoji 🙂 end", "tab\tand\nnewline"]:
        ids = tok.encode(text)
        assert bpe_rs.UNK_ID not in ids
        assert tok.decode(ids) == " ".join(text.split())
    ids = tok.encode("猫")
    assert [vocab[i] for i in ids] == ["<0xE7>", "<0x8C>", "<0xAB>", "<0x3C>", "<0x2F>", "<0x77>", "<0x3E>"]  # 猫</w>
    plain = bpe_rs.Tokenizer.train(DOCS, vocab_size=400, min_frequency=1)
    assert plain.encode("猫") == [bpe_rs.UNK_ID] and plain.decode(plain.encode("猫")) == "\ufffd"


def test_special_tokens_are_reserved_and_matched_only_when_asked():
    tok = bpe_rs.Tokenizer.train(
        DOCS,
        vocab_size=80,
        min_frequency=1,
        special_tokens=["<s>", "</s>", "<mask>"],
        bos_token="<s>",
        eos_token="</s>",
    )
    assert tok.vocab()[:5] == ["<pad>", "<unk>", "<s>", "</s>", "<mask>"]
    assert tok.token_to_id("<mask>") == 4
    plain = tok.encode("the <mask> sat")
    assert 4 not in plain  # ordinary text unless asked
    asked = tok.encode("the <mask> sat", allow_special=True)
    assert asked == tok.encode("the") + [4] + tok.encode("sat")
    assert tok.encode("the cat", add_bos=True, add_eos=True) == [2, *tok.encode("the cat"), 3]
    assert tok.decode([2, *tok.encode("the cat"), 3]) == "the cat"
    assert tok.decode([2, *tok.encode("the cat"), 3], skip_special_tokens=False) == "<s>the cat </s>"
    with pytest.raises(ValueError, match="add_bos: this tokenizer has no bos_token"):
        bpe_rs.Tokenizer.train(DOCS, vocab_size=30).encode("x", add_bos=True)
    with pytest.raises(ValueError, match='bos_token "<x>" is not one of the special tokens'):
        bpe_rs.Tokenizer.train(DOCS, vocab_size=30, bos_token="<x>")
    with pytest.raises(ValueError, match="special tokens are non-empty, distinct"):
        bpe_rs.Tokenizer.train(DOCS, vocab_size=30, special_tokens=["<unk>"])


def test_pre_tokenizers():
    text = "a (world), world! 42nd world"
    ws = bpe_rs.Tokenizer.train(DOCS, vocab_size=200, min_frequency=1)
    punct = bpe_rs.Tokenizer.train(DOCS, vocab_size=200, min_frequency=1, pre_tokenizer="punct")
    assert ws.pre_tokenizer == "whitespace" and punct.pre_tokenizer == "punct"
    # whitespace: "(world)," and "world!" are words of their own; punct: "world" is one token everywhere.
    shown = [punct.id_to_token(i) for i in punct.encode(text)]
    assert shown == ["a</w>", "(</w>", "world</w>", "),</w>", "world</w>", "!</w>", "42</w>", "nd</w>", "world</w>"]
    assert ws.decode(ws.encode(text)) == text
    regex = bpe_rs.Tokenizer.train(DOCS, vocab_size=200, min_frequency=1, pre_tokenizer="regex", regex=GPT2)
    assert regex.pre_tokenizer == "regex" and "</w>" not in "".join(regex.vocab())
    assert regex.decode(regex.encode("  the   cat sat ")) == "  the   cat sat "  # lossless
    with pytest.raises(ValueError, match="needs regex="):
        bpe_rs.Tokenizer.train(DOCS, vocab_size=30, pre_tokenizer="regex")
    with pytest.raises(ValueError, match="does not compile"):
        bpe_rs.Tokenizer.train(DOCS, vocab_size=30, pre_tokenizer="regex", regex="(")
    with pytest.raises(ValueError, match="choose 'whitespace', 'punct' or 'regex'"):
        bpe_rs.Tokenizer.train(DOCS, vocab_size=30, pre_tokenizer="bytes")


def test_alphabet_limit_and_max_token_length():
    docs = ["aaaa bbbb"] * 10 + ["zq"]
    tok = bpe_rs.Tokenizer.train(docs, vocab_size=100, min_frequency=1, min_char_frequency=2)
    assert "z" not in tok.vocab() and "q</w>" not in tok.vocab()
    assert tok.encode("zq") == [bpe_rs.UNK_ID, bpe_rs.UNK_ID]
    short = bpe_rs.Tokenizer.train(DOCS, vocab_size=300, min_frequency=1, max_token_length=3)
    assert max(len(t.removesuffix("</w>")) for t in short.vocab()[2:]) <= 3


def test_bpe_dropout_is_random_per_seed_reproducible_and_never_cached():
    tok = bpe_rs.Tokenizer.train(DOCS * 4, vocab_size=120, min_frequency=1)
    text = "the cat sat on the mat " * 20
    plain = tok.encode(text)
    a = tok.encode(text, dropout=0.3, seed=1)
    assert a == tok.encode(text, dropout=0.3, seed=1) != tok.encode(text, dropout=0.3, seed=2)
    assert len(a) > len(plain) and tok.decode(a) == tok.decode(plain)
    assert tok.encode(text) == plain  # the dropped-out words did not enter a cache
    batch = [text] * 8
    assert tok.encode_batch(batch, dropout=0.3, seed=5, threads=1) == tok.encode_batch(
        batch, dropout=0.3, seed=5, threads=2
    )
    assert len({tuple(x) for x in tok.encode_batch(batch, dropout=0.3, seed=5)}) > 1  # each text its own draw
    assert tok.encode(text, dropout=0.0, seed=9) == plain


BAD_TRAIN_ARGS = [
    ({"vocab_size": 10**12}, "vocab_size"),
    ({"vocab_size": 2**64 - 1}, "vocab_size"),
    ({"vocab_size": 2**70}, "vocab_size"),
    ({"vocab_size": -1}, "vocab_size"),
    ({"vocab_size": 0}, "vocab_size"),
    ({"vocab_size": 2}, "leaves no room"),
    ({"vocab_size": 100, "byte_fallback": True}, "leaves no room"),
    ({"vocab_size": "big"}, "vocab_size"),
    ({"vocab_size": 1.5}, "vocab_size"),
    ({"vocab_size": True}, "vocab_size"),
    ({"min_frequency": 0}, "min_frequency"),
    ({"min_frequency": -3}, "min_frequency"),
    ({"threads": 0}, "threads"),
    ({"threads": -1}, "threads"),
    ({"threads": 10**6}, "threads"),
    ({"min_char_frequency": 0}, "min_char_frequency"),
    ({"max_token_length": 0}, "max_token_length"),
    ({"max_token_length": -2}, "max_token_length"),
]


@pytest.mark.parametrize("kwargs, name", BAD_TRAIN_ARGS)
def test_bad_training_arguments_raise_value_error_naming_them(kwargs, name):
    args = {"vocab_size": 50, **kwargs}
    with pytest.raises(ValueError, match=name):
        bpe_rs.Tokenizer.train(["a b c"], **args)
    with pytest.raises(ValueError, match=name):
        bpe_rs.Tokenizer.train_from_counts({"a": 1}, **args)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"dropout": -0.1}, "dropout"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": math.nan}, "dropout"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"threads": 0}, "threads"),
    ],
)
def test_bad_encoding_arguments_raise_value_error_naming_them(kwargs, name):
    tok = bpe_rs.Tokenizer.train(["a b c"], vocab_size=20)
    with pytest.raises(ValueError, match=name):
        tok.encode_batch(["a b"], **kwargs)
    if "threads" not in kwargs:
        with pytest.raises(ValueError, match=name):
            tok.encode("a b", **kwargs)


def test_count_words_arguments():
    with pytest.raises(ValueError, match="texts or files="):
        bpe_rs.count_words()
    with pytest.raises(ValueError, match="counts"):
        bpe_rs.Tokenizer.train_from_counts({"a": -1}, vocab_size=10)
    assert bpe_rs.count_words(["a (b)"], pre_tokenizer="punct") == {"a": 1, "(": 1, "b": 1, ")": 1}


# ---- fuzzing: whatever comes in, a ValueError or a result, never a Rust panic ----------------

_VALID = json.loads(bpe_rs.Tokenizer.train(DOCS, vocab_size=60, min_frequency=1).to_str())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _loads_or_value_error(text: str) -> None:
    # Anything but a ValueError, PanicException included (a BaseException), fails the test.
    with contextlib.suppress(ValueError):
        bpe_rs.Tokenizer.from_str(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300))
def test_fuzz_load_random_bytes(data):
    _loads_or_value_error(data.decode("utf-8", "replace"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values)
def test_fuzz_load_random_json(value):
    _loads_or_value_error(json.dumps(value))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(["settings", "alphabet", "merges", "vocab", "version", "format"]), value=json_values)
def test_fuzz_load_a_valid_file_with_one_field_replaced(key, value):
    _loads_or_value_error(json.dumps({**_VALID, key: value}))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=st.sampled_from(list(_VALID["settings"])),
    value=json_values,
)
def test_fuzz_load_a_valid_file_with_one_setting_replaced(key, value):
    _loads_or_value_error(json.dumps({**_VALID, "settings": {**_VALID["settings"], key: value}}))


_TOKENIZERS = [
    bpe_rs.Tokenizer.train(DOCS, vocab_size=80, min_frequency=1, special_tokens=["<s>"], bos_token="<s>"),
    bpe_rs.Tokenizer.train(DOCS, vocab_size=400, min_frequency=1, byte_fallback=True),
    bpe_rs.Tokenizer.train(DOCS, vocab_size=80, min_frequency=1, pre_tokenizer="regex", regex=GPT2),
    bpe_rs.Tokenizer.train(DOCS, vocab_size=400, min_frequency=1, byte_fallback=True, pre_tokenizer="punct"),
]


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x1c\x1d\x1e\x1f"), max_size=200),
    which=st.integers(0, 3),
    special=st.booleans(),
    dropout=st.sampled_from([0, 0.5]),
)
def test_fuzz_encode_and_decode_random_unicode(text, which, special, dropout):
    tok = _TOKENIZERS[which]
    ids = tok.encode(text, allow_special=special, dropout=dropout)
    out = tok.decode(ids)
    assert isinstance(out, str)
    if which == 1:  # byte fallback: lossless up to whitespace
        assert out == " ".join(text.split())
    if which == 2 and not special:  # regex words keep their spaces
        assert out == text or "\ufffd" in out


def test_text_that_is_not_unicode_is_a_value_error():
    with pytest.raises(ValueError):  # UnicodeEncodeError: a lone surrogate has no UTF-8 form
        _TOKENIZERS[0].encode("a \ud800 b")
    with pytest.raises(ValueError):
        _TOKENIZERS[0].encode_batch(["fine", "\udfff"])


@settings(max_examples=300, deadline=None)
@given(ids=st.lists(st.integers(-(2**40), 2**40), max_size=30))
def test_fuzz_decode_random_ids(ids):
    tok = _TOKENIZERS[1]
    try:
        assert isinstance(tok.decode(ids), str)
    except ValueError as e:
        assert "not in the vocabulary" in str(e)
