//! Hugging Face `tokenizers` files (`tokenizer.json`): a BPE model with `end_of_word_suffix`
//! `</w>` (or none, for the regex pre-tokenizer), the matching pre-tokenizer and decoder. A
//! tokenizer loaded from the file by `tokenizers.Tokenizer.from_file` gives the ids bpe_rs
//! gives. [`Bpe::from_hf_json`] reads files of the shape [`Bpe::to_hf_json`] writes.

use crate::pretok::PUNCT_PATTERN;
use crate::{
    Bpe, Error, Kind, PreTokenizer, Result, Scheme, Symbol, TrainSettings, EOW_SUFFIX, PAD, UNK,
};
use serde_json::{json, Value};
use std::path::Path;

fn split(pattern: &str) -> Value {
    json!({"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": false})
}

impl Bpe {
    /// The tokenizer in Hugging Face's `tokenizer.json` format.
    pub fn to_hf_json(&self) -> Result<String> {
        if self.scheme == Scheme::Legacy {
            return Err(Error::Invalid(
                "a version 1 tokenizer (a separate </w> symbol) has no Hugging Face form: train it again".into(),
            ));
        }
        let mut vocab = serde_json::Map::new();
        for (id, t) in self.tokens.iter().enumerate() {
            if vocab.insert(t.display(), json!(id)).is_some() {
                return Err(Error::Invalid(format!(
                    "token {:?} has two ids, which a Hugging Face vocabulary cannot hold",
                    t.display()
                )));
            }
        }
        let show = |id: u32| self.tokens[id as usize].display();
        let merges: Vec<Value> = self
            .merges
            .iter()
            .map(|&(a, b)| json!([show(a), show(b)]))
            .collect();
        let added: Vec<Value> = self
            .tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| t.kind == Kind::Special)
            .map(|(id, t)| {
                json!({"id": id, "content": t.text, "single_word": false, "lstrip": false,
                       "rstrip": false, "normalized": false, "special": true})
            })
            .collect();
        let pre_tokenizer = match &self.settings.pre_tokenizer {
            PreTokenizer::Whitespace => json!({"type": "WhitespaceSplit"}),
            PreTokenizer::Punct => json!({"type": "Sequence", "pretokenizers": [
                {"type": "WhitespaceSplit"}, split(PUNCT_PATTERN)]}),
            PreTokenizer::Regex(p) => split(p),
        };
        let (suffix, decoder) = match self.scheme {
            Scheme::Plain => (Value::Null, json!({"type": "Fuse"})),
            _ => (
                json!(EOW_SUFFIX),
                json!({"type": "BPEDecoder", "suffix": EOW_SUFFIX}),
            ),
        };
        let file = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": pre_tokenizer,
            "post_processor": null,
            "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, decoder]},
            "model": {
                "type": "BPE", "dropout": null, "unk_token": UNK, "continuing_subword_prefix": null,
                "end_of_word_suffix": suffix, "fuse_unk": false, "byte_fallback": self.settings.byte_fallback,
                "ignore_merges": false, "vocab": vocab, "merges": merges,
            },
        });
        Ok(file.to_string())
    }

    /// Reads a Hugging Face `tokenizer.json` of the shape [`Bpe::to_hf_json`] writes.
    pub fn from_hf_json(bytes: &[u8], path: &Path) -> Result<Bpe> {
        let bad = |msg: String| Error::Format {
            path: path.to_owned(),
            msg,
        };
        let file: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let model = &file["model"];
        if model["type"] != "BPE" {
            return Err(bad(format!("model type {} is not BPE", model["type"])));
        }
        let scheme = match model["end_of_word_suffix"].as_str() {
            Some(EOW_SUFFIX) => Scheme::Suffix,
            None => Scheme::Plain,
            Some(s) => {
                return Err(bad(format!(
                    "end_of_word_suffix {s:?}: only </w> or none is read"
                )))
            }
        };
        if !model["continuing_subword_prefix"].is_null() {
            return Err(bad("continuing_subword_prefix is not supported".into()));
        }
        let pre_tokenizer = pre_tokenizer_of(&file["pre_tokenizer"]).ok_or_else(|| {
            bad(format!(
                "pre_tokenizer {} is not one that bpe_rs writes (WhitespaceSplit, the punct sequence, or one regex Split)",
                file["pre_tokenizer"]
            ))
        })?;
        if (scheme == Scheme::Plain) != matches!(pre_tokenizer, PreTokenizer::Regex(_)) {
            return Err(bad(
                "the end-of-word suffix must be set for whitespace words and only for them".into(),
            ));
        }
        let vocab = model["vocab"]
            .as_object()
            .ok_or_else(|| bad("model.vocab is not an object".into()))?;
        let mut by_id: Vec<Option<&str>> = vec![None; vocab.len()];
        for (token, id) in vocab {
            let id = id.as_u64().filter(|&i| (i as usize) < vocab.len());
            match id {
                Some(i) if by_id[i as usize].is_none() => by_id[i as usize] = Some(token),
                _ => {
                    return Err(bad(format!(
                        "vocab entry {token:?}: ids must be 0..{} once each",
                        vocab.len()
                    )))
                }
            }
        }
        let by_id: Vec<&str> = by_id.into_iter().map(|t| t.unwrap_or_default()).collect();
        if by_id.len() < 2 || by_id[0] != PAD || by_id[1] != UNK {
            return Err(bad("ids 0 and 1 must be <pad> and <unk>".into()));
        }
        let byte_fallback = model["byte_fallback"].as_bool().unwrap_or(false);
        let specials: Vec<String> = match file["added_tokens"].as_array() {
            Some(added) => added
                .iter()
                .filter_map(|t| t["content"].as_str())
                .filter(|c| *c != PAD && *c != UNK)
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        };
        let settings = TrainSettings {
            vocab_size: by_id.len(),
            min_frequency: 1,
            pre_tokenizer,
            byte_fallback,
            special_tokens: specials,
            ..TrainSettings::default()
        };
        let reserved = crate::reserved_tokens(&settings, scheme).len();
        let mut alphabet: Vec<Symbol> = Vec::new();
        let merges_json = model["merges"]
            .as_array()
            .ok_or_else(|| bad("model.merges is not a list".into()))?;
        // The alphabet: the one-character tokens after the reserved ones (a merge makes two or more).
        for &token in by_id.iter().skip(reserved) {
            let (body, ends) = match token.strip_suffix(EOW_SUFFIX) {
                Some(b) if scheme == Scheme::Suffix && !b.is_empty() => (b, true),
                _ => (token, false),
            };
            let mut chars = body.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => alphabet.push((c, ends)),
                _ => break,
            }
        }
        let mut merges = Vec::with_capacity(merges_json.len());
        for (rank, m) in merges_json.iter().enumerate() {
            let (a, b) =
                pair(m).ok_or_else(|| bad(format!("merge {rank} is not a pair of tokens")))?;
            let id = |t: &str| vocab.get(t).and_then(Value::as_u64).map(|i| i as u32);
            match (id(a), id(b)) {
                (Some(x), Some(y)) => merges.push((x, y)),
                _ => {
                    return Err(bad(format!(
                        "merge {rank} ({a:?}, {b:?}) names a token not in the vocabulary"
                    )))
                }
            }
        }
        let bpe =
            Bpe::from_parts(settings, scheme, alphabet, merges).map_err(|e| bad(e.to_string()))?;
        let same = bpe.tokens.len() == by_id.len()
            && bpe
                .tokens
                .iter()
                .zip(&by_id)
                .all(|(t, &s)| t.display() == s);
        if !same {
            return Err(bad(
                "the vocabulary is not laid out as bpe_rs lays it out (reserved tokens, bytes, alphabet, merges)".into(),
            ));
        }
        Ok(bpe)
    }
}

/// A merge as written by `tokenizers`: `["a", "b"]` or `"a b"`.
fn pair(m: &Value) -> Option<(&str, &str)> {
    match m {
        Value::Array(v) if v.len() == 2 => Some((v[0].as_str()?, v[1].as_str()?)),
        Value::String(s) => s.split_once(' '),
        _ => None,
    }
}

fn pre_tokenizer_of(p: &Value) -> Option<PreTokenizer> {
    let regex_of = |s: &Value| -> Option<String> {
        (s["type"] == "Split" && s["behavior"] == "Isolated" && s["invert"] == false)
            .then(|| s["pattern"]["Regex"].as_str().map(str::to_owned))
            .flatten()
    };
    match p["type"].as_str()? {
        "WhitespaceSplit" => Some(PreTokenizer::Whitespace),
        "Split" => regex_of(p).map(PreTokenizer::Regex),
        "Sequence" => {
            let parts = p["pretokenizers"].as_array()?;
            let punct = parts.len() == 2
                && parts[0]["type"] == "WhitespaceSplit"
                && regex_of(&parts[1]).as_deref() == Some(PUNCT_PATTERN);
            punct.then_some(PreTokenizer::Punct)
        }
        _ => None,
    }
}
