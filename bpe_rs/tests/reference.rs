//! The fast trainer against a naive one that recounts every pair after every merge, on
//! random corpora built to produce ties and overlapping pairs ("aaaa"), with and without an
//! alphabet limit and a token length limit.

use bpe_rs::{with_threads, Bpe, EncodeOptions, TrainSettings, EOW_SUFFIX, UNK_ID};
use std::collections::BTreeMap;

/// Small deterministic generator (xorshift64*), so failures reproduce from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_corpus(rng: &mut Rng) -> Vec<String> {
    let alphabet: Vec<char> = "aabbcdeé ".chars().collect();
    (0..1 + rng.below(12))
        .map(|_| {
            (0..rng.below(40))
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect()
        })
        .collect()
}

fn apply_merge(word: &[u32], a: u32, b: u32, new_id: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(word.len());
    let mut i = 0;
    while i < word.len() {
        if i + 1 < word.len() && word[i] == a && word[i + 1] == b {
            out.push(new_id);
            i += 2;
        } else {
            out.push(word[i]);
            i += 1;
        }
    }
    out
}

/// A word's initial symbols: its characters, the last one marked as ending the word.
fn symbols(w: &str) -> Vec<String> {
    let chars: Vec<char> = w.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i + 1 == chars.len() {
                format!("{c}{EOW_SUFFIX}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

struct Naive {
    vocab: Vec<String>,
    merges: Vec<(u32, u32)>,
}

/// Textbook BPE: count all pairs, merge the best (highest count, then smallest pair), repeat.
/// Symbols seen fewer than `min_char` times are `<unk>`, and no pair with `<unk>` is counted;
/// no token longer than `max_len` characters is made; a merge whose string exists reuses its id.
fn naive_train(docs: &[String], s: &TrainSettings) -> Naive {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for d in docs {
        for w in d.split_whitespace() {
            *counts.entry(w).or_default() += 1;
        }
    }
    let mut symbol_counts: BTreeMap<(char, bool), u64> = BTreeMap::new();
    for (w, f) in &counts {
        let n = w.chars().count();
        for (i, c) in w.chars().enumerate() {
            *symbol_counts.entry((c, i + 1 == n)).or_default() += f;
        }
    }
    let mut vocab: Vec<String> = vec!["<pad>".into(), "<unk>".into()];
    for (&(c, ends), &n) in &symbol_counts {
        if n >= s.min_char_frequency {
            vocab.push(if ends {
                format!("{c}{EOW_SUFFIX}")
            } else {
                c.to_string()
            });
        }
    }
    let id_of = |vocab: &[String], t: &str| vocab.iter().position(|x| x == t).map(|i| i as u32);
    let text_len = |t: &str| t.trim_end_matches(EOW_SUFFIX).chars().count();
    let mut words: Vec<(Vec<u32>, u64)> = counts
        .iter()
        .map(|(w, &f)| {
            (
                symbols(w)
                    .iter()
                    .map(|t| id_of(&vocab, t).unwrap_or(UNK_ID))
                    .collect(),
                f,
            )
        })
        .collect();
    let max_len = s.max_token_length.unwrap_or(usize::MAX);
    let mut merges = Vec::new();
    while vocab.len() < s.vocab_size {
        let mut pairs: BTreeMap<(u32, u32), u64> = BTreeMap::new();
        for (w, f) in &words {
            for p in w.windows(2) {
                let (a, b) = (p[0], p[1]);
                let len = text_len(&vocab[a as usize]) + text_len(&vocab[b as usize]);
                if a != UNK_ID && b != UNK_ID && len <= max_len {
                    *pairs.entry((a, b)).or_default() += f;
                }
            }
        }
        // BTreeMap iterates pairs in ascending order, so `>` keeps the smallest on ties.
        let mut best: Option<((u32, u32), u64)> = None;
        for (&p, &c) in &pairs {
            if best.is_none_or(|(_, bc)| c > bc) {
                best = Some((p, c));
            }
        }
        let Some(((a, b), c)) = best else { break };
        if c < s.min_frequency {
            break;
        }
        let merged = format!("{}{}", vocab[a as usize], vocab[b as usize]);
        let new_id = id_of(&vocab, &merged).unwrap_or_else(|| {
            vocab.push(merged);
            vocab.len() as u32 - 1
        });
        for (w, _) in words.iter_mut() {
            *w = apply_merge(w, a, b, new_id);
        }
        merges.push((a, b));
    }
    Naive { vocab, merges }
}

fn train(docs: &[String], settings: &TrainSettings, threads: usize) -> Bpe {
    with_threads(Some(threads), || {
        Bpe::train(docs, settings.clone(), &mut |_, _| true).unwrap()
    })
}

fn settings(vocab_size: usize, min_frequency: u64) -> TrainSettings {
    TrainSettings {
        vocab_size,
        min_frequency,
        ..TrainSettings::default()
    }
}

fn vocab(bpe: &Bpe) -> Vec<String> {
    bpe.tokens().iter().map(|t| t.display()).collect()
}

#[test]
fn fast_trainer_matches_naive_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..400 {
        let docs = random_corpus(&mut rng);
        let mut s = settings(3 + rng.below(60) as usize, 1 + rng.below(3));
        s.min_char_frequency = 1 + rng.below(3);
        s.max_token_length = [None, Some(2), Some(3)][rng.below(3) as usize];
        let naive = naive_train(&docs, &s);
        for threads in [1, 2] {
            let bpe = train(&docs, &s, threads);
            assert_eq!(
                vocab(&bpe),
                naive.vocab,
                "case {case}, {threads} threads, {s:?}, docs {docs:?}"
            );
            assert_eq!(
                bpe.merges(),
                &naive.merges[..],
                "case {case}, {threads} threads"
            );
        }
    }
}

#[test]
fn encoding_equals_replaying_merges() {
    let mut rng = Rng(42);
    let opts = EncodeOptions::default();
    for case in 0..200 {
        let docs = random_corpus(&mut rng);
        let bpe = train(&docs, &settings(3 + rng.below(50) as usize, 1), 2);
        let table = vocab(&bpe);
        for doc in &docs {
            let mut expected = Vec::new();
            for w in doc.split_whitespace() {
                let mut ids: Vec<u32> = symbols(w)
                    .iter()
                    .map(|t| table.iter().position(|x| x == t).unwrap() as u32)
                    .collect();
                for (rank, &(a, b)) in bpe.merges().iter().enumerate() {
                    ids = apply_merge(&ids, a, b, bpe.merge_ids()[rank]);
                }
                expected.extend(ids);
            }
            assert_eq!(
                bpe.encode(doc, &opts).unwrap(),
                expected,
                "case {case}: {doc:?}"
            );
            assert_eq!(
                bpe.encode_batch(std::slice::from_ref(doc), &opts).unwrap()[0],
                expected
            );
            let normalised = doc.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(bpe.decode(&expected, true).unwrap(), normalised);
        }
        let (flat, offsets) = bpe.encode_batch_flat(&docs, &opts).unwrap();
        let batch = bpe.encode_batch(&docs, &opts).unwrap();
        assert_eq!(offsets.len(), docs.len() + 1);
        for (i, ids) in batch.iter().enumerate() {
            assert_eq!(
                &flat[offsets[i] as usize..offsets[i + 1] as usize],
                &ids[..]
            );
        }
    }
}

#[test]
fn unknown_characters_bytes_and_empty_input() {
    let docs = vec!["abc abd".to_string()];
    let opts = EncodeOptions::default();
    let bpe = train(&docs, &settings(100, 1), 1);
    let ids = bpe.encode("azc", &opts).unwrap();
    assert!(ids.contains(&UNK_ID));
    assert_eq!(bpe.decode(&ids, true).unwrap(), "a\u{FFFD}c");
    assert!(bpe.encode("", &opts).unwrap().is_empty());
    assert!(bpe.encode("  \n\t ", &opts).unwrap().is_empty());
    assert!(bpe.decode(&[9999], true).is_err());

    let bytes = train(
        &docs,
        &TrainSettings {
            byte_fallback: true,
            ..settings(400, 1)
        },
        1,
    );
    for text in ["azc", "日本語 ok", "a\u{0}b", "é"] {
        let ids = bytes.encode(text, &opts).unwrap();
        assert!(!ids.contains(&UNK_ID));
        assert_eq!(bytes.decode(&ids, true).unwrap(), text, "{text:?}");
    }

    let empty = train(&[], &settings(100, 1), 1);
    assert_eq!(empty.vocab_size(), 2);
    assert_eq!(empty.encode("x", &opts).unwrap(), vec![UNK_ID]);
}

#[test]
fn save_load_roundtrip_and_bad_files() {
    let dir = std::env::temp_dir().join(format!("bpe_rs_test_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let docs: Vec<String> = vec![
        "the cat sat on the mat".into(),
        "the dog ate the hat".into(),
    ];
    let bpe = train(&docs, &settings(40, 1), 2);
    let path = dir.join("tok.json");
    bpe.save(&path).unwrap();
    let loaded = Bpe::load(&path).unwrap();
    let opts = EncodeOptions::default();
    assert_eq!(loaded.merges(), bpe.merges());
    assert_eq!(
        loaded.encode("the cat ate", &opts).unwrap(),
        bpe.encode("the cat ate", &opts).unwrap()
    );

    let text = std::fs::read_to_string(&path).unwrap();
    let cases = [
        ("truncated", text[..text.len() / 2].to_string()),
        ("version", text.replace("\"version\":2", "\"version\":7")),
        (
            "unknown id",
            text.replace("\"merges\":[[", "\"merges\":[[999,"),
        ),
    ];
    for (what, content) in cases {
        let p = dir.join(format!("{}.json", what.replace(' ', "_")));
        std::fs::write(&p, content).unwrap();
        let err = Bpe::load(&p).unwrap_err().to_string();
        assert!(err.contains(p.to_str().unwrap()), "{what}: {err}");
    }
    assert!(Bpe::load(dir.join("missing.json")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
