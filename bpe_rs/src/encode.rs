//! Encoding and decoding.
//!
//! A word is encoded by repeatedly merging the adjacent pair with the lowest merge rank
//! (leftmost first), with a heap over candidate pairs so long words stay O(n log n). This
//! gives exactly the result of replaying the merges in training order, and is what Hugging
//! Face's BPE model does.
//!
//! BPE-dropout (Provilkov et al., 2020): each merge about to be applied is skipped with
//! probability `dropout`; skipped merges come back after the next merge that is applied (as in
//! Hugging Face's implementation). The random numbers come from the seed and the text's index
//! in the batch, so results never depend on the thread count, and nothing is cached.
//!
//! Words repeat a lot, so encodings are cached per word: one cache per call of [`Bpe::encode`]
//! and per parallel chunk of the batch functions (no locking on the hot path).

use crate::{pair_key, Bpe, Error, Kind, Result, Scheme, PAD_ID, UNK_ID};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const NONE: usize = usize::MAX;

/// How to encode.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EncodeOptions {
    /// Special tokens written in the text become their ids (off: they are ordinary text).
    pub allow_special: bool,
    pub add_bos: bool,
    pub add_eos: bool,
    /// BPE-dropout probability, 0 <= p < 1 (0: deterministic BPE).
    pub dropout: f64,
    pub seed: u64,
}

impl EncodeOptions {
    pub fn check(&self, bpe: &Bpe) -> Result<()> {
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Invalid(format!(
                "dropout {} must be >= 0 and < 1",
                self.dropout
            )));
        }
        if self.add_bos && bpe.bos_id.is_none() {
            return Err(Error::Invalid(
                "add_bos: this tokenizer has no bos_token".into(),
            ));
        }
        if self.add_eos && bpe.eos_id.is_none() {
            return Err(Error::Invalid(
                "add_eos: this tokenizer has no eos_token".into(),
            ));
        }
        Ok(())
    }
}

/// Reusable buffers for encoding one word.
#[derive(Default)]
struct Scratch {
    ids: Vec<u32>,
    next: Vec<usize>,
    prev: Vec<usize>,
    heap: BinaryHeap<Reverse<(u32, usize)>>,
    skipped: Vec<Reverse<(u32, usize)>>,
}

/// A small deterministic generator (SplitMix64) for dropout.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, index: u64) -> Rng {
        let mut r = Rng(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A uniform number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Per-chunk word cache used by the batch encoders.
type WordCache<'a> = FxHashMap<&'a str, Vec<u32>>;

impl Bpe {
    /// The initial ids of a word: its symbols, unknown ones as bytes or `<unk>`.
    fn initial_ids(&self, word: &str, out: &mut Vec<u32>) {
        let mut chars = word.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let last = chars.peek().is_none();
            let ends = last && self.scheme == Scheme::Suffix;
            if let Some(&id) = self.symbol_ids.get(&(c, ends)) {
                out.push(id);
                continue;
            }
            match self.byte_base {
                Some(base) => {
                    let text = &word[i..i + c.len_utf8()];
                    out.extend(text.bytes().map(|b| base + b as u32));
                    if ends {
                        // As Hugging Face: the bytes of the symbol as shown, end mark included.
                        out.extend(crate::EOW_SUFFIX.bytes().map(|b| base + b as u32));
                    }
                }
                None => out.push(UNK_ID),
            }
        }
        if self.scheme == Scheme::Legacy {
            out.push(2);
        }
    }

    /// Encodes one word (no whitespace inside), appending its ids to `out`.
    fn encode_word_into(
        &self,
        word: &str,
        s: &mut Scratch,
        rng: Option<(&mut Rng, f64)>,
        out: &mut Vec<u32>,
    ) {
        s.ids.clear();
        self.initial_ids(word, &mut s.ids);
        let n = s.ids.len();
        s.next.clear();
        s.next
            .extend((1..=n).map(|i| if i == n { NONE } else { i }));
        s.prev.clear();
        s.prev
            .extend((0..n).map(|i| if i == 0 { NONE } else { i - 1 }));
        s.heap.clear();
        s.skipped.clear();
        for i in 0..n.saturating_sub(1) {
            if let Some(&r) = self.ranks.get(&pair_key(s.ids[i], s.ids[i + 1])) {
                s.heap.push(Reverse((r, i)));
            }
        }
        let mut rng = rng;
        while let Some(Reverse((rank, pos))) = s.heap.pop() {
            // Entries go stale when a neighbour was merged away; check the pair is still there.
            let nx = s.next[pos];
            if s.ids[pos] == u32::MAX || nx == NONE {
                continue;
            }
            if self.ranks.get(&pair_key(s.ids[pos], s.ids[nx])) != Some(&rank) {
                continue;
            }
            if let Some((r, p)) = rng.as_mut() {
                if r.unit() < *p {
                    s.skipped.push(Reverse((rank, pos)));
                    continue;
                }
            }
            let new_id = self.merge_ids[rank as usize];
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
            s.heap.extend(s.skipped.drain(..));
        }
        out.extend(s.ids.iter().copied().filter(|&id| id != u32::MAX));
    }

    /// Calls `f` on each piece of `text`: `Ok(id)` for a special token written in the text
    /// (when allowed), `Err(words)` for the text between them.
    fn for_each_segment<'t>(
        &self,
        text: &'t str,
        allow: bool,
        mut f: impl FnMut(std::result::Result<u32, &'t str>),
    ) {
        if !allow || self.specials.is_empty() {
            return f(Err(text));
        }
        let mut rest = text;
        loop {
            // The earliest special token in the rest; the longest one where several start there.
            let found = self
                .specials
                .iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|at| (at, s.len(), *id)))
                .min_by_key(|&(at, len, _)| (at, Reverse(len)));
            match found {
                Some((at, len, id)) => {
                    if at > 0 {
                        f(Err(&rest[..at]));
                    }
                    f(Ok(id));
                    rest = &rest[at + len..];
                }
                None => {
                    if !rest.is_empty() {
                        f(Err(rest));
                    }
                    return;
                }
            }
        }
    }

    /// Encodes a text with a cache borrowed from the caller (`index`: the text's place in its
    /// batch, for dropout's random numbers).
    fn encode_with<'a>(
        &self,
        text: &'a str,
        opts: &EncodeOptions,
        index: u64,
        cache: &mut WordCache<'a>,
        s: &mut Scratch,
        out: &mut Vec<u32>,
    ) {
        if let (true, Some(id)) = (opts.add_bos, self.bos_id) {
            out.push(id);
        }
        let mut rng = Rng::new(opts.seed, index);
        self.for_each_segment(text, opts.allow_special, |seg| match seg {
            Ok(id) => out.push(id),
            Err(part) => self.splitter.for_each(part, |word| {
                if opts.dropout > 0.0 {
                    self.encode_word_into(word, s, Some((&mut rng, opts.dropout)), out);
                } else if let Some(ids) = cache.get(word) {
                    out.extend_from_slice(ids);
                } else {
                    let start = out.len();
                    self.encode_word_into(word, s, None, out);
                    cache.insert(word, out[start..].to_vec());
                }
            }),
        });
        if let (true, Some(id)) = (opts.add_eos, self.eos_id) {
            out.push(id);
        }
    }

    /// Encodes one text (words repeated inside it are encoded once).
    pub fn encode(&self, text: &str, opts: &EncodeOptions) -> Result<Vec<u32>> {
        opts.check(self)?;
        let mut out = Vec::with_capacity(text.len() / 3);
        let mut s = Scratch::default();
        self.encode_with(text, opts, 0, &mut WordCache::default(), &mut s, &mut out);
        Ok(out)
    }

    /// Encodes many texts in parallel on the current rayon pool.
    pub fn encode_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        opts: &EncodeOptions,
    ) -> Result<Vec<Vec<u32>>> {
        opts.check(self)?;
        let size = chunk_size(texts.len());
        Ok(texts
            .par_chunks(size)
            .enumerate()
            .flat_map_iter(|(c, chunk)| {
                let mut cache = WordCache::default();
                let mut s = Scratch::default();
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let mut out = Vec::with_capacity(t.as_ref().len() / 3);
                        let index = (c * size + i) as u64;
                        self.encode_with(t.as_ref(), opts, index, &mut cache, &mut s, &mut out);
                        out
                    })
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// Encodes many texts into one flat id buffer plus `texts.len() + 1` offsets:
    /// the ids of text `i` are `ids[offsets[i]..offsets[i + 1]]`.
    pub fn encode_batch_flat<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        opts: &EncodeOptions,
    ) -> Result<(Vec<u32>, Vec<u64>)> {
        opts.check(self)?;
        let size = chunk_size(texts.len());
        let parts: Vec<(Vec<u32>, Vec<u64>)> = texts
            .par_chunks(size)
            .enumerate()
            .map(|(c, chunk)| {
                let mut cache = WordCache::default();
                let mut s = Scratch::default();
                let mut ids = Vec::new();
                let mut lens = Vec::with_capacity(chunk.len());
                for (i, t) in chunk.iter().enumerate() {
                    let start = ids.len();
                    let index = (c * size + i) as u64;
                    self.encode_with(t.as_ref(), opts, index, &mut cache, &mut s, &mut ids);
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
                offsets.push(offsets.last().copied().unwrap_or(0) + l);
            }
        }
        Ok((ids, offsets))
    }

    /// Turns ids back into text. Tokens are concatenated; runs of byte tokens are decoded as
    /// UTF-8; in the end-of-word schemes each word end becomes a space (the last one dropped).
    /// `<pad>` is skipped, `<unk>` becomes U+FFFD, and the user's special tokens are kept as
    /// their text unless `skip_special`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        let mut out = String::new();
        let mut bytes: Vec<u8> = Vec::new();
        let flush = |bytes: &mut Vec<u8>, out: &mut String| {
            if !bytes.is_empty() {
                out.push_str(&String::from_utf8_lossy(bytes));
                bytes.clear();
            }
        };
        for &id in ids {
            let token = self.tokens.get(id as usize).ok_or(Error::UnknownId(id))?;
            if let Kind::Byte(b) = token.kind {
                bytes.push(b);
                continue;
            }
            flush(&mut bytes, &mut out);
            match (token.kind, id) {
                (_, PAD_ID) => {}
                (_, UNK_ID) => out.push('\u{FFFD}'),
                (Kind::Special, _) if token.ends_word => out.push_str(crate::EOW_SUFFIX),
                (Kind::Special, _) if skip_special => {}
                _ => out.push_str(&token.display()),
            }
        }
        flush(&mut bytes, &mut out);
        if self.scheme == Scheme::Plain {
            return Ok(out);
        }
        let mut text = out.replace(crate::EOW_SUFFIX, " ");
        if text.ends_with(' ') {
            text.pop();
        }
        Ok(text)
    }
}

/// Chunks big enough that each chunk's word cache pays off, small enough to balance threads.
fn chunk_size(n: usize) -> usize {
    let parts = rayon::current_num_threads() * 4;
    n.div_ceil(parts).clamp(1, 4096)
}
