//! Python bindings (PyO3). Only argument conversion and error mapping live here; every
//! heavy call releases the GIL (`py.detach`) and runs on rayon.

use crate::{with_threads, Bpe, Error, TrainSettings, EOW_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID};
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::path::PathBuf;

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

/// Borrows the UTF-8 buffers of Python strings, so no text is copied before encoding.
fn collect_strings<'py>(texts: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyString>>> {
    if texts.is_instance_of::<PyString>() {
        return Err(PyValueError::new_err(
            "expected an iterable of str, got a single str",
        ));
    }
    texts
        .try_iter()?
        .map(|item| Ok(item?.cast_into::<PyString>()?))
        .collect()
}

fn as_strs<'a>(strings: &'a [Bound<'_, PyString>]) -> PyResult<Vec<&'a str>> {
    strings.iter().map(|s| s.to_str()).collect()
}

/// Trains with an optional Python progress callback `progress(done, total)`, called a
/// hundred times or so. Ctrl-C and exceptions raised by the callback stop training.
fn train_with_progress(
    py: Python<'_>,
    settings: TrainSettings,
    threads: Option<usize>,
    progress: Option<Py<PyAny>>,
    run: impl FnOnce(TrainSettings, crate::train::Progress) -> crate::Result<Bpe> + Send,
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
        with_threads(threads, || run(settings, &mut report))
    });
    match (result, failure) {
        (Err(Error::Interrupted), Some(e)) => Err(e),
        (r, _) => r.map_err(to_py),
    }
}

/// `(ids, offsets)` as numpy arrays.
type FlatIds<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<i64>>);

/// A trained byte-pair-encoding tokenizer.
///
/// Ids 0, 1, 2 are `<pad>`, `<unk>` and the end-of-word symbol `</w>`. Characters never
/// seen in training encode as `<unk>` and decode as U+FFFD.
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
    #[classattr]
    const EOW_ID: u32 = EOW_ID;

    /// Trains on an iterable of texts. `threads=None` uses all cores.
    #[staticmethod]
    #[pyo3(signature = (texts, vocab_size, min_frequency = 2, threads = None, progress = None))]
    fn train(
        py: Python<'_>,
        texts: &Bound<'_, PyAny>,
        vocab_size: usize,
        min_frequency: u64,
        threads: Option<usize>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let strings = collect_strings(texts)?;
        let docs = as_strs(&strings)?;
        let settings = TrainSettings {
            vocab_size,
            min_frequency,
        };
        let inner = train_with_progress(py, settings, threads, progress, |s, p| {
            Bpe::train(&docs, s, p)
        })?;
        Ok(PyTokenizer { inner })
    }

    /// Trains on corpus files: `.tsv` files with a `text` column, other files one document per line.
    #[staticmethod]
    #[pyo3(signature = (paths, vocab_size, min_frequency = 2, threads = None, progress = None))]
    fn train_files(
        py: Python<'_>,
        paths: Vec<PathBuf>,
        vocab_size: usize,
        min_frequency: u64,
        threads: Option<usize>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let settings = TrainSettings {
            vocab_size,
            min_frequency,
        };
        let inner = train_with_progress(py, settings, threads, progress, |s, p| {
            Bpe::train_files(&paths, s, p)
        })?;
        Ok(PyTokenizer { inner })
    }

    /// Reads a tokenizer saved with `save`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = py.detach(|| Bpe::load(&path)).map_err(to_py)?;
        Ok(PyTokenizer { inner })
    }

    /// Writes the tokenizer as JSON (atomically: a temporary file renamed into place).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path)).map_err(to_py)
    }

    fn encode(&self, py: Python<'_>, text: &str) -> Vec<u32> {
        py.detach(|| self.inner.encode(text))
    }

    /// Encodes many texts in parallel with the GIL released.
    #[pyo3(signature = (texts, threads = None))]
    fn encode_batch(
        &self,
        py: Python<'_>,
        texts: &Bound<'_, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Vec<Vec<u32>>> {
        let strings = collect_strings(texts)?;
        let docs = as_strs(&strings)?;
        Ok(py.detach(|| with_threads(threads, || self.inner.encode_batch(&docs))))
    }

    /// Like `encode_batch`, but returns two numpy arrays `(ids: uint32, offsets: int64)`;
    /// the ids of text `i` are `ids[offsets[i]:offsets[i + 1]]`. No Python int is created.
    #[pyo3(signature = (texts, threads = None))]
    fn encode_batch_flat<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<FlatIds<'py>> {
        let strings = collect_strings(texts)?;
        let docs = as_strs(&strings)?;
        let (ids, offsets) =
            py.detach(|| with_threads(threads, || self.inner.encode_batch_flat(&docs)));
        let offsets: Vec<i64> = offsets.into_iter().map(|o| o as i64).collect();
        Ok((ids.into_pyarray(py), offsets.into_pyarray(py)))
    }

    /// Ids back to text: a space after each word end, `<pad>` skipped, `<unk>` as U+FFFD.
    fn decode(&self, ids: Vec<u32>) -> PyResult<String> {
        self.inner.decode(&ids).map_err(to_py)
    }

    #[getter]
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    #[getter]
    fn min_frequency(&self) -> u64 {
        self.inner.settings().min_frequency
    }

    /// Every token as shown to people, in id order (`"e</w>"` ends a word).
    fn vocab(&self) -> Vec<String> {
        (0..self.inner.vocab_size() as u32)
            .map(|id| self.inner.token(id).unwrap().display())
            .collect()
    }

    /// The merges in the order they were learned, as pairs of displayed tokens.
    fn merges(&self) -> Vec<(String, String)> {
        let show = |id: u32| self.inner.token(id).unwrap().display();
        self.inner
            .merges()
            .iter()
            .map(|&(a, b)| (show(a), show(b)))
            .collect()
    }

    fn id_to_token(&self, id: u32) -> PyResult<String> {
        self.inner
            .token(id)
            .map(|t| t.display())
            .ok_or_else(|| to_py(Error::UnknownId(id)))
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    fn __len__(&self) -> usize {
        self.inner.vocab_size()
    }

    fn __repr__(&self) -> String {
        format!(
            "Tokenizer(vocab_size={}, alphabet={}, merges={}, min_frequency={})",
            self.inner.vocab_size(),
            self.inner.alphabet().len(),
            self.inner.merges().len(),
            self.inner.settings().min_frequency
        )
    }
}

/// Reads a corpus file the way `train_files` does and returns its documents.
#[pyfunction]
fn read_corpus(py: Python<'_>, path: PathBuf) -> PyResult<Vec<String>> {
    let corpus = py.detach(|| crate::read_corpus(&path)).map_err(to_py)?;
    Ok(corpus.docs().map(str::to_owned).collect())
}

#[pymodule]
fn bpe_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTokenizer>()?;
    m.add_function(wrap_pyfunction!(read_corpus, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("SPECIAL_TOKENS", SPECIAL_TOKENS.to_vec())?;
    m.add("PAD_ID", PAD_ID)?;
    m.add("UNK_ID", UNK_ID)?;
    m.add("EOW_ID", EOW_ID)?;
    Ok(())
}
