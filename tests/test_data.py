"""Reading the corpus, labels, the split, cleaning, tokenizers, batches."""

import numpy as np
import pytest
import torch

from pytrain.batching import BucketSampler, EncodedDataset, collate
from pytrain.cleaning import Cleaner, CleaningConfig
from pytrain.data import LabelSet, convert_csv, find_data, read_tsv, split_indices
from pytrain.errors import UserError
from pytrain.tokens import BpeTokenizer, WordTokenizer, build_tokenizer, load_tokenizer


def test_reads_the_course_file(biotech_tsv):
    corpus = read_tsv(biotech_tsv)
    assert len(corpus) == 381
    labels = LabelSet.from_data(corpus.labels)
    assert len(labels) == 28 and labels.names == sorted(labels.names)
    # near-duplicate spellings stay distinct labels: they are data, not a fixed list
    assert "alliance & partnership" in labels.names
    y, unknown = labels.encode(corpus.labels)
    assert y.shape == (381, 28) and not unknown
    assert (y.sum(1) == [len(set(r)) for r in corpus.labels]).all()


def test_convert_reproduces_the_course_file(tmp_path, biotech_csv, biotech_tsv):
    out = tmp_path / "converted.tsv"
    n = convert_csv(biotech_csv, out, {"event organisation": "event organization"})
    assert n == 381
    assert out.read_text() == biotech_tsv.read_text()


def test_course_split_and_validation_part():
    s = split_indices(381)
    assert len(s.test) == 77 and len(s.train) + len(s.val) == 304
    assert not set(s.train) & set(s.val) and not set(s.train) & set(s.test) and not set(s.val) & set(s.test)
    from sklearn.model_selection import train_test_split

    _, course_test = train_test_split(np.arange(381), test_size=0.2, random_state=0)
    assert sorted(course_test) == list(s.test)


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


def test_bucket_sampler_covers_everything_once_and_groups_lengths():
    lengths = np.random.default_rng(0).integers(1, 500, size=203)
    sampler = BucketSampler(lengths, batch_size=16, seed=3, pool=4)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(203))
    assert len(batches) == len(sampler)
    spread = np.mean([np.ptp(lengths[b]) for b in batches if len(b) > 1])
    assert spread < np.ptp(lengths) / 3
    assert list(sampler) != batches  # a new order each epoch


def test_kfold_splits_cover_every_row_once_as_test():
    from pytrain.data import kfold_splits

    folds = kfold_splits(50, 5)
    tests = np.concatenate([f.test for f in folds])
    assert sorted(tests) == list(range(50))
    for f in folds:
        assert not set(f.train) & set(f.test) and not set(f.val) & set(f.test) and not set(f.train) & set(f.val)
        assert len(f.train) + len(f.val) + len(f.test) == 50
    with pytest.raises(UserError, match="--cv 1"):
        kfold_splits(50, 1)


def test_fold_vocab_drops_tokens_rare_in_the_folds_fit_part_from_both_parts():
    from types import SimpleNamespace

    from pytrain.train import FitConfig, fold_parts

    # Token 9 is in two texts, one of them held out: the fit part alone has it once (< min_df 2).
    ids = [np.array([5, 6, 9]), np.array([5, 7]), np.array([6, 7, 8]), np.array([9, 5]), np.array([8, 8])]
    train = EncodedDataset(ids, np.eye(5, 2))
    prep = SimpleNamespace(train=train, tokenizer=SimpleNamespace(vocab_size=10))
    fit_idx, out_idx = np.array([0, 1, 2, 4]), np.array([3])
    assert train.document_frequency(10).tolist() == [0, 0, 0, 0, 0, 3, 2, 2, 2, 2]
    fit_part, out_part = fold_parts(prep, fit_idx, out_idx, FitConfig(min_df=2, fold_vocab=True))
    assert [s.tolist() for s in fit_part.ids] == [[5, 6], [5, 7], [6, 7, 8], [8, 8]]  # 8: in 2 fit texts
    assert [s.tolist() for s in out_part.ids] == [[5]]
    assert (out_part.labels == train.labels[out_idx]).all()
    plain = fold_parts(prep, fit_idx, out_idx, FitConfig(min_df=2, fold_vocab=False))
    assert [s.tolist() for s in plain[1].ids] == [[9, 5]]
    only_rare = EncodedDataset([np.array([9])], np.zeros((1, 2))).keep_tokens(np.arange(10) != 9)
    assert only_rare.ids[0].tolist() == [1]  # everything dropped -> <unk>, as cleaning leaves it
