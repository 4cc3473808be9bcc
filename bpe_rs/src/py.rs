//! Python bindings (PyO3). Only argument conversion and error mapping live here; every heavy
//! call releases the GIL (`py.detach`) and runs on a rayon pool. Every argument is checked
//! before any work, and nothing reaches a Rust panic: bad values raise `ValueError`.

use crate::{
    with_threads, Bpe, EncodeOptions, Error, PreTokenizer, TrainSettings, MAX_VOCAB_SIZE, PAD_ID,
    UNK_ID,
};
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

fn to_py(e: Error) -> PyErr {
    match &e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(e.to_string())
        }
        Error::Io { .. } => PyOSError::new_err(e.to_string()),
        Error::Interrupted => PyKeyboardInterrupt::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

fn value_error(msg: String) -> PyErr {
    PyValueError::new_err(msg)
}

/// A whole number in `lo..=hi`, or `ValueError` naming the argument (never `OverflowError`).
fn int_arg(obj: &Bound<'_, PyAny>, name: &str, lo: u64, hi: u64) -> PyResult<u64> {
    let err = || {
        value_error(format!(
            "{name} must be a whole number from {lo} to {hi}, got {obj}"
        ))
    };
    if obj.is_instance_of::<PyBool>() {
        return Err(err());
    }
    let v: i128 = obj.extract().map_err(|_| err())?;
    if v < lo as i128 || v > hi as i128 {
        return Err(err());
    }
    Ok(v as u64)
}

fn opt_int_arg(
    obj: Option<&Bound<'_, PyAny>>,
    name: &str,
    lo: u64,
    hi: u64,
) -> PyResult<Option<u64>> {
    obj.filter(|o| !o.is_none())
        .map(|o| int_arg(o, name, lo, hi))
        .transpose()
}

fn threads_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<usize>> {
    Ok(opt_int_arg(obj, "threads", 1, 1024)?.map(|n| n as usize))
}

fn pre_tokenizer_arg(name: &str, regex: Option<String>) -> PyResult<PreTokenizer> {
    match (name, regex) {
        ("whitespace", None) => Ok(PreTokenizer::Whitespace),
        ("punct", None) => Ok(PreTokenizer::Punct),
        ("regex", Some(p)) => Ok(PreTokenizer::Regex(p)),
        ("regex", None) => Err(value_error(
            "pre_tokenizer 'regex' needs regex=PATTERN".into(),
        )),
        (n @ ("whitespace" | "punct"), Some(_)) => Err(value_error(format!(
            "regex= goes with pre_tokenizer='regex', not {n:?}"
        ))),
        (other, _) => Err(value_error(format!(
            "pre_tokenizer {other:?}: choose 'whitespace', 'punct' or 'regex'"
        ))),
    }
}

/// Borrows the UTF-8 buffers of Python strings, so no text is copied before encoding.
fn collect_strings<'py>(texts: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyString>>> {
    if texts.is_instance_of::<PyString>() {
        return Err(value_error(
            "expected an iterable of str, got a single str".into(),
        ));
    }
    texts
        .try_iter()?
        .map(|item| {
            let item = item?;
            item.cast_into::<PyString>()
                .map_err(|e| value_error(format!("expected str items, got {}", e.into_inner())))
        })
        .collect()
}

fn as_strs<'a>(strings: &'a [Bound<'_, PyString>]) -> PyResult<Vec<&'a str>> {
    strings.iter().map(|s| s.to_str()).collect()
}

/// The training options shared by `train`, `train_files` and `train_from_counts`.
#[allow(clippy::too_many_arguments)]
fn settings_arg(
    vocab_size: &Bound<'_, PyAny>,
    min_frequency: Option<&Bound<'_, PyAny>>,
    special_tokens: Vec<String>,
    bos_token: Option<String>,
    eos_token: Option<String>,
    byte_fallback: bool,
    pre_tokenizer: &str,
    regex: Option<String>,
    min_char_frequency: Option<&Bound<'_, PyAny>>,
    max_token_length: Option<&Bound<'_, PyAny>>,
) -> PyResult<TrainSettings> {
    let settings = TrainSettings {
        vocab_size: int_arg(vocab_size, "vocab_size", 1, MAX_VOCAB_SIZE as u64)? as usize,
        min_frequency: opt_int_arg(min_frequency, "min_frequency", 1, i64::MAX as u64)?
            .unwrap_or(2),
        pre_tokenizer: pre_tokenizer_arg(pre_tokenizer, regex)?,
        byte_fallback,
        special_tokens,
        bos_token,
        eos_token,
        min_char_frequency: opt_int_arg(
            min_char_frequency,
            "min_char_frequency",
            1,
            i64::MAX as u64,
        )?
        .unwrap_or(1),
        max_token_length: opt_int_arg(max_token_length, "max_token_length", 1, 1 << 20)?
            .map(|n| n as usize),
    };
    settings.check().map_err(to_py)?;
    crate::pretok::Splitter::new(&settings.pre_tokenizer).map_err(to_py)?;
    Ok(settings)
}

/// Trains with an optional Python progress callback `progress(done, total)`, called a
/// hundred times or so. Ctrl-C and exceptions raised by the callback stop training.
fn train_with_progress(
    py: Python<'_>,
    threads: Option<usize>,
    progress: Option<Py<PyAny>>,
    run: impl FnOnce(crate::train::Progress) -> crate::Result<Bpe> + Send,
) -> PyResult<Bpe> {
    let mut failure: Option<PyErr> = None;
    let result = py.detach(|| {
        let mut report = |done: usize, total: usize| {
            Python::attach(|py| {
                let outcome = py.check_signals().and_then(|_| match &progress {
                    Some(cb) => cb.call1(py, (done, total)).map(|_| ()),
                    None => Ok(()),
                });
                outcome.map_err(|e| failure = Some(e)).is_ok()
            })
        };
        with_threads(threads, || run(&mut report))
    });
    match (result, failure) {
        (Err(Error::Interrupted), Some(e)) => Err(e),
        (r, _) => r.map_err(to_py),
    }
}

fn encode_options(
    tok: &Bpe,
    allow_special: bool,
    add_bos: bool,
    add_eos: bool,
    dropout: f64,
    seed: &Bound<'_, PyAny>,
) -> PyResult<EncodeOptions> {
    let opts = EncodeOptions {
        allow_special,
        add_bos,
        add_eos,
        dropout,
        seed: int_arg(seed, "seed", 0, u64::MAX)?,
    };
    opts.check(tok).map_err(to_py)?;
    Ok(opts)
}

/// `(ids, offsets)` as numpy arrays.
type FlatIds<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<i64>>);

/// A trained byte-pair-encoding tokenizer (see the package documentation).
#[pyclass(name = "Tokenizer", module = "bpe_rs", frozen)]
pub struct PyTokenizer {
    inner: Bpe,
}

#[pymethods]
impl PyTokenizer {
    #[classattr]
    const PAD_ID: u32 = PAD_ID;
    #[classattr]
    const UNK_ID: u32 = UNK_ID;

    /// Trains on an iterable of texts. `threads=None` uses all cores.
    #[staticmethod]
    #[pyo3(signature = (texts, vocab_size, min_frequency = None, *, special_tokens = Vec::new(),
        bos_token = None, eos_token = None, byte_fallback = false, pre_tokenizer = "whitespace",
        regex = None, min_char_frequency = None, max_token_length = None, threads = None, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn train(
        py: Python<'_>,
        texts: &Bound<'_, PyAny>,
        vocab_size: &Bound<'_, PyAny>,
        min_frequency: Option<&Bound<'_, PyAny>>,
        special_tokens: Vec<String>,
        bos_token: Option<String>,
        eos_token: Option<String>,
        byte_fallback: bool,
        pre_tokenizer: &str,
        regex: Option<String>,
        min_char_frequency: Option<&Bound<'_, PyAny>>,
        max_token_length: Option<&Bound<'_, PyAny>>,
        threads: Option<&Bound<'_, PyAny>>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let settings = settings_arg(
            vocab_size,
            min_frequency,
            special_tokens,
            bos_token,
            eos_token,
            byte_fallback,
            pre_tokenizer,
            regex,
            min_char_frequency,
            max_token_length,
        )?;
        let threads = threads_arg(threads)?;
        let strings = collect_strings(texts)?;
        let docs = as_strs(&strings)?;
        let inner = train_with_progress(py, threads, progress, |p| Bpe::train(&docs, settings, p))?;
        Ok(PyTokenizer { inner })
    }

    /// Trains on corpus files (`.tsv` files with a `text` column, other files one document
    /// per line), read in blocks: memory holds the word counts, not the text.
    #[staticmethod]
    #[pyo3(signature = (paths, vocab_size, min_frequency = None, *, special_tokens = Vec::new(),
        bos_token = None, eos_token = None, byte_fallback = false, pre_tokenizer = "whitespace",
        regex = None, min_char_frequency = None, max_token_length = None, threads = None, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn train_files(
        py: Python<'_>,
        paths: Vec<PathBuf>,
        vocab_size: &Bound<'_, PyAny>,
        min_frequency: Option<&Bound<'_, PyAny>>,
        special_tokens: Vec<String>,
        bos_token: Option<String>,
        eos_token: Option<String>,
        byte_fallback: bool,
        pre_tokenizer: &str,
        regex: Option<String>,
        min_char_frequency: Option<&Bound<'_, PyAny>>,
        max_token_length: Option<&Bound<'_, PyAny>>,
        threads: Option<&Bound<'_, PyAny>>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let settings = settings_arg(
            vocab_size,
            min_frequency,
            special_tokens,
            bos_token,
            eos_token,
            byte_fallback,
            pre_tokenizer,
            regex,
            min_char_frequency,
            max_token_length,
        )?;
        let threads = threads_arg(threads)?;
        let inner = train_with_progress(py, threads, progress, |p| {
            Bpe::train_files(&paths, settings, p)
        })?;
        Ok(PyTokenizer { inner })
    }

    /// Trains from word counts (`{word: count}`, e.g. `count_words` of several parts, summed).
    /// The counts must come from the same pre-tokenizer.
    #[staticmethod]
    #[pyo3(signature = (counts, vocab_size, min_frequency = None, *, special_tokens = Vec::new(),
        bos_token = None, eos_token = None, byte_fallback = false, pre_tokenizer = "whitespace",
        regex = None, min_char_frequency = None, max_token_length = None, threads = None, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn train_from_counts(
        py: Python<'_>,
        counts: &Bound<'_, PyDict>,
        vocab_size: &Bound<'_, PyAny>,
        min_frequency: Option<&Bound<'_, PyAny>>,
        special_tokens: Vec<String>,
        bos_token: Option<String>,
        eos_token: Option<String>,
        byte_fallback: bool,
        pre_tokenizer: &str,
        regex: Option<String>,
        min_char_frequency: Option<&Bound<'_, PyAny>>,
        max_token_length: Option<&Bound<'_, PyAny>>,
        threads: Option<&Bound<'_, PyAny>>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let settings = settings_arg(
            vocab_size,
            min_frequency,
            special_tokens,
            bos_token,
            eos_token,
            byte_fallback,
            pre_tokenizer,
            regex,
            min_char_frequency,
            max_token_length,
        )?;
        let threads = threads_arg(threads)?;
        let mut words: FxHashMap<String, u64> = FxHashMap::default();
        for (k, v) in counts.iter() {
            let word: String = k
                .extract()
                .map_err(|_| value_error(format!("counts: key {k} is not a str")))?;
            let n = int_arg(&v, &format!("counts[{word:?}]"), 0, i64::MAX as u64)?;
            *words.entry(word).or_insert(0) += n;
        }
        let inner = train_with_progress(py, threads, progress, |p| {
            Bpe::train_from_counts(words, settings, p)
        })?;
        Ok(PyTokenizer { inner })
    }

    /// Reads a tokenizer saved with `save` (format version 2 or 1).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = py.detach(|| Bpe::load(&path)).map_err(to_py)?;
        Ok(PyTokenizer { inner })
    }

    /// The tokenizer from the JSON text of `to_str` (what pickling uses).
    #[staticmethod]
    fn from_str(py: Python<'_>, json: &str) -> PyResult<Self> {
        let inner = py
            .detach(|| Bpe::from_json(json.as_bytes(), Path::new("<string>")))
            .map_err(to_py)?;
        Ok(PyTokenizer { inner })
    }

    /// Reads a Hugging Face `tokenizer.json` of the shape `save_hf` writes.
    #[staticmethod]
    fn from_hf(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = py
            .detach(|| {
                let bytes = std::fs::read(&path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                Bpe::from_hf_json(&bytes, &path)
            })
            .map_err(to_py)?;
        Ok(PyTokenizer { inner })
    }

    /// Writes the tokenizer as JSON (atomically: a temporary file renamed into place).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path)).map_err(to_py)
    }

    /// The tokenizer's JSON text (what `save` writes).
    fn to_str(&self) -> String {
        self.inner.to_json()
    }

    /// Writes a Hugging Face `tokenizer.json` that `tokenizers.Tokenizer.from_file` loads and
    /// that gives the same ids.
    fn save_hf(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| {
            let json = self.inner.to_hf_json()?;
            crate::io::write_atomic(&path, json.as_bytes())
        })
        .map_err(to_py)
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let restore = py.import("bpe_rs")?.getattr("_restore")?;
        Ok((restore, (self.inner.to_json(),)))
    }

    /// Ids of one text. `allow_special`: special tokens written in the text become their ids;
    /// `add_bos` / `add_eos`: the bos / eos token around it; `dropout`: BPE-dropout, with `seed`.
    #[pyo3(signature = (text, *, allow_special = false, add_bos = false, add_eos = false, dropout = 0.0, seed = None))]
    #[allow(clippy::too_many_arguments)]
    fn encode(
        &self,
        py: Python<'_>,
        text: &str,
        allow_special: bool,
        add_bos: bool,
        add_eos: bool,
        dropout: f64,
        seed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<u32>> {
        let zero = 0u64.into_pyobject(py)?.into_any();
        let opts = encode_options(
            &self.inner,
            allow_special,
            add_bos,
            add_eos,
            dropout,
            seed.unwrap_or(&zero),
        )?;
        py.detach(|| self.inner.encode(text, &opts)).map_err(to_py)
    }

    /// Ids of many texts, in parallel with the GIL released (options as `encode`; with dropout
    /// each text draws from the seed and its index, whatever the threads).
    #[pyo3(signature = (texts, *, allow_special = false, add_bos = false, add_eos = false, dropout = 0.0, seed = None, threads = None))]
    #[allow(clippy::too_many_arguments)]
    fn encode_batch(
        &self,
        py: Python<'_>,
        texts: &Bound<'_, PyAny>,
        allow_special: bool,
        add_bos: bool,
        add_eos: bool,
        dropout: f64,
        seed: Option<&Bound<'_, PyAny>>,
        threads: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Vec<u32>>> {
        let zero = 0u64.into_pyobject(py)?.into_any();
        let opts = encode_options(
            &self.inner,
            allow_special,
            add_bos,
            add_eos,
            dropout,
            seed.unwrap_or(&zero),
        )?;
        let threads = threads_arg(threads)?;
        let strings = collect_strings(texts)?;
        let docs = as_strs(&strings)?;
        py.detach(|| with_threads(threads, || self.inner.encode_batch(&docs, &opts)))
            .map_err(to_py)
    }

    /// Like `encode_batch`, but returns two numpy arrays `(ids: uint32, offsets: int64)`;
    /// the ids of text `i` are `ids[offsets[i]:offsets[i + 1]]`. No Python int is created.
    #[pyo3(signature = (texts, *, allow_special = false, add_bos = false, add_eos = false, dropout = 0.0, seed = None, threads = None))]
    #[allow(clippy::too_many_arguments)]
    fn encode_batch_flat<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        allow_special: bool,
        add_bos: bool,
        add_eos: bool,
        dropout: f64,
        seed: Option<&Bound<'py, PyAny>>,
        threads: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<FlatIds<'py>> {
        let zero = 0u64.into_pyobject(py)?.into_any();
        let opts = encode_options(
            &self.inner,
            allow_special,
            add_bos,
            add_eos,
            dropout,
            seed.unwrap_or(&zero),
        )?;
        let threads = threads_arg(threads)?;
        let strings = collect_strings(texts)?;
        let docs = as_strs(&strings)?;
        let (ids, offsets) = py
            .detach(|| with_threads(threads, || self.inner.encode_batch_flat(&docs, &opts)))
            .map_err(to_py)?;
        let offsets: Vec<i64> = offsets.into_iter().map(|o| o as i64).collect();
        Ok((ids.into_pyarray(py), offsets.into_pyarray(py)))
    }

    /// Ids back to text: byte tokens decoded as UTF-8, a space at each word end, `<pad>`
    /// skipped, `<unk>` as U+FFFD, the user's special tokens kept unless `skip_special_tokens`.
    #[pyo3(signature = (ids, skip_special_tokens = true))]
    fn decode(&self, ids: &Bound<'_, PyAny>, skip_special_tokens: bool) -> PyResult<String> {
        let mut list = Vec::new();
        for item in ids.try_iter()? {
            let item = item?;
            let id = int_arg(&item, "token id", 0, u32::MAX as u64)
                .map_err(|_| value_error(format!("token id {item} is not in the vocabulary")))?;
            list.push(id as u32);
        }
        self.inner.decode(&list, skip_special_tokens).map_err(to_py)
    }

    #[getter]
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    #[getter]
    fn min_frequency(&self) -> u64 {
        self.inner.settings().min_frequency
    }

    #[getter]
    fn pre_tokenizer(&self) -> String {
        self.inner.settings().pre_tokenizer.name().to_string()
    }

    #[getter]
    fn byte_fallback(&self) -> bool {
        self.inner.settings().byte_fallback
    }

    #[getter]
    fn special_tokens(&self) -> Vec<String> {
        self.inner.settings().special_tokens.clone()
    }

    /// Every token as shown to people, in id order (`"e</w>"` ends a word).
    fn vocab(&self) -> Vec<String> {
        self.inner.tokens().iter().map(|t| t.display()).collect()
    }

    /// The merges in the order they were learned, as pairs of displayed tokens.
    fn merges(&self) -> Vec<(String, String)> {
        let show = |id: u32| self.inner.tokens()[id as usize].display();
        self.inner
            .merges()
            .iter()
            .map(|&(a, b)| (show(a), show(b)))
            .collect()
    }

    fn id_to_token(&self, id: &Bound<'_, PyAny>) -> PyResult<String> {
        let id = int_arg(id, "id", 0, u32::MAX as u64)
            .map_err(|_| value_error(format!("token id {id} is not in the vocabulary")))?;
        self.inner
            .token(id as u32)
            .map(|t| t.display())
            .ok_or_else(|| to_py(Error::UnknownId(id as u32)))
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    fn __len__(&self) -> usize {
        self.inner.vocab_size()
    }

    fn __repr__(&self) -> String {
        let s = self.inner.settings();
        format!(
            "Tokenizer(vocab_size={}, alphabet={}, merges={}, pre_tokenizer={:?}, byte_fallback={}, special_tokens={:?})",
            self.inner.vocab_size(),
            self.inner.alphabet().len(),
            self.inner.merges().len(),
            s.pre_tokenizer.name(),
            s.byte_fallback,
            s.special_tokens,
        )
    }
}

/// Word counts of texts (an iterable of str) or of corpus files, as `{word: count}`: split
/// the counting across processes or machines, sum the dicts, and `Tokenizer.train_from_counts`.
#[pyfunction]
#[pyo3(signature = (texts = None, *, files = None, pre_tokenizer = "whitespace", regex = None, threads = None))]
fn count_words(
    py: Python<'_>,
    texts: Option<&Bound<'_, PyAny>>,
    files: Option<Vec<PathBuf>>,
    pre_tokenizer: &str,
    regex: Option<String>,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<FxHashMap<String, u64>> {
    let kind = pre_tokenizer_arg(pre_tokenizer, regex)?;
    let threads = threads_arg(threads)?;
    match (texts, files) {
        (Some(t), None) => {
            let strings = collect_strings(t)?;
            let docs = as_strs(&strings)?;
            py.detach(|| with_threads(threads, || crate::count_words(&docs, &kind)))
                .map_err(to_py)
        }
        (None, Some(paths)) => py
            .detach(|| with_threads(threads, || crate::count_files(&paths, &kind)))
            .map_err(to_py),
        _ => Err(value_error(
            "count_words: give texts or files=, not both".into(),
        )),
    }
}

/// Reads a corpus file the way `train_files` does and returns its documents.
#[pyfunction]
fn read_corpus(py: Python<'_>, path: PathBuf) -> PyResult<Vec<String>> {
    let corpus = py.detach(|| crate::read_corpus(&path)).map_err(to_py)?;
    Ok(corpus.docs().map(str::to_owned).collect())
}

#[pymodule]
fn _bpe_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTokenizer>()?;
    m.add_function(wrap_pyfunction!(count_words, m)?)?;
    m.add_function(wrap_pyfunction!(read_corpus, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PAD_ID", PAD_ID)?;
    m.add("UNK_ID", UNK_ID)?;
    m.add("MAX_VOCAB_SIZE", MAX_VOCAB_SIZE)?;
    Ok(())
}
