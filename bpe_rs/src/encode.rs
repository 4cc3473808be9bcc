//! Encoding and decoding.
//!
//! A word is encoded by repeatedly merging the adjacent pair with the lowest merge rank
//! (leftmost first), with a heap over candidate pairs so long words stay O(n log n).
//! This gives exactly the result of replaying the merges in training order, because a
//! merge can only create pairs that contain its new token, whose ranks are higher.
//!
//! Words repeat a lot, so encodings are cached per word: a shared cache for [`Bpe::encode`],
//! and one cache per parallel chunk for the batch functions (no locking on the hot path).

use crate::{pair_key, Bpe, Error, Result, EOW_ID, PAD_ID, UNK_ID};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const NONE: usize = usize::MAX;

/// Reusable buffers for encoding one word.
#[derive(Default)]
struct Scratch {
    ids: Vec<u32>,
    next: Vec<usize>,
    prev: Vec<usize>,
    heap: BinaryHeap<Reverse<(u32, usize)>>,
}

/// Per-chunk word cache used by the batch encoders.
type WordCache<'a> = FxHashMap<&'a str, Vec<u32>>;

impl Bpe {
    /// Encodes one word (no whitespace inside), appending its ids to `out`.
    fn encode_word_into(&self, word: &str, s: &mut Scratch, out: &mut Vec<u32>) {
        s.ids.clear();
        s.ids.extend(
            word.chars()
                .map(|c| self.char_ids.get(&c).copied().unwrap_or(UNK_ID)),
        );
        s.ids.push(EOW_ID);
        let n = s.ids.len();
        s.next.clear();
        s.next
            .extend((1..=n).map(|i| if i == n { NONE } else { i }));
        s.prev.clear();
        s.prev
            .extend((0..n).map(|i| if i == 0 { NONE } else { i - 1 }));
        s.heap.clear();
        for i in 0..n - 1 {
            if let Some(&r) = self.ranks.get(&pair_key(s.ids[i], s.ids[i + 1])) {
                s.heap.push(Reverse((r, i)));
            }
        }
        let first = self.first_merge_id();
        while let Some(Reverse((rank, pos))) = s.heap.pop() {
            // Entries go stale when a neighbour was merged away; check the pair is still there.
            let nx = s.next[pos];
            if s.ids[pos] == u32::MAX || nx == NONE {
                continue;
            }
            if self.ranks.get(&pair_key(s.ids[pos], s.ids[nx])) != Some(&rank) {
                continue;
            }
            let new_id = first + rank;
            s.ids[pos] = new_id;
            s.ids[nx] = u32::MAX; // removed
            let after = s.next[nx];
            s.next[pos] = after;
            if after != NONE {
                s.prev[after] = pos;
                if let Some(&r) = self.ranks.get(&pair_key(new_id, s.ids[after])) {
                    s.heap.push(Reverse((r, pos)));
                }
            }
            let before = s.prev[pos];
            if before != NONE {
                if let Some(&r) = self.ranks.get(&pair_key(s.ids[before], new_id)) {
                    s.heap.push(Reverse((r, before)));
                }
            }
        }
        out.extend(s.ids.iter().copied().filter(|&id| id != u32::MAX));
    }

    /// Encodes a text with a per-call cache borrowed from the caller.
    fn encode_cached<'a>(
        &self,
        text: &'a str,
        cache: &mut WordCache<'a>,
        s: &mut Scratch,
        out: &mut Vec<u32>,
    ) {
        for word in text.split_whitespace() {
            if let Some(ids) = cache.get(word) {
                out.extend_from_slice(ids);
            } else {
                let start = out.len();
                self.encode_word_into(word, s, out);
                cache.insert(word, out[start..].to_vec());
            }
        }
    }

    /// Encodes one text. Thread-safe; uses the tokenizer's shared word cache.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3);
        let mut s = Scratch::default();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > crate::CACHE_LIMIT {
            cache.clear();
        }
        for word in text.split_whitespace() {
            if let Some(ids) = cache.get(word) {
                out.extend_from_slice(ids);
            } else {
                let start = out.len();
                self.encode_word_into(word, &mut s, &mut out);
                cache.insert(word.to_owned(), out[start..].to_vec());
            }
        }
        out
    }

    /// Encodes many texts in parallel on the current rayon pool.
    pub fn encode_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Vec<Vec<u32>> {
        texts
            .par_chunks(chunk_size(texts.len()))
            .flat_map_iter(|chunk| {
                let mut cache = WordCache::default();
                let mut s = Scratch::default();
                chunk
                    .iter()
                    .map(|t| {
                        let mut out = Vec::with_capacity(t.as_ref().len() / 3);
                        self.encode_cached(t.as_ref(), &mut cache, &mut s, &mut out);
                        out
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Encodes many texts into one flat id buffer plus `texts.len() + 1` offsets:
    /// the ids of text `i` are `ids[offsets[i]..offsets[i + 1]]`.
    pub fn encode_batch_flat<S: AsRef<str> + Sync>(&self, texts: &[S]) -> (Vec<u32>, Vec<u64>) {
        let parts: Vec<(Vec<u32>, Vec<u64>)> = texts
            .par_chunks(chunk_size(texts.len()))
            .map(|chunk| {
                let mut cache = WordCache::default();
                let mut s = Scratch::default();
                let mut ids = Vec::new();
                let mut lens = Vec::with_capacity(chunk.len());
                for t in chunk {
                    let start = ids.len();
                    self.encode_cached(t.as_ref(), &mut cache, &mut s, &mut ids);
                    lens.push((ids.len() - start) as u64);
                }
                (ids, lens)
            })
            .collect();
        let total = parts.iter().map(|p| p.0.len()).sum();
        let mut ids = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(texts.len() + 1);
        offsets.push(0u64);
        for (part_ids, lens) in parts {
            ids.extend_from_slice(&part_ids);
            for l in lens {
                offsets.push(offsets.last().unwrap() + l);
            }
        }
        (ids, offsets)
    }

    /// Turns ids back into text: tokens are concatenated, a space follows each word end,
    /// `<pad>` is skipped and `<unk>` becomes U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let mut out = String::new();
        for &id in ids {
            let token = self.tokens.get(id as usize).ok_or(Error::UnknownId(id))?;
            match id {
                PAD_ID => continue,
                UNK_ID => out.push('\u{FFFD}'),
                _ => out.push_str(&token.text),
            }
            if token.ends_word {
                out.push(' ');
            }
        }
        if out.ends_with(' ') {
            out.pop();
        }
        Ok(out)
    }
}

/// Chunks big enough that each chunk's word cache pays off, small enough to balance threads.
fn chunk_size(n: usize) -> usize {
    let parts = rayon::current_num_threads() * 4;
    n.div_ceil(parts).clamp(1, 4096)
}
