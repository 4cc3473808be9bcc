"""PPMI-SVD start vectors (pytrain.embeddings) against dense reference formulas."""

import numpy as np
import torch

from pytrain.embeddings import cooccurrences, ppmi, svd_vectors
from pytrain.models import ModelConfig
from pytrain.train import new_model


def dense_cooccurrences(seqs, v, window):
    m = np.zeros((v, v))
    for s in seqs:
        for i in range(len(s)):
            for j in range(len(s)):
                if i != j and abs(i - j) <= window:
                    m[s[i], s[j]] += 1
    return m


def test_cooccurrences_count_pairs_within_the_window_both_ways():
    seqs = [np.array([2, 3, 4, 3]), np.array([5]), np.array([4, 2])]
    for window in (1, 2, 5):
        assert np.array_equal(cooccurrences(seqs, 6, window).toarray(), dense_cooccurrences(seqs, 6, window))


def test_ppmi_matches_the_formula():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 12, size=rng.integers(2, 30)) for _ in range(20)]
    counts = cooccurrences(seqs, 12, 3)
    c = counts.toarray()
    total = c.sum()
    pw = c.sum(1, keepdims=True) / total
    pc = c.sum(0, keepdims=True) ** 0.75
    pc /= pc.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(c > 0, np.maximum(np.log((c / total) / (pw * pc)), 0), 0)
    assert np.allclose(ppmi(counts).toarray(), expected)


def test_svd_vectors_put_tokens_used_alike_near_each_other():
    # 2 and 3 ("cat", "dog") share their contexts; 4 ("stone") has others.
    rng = np.random.default_rng(1)
    seqs = []
    for _ in range(300):
        pet = rng.choice([2, 3])
        seqs.append(np.array([5, 6, pet, 7, 8]))
        seqs.append(np.array([9, 10, 4, 11, 12]))
    vec = svd_vectors(seqs, 14, dim=4)
    cos = lambda a, b: vec[a] @ vec[b] / np.linalg.norm(vec[a]) / np.linalg.norm(vec[b])  # noqa: E731
    assert cos(2, 3) > 0.9 and abs(cos(2, 4)) < 0.5
    assert vec.shape == (14, 4) and vec.dtype == np.float32
    assert not vec[0].any() and not vec[1].any() and not vec[13].any()  # padding, unseen tokens
    seen = np.abs(vec).sum(1) > 0
    assert np.isclose(vec[seen].std(), 1.0, atol=1e-5)
    assert np.array_equal(vec, svd_vectors(seqs, 14, dim=4))  # deterministic


def test_svd_vectors_of_texts_without_pairs_are_zero():
    assert not svd_vectors([np.array([3]), np.array([], dtype=np.int64)], 5, dim=3).any()


def test_models_start_from_the_given_vectors():
    vectors = torch.randn(20, 6)
    model = new_model(ModelConfig("rnn", 20, 3, embed_dim=6, hidden=5), vectors, torch.device("cpu"))
    assert torch.equal(model.embedding.weight.detach(), vectors)
