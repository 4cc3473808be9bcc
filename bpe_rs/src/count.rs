//! Word counting: the first pass of training, and most of its memory traffic.
//!
//! Most words are short, so a word of at most 15 bytes is counted under an inline key (its
//! bytes and its length packed in a `u128`): looking it up hashes and compares two integers and
//! never reads the text again. Longer words are counted under their `&str`.

use crate::pretok::Splitter;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Word counts: short words under inline keys, long ones under their text (borrowed while
/// counting a block, owned once summed).
#[derive(Default)]
pub(crate) struct Counts<S> {
    short: FxHashMap<u128, u64>,
    long: FxHashMap<S, u64>,
}

const INLINE: usize = 15;

#[inline]
fn pack(word: &str) -> Option<u128> {
    let bytes = word.as_bytes();
    if bytes.len() > INLINE {
        return None;
    }
    let mut key = [0u8; 16];
    key[..bytes.len()].copy_from_slice(bytes);
    key[INLINE] = bytes.len() as u8;
    Some(u128::from_le_bytes(key))
}

fn add_short(total: &mut FxHashMap<u128, u64>, part: FxHashMap<u128, u64>) {
    for (k, c) in part {
        *total.entry(k).or_insert(0) += c;
    }
}

impl<'t> Counts<&'t str> {
    #[inline]
    fn add(&mut self, word: &'t str) {
        match pack(word) {
            Some(key) => *self.short.entry(key).or_insert(0) += 1,
            None => *self.long.entry(word).or_insert(0) += 1,
        }
    }

    /// Sums two partial counts into the larger one.
    fn sum(mut self, mut other: Self) -> Self {
        if self.short.len() < other.short.len() {
            std::mem::swap(&mut self.short, &mut other.short);
        }
        add_short(&mut self.short, other.short);
        if self.long.len() < other.long.len() {
            std::mem::swap(&mut self.long, &mut other.long);
        }
        for (w, c) in other.long {
            *self.long.entry(w).or_insert(0) += c;
        }
        self
    }
}

impl Counts<String> {
    /// Adds the word counts of `docs`, counted in parallel on the current rayon pool.
    pub fn add_docs<S: AsRef<str> + Sync>(&mut self, docs: &[S], splitter: &Splitter) {
        let part = docs
            .par_iter()
            .fold(Counts::default, |mut acc: Counts<&str>, doc| {
                splitter.for_each(doc.as_ref(), |w| acc.add(w));
                acc
            })
            .reduce(Counts::default, Counts::sum);
        add_short(&mut self.short, part.short);
        for (w, c) in part.long {
            match self.long.get_mut(w) {
                Some(n) => *n += c,
                None => {
                    self.long.insert(w.to_owned(), c);
                }
            }
        }
    }

    /// The words that occur, with their counts, in no particular order.
    pub fn into_words(self) -> Words {
        let mut words = Words::default();
        words.spans.reserve(self.short.len() + self.long.len());
        for (key, c) in self.short {
            let bytes = key.to_le_bytes();
            // The bytes of a packed `&str`: valid UTF-8.
            let w = std::str::from_utf8(&bytes[..bytes[INLINE] as usize])
                .expect("a packed word is UTF-8");
            words.push(w, c);
        }
        for (w, c) in self.long {
            words.push(&w, c);
        }
        words
    }

    pub fn into_map(self) -> FxHashMap<String, u64> {
        self.into_words()
            .iter()
            .map(|(w, c)| (w.to_owned(), c))
            .collect()
    }
}

/// Distinct words with their counts, their text in one buffer (no allocation per word).
#[derive(Default)]
pub(crate) struct Words {
    text: String,
    /// (start, end, count) of each word in `text`.
    spans: Vec<(usize, usize, u64)>,
}

impl Words {
    pub fn from_map(counts: FxHashMap<String, u64>) -> Words {
        let mut words = Words::default();
        for (w, c) in counts {
            words.push(&w, c);
        }
        words
    }

    /// Adds a word (zero counts are left out).
    fn push(&mut self, word: &str, count: u64) {
        if count > 0 {
            let start = self.text.len();
            self.text.push_str(word);
            self.spans.push((start, self.text.len(), count));
        }
    }

    fn word(&self, (start, end, count): (usize, usize, u64)) -> (&str, u64) {
        (&self.text[start..end], count)
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.spans.iter().map(|&s| self.word(s))
    }

    pub fn par_iter(&self) -> impl IndexedParallelIterator<Item = (&str, u64)> + '_ {
        self.spans.par_iter().map(|&s| self.word(s))
    }

    /// Sorts the words by their text (byte order, which is code-point order).
    pub fn sort(&mut self) {
        let text = self.text.as_bytes();
        self.spans
            .par_sort_unstable_by(|a, b| text[a.0..a.1].cmp(&text[b.0..b.1]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PreTokenizer;

    #[test]
    fn short_and_long_words_count_alike() {
        let splitter = Splitter::new(&PreTokenizer::Whitespace).unwrap();
        let long = "supercalifragilistic";
        let docs = [
            format!("a bb a {long} \u{e9}t\u{e9} 123456789012345"),
            format!("{long} a \0x 1234567890123456"),
        ];
        let mut counts = Counts::default();
        counts.add_docs(&docs, &splitter);
        let mut got: Vec<(String, u64)> = counts.into_map().into_iter().collect();
        got.sort();
        let want = [
            ("\0x", 1),
            ("123456789012345", 1),
            ("1234567890123456", 1),
            ("a", 3),
            ("bb", 1),
            (long, 2),
            ("\u{e9}t\u{e9}", 1),
        ];
        let want: Vec<(String, u64)> = want.iter().map(|&(w, c)| (w.to_string(), c)).collect();
        assert_eq!(got, want);
    }
}
