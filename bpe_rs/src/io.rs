//! Files: reading training corpora, and saving / loading tokenizers as versioned JSON.

use crate::{Bpe, Error, Result, TrainSettings, SPECIAL_TOKENS};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The version written by [`Bpe::save`]; [`Bpe::load`] refuses any other.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_NAME: &str = "bpe_rs";

/// A corpus file held in memory, with the byte ranges of its documents.
pub struct Corpus {
    text: String,
    docs: Vec<Range<usize>>,
}

impl Corpus {
    pub fn docs(&self) -> impl Iterator<Item = &str> {
        self.docs.iter().map(|r| &self.text[r.clone()])
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }
}

/// Reads a corpus: a `.tsv` file with a header row and a `text` column, or any other file
/// with one document per line. Errors name the file and the (1-based) line.
pub fn read_corpus<P: AsRef<Path>>(path: P) -> Result<Corpus> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        Error::Input {
            path: path.to_owned(),
            line,
            msg: "not valid UTF-8".into(),
        }
    })?;
    let is_tsv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    let docs = if is_tsv {
        tsv_docs(path, &text)?
    } else {
        line_docs(&text)
    };
    Ok(Corpus { text, docs })
}

/// Byte ranges of the lines of `text`, without their line endings.
fn lines(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = 0;
    text.split_inclusive('\n').map(move |line| {
        let r = start..start + line.trim_end_matches(['\n', '\r']).len();
        start += line.len();
        r
    })
}

fn line_docs(text: &str) -> Vec<Range<usize>> {
    lines(text).filter(|r| !r.is_empty()).collect()
}

fn tsv_docs(path: &Path, text: &str) -> Result<Vec<Range<usize>>> {
    let mut rows = lines(text);
    let input_err = |line, msg: String| Error::Input {
        path: path.to_owned(),
        line,
        msg,
    };
    let header = rows.next().map(|r| &text[r]).unwrap_or("");
    let columns: Vec<&str> = header.split('\t').collect();
    let col = columns
        .iter()
        .position(|c| c.trim() == "text")
        .ok_or_else(|| {
            input_err(
                1,
                format!("no 'text' column in the header (found {columns:?})"),
            )
        })?;
    let mut docs = Vec::new();
    for (i, r) in rows.enumerate() {
        if r.is_empty() {
            continue;
        }
        let row = &text[r.clone()];
        let fields: Vec<&str> = row.split('\t').collect();
        if fields.len() != columns.len() {
            return Err(input_err(
                i + 2,
                format!(
                    "expected {} tab-separated fields, found {}",
                    columns.len(),
                    fields.len()
                ),
            ));
        }
        let offset = fields[..col].iter().map(|f| f.len() + 1).sum::<usize>();
        docs.push(r.start + offset..r.start + offset + fields[col].len());
    }
    Ok(docs)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    vocab_size: usize,
    min_frequency: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenizerFile {
    format: String,
    version: u32,
    settings: FileSettings,
    special_tokens: Vec<String>,
    /// One character per entry; ids start after the special tokens.
    alphabet: Vec<String>,
    /// Ordered merges as pairs of ids; merge `i` creates id `3 + alphabet.len() + i`.
    merges: Vec<(u32, u32)>,
    /// Every token as shown to people (`e</w>` ends a word). Redundant: checked on load.
    vocab: Vec<String>,
}

impl Bpe {
    /// Writes the tokenizer as JSON. The file is written next to its destination and
    /// renamed into place, so an existing file is never left half-written.
    pub fn save<P: AsRef<Path>>(&self, path: P) -> Result<()> {
        let path = path.as_ref();
        let file = TokenizerFile {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            settings: FileSettings {
                vocab_size: self.settings.vocab_size,
                min_frequency: self.settings.min_frequency,
            },
            special_tokens: SPECIAL_TOKENS.iter().map(|s| s.to_string()).collect(),
            alphabet: self.alphabet.iter().map(|c| c.to_string()).collect(),
            merges: self.merges.clone(),
            vocab: self.tokens.iter().map(|t| t.display()).collect(),
        };
        let json = serde_json::to_vec(&file).expect("a tokenizer always serialises");
        write_atomic(path, &json)
    }

    /// Reads a tokenizer written by [`Bpe::save`], checking it thoroughly.
    pub fn load<P: AsRef<Path>>(path: P) -> Result<Bpe> {
        let path = path.as_ref();
        let bad = |msg: String| Error::Format {
            path: path.to_owned(),
            msg,
        };
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let file: TokenizerFile = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if file.format != FORMAT_NAME {
            return Err(bad(format!(
                "format is {:?}, expected {FORMAT_NAME:?}",
                file.format
            )));
        }
        if file.version != FORMAT_VERSION {
            return Err(bad(format!(
                "version {} is not supported (this build reads version {FORMAT_VERSION})",
                file.version
            )));
        }
        if file.special_tokens != SPECIAL_TOKENS {
            return Err(bad(format!(
                "special tokens are {:?}, expected {SPECIAL_TOKENS:?}",
                file.special_tokens
            )));
        }
        let alphabet = file
            .alphabet
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Ok(c),
                    _ => Err(bad(format!(
                        "alphabet entry {i} ({s:?}) is not exactly one character"
                    ))),
                }
            })
            .collect::<Result<Vec<char>>>()?;
        let settings = TrainSettings {
            vocab_size: file.settings.vocab_size,
            min_frequency: file.settings.min_frequency,
        };
        let bpe =
            Bpe::from_parts(settings, alphabet, file.merges).map_err(|e| bad(e.to_string()))?;
        if bpe.tokens.len() != file.vocab.len() {
            return Err(bad(format!(
                "vocab lists {} tokens but the alphabet and merges make {}",
                file.vocab.len(),
                bpe.tokens.len()
            )));
        }
        for (id, (token, listed)) in bpe.tokens.iter().zip(&file.vocab).enumerate() {
            if &token.display() != listed {
                return Err(bad(format!(
                    "vocab entry {id} is {listed:?} but the merges make {:?}",
                    token.display()
                )));
            }
        }
        Ok(bpe)
    }
}

/// Writes `data` to a temporary file in the destination's folder, then renames it over
/// `path`: readers see the old file or the new one, never a partial one.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let io_err = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{}: not a file path", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io_err)
}
