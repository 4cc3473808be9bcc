"""Word vectors from the training texts alone, to start the embedding from (`--init-embeddings svd`).

A few hundred labelled articles are too few to learn thousands of embeddings from the labels.
The texts themselves say which tokens occur near each other: count co-occurrences in a window,
weight them by positive pointwise mutual information (PPMI, with the context distribution
smoothed by the power 0.75 as in word2vec), and keep the top `dim` singular directions,
U·sqrt(S) (Levy, Goldberg & Dagan 2015, "Improving distributional similarity with lessons
learned from word embeddings"). Deterministic: a fixed-seed randomized SVD.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

from pytrain.tokens import PAD_ID


def cooccurrences(sequences: list[np.ndarray], vocab_size: int, window: int = 5) -> sp.csr_matrix:
    """(vocab, vocab) counts of token pairs at most `window` positions apart, both directions."""
    rows, cols = [], []
    for ids in sequences:
        for d in range(1, min(window, len(ids) - 1) + 1):
            rows += [ids[:-d], ids[d:]]
            cols += [ids[d:], ids[:-d]]
    if not rows:
        return sp.csr_matrix((vocab_size, vocab_size))
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.coo_matrix((np.ones(len(r)), (r, c)), shape=(vocab_size, vocab_size)).tocsr()


def ppmi(counts: sp.csr_matrix, alpha: float = 0.75) -> sp.csr_matrix:
    """max(0, log p(w, c) / (p(w) p_alpha(c))) over the non-zero counts."""
    total = counts.sum()
    if total == 0:
        return counts.copy()
    word = np.asarray(counts.sum(1)).ravel()
    context = np.asarray(counts.sum(0)).ravel() ** alpha
    context *= total / context.sum()
    coo = counts.tocoo()
    pmi = np.log(coo.data * total / (word[coo.row] * context[coo.col]))
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape)


def svd_vectors(sequences: list[np.ndarray], vocab_size: int, dim: int, window: int = 5, seed: int = 0) -> np.ndarray:
    """(vocab, dim) float32 vectors scaled to unit standard deviation (the scale of
    `nn.Embedding`'s N(0, 1) start); the padding row and tokens never seen are zero."""
    matrix = ppmi(cooccurrences(sequences, vocab_size, window))
    k = min(dim, vocab_size - 1)
    vectors = np.zeros((vocab_size, dim), dtype=np.float32)
    if matrix.nnz == 0 or k < 1:
        return vectors
    u, s, _ = randomized_svd(matrix, k, random_state=seed)
    vectors[:, :k] = u * np.sqrt(s)
    seen = np.asarray(matrix.sum(1)).ravel() > 0
    seen[PAD_ID] = False
    vectors[~seen] = 0.0
    std = vectors[seen].std() if seen.any() else 0.0
    return vectors / std if std > 0 else vectors
