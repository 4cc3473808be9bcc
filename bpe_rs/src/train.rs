//! Training: count words once (in parallel), count pairs once, then merge with
//! *incremental* updates. After a merge only the words that contain the merged pair are
//! touched, and only the pairs around each merged position change count.
//!
//! Data structures:
//! - `words[i]`: the current symbols of the i-th distinct word, `freqs[i]` its count;
//! - `counts`: pair -> weighted count over all words;
//! - `where_`: pair -> indices of words that contained it when it was counted (may hold
//!   stale entries and duplicates; they are skipped when the pair is merged);
//! - `heap`: (count, pair) entries with lazy invalidation. An entry whose count no longer
//!   matches `counts` is re-pushed with the current count when popped. Counts only ever go
//!   down, except for pairs that contain the token just created, which are pushed fresh.
//!
//! Tie-breaking (documented and tested): the highest count wins; among equal counts the
//! pair with the smallest (left id, right id) wins. Word order is fixed by sorting the
//! distinct words, so results do not depend on the thread count or on hashing.

use crate::{pair_key, Bpe, Error, Result, EOW_ID, SPECIAL_TOKENS};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What training is asked for; stored in the tokenizer file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainSettings {
    /// Target vocabulary size, the 3 special tokens and the alphabet included.
    pub vocab_size: usize,
    /// A pair is merged only if it occurs at least this many times.
    pub min_frequency: u64,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            vocab_size: 8000,
            min_frequency: 2,
        }
    }
}

/// Progress reports: `(merges done, merges planned)`. Return `false` to stop training.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize) -> bool;

/// Counts whitespace-separated words over all documents, in parallel.
pub fn count_words<'a, S: AsRef<str> + Sync>(docs: &'a [S]) -> FxHashMap<&'a str, u64> {
    docs.par_iter()
        .fold(
            FxHashMap::default,
            |mut acc: FxHashMap<&'a str, u64>, doc| {
                for w in doc.as_ref().split_whitespace() {
                    *acc.entry(w).or_insert(0) += 1;
                }
                acc
            },
        )
        .reduce(FxHashMap::default, |mut a, mut b| {
            if a.len() < b.len() {
                std::mem::swap(&mut a, &mut b);
            }
            for (w, c) in b {
                *a.entry(w).or_insert(0) += c;
            }
            a
        })
}

impl Bpe {
    /// Trains on in-memory documents. Runs on the current rayon pool (see [`crate::with_threads`]).
    pub fn train<S: AsRef<str> + Sync>(
        docs: &[S],
        settings: TrainSettings,
        progress: Progress,
    ) -> Result<Bpe> {
        Bpe::train_from_counts(count_words(docs), settings, progress)
    }

    /// Trains on corpus files (`.tsv` with a `text` column, anything else one document per line).
    pub fn train_files<P: AsRef<std::path::Path>>(
        paths: &[P],
        settings: TrainSettings,
        progress: Progress,
    ) -> Result<Bpe> {
        let corpora = paths
            .iter()
            .map(crate::read_corpus)
            .collect::<Result<Vec<_>>>()?;
        let docs: Vec<&str> = corpora.iter().flat_map(|c| c.docs()).collect();
        Bpe::train(&docs, settings, progress)
    }

    /// Trains from word counts (word -> number of occurrences).
    pub fn train_from_counts(
        word_counts: FxHashMap<&str, u64>,
        settings: TrainSettings,
        progress: Progress,
    ) -> Result<Bpe> {
        if settings.min_frequency == 0 {
            return Err(Error::Invalid("min_frequency must be at least 1".into()));
        }
        let mut distinct: Vec<(&str, u64)> = word_counts.into_iter().collect();
        distinct.sort_unstable_by(|a, b| a.0.cmp(b.0));

        let alphabet = alphabet_of(&distinct);
        let first_id = (SPECIAL_TOKENS.len() + alphabet.len()) as u32;
        let planned = settings.vocab_size.saturating_sub(first_id as usize);
        let char_ids: FxHashMap<char, u32> = alphabet
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32 + SPECIAL_TOKENS.len() as u32))
            .collect();

        let mut state = MergeState::new(&distinct, &char_ids);
        let mut merges = Vec::with_capacity(planned);
        let report_every = (planned / 100).max(1);
        if !progress(0, planned) {
            return Err(Error::Interrupted);
        }
        while merges.len() < planned {
            let Some(pair) = state.best_pair(settings.min_frequency) else {
                break;
            };
            state.merge(pair, first_id + merges.len() as u32);
            merges.push(((pair >> 32) as u32, pair as u32));
            if (merges.len() % report_every == 0 || merges.len() == planned)
                && !progress(merges.len(), planned)
            {
                return Err(Error::Interrupted);
            }
        }
        Bpe::from_parts(settings, alphabet, merges)
    }
}

/// Every character of every word, in code-point order.
fn alphabet_of(words: &[(&str, u64)]) -> Vec<char> {
    let set: FxHashSet<char> = words
        .par_iter()
        .fold(FxHashSet::default, |mut s, (w, _)| {
            s.extend(w.chars());
            s
        })
        .reduce(FxHashSet::default, |mut a, b| {
            a.extend(b);
            a
        });
    let mut chars: Vec<char> = set.into_iter().collect();
    chars.sort_unstable();
    chars
}

struct MergeState {
    words: Vec<Vec<u32>>,
    freqs: Vec<i64>,
    counts: FxHashMap<u64, i64>,
    where_: FxHashMap<u64, Vec<u32>>,
    heap: BinaryHeap<(i64, Reverse<u64>)>,
    /// Scratch buffer for one merge's count changes: (pair, delta, word).
    changes: Vec<(u64, i64, u32)>,
}

impl MergeState {
    fn new(distinct: &[(&str, u64)], char_ids: &FxHashMap<char, u32>) -> MergeState {
        let words: Vec<Vec<u32>> = distinct
            .par_iter()
            .map(|(w, _)| {
                w.chars()
                    .map(|c| char_ids[&c])
                    .chain(std::iter::once(EOW_ID))
                    .collect()
            })
            .collect();
        let freqs: Vec<i64> = distinct.iter().map(|&(_, f)| f as i64).collect();
        let mut counts: FxHashMap<u64, i64> = FxHashMap::default();
        let mut where_: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
        for (i, w) in words.iter().enumerate() {
            for p in w.windows(2) {
                let key = pair_key(p[0], p[1]);
                *counts.entry(key).or_insert(0) += freqs[i];
                let list = where_.entry(key).or_default();
                if list.last() != Some(&(i as u32)) {
                    list.push(i as u32);
                }
            }
        }
        let heap = counts.iter().map(|(&k, &c)| (c, Reverse(k))).collect();
        MergeState {
            words,
            freqs,
            counts,
            where_,
            heap,
            changes: Vec::new(),
        }
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
            merge_word(
                &mut self.words[wi as usize],
                a,
                b,
                new_id,
                wi,
                &mut self.changes,
            );
        }
        let mut fresh: Vec<u64> = Vec::new();
        for &(key, delta, wi) in &self.changes {
            if key == pair {
                continue; // the merged pair itself is gone everywhere
            }
            let f = self.freqs[wi as usize];
            if delta > 0 {
                *self.counts.entry(key).or_insert(0) += f;
                let list = self.where_.entry(key).or_default();
                if list.last() != Some(&wi) {
                    list.push(wi);
                }
                fresh.push(key);
            } else if let Some(c) = self.counts.get_mut(&key) {
                *c -= f;
                if *c <= 0 {
                    // A pair that disappears can never come back: new pairs always
                    // contain the newest token.
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
/// records the count changes of the neighbouring pairs.
fn merge_word(
    w: &mut Vec<u32>,
    a: u32,
    b: u32,
    new_id: u32,
    wi: u32,
    changes: &mut Vec<(u64, i64, u32)>,
) {
    let n = w.len();
    let (mut i, mut out) = (0, 0);
    while i < n {
        if i + 1 < n && w[i] == a && w[i + 1] == b {
            if out > 0 {
                let prev = w[out - 1];
                changes.push((pair_key(prev, a), -1, wi));
                changes.push((pair_key(prev, new_id), 1, wi));
            }
            if i + 2 < n {
                let next = w[i + 2];
                changes.push((pair_key(b, next), -1, wi));
                changes.push((pair_key(new_id, next), 1, wi));
            }
            w[out] = new_id;
            i += 2;
        } else {
            w[out] = w[i];
            i += 1;
        }
        out += 1;
    }
    w.truncate(out);
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
            merge_word(&mut w, case[0], case[1], 99, 0, &mut changes);
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
