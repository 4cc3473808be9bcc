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
        for word in text.split_whitespace() {
            match &self.punct {
                Some(re) => re.find_iter(word).for_each(|m| f(m.as_str())),
                None => f(word),
            }
        }
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
}
