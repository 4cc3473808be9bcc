//! Trains on a corpus file and prints the time of each phase (for profiling).
//! `cargo run --release --example train_file -- FILE VOCAB [THREADS]`

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (path, vocab) = (&args[1], args[2].parse().expect("vocab size"));
    let threads = args.get(3).map(|t| t.parse().expect("threads"));
    let settings = bpe_rs::TrainSettings {
        vocab_size: vocab,
        ..Default::default()
    };
    bpe_rs::with_threads(threads, || {
        let start = std::time::Instant::now();
        let counts = bpe_rs::count_files(&[path], &settings.pre_tokenizer).expect("count");
        let counted = start.elapsed();
        let bpe = bpe_rs::Bpe::train_from_counts(counts, settings.clone(), &mut |_, _| true)
            .expect("train");
        println!(
            "count {:.3}s, merges {:.3}s, vocab {}",
            counted.as_secs_f64(),
            (start.elapsed() - counted).as_secs_f64(),
            bpe.vocab_size()
        );
    });
}
