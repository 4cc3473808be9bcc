//! `bpe_rs`: byte-pair encoding over characters, trained with incremental pair counts.
//!
//! The public API is [`Bpe`]: [`Bpe::train`] / [`Bpe::train_files`] learn merges,
//! [`Bpe::encode`], [`Bpe::encode_batch`] and [`Bpe::decode`] use them, [`Bpe::save`] /
//! [`Bpe::load`] persist them. The Python bindings live in `py.rs` behind the `python`
//! feature; nothing here knows about Python.
//!
//! # Model
//! Text is split on Unicode whitespace into words. Each word starts as its characters
//! followed by the end-of-word symbol `</w>` (id 2), so merges may absorb the word end
//! (`e` + `</w>` -> `e</w>`) and decoding knows where spaces go. Ids 0, 1, 2 are reserved
//! for `<pad>`, `<unk>` and `</w>`; the alphabet (every character seen in training, in
//! code-point order) follows, then one id per merge in the order it was learned.
//!
//! Characters never seen in training encode as `<unk>`, which decodes as U+FFFD.
//! `decode(encode(text))` is `text` with whitespace runs collapsed to one space and the
//! ends trimmed, as long as every character was in the training corpus.

mod encode;
mod io;
mod train;

#[cfg(feature = "python")]
mod py;

use rustc_hash::FxHashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

pub use io::{read_corpus, Corpus};
pub use train::TrainSettings;

/// Padding, reserved for batching code; skipped when decoding.
pub const PAD_ID: u32 = 0;
/// Any character that was not in the training corpus.
pub const UNK_ID: u32 = 1;
/// The end-of-word symbol appended to every word before merging.
pub const EOW_ID: u32 = 2;
/// The reserved tokens, in id order.
pub const SPECIAL_TOKENS: [&str; 3] = ["<pad>", "<unk>", "</w>"];
/// The marker used when a token that ends a word is shown as a string.
pub const EOW_MARK: &str = "</w>";

/// Everything that can go wrong, with enough context to tell the user where.
#[derive(Debug)]
pub enum Error {
    /// Reading or writing `path` failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A tokenizer file is unreadable as one (bad JSON, wrong version, inconsistent).
    Format { path: PathBuf, msg: String },
    /// A corpus file has a problem at a given line (1-based).
    Input {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    /// An id passed to `decode` is outside the vocabulary.
    UnknownId(u32),
    /// Invalid settings or merges passed to a constructor.
    Invalid(String),
    /// The progress callback asked to stop.
    Interrupted,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {}", path.display(), source),
            Error::Format { path, msg } => {
                write!(
                    f,
                    "{}: not a valid bpe_rs tokenizer file: {}",
                    path.display(),
                    msg
                )
            }
            Error::Input { path, line, msg } => write!(f, "{}:{}: {}", path.display(), line, msg),
            Error::UnknownId(id) => write!(f, "token id {id} is not in the vocabulary"),
            Error::Invalid(msg) => f.write_str(msg),
            Error::Interrupted => f.write_str("training interrupted"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// One vocabulary entry: the characters it covers and whether it closes a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub ends_word: bool,
}

impl Token {
    /// Whether `display` is this token's display form, compared without building it.
    pub fn shows_as(&self, display: &str) -> bool {
        if self.ends_word {
            display.strip_suffix(EOW_MARK) == Some(self.text.as_str())
        } else {
            display == self.text
        }
    }

    /// How the token is shown to people: its text, plus `</w>` if it ends a word.
    pub fn display(&self) -> String {
        if self.ends_word {
            format!("{}{}", self.text, EOW_MARK)
        } else {
            self.text.clone()
        }
    }
}

/// Words cached by [`Bpe::encode`]; cleared when it grows past this many entries.
const CACHE_LIMIT: usize = 1 << 18;

/// A trained BPE tokenizer.
#[derive(Debug)]
pub struct Bpe {
    settings: TrainSettings,
    alphabet: Vec<char>,
    merges: Vec<(u32, u32)>,
    /// id -> token; ids 0..3 are the special tokens.
    tokens: Vec<Token>,
    char_ids: FxHashMap<char, u32>,
    /// pair key -> rank (index into `merges`); the merged id is `first_merge_id() + rank`.
    ranks: FxHashMap<u64, u32>,
    cache: Mutex<FxHashMap<String, Vec<u32>>>,
}

/// Packs a pair of ids into one integer; the order of keys is the order of pairs.
#[inline]
pub(crate) fn pair_key(a: u32, b: u32) -> u64 {
    ((a as u64) << 32) | b as u64
}

impl Bpe {
    /// Builds a tokenizer from its alphabet and ordered merges, checking that they are
    /// consistent: distinct characters, merges that refer only to earlier ids, no merge
    /// whose left side already ends a word, no pair merged twice.
    pub fn from_parts(
        settings: TrainSettings,
        alphabet: Vec<char>,
        merges: Vec<(u32, u32)>,
    ) -> Result<Bpe> {
        let mut tokens: Vec<Token> = SPECIAL_TOKENS
            .iter()
            .map(|s| Token {
                text: s.to_string(),
                ends_word: false,
            })
            .collect();
        tokens[EOW_ID as usize] = Token {
            text: String::new(),
            ends_word: true,
        };
        let mut char_ids = FxHashMap::default();
        for &c in &alphabet {
            if char_ids.insert(c, tokens.len() as u32).is_some() {
                return Err(Error::Invalid(format!(
                    "character {c:?} appears twice in the alphabet"
                )));
            }
            tokens.push(Token {
                text: c.to_string(),
                ends_word: false,
            });
        }
        let mut ranks = FxHashMap::default();
        for (rank, &(a, b)) in merges.iter().enumerate() {
            let n = tokens.len() as u32;
            if a >= n || b >= n || a < EOW_ID || b < EOW_ID {
                return Err(Error::Invalid(format!(
                    "merge {rank} ({a}, {b}) refers to a token that does not exist before it \
                     (ids 2..{n} are valid there)"
                )));
            }
            let (left, right) = (&tokens[a as usize], &tokens[b as usize]);
            if left.ends_word {
                return Err(Error::Invalid(format!(
                    "merge {rank} ({a}, {b}): its left token {:?} already ends a word",
                    left.display()
                )));
            }
            let merged = Token {
                text: format!("{}{}", left.text, right.text),
                ends_word: right.ends_word,
            };
            if ranks.insert(pair_key(a, b), rank as u32).is_some() {
                return Err(Error::Invalid(format!(
                    "merge {rank} ({a}, {b}) repeats an earlier merge"
                )));
            }
            tokens.push(merged);
        }
        Ok(Bpe {
            settings,
            alphabet,
            merges,
            tokens,
            char_ids,
            ranks,
            cache: Mutex::default(),
        })
    }

    pub fn settings(&self) -> &TrainSettings {
        &self.settings
    }

    /// The characters known to the tokenizer, in id order (ids 3, 4, ...).
    pub fn alphabet(&self) -> &[char] {
        &self.alphabet
    }

    /// The merges in the order they were learned, as pairs of token ids.
    pub fn merges(&self) -> &[(u32, u32)] {
        &self.merges
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    pub fn token(&self, id: u32) -> Option<&Token> {
        self.tokens.get(id as usize)
    }

    /// Looks a token up by its display form (`"th"`, `"e</w>"`, `"<unk>"`).
    pub fn token_to_id(&self, display: &str) -> Option<u32> {
        self.tokens
            .iter()
            .position(|t| t.shows_as(display))
            .map(|i| i as u32)
    }

    pub(crate) fn first_merge_id(&self) -> u32 {
        (SPECIAL_TOKENS.len() + self.alphabet.len()) as u32
    }
}

/// Runs `f` on a rayon pool of `threads` threads (`None` or 0: rayon's global pool).
/// Pools are built once per size and kept, so small batches do not pay for thread start-up.
pub fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> T {
    static POOLS: OnceLock<Mutex<FxHashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let Some(n) = threads.filter(|&n| n > 0) else {
        return f();
    };
    let pool = {
        let mut pools = POOLS
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        pools
            .entry(n)
            .or_insert_with(|| {
                Arc::new(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(n)
                        .build()
                        .expect("thread pool"),
                )
            })
            .clone()
    };
    pool.install(f)
}
