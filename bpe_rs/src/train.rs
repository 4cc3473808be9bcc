//! Training: count words once (in parallel, chunk by chunk: memory holds the counts, not the
//! text), count pairs once, then merge with *incremental* updates. After a merge only the words
//! that contain the merged pair are touched, and only the pairs around each merged position
//! change count.
//!
//! Data structures:
//! - `symbols`: the current symbols of every distinct word, back to back, each behind a
//!   header with its length and count; a word is named by its offset there;
//! - `counts`: pair -> weighted count over all words;
//! - `where_`: pair -> offsets of words that contained it when it was counted (may hold
//!   stale entries and duplicates; they are skipped when the pair is merged);
//! - `heap`: (count, pair) entries with lazy invalidation. An entry whose count no longer
//!   matches `counts` is re-pushed with the current count when popped; pairs whose count
//!   rises (those around a merged position) are pushed fresh.
//!
//! Tie-breaking (documented and tested): the highest count wins; among equal counts the pair
//! with the smallest (left id, right id) wins. Word order is fixed by sorting the distinct
//! words, so results do not depend on the thread count or on hashing. A merge whose string
//! already exists as a token reuses that token's id. Pairs with a symbol outside the alphabet
//! (`<unk>` in the words) are never counted: encoding never merges across such a symbol either.

use crate::count::{Counts, Words};
use crate::pretok::Splitter;
use crate::{
    pair_key, reserved_tokens, Bpe, Error, PreTokenizer, Result, Scheme, Symbol, Token,
    MAX_VOCAB_SIZE, PAD, UNK, UNK_ID,
};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What training is asked for; stored in the tokenizer file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainSettings {
    /// Target vocabulary size, the reserved tokens and the alphabet included.
    pub vocab_size: usize,
    /// A pair is merged only if it occurs at least this many times.
    pub min_frequency: u64,
    pub pre_tokenizer: PreTokenizer,
    /// Symbols outside the alphabet encode as their UTF-8 bytes instead of `<unk>`.
    pub byte_fallback: bool,
    /// The user's special tokens, reserved after `<pad>` and `<unk>`.
    pub special_tokens: Vec<String>,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    /// An initial symbol enters the alphabet only if it occurs at least this many times.
    pub min_char_frequency: u64,
    /// No token longer than this many characters is made.
    pub max_token_length: Option<usize>,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            vocab_size: 8000,
            min_frequency: 2,
            pre_tokenizer: PreTokenizer::Whitespace,
            byte_fallback: false,
            special_tokens: Vec::new(),
            bos_token: None,
            eos_token: None,
            min_char_frequency: 1,
            max_token_length: None,
        }
    }
}

impl TrainSettings {
    /// Checks every setting; called before anything is allocated.
    pub fn check(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Invalid(msg));
        if self.vocab_size > MAX_VOCAB_SIZE {
            return bad(format!(
                "vocab_size {} is larger than {MAX_VOCAB_SIZE}",
                self.vocab_size
            ));
        }
        if self.min_frequency == 0 {
            return bad("min_frequency must be at least 1".into());
        }
        if self.min_char_frequency == 0 {
            return bad("min_char_frequency must be at least 1".into());
        }
        if self.max_token_length == Some(0) {
            return bad("max_token_length must be at least 1".into());
        }
        for (i, s) in self.special_tokens.iter().enumerate() {
            if s.is_empty() || s == PAD || s == UNK || self.special_tokens[..i].contains(s) {
                return bad(format!(
                    "special token {s:?}: special tokens are non-empty, distinct, and not {PAD} or {UNK}"
                ));
            }
        }
        for (name, token) in [
            ("bos_token", &self.bos_token),
            ("eos_token", &self.eos_token),
        ] {
            if let Some(t) = token {
                if !self.special_tokens.contains(t) {
                    return bad(format!("{name} {t:?} is not one of the special tokens"));
                }
            }
        }
        Ok(())
    }

    fn scheme(&self) -> Scheme {
        match self.pre_tokenizer {
            PreTokenizer::Regex(_) => Scheme::Plain,
            _ => Scheme::Suffix,
        }
    }
}

/// Progress reports: `(merges done, merges planned)`. Return `false` to stop training.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize) -> bool;

/// Word counts of in-memory documents, in parallel on the current rayon pool.
pub fn count_words<S: AsRef<str> + Sync>(
    docs: &[S],
    pre_tokenizer: &PreTokenizer,
) -> Result<FxHashMap<String, u64>> {
    Ok(counted(docs, pre_tokenizer)?.into_map())
}

fn counted<S: AsRef<str> + Sync>(
    docs: &[S],
    pre_tokenizer: &PreTokenizer,
) -> Result<Counts<String>> {
    let splitter = Splitter::new(pre_tokenizer)?;
    let mut counts = Counts::default();
    counts.add_docs(docs, &splitter);
    Ok(counts)
}

impl Bpe {
    /// Trains on in-memory documents. Runs on the current rayon pool (see [`crate::with_threads`]).
    pub fn train<S: AsRef<str> + Sync>(
        docs: &[S],
        settings: TrainSettings,
        progress: Progress,
    ) -> Result<Bpe> {
        settings.check()?;
        let counts = counted(docs, &settings.pre_tokenizer)?;
        Bpe::train_from_words(counts.into_words(), settings, progress)
    }

    /// Trains on corpus files (`.tsv` with a `text` column, anything else one document per
    /// line), read chunk by chunk: memory holds the word counts, not the text.
    pub fn train_files<P: AsRef<std::path::Path>>(
        paths: &[P],
        settings: TrainSettings,
        progress: Progress,
    ) -> Result<Bpe> {
        settings.check()?;
        let counts = crate::io::counted_files(paths, &settings.pre_tokenizer)?;
        Bpe::train_from_words(counts.into_words(), settings, progress)
    }

    /// Trains from word counts (word -> occurrences), e.g. summed over several machines.
    pub fn train_from_counts(
        word_counts: FxHashMap<String, u64>,
        settings: TrainSettings,
        progress: Progress,
    ) -> Result<Bpe> {
        settings.check()?;
        Bpe::train_from_words(Words::from_map(word_counts), settings, progress)
    }

    /// Trains from (word, occurrences) with distinct words, in any order.
    fn train_from_words(
        mut distinct: Words,
        settings: TrainSettings,
        progress: Progress,
    ) -> Result<Bpe> {
        let scheme = settings.scheme();
        let mut tokens = reserved_tokens(&settings, scheme);
        if settings.vocab_size <= tokens.len() {
            return Err(Error::Invalid(format!(
                "vocab_size {} leaves no room: {} ids are reserved (<pad>, <unk>, special and byte tokens)",
                settings.vocab_size,
                tokens.len()
            )));
        }
        distinct.sort();

        let alphabet = alphabet_of(&distinct, scheme, settings.min_char_frequency);
        let mut by_display: FxHashMap<String, u32> = FxHashMap::default();
        for (id, t) in tokens.iter().enumerate() {
            by_display.insert(t.display(), id as u32);
        }
        let mut symbol_ids: FxHashMap<Symbol, u32> = FxHashMap::default();
        for &(c, ends) in &alphabet {
            let token = Token::new(c.to_string(), ends, crate::Kind::Text);
            if by_display.contains_key(&token.display()) {
                return Err(Error::Invalid(format!(
                    "the corpus symbol {:?} is also the name of a special token",
                    token.display()
                )));
            }
            by_display.insert(token.display(), tokens.len() as u32);
            symbol_ids.insert((c, ends), tokens.len() as u32);
            tokens.push(token);
        }

        let max_len = settings.max_token_length.unwrap_or(usize::MAX);
        let lens: Vec<usize> = tokens.iter().map(Token::chars).collect();
        let mut state = MergeState::new(&distinct, scheme, &symbol_ids, lens, max_len)?;
        drop(distinct);
        let planned = settings.vocab_size.saturating_sub(tokens.len());
        let mut merges = Vec::with_capacity(planned.min(1 << 20));
        let report_every = (planned / 100).max(1);
        if !progress(0, planned) {
            return Err(Error::Interrupted);
        }
        while tokens.len() < settings.vocab_size {
            let Some(pair) = state.best_pair(settings.min_frequency) else {
                break;
            };
            let (a, b) = ((pair >> 32) as u32, pair as u32);
            let (left, right) = (&tokens[a as usize], &tokens[b as usize]);
            let merged = Token::new(
                format!("{}{}", left.text, right.text),
                right.ends_word,
                crate::Kind::Text,
            );
            let id = match by_display.get(&merged.display()) {
                Some(&id) => id,
                None => {
                    let id = tokens.len() as u32;
                    by_display.insert(merged.display(), id);
                    state.lens.push(merged.chars());
                    tokens.push(merged);
                    id
                }
            };
            state.merge(pair, id);
            merges.push((a, b));
            let made = tokens.len() - (settings.vocab_size - planned);
            if (merges.len() % report_every == 0 || made == planned) && !progress(made, planned) {
                return Err(Error::Interrupted);
            }
        }
        Bpe::from_parts(settings, scheme, alphabet, merges)
    }
}

/// The initial symbols of a word under a scheme.
pub(crate) fn symbols(word: &str, scheme: Scheme) -> impl Iterator<Item = Symbol> + '_ {
    let mut chars = word.chars().peekable();
    std::iter::from_fn(move || {
        let c = chars.next()?;
        Some((c, scheme == Scheme::Suffix && chars.peek().is_none()))
    })
}

/// Every initial symbol seen at least `min_count` times, in code-point order (`c` before `c</w>`).
fn alphabet_of(words: &Words, scheme: Scheme, min_count: u64) -> Vec<Symbol> {
    let counts: FxHashMap<Symbol, u64> = words
        .par_iter()
        .fold(
            FxHashMap::default,
            |mut s: FxHashMap<Symbol, u64>, (w, f)| {
                for sym in symbols(w, scheme) {
                    *s.entry(sym).or_insert(0) += f;
                }
                s
            },
        )
        .reduce(FxHashMap::default, |mut a, b| {
            for (k, v) in b {
                *a.entry(k).or_insert(0) += v;
            }
            a
        });
    let mut alphabet: Vec<Symbol> = counts
        .into_iter()
        .filter(|&(_, n)| n >= min_count)
        .map(|(s, _)| s)
        .collect();
    alphabet.sort_unstable();
    alphabet
}

/// The words' symbols are stored back to back in one array, each word behind a header of
/// [`HEADER`] slots: its current length and its count (low and high half). A word is named by
/// its offset in the array, so that touching a word reads one place in memory.
const HEADER: usize = 3;

struct MergeState {
    symbols: Vec<u32>,
    counts: FxHashMap<u64, i64>,
    /// pair -> offsets of the words that contained it when it was counted.
    where_: FxHashMap<u64, Vec<u32>>,
    heap: BinaryHeap<(i64, Reverse<u64>)>,
    /// Characters per token id, and the longest token allowed.
    lens: Vec<usize>,
    max_len: usize,
    /// Scratch buffer for one merge's count changes: (pair, change of its count, word).
    changes: Vec<(u64, i64, u32)>,
}

impl MergeState {
    fn new(
        distinct: &Words,
        scheme: Scheme,
        symbol_ids: &FxHashMap<Symbol, u32>,
        lens: Vec<usize>,
        max_len: usize,
    ) -> Result<MergeState> {
        let chars: usize = distinct.par_iter().map(|(w, _)| w.chars().count()).sum();
        let total = chars + HEADER * distinct.len();
        if total > u32::MAX as usize {
            return Err(Error::Invalid(format!(
                "{} distinct words of {chars} characters in all: too many to train on at once",
                distinct.len()
            )));
        }
        // ASCII symbols by table; the rest through the map.
        let mut ascii = [[UNK_ID; 2]; 128];
        for (&(c, ends), &id) in symbol_ids {
            if c.is_ascii() {
                ascii[c as usize][ends as usize] = id;
            }
        }
        let mut all = Vec::with_capacity(total);
        for (w, freq) in distinct.iter() {
            let at = all.len();
            all.extend([0, freq as u32, (freq >> 32) as u32]);
            all.extend(symbols(w, scheme).map(|(c, ends)| {
                if c.is_ascii() {
                    ascii[c as usize][ends as usize]
                } else {
                    symbol_ids.get(&(c, ends)).copied().unwrap_or(UNK_ID)
                }
            }));
            all[at] = (all.len() - at - HEADER) as u32;
        }
        let mut state = MergeState {
            symbols: all,
            counts: FxHashMap::default(),
            where_: FxHashMap::default(),
            heap: BinaryHeap::new(),
            lens,
            max_len,
            changes: Vec::new(),
        };
        let mut at = 0;
        while at < state.symbols.len() {
            let (len, freq) = state.header(at);
            let first = at + HEADER;
            for j in first + 1..first + len {
                let (a, b) = (state.symbols[j - 1], state.symbols[j]);
                if state.countable(a, b) {
                    let key = pair_key(a, b);
                    *state.counts.entry(key).or_insert(0) += freq;
                    let list = state.where_.entry(key).or_default();
                    if list.last() != Some(&(at as u32)) {
                        list.push(at as u32);
                    }
                }
            }
            at = first + len;
        }
        state.heap = state
            .counts
            .iter()
            .map(|(&k, &c)| (c, Reverse(k)))
            .collect();
        Ok(state)
    }

    /// The current length and the count of the word at `at`.
    #[inline]
    fn header(&self, at: usize) -> (usize, i64) {
        let s = &self.symbols[at..at + HEADER];
        (s[0] as usize, (s[1] as u64 | (s[2] as u64) << 32) as i64)
    }

    /// Whether a pair may ever be merged: no `<unk>` barrier, and not too long.
    fn countable(&self, a: u32, b: u32) -> bool {
        a != UNK_ID && b != UNK_ID && self.lens[a as usize] + self.lens[b as usize] <= self.max_len
    }

    /// Pops the pair with the highest count (smallest pair on ties), if it reaches `min_count`.
    fn best_pair(&mut self, min_count: u64) -> Option<u64> {
        while let Some((stored, Reverse(key))) = self.heap.pop() {
            let current = self.counts.get(&key).copied().unwrap_or(0);
            if current == stored {
                return (current as u64 >= min_count).then_some(key);
            }
            if current > 0 {
                self.heap.push((current, Reverse(key)));
            }
        }
        None
    }

    /// Replaces every occurrence of `pair` by `new_id` and updates the counts around it.
    fn merge(&mut self, pair: u64, new_id: u32) {
        let (a, b) = ((pair >> 32) as u32, pair as u32);
        let mut affected = self.where_.remove(&pair).unwrap_or_default();
        affected.sort_unstable();
        affected.dedup();
        self.counts.remove(&pair);

        self.changes.clear();
        for &wi in &affected {
            let (len, freq) = self.header(wi as usize);
            let first = wi as usize + HEADER;
            let w = &mut self.symbols[first..first + len];
            self.symbols[wi as usize] =
                merge_word(w, a, b, new_id, wi, freq, &mut self.changes) as u32;
        }
        let mut fresh: Vec<u64> = Vec::new();
        for i in 0..self.changes.len() {
            let (key, weight, wi) = self.changes[i];
            if key == pair || !self.countable((key >> 32) as u32, key as u32) {
                continue; // the merged pair itself is gone everywhere; barriers never count
            }
            if weight > 0 {
                *self.counts.entry(key).or_insert(0) += weight;
                let list = self.where_.entry(key).or_default();
                if list.last() != Some(&wi) {
                    list.push(wi);
                }
                fresh.push(key);
            } else if let Some(c) = self.counts.get_mut(&key) {
                *c += weight;
                if *c <= 0 {
                    self.counts.remove(&key);
                    self.where_.remove(&key);
                }
            }
        }
        fresh.sort_unstable();
        fresh.dedup();
        for key in fresh {
            if let Some(&c) = self.counts.get(&key) {
                if c > 0 {
                    self.heap.push((c, Reverse(key)));
                }
            }
        }
    }
}

/// Merges `(a, b)` left to right, without overlaps, inside one word, in place, and
/// records the count changes of the neighbouring pairs. Returns the word's new length.
fn merge_word(
    w: &mut [u32],
    a: u32,
    b: u32,
    new_id: u32,
    wi: u32,
    freq: i64,
    changes: &mut Vec<(u64, i64, u32)>,
) -> usize {
    let n = w.len();
    let (mut i, mut out) = (0, 0);
    while i < n {
        if i + 1 < n && w[i] == a && w[i + 1] == b {
            if out > 0 {
                let prev = w[out - 1];
                changes.push((pair_key(prev, a), -freq, wi));
                changes.push((pair_key(prev, new_id), freq, wi));
            }
            if i + 2 < n {
                let next = w[i + 2];
                changes.push((pair_key(b, next), -freq, wi));
                changes.push((pair_key(new_id, next), freq, wi));
            }
            w[out] = new_id;
            i += 2;
        } else {
            w[out] = w[i];
            i += 1;
        }
        out += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(w: &[u32]) -> FxHashMap<u64, i64> {
        let mut m = FxHashMap::default();
        for p in w.windows(2) {
            *m.entry(pair_key(p[0], p[1])).or_insert(0) += 1;
        }
        m
    }

    /// The recorded changes must equal the difference of the pair counts before and after.
    #[test]
    fn merge_word_changes_match_recount() {
        let cases: &[&[u32]] = &[
            &[5, 5, 5],
            &[5, 5, 5, 5],
            &[5, 6, 5, 6, 7],
            &[7, 5, 6, 5, 5, 6],
            &[5, 6],
        ];
        for &case in cases {
            let mut w = case.to_vec();
            let before = pairs(&w);
            let mut changes = Vec::new();
            let n = merge_word(&mut w, case[0], case[1], 99, 0, 1, &mut changes);
            w.truncate(n);
            let mut expected = pairs(&w);
            for (k, c) in before {
                *expected.entry(k).or_insert(0) -= c;
            }
            let merged = pair_key(case[0], case[1]);
            let mut got: FxHashMap<u64, i64> = FxHashMap::default();
            for (k, d, _) in changes {
                *got.entry(k).or_insert(0) += d;
            }
            for (k, d) in expected.iter().chain(got.iter()) {
                if *k == merged {
                    continue;
                }
                assert_eq!(
                    expected.get(k).copied().unwrap_or(0),
                    got.get(k).copied().unwrap_or(0),
                    "{case:?} {d}"
                );
            }
        }
    }
}
