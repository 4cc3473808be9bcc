"""Reading the corpus, labels, the split, cleaning, tokenizers, batches."""

import numpy as np
import pytest
import torch

from pytrain.batching import BucketSampler, EncodedDataset, budget_batches, collate, random_windows
from pytrain.cleaning import Cleaner, CleaningConfig
from pytrain.data import LabelSet, convert_csv, find_data, read_tsv, split_indices
from pytrain.errors import UserError
from pytrain.tokens import BpeTokenizer, WordTokenizer, build_tokenizer, load_tokenizer


@pytest.mark.course
def test_reads_the_course_file(biotech_tsv):
    corpus = read_tsv(biotech_tsv)
    labels = LabelSet.from_data(corpus.labels)
    assert len(corpus) > 300 and len(labels) > 10 and labels.names == sorted(labels.names)
    y, unknown = labels.encode(corpus.labels)
    assert y.shape == (len(corpus), len(labels)) and not unknown
    assert (y.sum(1) == [len(set(r)) for r in corpus.labels]).all()


def test_labels_are_the_data_s_own_sorted_and_multi_hot(corpus_tsv):
    corpus = read_tsv(corpus_tsv)
    labels = LabelSet.from_data(corpus.labels)
    assert labels.names == sorted({x for row in corpus.labels for x in row})
    assert "merger & acquisition" in labels.names  # names with '&' and spaces are kept whole
    y, unknown = labels.encode(corpus.labels + [["never seen"]])
    assert unknown == {"never seen"} and y[-1].sum() == 0
    assert (y[:-1].sum(1) == [len(r) for r in corpus.labels]).all()


@pytest.mark.course
def test_convert_reproduces_the_course_file(tmp_path, biotech_csv, biotech_tsv):
    out = tmp_path / "converted.tsv"
    n = convert_csv(biotech_csv, out, {"event organisation": "event organization"})
    assert n == len(read_tsv(biotech_tsv))
    assert out.read_text() == biotech_tsv.read_text()


CSV_HEADER = "Title,Content,Target Organization,Label 1,Label 2\n"


def test_convert_writes_the_course_format_from_the_dataset_csv(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(
        "\ufeff" + CSV_HEADER + 'T,"Pfizer\'s new drug, approved!\nToday.",X,regulatory approval,event organisation\n'
        "T2,Second text,Y,funding round,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.tsv"
    assert convert_csv(src, out, {"event organisation": "event organization"}) == 2
    assert out.read_text() == (
        "text\tlabels\npfizers new drug approved today\tregulatory approval, event organization\n"
        "second text\tfunding round\n"
    )
    corpus = read_tsv(out)  # what convert writes, read_tsv reads
    assert corpus.labels == [["regulatory approval", "event organization"], ["funding round"]]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty file"),
        (CSV_HEADER, "no records after the header"),
        ("Title,Body,Label 1\nT,x,a\n", "expected a 'Content' column"),
        (CSV_HEADER + "T,text,X,a\tb,\n", r"record 1 \(line 2\): label 'a\\tb' holds a tab"),
        (CSV_HEADER + 'T,text,X,"mergers, acquisitions",\n', "holds a tab, a line break or a comma"),
        (CSV_HEADER + 'T,text,X,"two\nlines",\n', "holds a tab, a line break or a comma"),
        (CSV_HEADER + "T,!!!,X,a,\n", "record 1 .*empty Content"),
        (CSV_HEADER + "T,text,X\n", "expected 5 fields, found 3"),
    ],
)
def test_convert_refuses_what_the_course_format_cannot_hold(tmp_path, content, message):
    src, out = tmp_path / "in.csv", tmp_path / "out.tsv"
    src.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        convert_csv(src, out)
    assert not out.exists()


def test_split_is_the_course_split_by_its_properties():
    for n in (50, 381, 3039):
        s = split_indices(n)
        parts = [set(s.train), set(s.val), set(s.test)]
        assert sum(map(len, parts)) == n and set().union(*parts) == set(range(n))  # a partition
        assert len(s.test) == -(-n // 5)  # test_size 0.2, rounded up as scikit-learn does
        assert abs(len(s.val) - 0.15 * (n - len(s.test))) <= 1
        assert all((np.diff(p) > 0).all() for p in (s.train, s.val, s.test))  # sorted row numbers
        assert s.test.tolist() == split_indices(n).test.tolist()  # deterministic
        assert s.test.tolist() != split_indices(n, random_state=1).test.tolist()
        assert s.test.tolist() != list(range(n - len(s.test), n))  # shuffled, not the last rows
    with pytest.raises(UserError, match="at least 1 test and 2 training rows"):
        split_indices(2, 0.5)


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path):
    path = tmp_path / "bom.tsv"
    path.write_bytes(b"\xef\xbb\xbftext\tlabels\r\nhello world\ta, b\r\n")
    corpus = read_tsv(path)
    assert corpus.texts == ["hello world"] and corpus.labels == [["a", "b"]]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"body\tlabels\nhello\tx\n", r"bad.tsv:1: no 'text' column"),
        (b"text\ttags\nhello\tx\n", r"bad.tsv:1: no 'labels' column"),
        (b"text\tlabels\nhello\tx\n \tother\n", r"bad.tsv:3: empty text"),
        (b"text\tlabels\nhello\tx\nworld\tx\textra\n", r"bad.tsv:3: expected 2 tab-separated fields, found 3"),
        (b"text\tlabels\nhello\tx\ncaf\xe9\tx\n", r"bad.tsv:3: not valid UTF-8"),
        (b"text\tlabels\n", r"bad.tsv: no rows"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        read_tsv(path)


def test_missing_file_and_data_search_order(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="cannot read"):
        read_tsv(tmp_path / "nope.tsv")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTRAIN_DATA", raising=False)
    with pytest.raises(UserError, match="no data file found.*data/biotech_news.tsv"):
        find_data()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "biotech_news.tsv").write_text("text\tlabels\na\tb\n")
    assert find_data().resolve() == tmp_path / "data" / "biotech_news.tsv"
    (tmp_path / "env.tsv").write_text("x")
    monkeypatch.setenv("PYTRAIN_DATA", str(tmp_path / "env.tsv"))
    assert find_data().resolve() == tmp_path / "env.tsv"
    assert find_data(tmp_path / "data" / "biotech_news.tsv").name == "biotech_news.tsv"  # --data wins


def test_cleaning_uses_training_statistics_only():
    train = ["the cat sat", "the dog sat", "a cat ran 2021", "the bird flew"]
    cleaner = Cleaner(CleaningConfig(min_df=2, max_df=0.6)).fit(train)
    # "the": stop word; "sat"/"cat": in 2 of 4 docs; "2021": number; "flew": only once
    assert cleaner.transform("the cat sat flew 2021 zebra") == "cat sat"
    assert cleaner.keep == {"cat", "sat"}
    # a word frequent in new texts but unseen in training is not kept
    assert Cleaner(CleaningConfig(min_df=1, max_df=1.0)).fit(["x y"]).transform("z z z x") == "x"


def test_word_and_bpe_tokenizers_share_specials_and_reload(tmp_path):
    texts = ["alpha beta gamma", "beta gamma delta", "gamma"]
    for tok in (WordTokenizer.fit(texts), BpeTokenizer.fit(texts, vocab_size=40, min_frequency=1, progress=False)):
        ids = tok.encode_batch(["gamma unseenword", ""])
        assert ids[0].dtype == np.int64 and len(ids[1]) == 0 and 1 in ids[0]  # <unk> = 1
        tok.save(tmp_path / f"{tok.kind}.json")
        again = load_tokenizer(tmp_path / f"{tok.kind}.json")
        assert [a.tolist() for a in again.encode_batch(texts)] == [a.tolist() for a in tok.encode_batch(texts)]
    assert WordTokenizer.fit(texts, min_count=2).vocab == ["<pad>", "<unk>", "gamma", "beta"]
    with pytest.raises(UserError, match="unknown tokenizer"):
        build_tokenizer("chars", texts)
    (tmp_path / "junk.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="unknown tokenizer format"):
        load_tokenizer(tmp_path / "junk.json")


def test_collate_pads_to_the_longest_in_the_batch():
    ds = EncodedDataset([np.array([5, 6, 7]), np.array([8]), np.array([], dtype=np.int64)], np.eye(3, 2), max_len=2)
    batch = collate([ds[0], ds[1], ds[2]])
    assert batch.tokens.tolist() == [[5, 6], [8, 0], [1, 0]]  # truncated, padded, empty -> <unk>
    assert batch.lengths.tolist() == [2, 1, 1]
    assert batch.labels.dtype == torch.float32 and batch.labels.shape == (3, 2)


def test_random_windows_are_seeded_runs_of_consecutive_tokens():
    texts = [np.arange(100, 100 + n) for n in (3, 8, 9, 50, 1)]
    ds = EncodedDataset(texts, np.eye(5, 2))
    windows = random_windows(ds, 8, seed=[1, 2])
    assert [len(w) for w in windows.ids] == [3, 8, 8, 8, 1]  # shorter texts stay whole
    for text, w in zip(texts, windows.ids, strict=True):
        assert (np.diff(w) == 1).all() and w[0] in text and w[-1] in text
    assert (windows.labels == ds.labels).all()
    assert all((a == b).all() for a, b in zip(windows.ids, random_windows(ds, 8, seed=[1, 2]).ids, strict=True))
    starts = {int(random_windows(ds, 8, seed=[1, e]).ids[3][0]) for e in range(20)}
    assert len(starts) > 5 and min(starts) >= 100 and max(starts) <= 142  # anywhere in the text


def test_bucket_sampler_covers_everything_once_and_groups_lengths():
    lengths = np.random.default_rng(0).integers(1, 500, size=203)
    sampler = BucketSampler(lengths, batch_size=16, seed=3, pool=4)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(203))
    assert len(batches) == len(sampler)
    spread = np.mean([np.ptp(lengths[b]) for b in batches if len(b) > 1])
    assert spread < np.ptp(lengths) / 3
    assert list(sampler) != batches  # a new order each epoch
    budget = BucketSampler(lengths, batch_size=16, seed=3, pool=4, max_tokens=1000)
    cut = list(budget)
    assert sorted(i for b in cut for i in b) == list(range(203))
    assert all(len(b) <= 16 and (len(b) == 1 or len(b) * lengths[b].max() <= 1000) for b in cut)
    assert any(len(b) < 16 for b in cut[:-1])  # long texts come in smaller batches


def test_budget_batches_bound_the_padded_size_and_cover_every_text():
    lengths = np.array([5, 1000, 3, 40, 40, 7, 2, 100_000, 1])
    batches = budget_batches(lengths, max_tokens=100, max_texts=3)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 3 and (len(b) == 1 or len(b) * lengths[b].max() <= 100)
    assert [len(b) for b in batches[:2]] == [1, 1]  # the two texts over the budget stand alone
    flat = np.concatenate(batches)
    assert (np.diff(lengths[flat]) <= 0).all()  # longest first
