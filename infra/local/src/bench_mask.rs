//! `mailbox bench mask`: masking personal data (run on every public read) over 64 KiB texts built
//! to be hard for it — long digit runs, digits split by every kind of separator, cues repeated
//! back to back — beside ordinary Chinese text of the same size. Each text is also timed at a
//! quarter of its size: a ratio near 4 shows the work grows linearly with the text.

use anyhow::{bail, Result};
use clap::Args;
use mailbox_domain::mask::mask_personal_data;
use std::hint::black_box;
use std::time::Instant;

#[derive(Args)]
pub struct MaskArgs {
    /// Size of each text, in KiB.
    #[arg(long, default_value_t = 64)]
    kib: usize,
    /// Timed runs per text; the median is reported.
    #[arg(long, default_value_t = 21)]
    rounds: usize,
}

/// `unit` repeated until the text holds `bytes` bytes (whole characters only).
fn repeat(unit: &str, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + unit.len());
    while s.len() + unit.len() <= bytes {
        s.push_str(unit);
    }
    for c in unit.chars() {
        if s.len() + c.len_utf8() > bytes {
            break;
        }
        s.push(c);
    }
    s
}

/// A deterministic mixture of digits, separators, cues and Chinese text (xorshift, fixed seed).
fn mixture(bytes: usize) -> String {
    const PIECES: [&str; 16] =
        ["1", "3", "8", "0", "6", "X", " ", "\u{3000}", "-", "－", ".", "\u{200b}", "电话", "路", "号", "我叫王"];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut s = String::with_capacity(bytes + 8);
    while s.len() < bytes - 8 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        s.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
    }
    s
}

fn texts(bytes: usize) -> Vec<(&'static str, String)> {
    vec![
        (
            "ordinary Chinese text",
            repeat("广安区某小区门口道路坑洼，雨天积水严重，居民出行不便，希望有关部门尽快维修。", bytes),
        ),
        ("one run of digits", repeat("1234567890", bytes)),
        ("digits split by spaces", repeat("1 ", bytes)),
        ("full-width digits, U+3000 between", repeat("１\u{3000}", bytes)),
        ("mobile numbers back to back", repeat("13812345678 ", bytes)),
        ("+86 and zero-width spaces", repeat("+86\u{200b}139-1234", bytes)),
        ("house, building and room numbers", repeat("建设路12号5栋二单元301室", bytes)),
        ("name cues", repeat("我叫王小明联系人", bytes)),
        ("e-mail-like text without @", repeat("a.b_c", bytes)),
        ("mixture of all of them", mixture(bytes)),
    ]
}

fn median_ms(text: &str, rounds: usize) -> f64 {
    let mut times: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            black_box(mask_personal_data(black_box(text), black_box(&["王小明"])));
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

pub fn run(args: MaskArgs) -> Result<()> {
    if !(4..=1024).contains(&args.kib) {
        bail!("--kib must be between 4 and 1024");
    }
    let bytes = args.kib * 1024;
    println!(
        "masking {} KiB texts, median of {} runs (and the same text at a quarter of its size)",
        args.kib, args.rounds
    );
    println!("{:<36} {:>10} {:>10} {:>8}", "text", "full ms", "1/4 ms", "ratio");
    let mut worst: f64 = 0.0;
    for (name, text) in texts(bytes) {
        let quarter: String = {
            let mut end = text.len() / 4;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text[..end].to_owned()
        };
        let full = median_ms(&text, args.rounds);
        let part = median_ms(&quarter, args.rounds);
        worst = worst.max(full);
        println!("{name:<36} {full:>10.3} {part:>10.3} {:>8.2}", full / part.max(1e-6));
    }
    println!("slowest: {worst:.3} ms for {} KiB", args.kib);
    Ok(())
}
