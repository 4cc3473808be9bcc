"""bpe_rs: byte-pair encoding with a Rust core.

    import bpe_rs
    tok = bpe_rs.Tokenizer.train(texts, vocab_size=8000)          # or train_files / train_from_counts
    ids = tok.encode("some text")                                 # list[int]
    flat, offsets = tok.encode_batch_flat(texts)                  # numpy, parallel, GIL released
    text = tok.decode(ids)
    tok.save("tok.json"); bpe_rs.Tokenizer.load("tok.json")
    tok.save_hf("tokenizer.json")                                 # for Hugging Face `tokenizers`

Ids: `<pad>` = 0, `<unk>` = 1, then special tokens, byte tokens (with `byte_fallback`), the
alphabet and the merges. Tokenizers pickle, and work in forked or spawned DataLoader workers.
"""

from bpe_rs._bpe_rs import MAX_VOCAB_SIZE, PAD_ID, UNK_ID, Tokenizer, __version__, count_words, read_corpus

__all__ = ["MAX_VOCAB_SIZE", "PAD_ID", "UNK_ID", "Tokenizer", "__version__", "count_words", "read_corpus"]


def _restore(state: str) -> Tokenizer:
    """Unpickles a Tokenizer from its JSON text (see Tokenizer.__reduce__)."""
    return Tokenizer.from_str(state)
