//! Files: corpora (read whole, or counted chunk by chunk), and tokenizers as versioned JSON.

use crate::count::Counts;
use crate::pretok::Splitter;
use crate::{Bpe, Error, PreTokenizer, Result, Scheme, Symbol, TrainSettings, EOW_SUFFIX};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The version written by [`Bpe::save`]; [`Bpe::load`] reads it and version 1.
pub const FORMAT_VERSION: u32 = 2;
const FORMAT_NAME: &str = "bpe_rs";
/// Corpus files are counted in blocks of about this many bytes.
const BLOCK: usize = 8 << 20;

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

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

fn is_tsv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
}

/// Reads a corpus: a `.tsv` file with a header row and a `text` column, or any other file
/// with one document per line. Errors name the file and the (1-based) line.
pub fn read_corpus<P: AsRef<Path>>(path: P) -> Result<Corpus> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    let text = decode_utf8(path, bytes, 0)?;
    let mut reader = Lines::new(path, is_tsv(path));
    let mut docs = Vec::new();
    reader.block(&text, 0, |r| docs.push(r))?;
    reader.finish()?;
    Ok(Corpus { text, docs })
}

fn decode_utf8(path: &Path, bytes: Vec<u8>, first_line: usize) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = first_line + valid.iter().filter(|&&b| b == b'\n').count() + 1;
        Error::Input {
            path: path.to_owned(),
            line,
            msg: "not valid UTF-8".into(),
        }
    })
}

/// Word counts of corpus files, read in blocks of whole lines: memory holds one block and
/// the counts, whatever the files' size. Runs on the current rayon pool.
pub fn count_files<P: AsRef<Path>>(
    paths: &[P],
    pre_tokenizer: &PreTokenizer,
) -> Result<FxHashMap<String, u64>> {
    Ok(counted_files(paths, pre_tokenizer)?.into_map())
}

pub(crate) fn counted_files<P: AsRef<Path>>(
    paths: &[P],
    pre_tokenizer: &PreTokenizer,
) -> Result<Counts<String>> {
    let splitter = Splitter::new(pre_tokenizer)?;
    let mut total = Counts::default();
    for path in paths {
        let path = path.as_ref();
        let mut file = std::fs::File::open(path).map_err(io_error(path))?;
        let mut reader = Lines::new(path, is_tsv(path));
        let mut carry: Vec<u8> = Vec::new();
        let mut line = 0;
        loop {
            let mut block = std::mem::take(&mut carry);
            let start = block.len();
            block.resize(start + BLOCK, 0);
            let n = read_full(&mut file, &mut block[start..]).map_err(io_error(path))?;
            block.truncate(start + n);
            let done = n == 0;
            // Cut after the last line end; the rest waits for the next block.
            if !done {
                if let Some(end) = block.iter().rposition(|&b| b == b'\n') {
                    carry = block.split_off(end + 1);
                } else {
                    carry = std::mem::take(&mut block);
                    continue;
                }
            }
            let lines_here = block.iter().filter(|&&b| b == b'\n').count();
            let text = decode_utf8(path, block, line)?;
            let mut docs: Vec<&str> = Vec::new();
            reader.block(&text, line, |r| docs.push(&text[r]))?;
            total.add_docs(&docs, &splitter);
            line += lines_here;
            if done {
                break;
            }
        }
        reader.finish()?;
    }
    Ok(total)
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Finds the documents of a corpus file's lines, block by block.
struct Lines<'p> {
    path: &'p Path,
    tsv: bool,
    /// (text column, number of columns) once the header was read.
    header: Option<(usize, usize)>,
}

impl<'p> Lines<'p> {
    fn new(path: &'p Path, tsv: bool) -> Self {
        Lines {
            path,
            tsv,
            header: None,
        }
    }

    fn err(&self, line: usize, msg: String) -> Error {
        Error::Input {
            path: self.path.to_owned(),
            line,
            msg,
        }
    }

    /// Calls `doc` with the byte range of each document in `text`, whose first line is line
    /// `first + 1` of the file.
    fn block(&mut self, text: &str, first: usize, mut doc: impl FnMut(Range<usize>)) -> Result<()> {
        let mut start = 0;
        for (i, raw) in text.split_inclusive('\n').enumerate() {
            let r = start..start + raw.trim_end_matches(['\n', '\r']).len();
            start += raw.len();
            let line_no = first + i + 1;
            let line = &text[r.clone()];
            if !self.tsv {
                if !line.is_empty() {
                    doc(r);
                }
                continue;
            }
            let Some((col, width)) = self.header else {
                let columns: Vec<&str> = line.trim_start_matches('\u{feff}').split('\t').collect();
                let col = columns
                    .iter()
                    .position(|c| c.trim() == "text")
                    .ok_or_else(|| {
                        self.err(
                            line_no,
                            format!("no 'text' column in the header (found {columns:?})"),
                        )
                    })?;
                self.header = Some((col, columns.len()));
                continue;
            };
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            if fields.len() != width {
                return Err(self.err(
                    line_no,
                    format!(
                        "expected {width} tab-separated fields, found {}",
                        fields.len()
                    ),
                ));
            }
            let offset = fields[..col].iter().map(|f| f.len() + 1).sum::<usize>();
            doc(r.start + offset..r.start + offset + fields[col].len());
        }
        Ok(())
    }

    fn finish(&self) -> Result<()> {
        if self.tsv && self.header.is_none() {
            return Err(self.err(1, "empty file: no header with a 'text' column".into()));
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    vocab_size: usize,
    min_frequency: u64,
    pre_tokenizer: PreTokenizer,
    byte_fallback: bool,
    special_tokens: Vec<String>,
    bos_token: Option<String>,
    eos_token: Option<String>,
    min_char_frequency: u64,
    max_token_length: Option<usize>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenizerFile {
    format: String,
    version: u32,
    settings: FileSettings,
    /// The initial symbols as shown (`e`, `e</w>`), in id order after the reserved tokens.
    alphabet: Vec<String>,
    /// Ordered merges as pairs of ids.
    merges: Vec<(u32, u32)>,
    /// Every token as shown. Redundant: checked on load.
    vocab: Vec<String>,
}

/// Version 1: a separate `</w>` symbol (id 2), whitespace words, no options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenizerFileV1 {
    format: String,
    version: u32,
    settings: SettingsV1,
    special_tokens: Vec<String>,
    alphabet: Vec<String>,
    merges: Vec<(u32, u32)>,
    vocab: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsV1 {
    vocab_size: usize,
    min_frequency: u64,
}

#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    version: Option<u32>,
}

impl Bpe {
    /// The tokenizer as JSON (what [`Bpe::save`] writes).
    pub fn to_json(&self) -> String {
        let s = &self.settings;
        let show = |&(c, ends): &Symbol| {
            if ends {
                format!("{c}{EOW_SUFFIX}")
            } else {
                c.to_string()
            }
        };
        let file = TokenizerFile {
            format: FORMAT_NAME.into(),
            version: if self.scheme == Scheme::Legacy {
                1
            } else {
                FORMAT_VERSION
            },
            settings: FileSettings {
                vocab_size: s.vocab_size,
                min_frequency: s.min_frequency,
                pre_tokenizer: s.pre_tokenizer.clone(),
                byte_fallback: s.byte_fallback,
                special_tokens: s.special_tokens.clone(),
                bos_token: s.bos_token.clone(),
                eos_token: s.eos_token.clone(),
                min_char_frequency: s.min_char_frequency,
                max_token_length: s.max_token_length,
            },
            alphabet: self.alphabet.iter().map(show).collect(),
            merges: self.merges.clone(),
            vocab: self.tokens.iter().map(|t| t.display()).collect(),
        };
        if self.scheme == Scheme::Legacy {
            // Written back in its own version, which has no room for options.
            let v1 = serde_json::json!({
                "format": FORMAT_NAME, "version": 1,
                "settings": {"vocab_size": s.vocab_size, "min_frequency": s.min_frequency},
                "special_tokens": ["<pad>", "<unk>", EOW_SUFFIX],
                "alphabet": file.alphabet, "merges": file.merges, "vocab": file.vocab,
            });
            return v1.to_string();
        }
        serde_json::to_string(&file).unwrap_or_default()
    }

    /// Writes the tokenizer as JSON. The file is written next to its destination and
    /// renamed into place, so an existing file is never left half-written.
    pub fn save<P: AsRef<Path>>(&self, path: P) -> Result<()> {
        write_atomic(path.as_ref(), self.to_json().as_bytes())
    }

    /// Reads a tokenizer written by [`Bpe::save`] (version 2 or 1), checking it thoroughly.
    pub fn load<P: AsRef<Path>>(path: P) -> Result<Bpe> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(io_error(path))?;
        Bpe::from_json(&bytes, path)
    }

    /// Parses the JSON of [`Bpe::to_json`]; errors name `path`.
    pub fn from_json(bytes: &[u8], path: &Path) -> Result<Bpe> {
        let bad = |msg: String| Error::Format {
            path: path.to_owned(),
            msg,
        };
        let head: Header = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if head.format.as_deref() != Some(FORMAT_NAME) {
            return Err(bad(format!(
                "format is {:?}, expected {FORMAT_NAME:?}",
                head.format
            )));
        }
        let (settings, scheme, alphabet, merges, vocab) = match head.version {
            Some(1) => {
                let f: TokenizerFileV1 =
                    serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
                debug_assert_eq!((f.format.as_str(), f.version), (FORMAT_NAME, 1));
                if f.special_tokens != ["<pad>", "<unk>", EOW_SUFFIX] {
                    return Err(bad(format!(
                        "special tokens are {:?}, expected [\"<pad>\", \"<unk>\", \"</w>\"]",
                        f.special_tokens
                    )));
                }
                let settings = TrainSettings {
                    vocab_size: f.settings.vocab_size,
                    min_frequency: f.settings.min_frequency,
                    ..TrainSettings::default()
                };
                let alphabet = parse_alphabet(&f.alphabet, false).map_err(bad)?;
                (settings, Scheme::Legacy, alphabet, f.merges, f.vocab)
            }
            Some(FORMAT_VERSION) => {
                let f: TokenizerFile =
                    serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
                let s = f.settings;
                let settings = TrainSettings {
                    vocab_size: s.vocab_size,
                    min_frequency: s.min_frequency,
                    pre_tokenizer: s.pre_tokenizer,
                    byte_fallback: s.byte_fallback,
                    special_tokens: s.special_tokens,
                    bos_token: s.bos_token,
                    eos_token: s.eos_token,
                    min_char_frequency: s.min_char_frequency,
                    max_token_length: s.max_token_length,
                };
                settings.check().map_err(|e| bad(e.to_string()))?;
                Splitter::new(&settings.pre_tokenizer).map_err(|e| bad(e.to_string()))?;
                let scheme = match settings.pre_tokenizer {
                    PreTokenizer::Regex(_) => Scheme::Plain,
                    _ => Scheme::Suffix,
                };
                let alphabet =
                    parse_alphabet(&f.alphabet, scheme == Scheme::Suffix).map_err(bad)?;
                (settings, scheme, alphabet, f.merges, f.vocab)
            }
            v => {
                return Err(bad(format!(
                "version {} is not supported (this build reads versions 1 and {FORMAT_VERSION})",
                v.map_or("none".into(), |v| v.to_string())
            )))
            }
        };
        let bpe =
            Bpe::from_parts(settings, scheme, alphabet, merges).map_err(|e| bad(e.to_string()))?;
        if bpe.tokens.len() != vocab.len() {
            return Err(bad(format!(
                "vocab lists {} tokens but the settings, alphabet and merges make {}",
                vocab.len(),
                bpe.tokens.len()
            )));
        }
        for (id, (token, listed)) in bpe.tokens.iter().zip(&vocab).enumerate() {
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

/// Alphabet entries: one character, with `</w>` after it where the scheme marks word ends.
fn parse_alphabet(entries: &[String], suffix: bool) -> std::result::Result<Vec<Symbol>, String> {
    entries
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (body, ends) = match s.strip_suffix(EOW_SUFFIX) {
                Some(b) if suffix && !b.is_empty() => (b, true),
                _ => (s.as_str(), false),
            };
            let mut chars = body.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok((c, ends)),
                _ => Err(format!(
                    "alphabet entry {i} ({s:?}) is not exactly one character"
                )),
            }
        })
        .collect()
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
