//! The fast trainer against a naive one that recounts every pair after every merge,
//! on random corpora built to produce ties and overlapping pairs ("aaaa").

use bpe_rs::{with_threads, Bpe, TrainSettings, EOW_ID};
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

/// Textbook BPE: count all pairs, merge the best (highest count, then smallest pair), repeat.
fn naive_train(
    docs: &[String],
    vocab_size: usize,
    min_frequency: u64,
) -> (Vec<char>, Vec<(u32, u32)>) {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for d in docs {
        for w in d.split_whitespace() {
            *counts.entry(w).or_default() += 1;
        }
    }
    let mut alphabet: Vec<char> = counts.keys().flat_map(|w| w.chars()).collect();
    alphabet.sort_unstable();
    alphabet.dedup();
    let id_of = |c: char| 3 + alphabet.iter().position(|&x| x == c).unwrap() as u32;
    let mut words: Vec<(Vec<u32>, u64)> = counts
        .iter()
        .map(|(w, &f)| (w.chars().map(id_of).chain([EOW_ID]).collect(), f))
        .collect();
    let mut merges = Vec::new();
    let mut next_id = 3 + alphabet.len() as u32;
    while (next_id as usize) < vocab_size {
        let mut pairs: BTreeMap<(u32, u32), u64> = BTreeMap::new();
        for (w, f) in &words {
            for p in w.windows(2) {
                *pairs.entry((p[0], p[1])).or_default() += f;
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
        if c < min_frequency {
            break;
        }
        for (w, _) in words.iter_mut() {
            *w = apply_merge(w, a, b, next_id);
        }
        merges.push((a, b));
        next_id += 1;
    }
    (alphabet, merges)
}

fn train(docs: &[String], vocab_size: usize, min_frequency: u64, threads: usize) -> Bpe {
    with_threads(Some(threads), || {
        Bpe::train(
            docs,
            TrainSettings {
                vocab_size,
                min_frequency,
            },
            &mut |_, _| true,
        )
        .unwrap()
    })
}

#[test]
fn fast_trainer_matches_naive_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..300 {
        let docs = random_corpus(&mut rng);
        let vocab_size = 3 + rng.below(60) as usize;
        let min_frequency = 1 + rng.below(3);
        let (alphabet, merges) = naive_train(&docs, vocab_size, min_frequency);
        for threads in [1, 2] {
            let bpe = train(&docs, vocab_size, min_frequency, threads);
            assert_eq!(
                bpe.alphabet(),
                &alphabet[..],
                "case {case}, {threads} threads"
            );
            assert_eq!(
                bpe.merges(),
                &merges[..],
                "case {case}, {threads} threads, docs {docs:?}"
            );
        }
    }
}

#[test]
fn encoding_equals_replaying_merges() {
    let mut rng = Rng(42);
    for case in 0..200 {
        let docs = random_corpus(&mut rng);
        let bpe = train(&docs, 3 + rng.below(50) as usize, 1, 2);
        let first = 3 + bpe.alphabet().len() as u32;
        for doc in &docs {
            let mut expected = Vec::new();
            for w in doc.split_whitespace() {
                let mut ids: Vec<u32> = w
                    .chars()
                    .map(|c| 3 + bpe.alphabet().iter().position(|&x| x == c).unwrap() as u32)
                    .chain([EOW_ID])
                    .collect();
                for (rank, &(a, b)) in bpe.merges().iter().enumerate() {
                    ids = apply_merge(&ids, a, b, first + rank as u32);
                }
                expected.extend(ids);
            }
            assert_eq!(bpe.encode(doc), expected, "case {case}: {doc:?}");
            assert_eq!(bpe.encode_batch(std::slice::from_ref(doc))[0], expected);
            let normalised = doc.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(bpe.decode(&expected).unwrap(), normalised);
        }
        let (flat, offsets) = bpe.encode_batch_flat(&docs);
        let batch = bpe.encode_batch(&docs);
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
fn unknown_characters_and_empty_input() {
    let docs = vec!["abc abd".to_string()];
    let bpe = train(&docs, 100, 1, 1);
    let ids = bpe.encode("azb");
    assert!(ids.contains(&bpe_rs::UNK_ID));
    assert_eq!(bpe.decode(&ids).unwrap(), "a\u{FFFD}b");
    assert!(bpe.encode("").is_empty());
    assert!(bpe.encode("  \n\t ").is_empty());
    assert!(bpe.decode(&[9999]).is_err());

    let empty = train(&[], 100, 1, 1);
    assert_eq!(empty.vocab_size(), 3);
    assert_eq!(empty.encode("x"), vec![bpe_rs::UNK_ID, EOW_ID]);
}

#[test]
fn save_load_roundtrip_and_bad_files() {
    let dir = std::env::temp_dir().join(format!("bpe_rs_test_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let docs: Vec<String> = vec![
        "the cat sat on the mat".into(),
        "the dog ate the hat".into(),
    ];
    let bpe = train(&docs, 40, 1, 2);
    let path = dir.join("tok.json");
    bpe.save(&path).unwrap();
    let loaded = Bpe::load(&path).unwrap();
    assert_eq!(loaded.merges(), bpe.merges());
    assert_eq!(loaded.encode("the cat ate"), bpe.encode("the cat ate"));

    let text = std::fs::read_to_string(&path).unwrap();
    let cases = [
        ("truncated", text[..text.len() / 2].to_string()),
        ("version", text.replace("\"version\":1", "\"version\":7")),
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
