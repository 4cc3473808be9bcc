from collections.abc import Callable, Iterable, Sequence
from os import PathLike

import numpy as np
import numpy.typing as npt

__version__: str
PAD_ID: int
UNK_ID: int
MAX_VOCAB_SIZE: int

_Path = str | PathLike[str]
_Progress = Callable[[int, int], object]

class Tokenizer:
    PAD_ID: int
    UNK_ID: int
    @staticmethod
    def train(
        texts: Iterable[str],
        vocab_size: int,
        min_frequency: int = 2,
        *,
        special_tokens: Sequence[str] = (),
        bos_token: str | None = None,
        eos_token: str | None = None,
        byte_fallback: bool = False,
        pre_tokenizer: str = "whitespace",
        regex: str | None = None,
        min_char_frequency: int = 1,
        max_token_length: int | None = None,
        threads: int | None = None,
        progress: _Progress | None = None,
    ) -> Tokenizer: ...
    @staticmethod
    def train_files(
        paths: Sequence[_Path],
        vocab_size: int,
        min_frequency: int = 2,
        *,
        special_tokens: Sequence[str] = (),
        bos_token: str | None = None,
        eos_token: str | None = None,
        byte_fallback: bool = False,
        pre_tokenizer: str = "whitespace",
        regex: str | None = None,
        min_char_frequency: int = 1,
        max_token_length: int | None = None,
        threads: int | None = None,
        progress: _Progress | None = None,
    ) -> Tokenizer: ...
    @staticmethod
    def train_from_counts(
        counts: dict[str, int],
        vocab_size: int,
        min_frequency: int = 2,
        *,
        special_tokens: Sequence[str] = (),
        bos_token: str | None = None,
        eos_token: str | None = None,
        byte_fallback: bool = False,
        pre_tokenizer: str = "whitespace",
        regex: str | None = None,
        min_char_frequency: int = 1,
        max_token_length: int | None = None,
        threads: int | None = None,
        progress: _Progress | None = None,
    ) -> Tokenizer: ...
    @staticmethod
    def load(path: _Path) -> Tokenizer: ...
    @staticmethod
    def from_str(json: str) -> Tokenizer: ...
    @staticmethod
    def from_hf(path: _Path) -> Tokenizer: ...
    def save(self, path: _Path) -> None: ...
    def to_str(self) -> str: ...
    def save_hf(self, path: _Path) -> None: ...
    def encode(
        self,
        text: str,
        *,
        allow_special: bool = False,
        add_bos: bool = False,
        add_eos: bool = False,
        dropout: float = 0.0,
        seed: int | None = None,
    ) -> list[int]: ...
    def encode_batch(
        self,
        texts: Iterable[str],
        *,
        allow_special: bool = False,
        add_bos: bool = False,
        add_eos: bool = False,
        dropout: float = 0.0,
        seed: int | None = None,
        threads: int | None = None,
    ) -> list[list[int]]: ...
    def encode_batch_flat(
        self,
        texts: Iterable[str],
        *,
        allow_special: bool = False,
        add_bos: bool = False,
        add_eos: bool = False,
        dropout: float = 0.0,
        seed: int | None = None,
        threads: int | None = None,
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]: ...
    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def min_frequency(self) -> int: ...
    @property
    def pre_tokenizer(self) -> str: ...
    @property
    def byte_fallback(self) -> bool: ...
    @property
    def special_tokens(self) -> list[str]: ...
    def vocab(self) -> list[str]: ...
    def merges(self) -> list[tuple[str, str]]: ...
    def id_to_token(self, id: int) -> str: ...
    def token_to_id(self, token: str) -> int | None: ...
    def __len__(self) -> int: ...

def count_words(
    texts: Iterable[str] | None = None,
    *,
    files: Sequence[_Path] | None = None,
    pre_tokenizer: str = "whitespace",
    regex: str | None = None,
    threads: int | None = None,
) -> dict[str, int]: ...
def read_corpus(path: _Path) -> list[str]: ...
def _restore(state: str) -> Tokenizer: ...
