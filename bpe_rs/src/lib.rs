//! `bpe_rs`: byte-pair encoding, trained with incremental pair counts.
//!
//! The public API is [`Bpe`]: [`Bpe::train`], [`Bpe::train_files`] and
//! [`Bpe::train_from_counts`] learn merges; [`Bpe::encode`], [`Bpe::encode_batch`] and
//! [`Bpe::decode`] use them; [`Bpe::save`] / [`Bpe::load`] persist them, and
//! [`Bpe::to_hf_json`] / [`Bpe::from_hf_json`] speak Hugging Face `tokenizers`' format. The
//! Python bindings live in `py.rs` behind the `python` feature; nothing else knows Python.
//!
//! # Model
//! A pre-tokenizer ([`PreTokenizer`]) cuts text into *words*. In the `whitespace` and `punct`
//! modes each word starts as its characters, the last one marked as ending the word (shown
//! with the suffix `</w>`, as Hugging Face's `end_of_word_suffix`), so `e` and `e</w>` are two
//! symbols and decoding knows where spaces go. In the `regex` mode words keep their spaces
//! and decoding concatenates. Ids: `<pad>` = 0, `<unk>` = 1, the user's special tokens, the 256
//! byte tokens `<0x00>`..`<0xFF>` when `byte_fallback` is on, the alphabet (every initial symbol
//! seen often enough in training, in code-point order, `c` before `c</w>`), then one id per new
//! token made by a merge, in the order learned. A merge whose result already exists reuses its
//! id, as Hugging Face does, so every token string has one id.
//!
//! A symbol outside the alphabet encodes as its UTF-8 bytes with `byte_fallback` (decoded back
//! exactly), else as `<unk>` (decoded as U+FFFD).

mod count;
mod encode;
mod hf;
mod io;
mod pretok;
mod train;

#[cfg(feature = "python")]
mod py;

use rustc_hash::FxHashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

pub use encode::EncodeOptions;
pub use io::{count_files, read_corpus, Corpus};
pub use pretok::PreTokenizer;
pub use train::{count_words, TrainSettings};

/// Padding, reserved for batching code; skipped when decoding.
pub const PAD_ID: u32 = 0;
/// A symbol outside the alphabet (without byte fallback).
pub const UNK_ID: u32 = 1;
pub const PAD: &str = "<pad>";
pub const UNK: &str = "<unk>";
/// How a token that ends a word is shown (Hugging Face's `end_of_word_suffix`).
pub const EOW_SUFFIX: &str = "</w>";
/// The largest vocabulary accepted: larger sizes are refused before anything is allocated.
pub const MAX_VOCAB_SIZE: usize = 10_000_000;

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
    /// Invalid settings, arguments or merges.
    Invalid(String),
    /// The progress callback asked to stop.
    Interrupted,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {}", path.display(), source),
            Error::Format { path, msg } => {
                write!(f, "{}: not a valid tokenizer file: {}", path.display(), msg)
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

/// What a vocabulary entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `<pad>`, `<unk>`, a user special token, or the legacy `</w>` symbol.
    Special,
    /// One byte of a symbol outside the alphabet (`<0x41>`).
    Byte(u8),
    /// A character, or characters merged.
    Text,
}

/// One vocabulary entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The characters it covers (for special and byte tokens: their name).
    pub text: String,
    /// Whether it closes a word (its display form then carries `</w>`).
    pub ends_word: bool,
    pub kind: Kind,
}

impl Token {
    fn new(text: impl Into<String>, ends_word: bool, kind: Kind) -> Token {
        Token {
            text: text.into(),
            ends_word,
            kind,
        }
    }

    /// How the token is shown to people and in files: its text, plus `</w>` if it ends a word.
    pub fn display(&self) -> String {
        if self.ends_word {
            format!("{}{}", self.text, EOW_SUFFIX)
        } else {
            self.text.clone()
        }
    }

    /// Characters of its text (what `max_token_length` limits).
    fn chars(&self) -> usize {
        self.text.chars().count()
    }
}

/// How words start before merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// The last character of a word carries the end-of-word mark (`whitespace`, `punct`).
    Suffix,
    /// No word ends (`regex`: words keep their spaces).
    Plain,
    /// Files of format version 1: the characters, then a separate `</w>` symbol (id 2).
    Legacy,
}

/// An initial symbol: a character, and whether it ends its word.
pub type Symbol = (char, bool);

/// A trained BPE tokenizer.
#[derive(Debug)]
pub struct Bpe {
    settings: TrainSettings,
    scheme: Scheme,
    splitter: pretok::Splitter,
    alphabet: Vec<Symbol>,
    merges: Vec<(u32, u32)>,
    /// The token each merge makes (a new id, or an existing one with the same string).
    merge_ids: Vec<u32>,
    /// id -> token.
    tokens: Vec<Token>,
    symbol_ids: FxHashMap<Symbol, u32>,
    /// pair key -> rank (index into `merges`).
    ranks: FxHashMap<u64, u32>,
    /// The id of `<0x00>` when byte fallback is on.
    byte_base: Option<u32>,
    /// User special tokens -> ids, longest first (for matching in text).
    specials: Vec<(String, u32)>,
    bos_id: Option<u32>,
    eos_id: Option<u32>,
}

/// Packs a pair of ids into one integer; the order of keys is the order of pairs.
#[inline]
pub(crate) fn pair_key(a: u32, b: u32) -> u64 {
    ((a as u64) << 32) | b as u64
}

/// The tokens every vocabulary starts with, in id order.
pub(crate) fn reserved_tokens(settings: &TrainSettings, scheme: Scheme) -> Vec<Token> {
    let mut tokens = vec![
        Token::new(PAD, false, Kind::Special),
        Token::new(UNK, false, Kind::Special),
    ];
    if scheme == Scheme::Legacy {
        tokens.push(Token::new("", true, Kind::Special));
    }
    tokens.extend(
        settings
            .special_tokens
            .iter()
            .map(|s| Token::new(s.clone(), false, Kind::Special)),
    );
    if settings.byte_fallback {
        tokens
            .extend((0..=255u8).map(|b| Token::new(format!("<0x{b:02X}>"), false, Kind::Byte(b))));
    }
    tokens
}

impl Bpe {
    /// Builds a tokenizer from its settings, alphabet and ordered merges, checking that they are
    /// consistent: distinct symbols, merges that refer only to earlier text tokens, no merge
    /// whose left side already ends a word, no pair merged twice.
    pub fn from_parts(
        settings: TrainSettings,
        scheme: Scheme,
        alphabet: Vec<Symbol>,
        merges: Vec<(u32, u32)>,
    ) -> Result<Bpe> {
        settings.check()?;
        let splitter = pretok::Splitter::new(&settings.pre_tokenizer)?;
        if (scheme == Scheme::Plain) != matches!(settings.pre_tokenizer, PreTokenizer::Regex(_)) {
            return Err(Error::Invalid(
                "the regex pre-tokenizer goes with words without end marks, and only it".into(),
            ));
        }
        let mut tokens = reserved_tokens(&settings, scheme);
        let byte_base = settings.byte_fallback.then(|| tokens.len() as u32 - 256);
        let mut by_display: FxHashMap<String, u32> = FxHashMap::default();
        for (id, t) in tokens.iter().enumerate() {
            if by_display.insert(t.display(), id as u32).is_some() {
                return Err(Error::Invalid(format!(
                    "special token {:?} appears twice",
                    t.display()
                )));
            }
        }
        let mut symbol_ids = FxHashMap::default();
        for &(c, ends) in &alphabet {
            if ends && scheme != Scheme::Suffix {
                return Err(Error::Invalid(format!(
                    "alphabet symbol {c:?} ends a word, which only the end-of-word scheme has"
                )));
            }
            let id = tokens.len() as u32;
            let token = Token::new(c.to_string(), ends, Kind::Text);
            if symbol_ids.insert((c, ends), id).is_some() {
                return Err(Error::Invalid(format!(
                    "symbol {:?} appears twice in the alphabet",
                    token.display()
                )));
            }
            if scheme != Scheme::Legacy && by_display.insert(token.display(), id).is_some() {
                return Err(Error::Invalid(format!(
                    "alphabet symbol {:?} is also a special token",
                    token.display()
                )));
            }
            tokens.push(token);
        }
        let mut ranks = FxHashMap::default();
        let mut merge_ids = Vec::with_capacity(merges.len());
        for (rank, &(a, b)) in merges.iter().enumerate() {
            let n = tokens.len() as u32;
            let valid = |id: u32| {
                id < n && tokens[id as usize].kind == Kind::Text
                    || (scheme == Scheme::Legacy && id == 2)
            };
            if !valid(a) || !valid(b) || (scheme == Scheme::Legacy && a == 2) {
                return Err(Error::Invalid(format!(
                    "merge {rank} ({a}, {b}) refers to a token that is not a text token made before it"
                )));
            }
            let (left, right) = (&tokens[a as usize], &tokens[b as usize]);
            if left.ends_word {
                return Err(Error::Invalid(format!(
                    "merge {rank} ({a}, {b}): its left token {:?} already ends a word",
                    left.display()
                )));
            }
            if ranks.insert(pair_key(a, b), rank as u32).is_some() {
                return Err(Error::Invalid(format!(
                    "merge {rank} ({a}, {b}) repeats an earlier merge"
                )));
            }
            let merged = Token::new(
                format!("{}{}", left.text, right.text),
                right.ends_word,
                Kind::Text,
            );
            // Version 1 gave every merge a new id; since version 2 a token string has one id.
            let existing = (scheme != Scheme::Legacy)
                .then(|| by_display.get(&merged.display()).copied())
                .flatten();
            let id = match existing {
                Some(id) if tokens[id as usize].kind == Kind::Text => id,
                Some(_) => {
                    return Err(Error::Invalid(format!(
                        "merge {rank} makes {:?}, the name of a special or byte token",
                        merged.display()
                    )))
                }
                None => {
                    by_display.insert(merged.display(), n);
                    tokens.push(merged);
                    n
                }
            };
            merge_ids.push(id);
        }
        let mut specials: Vec<(String, u32)> = settings
            .special_tokens
            .iter()
            .map(|s| (s.clone(), by_display[s]))
            .collect();
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        let id_of = |name: &Option<String>| name.as_ref().map(|s| by_display[s]);
        Ok(Bpe {
            bos_id: id_of(&settings.bos_token),
            eos_id: id_of(&settings.eos_token),
            settings,
            scheme,
            splitter,
            alphabet,
            merges,
            merge_ids,
            tokens,
            symbol_ids,
            ranks,
            byte_base,
            specials,
        })
    }

    pub fn settings(&self) -> &TrainSettings {
        &self.settings
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The initial symbols known to the tokenizer, in id order.
    pub fn alphabet(&self) -> &[Symbol] {
        &self.alphabet
    }

    /// The merges in the order they were learned, as pairs of token ids.
    pub fn merges(&self) -> &[(u32, u32)] {
        &self.merges
    }

    /// The token made by each merge.
    pub fn merge_ids(&self) -> &[u32] {
        &self.merge_ids
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    pub fn token(&self, id: u32) -> Option<&Token> {
        self.tokens.get(id as usize)
    }

    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// Looks a token up by its display form (`"th"`, `"e</w>"`, `"<unk>"`).
    pub fn token_to_id(&self, display: &str) -> Option<u32> {
        self.tokens
            .iter()
            .position(|t| {
                if t.ends_word {
                    display.strip_suffix(EOW_SUFFIX) == Some(t.text.as_str())
                } else {
                    display == t.text
                }
            })
            .map(|i| i as u32)
    }
}

/// Runs `f` on a rayon pool of `threads` threads (`None`: one per core). Pools are built once
/// per size and process, and kept, so small batches do not pay for thread start-up. rayon's
/// global pool is never used: its threads do not exist in a process forked from this one (a
/// `DataLoader` worker), where work on it would wait for ever. In a forked child the default is
/// one thread (many workers each running a pool of all cores would only fight), on a pool built
/// in that child.
pub fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> T {
    type Pools = Mutex<(u32, FxHashMap<usize, Arc<rayon::ThreadPool>>)>;
    static POOLS: OnceLock<Pools> = OnceLock::new();
    static FIRST_PID: OnceLock<u32> = OnceLock::new();
    let pid = std::process::id();
    let forked = *FIRST_PID.get_or_init(|| pid) != pid;
    let n = match threads.filter(|&n| n > 0) {
        Some(n) => n,
        None if forked => 1,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let pool = {
        let mut pools = POOLS
            .get_or_init(|| Mutex::new((pid, FxHashMap::default())))
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if pools.0 != pid {
            // Pools made before a fork: their threads are gone here. Forget them without
            // dropping (dropping would wait on threads that do not exist).
            std::mem::forget(std::mem::take(&mut pools.1));
            pools.0 = pid;
        }
        match pools.1.get(&n) {
            Some(p) => p.clone(),
            None => {
                let built = rayon::ThreadPoolBuilder::new().num_threads(n).build();
                match built {
                    Ok(p) => {
                        let p = Arc::new(p);
                        pools.1.insert(n, p.clone());
                        p
                    }
                    Err(_) => return f(), // no threads to be had: the work runs on this one
                }
            }
        }
    };
    pool.install(f)
}
