//! Pre-tokenizers: how text is cut into the words that BPE merges inside.
//!
//! - `whitespace`: runs of non-whitespace (Rust's `char::is_whitespace`, as Hugging Face's
//!   `WhitespaceSplit`).
//! - `punct`: each whitespace word cut further into runs of letters (with their combining
//!   marks), runs of digits, and runs of anything else: `(world,` -> `(`, `world`, `,`.
//! - `regex`: a user pattern (e.g. GPT-2's). Every match is a word, and so is the text between
//!   two matches (Hugging Face's `Split` with `Isolated` behaviour), so nothing is dropped and
//!   decoding concatenates. Lookaround is supported (fancy-regex).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The `punct` mode's pattern, applied inside whitespace words.
pub const PUNCT_PATTERN: &str = r"[\p{L}\p{M}]+|\p{N}+|[^\p{L}\p{M}\p{N}]+";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreTokenizer {
    Whitespace,
    Punct,
    Regex(String),
}

impl PreTokenizer {
    pub fn name(&self) -> &str {
        match self {
            PreTokenizer::Whitespace => "whitespace",
            PreTokenizer::Punct => "punct",
            PreTokenizer::Regex(_) => "regex",
        }
    }
}

/// A compiled pre-tokenizer.
#[derive(Debug)]
pub(crate) struct Splitter {
    punct: Option<regex::Regex>,
    user: Option<fancy_regex::Regex>,
}

impl Splitter {
    pub fn new(kind: &PreTokenizer) -> Result<Splitter> {
        Ok(match kind {
            PreTokenizer::Whitespace => Splitter {
                punct: None,
                user: None,
            },
            PreTokenizer::Punct => Splitter {
                punct: Some(regex::Regex::new(PUNCT_PATTERN).expect("a fixed, tested pattern")),
                user: None,
            },
            PreTokenizer::Regex(pattern) => {
                if pattern.is_empty() {
                    return Err(Error::Invalid(
                        "the regex pre-tokenizer needs a pattern".into(),
                    ));
                }
                let re = fancy_regex::Regex::new(pattern).map_err(|e| {
                    Error::Invalid(format!("regex {pattern:?} does not compile: {e}"))
                })?;
                Splitter {
                    punct: None,
                    user: Some(re),
                }
            }
        })
    }

    /// Calls `f` on each word of `text`, in order.
    pub fn for_each<'t>(&self, text: &'t str, mut f: impl FnMut(&'t str)) {
        if let Some(re) = &self.user {
            let mut last = 0;
            for m in re.find_iter(text) {
                let Ok(m) = m else {
                    break; // the backtracking limit: the rest is one word, below
                };
                if m.start() > last {
                    f(&text[last..m.start()]);
                }
                if m.end() > m.start() {
                    f(m.as_str());
                }
                last = m.end();
            }
            if last < text.len() {
                f(&text[last..]);
            }
            return;
        }
        match &self.punct {
            Some(re) => {
                split_whitespace(text, |word| re.find_iter(word).for_each(|m| f(m.as_str())))
            }
            None => split_whitespace(text, f),
        }
    }
}

/// `str::split_whitespace`, calling `f` on each word: ASCII bytes are classified by a table,
/// only other characters are decoded.
#[inline]
fn split_whitespace<'t>(text: &'t str, mut f: impl FnMut(&'t str)) {
    // `char::is_whitespace` on ASCII: tab, line feed, vertical tab, form feed, carriage return
    // and space (the test checks this against std for every character below U+3100).
    const WHITESPACE: [bool; 128] = {
        let mut table = [false; 128];
        table[b'\t' as usize] = true;
        table[b'\n' as usize] = true;
        table[0x0b] = true;
        table[0x0c] = true;
        table[b'\r' as usize] = true;
        table[b' ' as usize] = true;
        table
    };
    let bytes = text.as_bytes();
    let (mut i, mut start) = (0, None);
    while i < bytes.len() {
        let b = bytes[i];
        let (space, width) = if b < 128 {
            (WHITESPACE[b as usize], 1)
        } else {
            // `i` is always a character boundary: it moves by whole characters.
            let c = text[i..].chars().next().expect("not at the end");
            (c.is_whitespace(), c.len_utf8())
        };
        if space {
            if let Some(s) = start.take() {
                f(&text[s..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
        i += width;
    }
    if let Some(s) = start {
        f(&text[s..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(kind: PreTokenizer, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        Splitter::new(&kind)
            .unwrap()
            .for_each(text, |w| out.push(w.to_string()));
        out
    }

    #[test]
    fn the_three_modes() {
        let text = " Hello, (world) 42nd  café\u{301}! ";
        assert_eq!(
            words(PreTokenizer::Whitespace, text),
            ["Hello,", "(world)", "42nd", "café\u{301}!"]
        );
        assert_eq!(
            words(PreTokenizer::Punct, text),
            [
                "Hello",
                ",",
                "(",
                "world",
                ")",
                "42",
                "nd",
                "café\u{301}",
                "!"
            ]
        );
        let gaps = words(PreTokenizer::Regex(r"\p{L}+".into()), "ab, cd");
        assert_eq!(gaps, ["ab", ", ", "cd"]); // the text between matches is a word too
        let gpt2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
        assert_eq!(
            words(PreTokenizer::Regex(gpt2.into()), "It's  a test"),
            ["It", "'s", " ", " a", " test"]
        );
        assert!(Splitter::new(&PreTokenizer::Regex("(".into())).is_err());
    }

    #[test]
    fn whitespace_split_matches_std() {
        let texts = [
            "",
            "   ",
            "a",
            " a  b\tc\n",
            "x\u{85}y\u{a0}z\u{3000}w\u{2028}",
            "\u{1c}a\u{1f}b\u{b}c\u{c}d\re",
            "caf\u{e9} \u{1f600}\u{200b}x \u{feff}y",
        ];
        for text in texts {
            let mut got = Vec::new();
            split_whitespace(text, |w| got.push(w));
            assert_eq!(got, text.split_whitespace().collect::<Vec<_>>(), "{text:?}");
        }
        for c in (0..0x3100u32).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            let mut got = Vec::new();
            split_whitespace(&text, |w| got.push(w));
            assert_eq!(got, text.split_whitespace().collect::<Vec<_>>(), "{c:?}");
        }
    }
}
