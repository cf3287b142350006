//! The trained domain classifier: which first-level category (城乡建设, 环境保护, …) a message is
//! about, with a calibrated confidence.
//!
//! Features are hashed (FNV-1a, stable across builds) from four views of a message: title words
//! and body words (jieba, as every triage analysis segments them) in namespaces of their own, and
//! the characters of the message, one and two at a time; the title also counts in the message's
//! words and characters, so a short message that is nearly all title shares features with long
//! ones. Each feature weighs `(1 + ln tf) · idf`, the vector is L2-normalised, and one linear
//! support-vector machine per domain (L2-regularised squared hinge, dual coordinate descent as in
//! LIBLINEAR, with a bias feature) scores it over features scaled by their naive-Bayes log-count
//! ratio for that domain (NBSVM, Wang & Manning 2012: a feature that tells the domain apart weighs
//! more before the SVM sees it). A softmax over the scores with a temperature fitted on
//! cross-validated scores turns them into probabilities, so "把握 90%" is right about nine times in
//! ten. Settings were chosen by 5-fold cross-validation, then checked on the dev file (docs/triage.md).
//!
//! Training (`train`) is deterministic: fixed feature order, a fixed-seed shuffle, no threads and no
//! hash-map iteration order in the arithmetic, so the same inputs give the same model bytes, which
//! `mailbox triage train --check` and a test compare with the committed file. The stored weights
//! are 8-bit (a scale per domain): the model is about 2 MB.

use crate::domain::DOMAINS;
use crate::text::words;
use crate::Suggestion;
use std::collections::BTreeMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Buckets are hash values already: a multiplication spreads them over the table's control bits,
/// several times faster than the default SipHash on the ~2,000 lookups of a message.
#[derive(Default)]
struct BucketHasher(u64);

impl Hasher for BucketHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<BucketHasher>>;

pub const CLASSES: usize = DOMAINS.len();
/// Hashed feature space: 2^22 buckets keep collisions among the ~200,000 kept features rare.
const BUCKET_BITS: u32 = 22;
/// Feature namespaces, so a title word and the same body word can weigh differently.
const NS_TITLE_WORD: u8 = 1;
const NS_WORD: u8 = 2;
const NS_TITLE_CHARS: u8 = 4;
const NS_CHARS: u8 = 3;
/// Magic and version of the model file.
const MAGIC: &[u8; 8] = b"MBXDOM02";

/// Training settings, chosen by cross-validation (docs/triage.md has the measurements).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// SVM cost: larger fits the training messages more closely.
    pub c: f64,
    /// Features seen in fewer training messages are left out of the model.
    pub min_df: u32,
    /// Longest character n-gram.
    pub max_chars: usize,
    /// Passes of the dual coordinate descent.
    pub epochs: usize,
    /// Smoothing of the naive-Bayes ratios.
    pub nb_alpha: f64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { c: 1.0, min_df: 2, max_chars: 2, epochs: 10, nb_alpha: 0.1 }
    }
}

/// A labelled message for training.
pub struct Labelled<'a> {
    pub title: &'a str,
    pub body: &'a str,
    /// Index into `DOMAINS`.
    pub domain: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    #[error("the domain model file is damaged: {0}")]
    Damaged(&'static str),
    #[error("too few training messages")]
    TooFew,
}

/// FNV-1a over the namespace and the text: stable, so a stored model keeps meaning the same features.
fn bucket(ns: u8, text: &str) -> u32 {
    let h = text.bytes().fold((0xcbf2_9ce4_8422_2325u64 ^ u64::from(ns)).wrapping_mul(0x0100_0000_01b3), |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    ((h >> 32) ^ h) as u32 & ((1 << BUCKET_BITS) - 1)
}

fn push_chars(out: &mut Vec<u32>, ns: u8, text: &str, max_chars: usize) {
    // Whitespace is dropped, so characters around a line break still read as neighbours.
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bounds: Vec<usize> = compact.char_indices().map(|(i, _)| i).chain([compact.len()]).collect();
    for n in 1..=max_chars {
        for w in bounds.windows(n + 1) {
            out.push(bucket(ns, &compact[w[0]..w[n]]));
        }
    }
}

/// Raw term counts of a message, by bucket, sorted.
fn counts(title: &str, body: &str, max_chars: usize) -> Vec<(u32, f32)> {
    counts_segmented(title, body, &words(title), &words(body), max_chars)
}

fn counts_segmented(
    title: &str,
    body: &str,
    title_words: &[&str],
    body_words: &[&str],
    max_chars: usize,
) -> Vec<(u32, f32)> {
    let mut out: Vec<u32> = Vec::with_capacity(4 * (title.len() + body.len()) / 3);
    out.extend(title_words.iter().map(|w| bucket(NS_TITLE_WORD, w)));
    out.extend(title_words.iter().chain(body_words).map(|w| bucket(NS_WORD, w)));
    push_chars(&mut out, NS_TITLE_CHARS, title, max_chars);
    push_chars(&mut out, NS_CHARS, title, max_chars);
    push_chars(&mut out, NS_CHARS, body, max_chars);
    out.sort_unstable();
    let mut merged: Vec<(u32, f32)> = Vec::with_capacity(out.len());
    for b in out {
        match merged.last_mut() {
            Some((last, n)) if *last == b => *n += 1.0,
            _ => merged.push((b, 1.0)),
        }
    }
    merged
}

/// Sparse, normalised feature vector over the model's feature indices.
type Vector = Vec<(u32, f32)>;

fn normalise(v: &mut Vector) {
    let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|(_, x)| *x /= norm);
    }
}

/// A trained model: for each kept feature its idf and one weight per domain.
pub struct Classifier {
    max_chars: usize,
    temperature: f32,
    bias: [f32; CLASSES],
    /// bucket → index into `idf` / `weights`.
    index: HashMap<u32, u32>,
    idf: Vec<f32>,
    /// The largest of `idf`: the weight of a word the model does not know.
    max_idf: f32,
    weights: Vec<[f32; CLASSES]>,
}

impl Classifier {
    fn vector(&self, raw: &[(u32, f32)]) -> Vector {
        let mut v: Vector = raw
            .iter()
            .filter_map(|(b, tf)| self.index.get(b).map(|&i| (i, (1.0 + tf.ln()) * self.idf[i as usize])))
            .collect();
        normalise(&mut v);
        v
    }

    /// Raw SVM scores, one per domain.
    fn scores(&self, v: &Vector) -> [f32; CLASSES] {
        let mut s = self.bias;
        for &(i, x) in v {
            for (score, w) in s.iter_mut().zip(&self.weights[i as usize]) {
                *score += w * x;
            }
        }
        s
    }

    /// Probability of each domain, in `DOMAINS` order.
    pub fn probabilities(&self, title: &str, body: &str) -> [f64; CLASSES] {
        softmax(&self.scores(&self.vector(&counts(title, body, self.max_chars))), self.temperature)
    }

    /// The likeliest domain with its confidence (0–100) and the words that weighed most for it;
    /// `None` for a message with no known feature at all.
    pub fn classify(&self, title: &str, body: &str) -> Option<Suggestion<&'static str>> {
        self.classify_segmented(title, body, &words(title), &words(body))
    }

    /// Like `classify`, with the words of title and body already segmented (triage segments each
    /// message once).
    pub fn classify_segmented(
        &self,
        title: &str,
        body: &str,
        title_words: &[&str],
        body_words: &[&str],
    ) -> Option<Suggestion<&'static str>> {
        let v = self.vector(&counts_segmented(title, body, title_words, body_words, self.max_chars));
        if v.is_empty() {
            return None;
        }
        let p = softmax(&self.scores(&v), self.temperature);
        let best = argmax(&p);
        Some(Suggestion {
            value: DOMAINS[best],
            confidence: (p[best] * 100.0).round() as u8,
            words: self.evidence(title_words, body_words, best),
        })
    }

    /// The words of the message that push most towards `class`, for the dispatcher to check.
    fn evidence(&self, title_words: &[&str], body_words: &[&str], class: usize) -> Vec<String> {
        let mut seen: BTreeMap<&str, f32> = BTreeMap::new();
        for (&w, ns) in title_words
            .iter()
            .map(|w| (w, NS_TITLE_WORD))
            .chain(title_words.iter().chain(body_words).map(|w| (w, NS_WORD)))
        {
            if let Some(&i) = self.index.get(&bucket(ns, w)) {
                let push = self.weights[i as usize][class] * self.idf[i as usize];
                *seen.entry(w).or_default() += push;
            }
        }
        let mut ranked: Vec<(&str, f32)> = seen.into_iter().filter(|(_, s)| *s > 0.0).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        ranked.into_iter().take(5).map(|(w, _)| w.to_owned()).collect()
    }

    /// How rare a word is in the training messages (its inverse document frequency as a body
    /// word); a word the model does not know (seen in fewer than two messages) is as rare as the
    /// rarest it knows. Topic-finding weighs keywords with it.
    pub fn word_idf(&self, word: &str) -> f32 {
        match self.index.get(&bucket(NS_WORD, word)) {
            Some(&i) => self.idf[i as usize],
            None => self.max_idf,
        }
    }

    pub fn features(&self) -> usize {
        self.idf.len()
    }

    /// The model file (little-endian): magic, longest n-gram, temperature, biases, the idf scale,
    /// one weight scale per domain, the number of features, then per feature ordered by bucket: the
    /// gap from the previous bucket (LEB128), the idf (u8) and one weight per domain (i8).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut order: Vec<(u32, u32)> = self.index.iter().map(|(&b, &i)| (b, i)).collect();
        order.sort_unstable();
        let idf_scale = self.idf.iter().copied().fold(0.0f32, f32::max) / 255.0;
        let mut scales = [0.0f32; CLASSES];
        for w in &self.weights {
            for (s, x) in scales.iter_mut().zip(w) {
                *s = s.max(x.abs() / 127.0);
            }
        }
        let mut out = Vec::with_capacity(64 + order.len() * (3 + CLASSES));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.max_chars as u32).to_le_bytes());
        for x in [self.temperature].iter().chain(&self.bias).chain([&idf_scale]).chain(&scales) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.extend_from_slice(&(order.len() as u32).to_le_bytes());
        let mut previous = 0u32;
        for (b, i) in order {
            let mut gap = b - previous;
            previous = b;
            loop {
                let byte = (gap & 0x7f) as u8;
                gap >>= 7;
                if gap == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
            out.push(quantise(self.idf[i as usize], idf_scale, 255.0) as u8);
            for (x, s) in self.weights[i as usize].iter().zip(&scales) {
                out.push(quantise(*x, *s, 127.0) as i8 as u8);
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Classifier, ClassifierError> {
        let mut r = Reader(bytes);
        if r.take(8)? != MAGIC {
            return Err(ClassifierError::Damaged("not a domain model of this version"));
        }
        let max_chars = r.u32()? as usize;
        if !(1..=4).contains(&max_chars) {
            return Err(ClassifierError::Damaged("n-gram length out of range"));
        }
        let temperature = r.f32()?;
        let mut bias = [0.0; CLASSES];
        for b in &mut bias {
            *b = r.f32()?;
        }
        let idf_scale = r.f32()?;
        let mut scales = [0.0f32; CLASSES];
        for s in &mut scales {
            *s = r.f32()?;
        }
        let n = r.u32()? as usize;
        if n > r.0.len() {
            return Err(ClassifierError::Damaged("wrong feature count"));
        }
        let (mut index, mut idf, mut weights) =
            (HashMap::with_capacity_and_hasher(n, Default::default()), Vec::with_capacity(n), Vec::with_capacity(n));
        let mut bucket = 0u32;
        for i in 0..n {
            let mut gap = 0u32;
            for shift in (0..32).step_by(7) {
                let byte = r.take(1)?[0];
                gap |= u32::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            bucket = bucket.checked_add(gap).ok_or(ClassifierError::Damaged("bucket out of range"))?;
            index.insert(bucket, i as u32);
            idf.push(f32::from(r.take(1)?[0]) * idf_scale);
            let mut w = [0.0; CLASSES];
            for (x, (byte, s)) in w.iter_mut().zip(r.take(CLASSES)?.iter().zip(&scales)) {
                *x = f32::from(*byte as i8) * s;
            }
            weights.push(w);
        }
        if !r.0.is_empty() {
            return Err(ClassifierError::Damaged("trailing bytes"));
        }
        let max_idf = idf.iter().copied().fold(0.0, f32::max);
        Ok(Classifier { max_chars, temperature, bias, index, idf, max_idf, weights })
    }

    /// The model as it is stored: weights rounded to 8 bits, so cross-validation measures the
    /// model that is shipped.
    fn stored(&self) -> Classifier {
        Classifier::from_bytes(&self.to_bytes()).expect("a model reads back what it wrote")
    }
}

fn quantise(x: f32, scale: f32, max: f32) -> f32 {
    if scale == 0.0 {
        0.0
    } else {
        (x / scale).round().clamp(-max, max)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ClassifierError> {
        if self.0.len() < n {
            return Err(ClassifierError::Damaged("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, ClassifierError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn f32(&mut self) -> Result<f32, ClassifierError> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
}

fn softmax(scores: &[f32; CLASSES], temperature: f32) -> [f64; CLASSES] {
    let max = scores.iter().copied().fold(f32::MIN, f32::max);
    let mut p = [0.0f64; CLASSES];
    for (x, s) in p.iter_mut().zip(scores) {
        *x = (f64::from(s - max) * f64::from(temperature)).exp();
    }
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= total);
    p
}

pub fn argmax(p: &[f64; CLASSES]) -> usize {
    (0..CLASSES).fold(0, |b, c| if p[c] > p[b] { c } else { b })
}

/// xorshift64*: a fixed-seed shuffle, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Builds the vocabulary (features in at least `min_df` messages), their idf and the normalised rows.
fn prepare(raw: &[&Vec<(u32, f32)>], min_df: u32) -> (HashMap<u32, u32>, Vec<f32>, Vec<Vector>) {
    let mut df: BTreeMap<u32, u32> = BTreeMap::new();
    for r in raw {
        for &(b, _) in r.iter() {
            *df.entry(b).or_default() += 1;
        }
    }
    let n = raw.len() as f64;
    let mut index = HashMap::default();
    let mut idf = Vec::new();
    for (&b, &d) in df.iter().filter(|(_, &d)| d >= min_df) {
        index.insert(b, idf.len() as u32);
        idf.push(((1.0 + n) / (1.0 + f64::from(d))).ln() as f32 + 1.0);
    }
    let rows = raw
        .iter()
        .map(|r| {
            let mut v: Vector =
                r.iter().filter_map(|(b, tf)| index.get(b).map(|&i| (i, (1.0 + tf.ln()) * idf[i as usize]))).collect();
            normalise(&mut v);
            v
        })
        .collect();
    (index, idf, rows)
}

/// |log-count ratio| of each feature for `class` against the rest (naive Bayes, smoothed by alpha).
/// The absolute value: the SVM's weight takes the sign, and L2 regularisation is symmetric in it.
fn nb_ratios(rows: &[Vector], labels: &[usize], class: usize, features: usize, alpha: f64) -> Vec<f64> {
    let (mut p, mut q) = (vec![alpha; features], vec![alpha; features]);
    for (row, &label) in rows.iter().zip(labels) {
        let t = if label == class { &mut p } else { &mut q };
        for &(j, x) in row {
            t[j as usize] += f64::from(x);
        }
    }
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    p.iter().zip(&q).map(|(a, b)| ((a / sp) / (b / sq)).ln().abs()).collect()
}

/// One-vs-rest linear SVMs (L2-regularised squared hinge loss, dual coordinate descent, with a bias
/// feature of 1) over NB-scaled rows. Returns (weights per feature with the scaling folded in,
/// bias per class).
fn fit(rows: &[Vector], labels: &[usize], features: usize, s: &Settings) -> (Vec<[f32; CLASSES]>, [f32; CLASSES]) {
    let mut weights = vec![[0.0f32; CLASSES]; features];
    let mut bias = [0.0f32; CLASSES];
    let d = 0.5 / s.c;
    for class in 0..CLASSES {
        let r = nb_ratios(rows, labels, class, features, s.nb_alpha);
        let scaled: Vec<Vec<(u32, f64)>> =
            rows.iter().map(|row| row.iter().map(|&(j, x)| (j, f64::from(x) * r[j as usize])).collect()).collect();
        let q: Vec<f64> = scaled.iter().map(|row| row.iter().map(|(_, x)| x * x).sum::<f64>() + 1.0 + d).collect();
        let mut w = vec![0.0f64; features];
        let mut b = 0.0f64;
        let mut alpha = vec![0.0f64; rows.len()];
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ class as u64);
        for _ in 0..s.epochs {
            rng.shuffle(&mut order);
            for &i in &order {
                let y = if labels[i] == class { 1.0 } else { -1.0 };
                let wx: f64 = scaled[i].iter().map(|&(j, x)| w[j as usize] * x).sum::<f64>() + b;
                let g = y * wx - 1.0 + d * alpha[i];
                let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
                if pg.abs() > 1e-12 {
                    let old = alpha[i];
                    alpha[i] = (alpha[i] - g / q[i]).max(0.0);
                    let step = (alpha[i] - old) * y;
                    for &(j, x) in &scaled[i] {
                        w[j as usize] += step * x;
                    }
                    b += step;
                }
            }
        }
        for (f, wf) in w.iter().enumerate() {
            weights[f][class] = (wf * r[f]) as f32;
        }
        bias[class] = b as f32;
    }
    (weights, bias)
}

fn fit_model(messages: &[&Labelled], raw: &[&Vec<(u32, f32)>], s: &Settings, temperature: f32) -> Classifier {
    let (index, idf, rows) = prepare(raw, s.min_df);
    let labels: Vec<usize> = messages.iter().map(|m| m.domain).collect();
    let (weights, bias) = fit(&rows, &labels, idf.len(), s);
    Classifier { max_chars: s.max_chars, temperature, bias, index, idf, max_idf: 0.0, weights }.stored()
    // read back as shipped, which also sets max_idf
}

/// Out-of-fold results of k-fold cross-validation on the training messages.
pub struct CrossValidation {
    /// (actual, probabilities) per message, each from a stored model that did not see it.
    pub predictions: Vec<(usize, [f64; CLASSES])>,
    /// The temperature that calibrates those probabilities.
    pub temperature: f32,
}

/// k-fold cross-validation of `messages`, stratified (every k-th message of each domain is in the
/// same fold); each fold is scored by a model trained on the other folds plus `always` (training
/// material that is not a message, such as the taxonomy's names), with its own vocabulary and idf.
pub fn cross_validate(
    messages: &[Labelled],
    always: &[Labelled],
    k: usize,
    s: &Settings,
) -> Result<CrossValidation, ClassifierError> {
    cross_validate_with(messages, always, k, s, &mut |_| {})
}

/// `cross_validate`, telling `fold_done` as each fold's model is trained and scored (the command
/// line's progress).
pub fn cross_validate_with(
    messages: &[Labelled],
    always: &[Labelled],
    k: usize,
    s: &Settings,
    fold_done: &mut dyn FnMut(usize),
) -> Result<CrossValidation, ClassifierError> {
    if messages.len() < 2 * k {
        return Err(ClassifierError::TooFew);
    }
    let raw: Vec<Vec<(u32, f32)>> = messages.iter().map(|m| counts(m.title, m.body, s.max_chars)).collect();
    let always_raw: Vec<Vec<(u32, f32)>> = always.iter().map(|m| counts(m.title, m.body, s.max_chars)).collect();
    let mut seen = [0usize; CLASSES];
    let fold: Vec<usize> = messages
        .iter()
        .map(|m| {
            seen[m.domain] += 1;
            seen[m.domain] % k
        })
        .collect();
    let mut scores: Vec<(usize, [f32; CLASSES])> = vec![(0, [0.0; CLASSES]); messages.len()];
    for f in 0..k {
        let train: Vec<usize> = (0..messages.len()).filter(|&i| fold[i] != f).collect();
        let train_messages: Vec<&Labelled> = train.iter().map(|&i| &messages[i]).chain(always).collect();
        let train_raw: Vec<&Vec<(u32, f32)>> = train.iter().map(|&i| &raw[i]).chain(&always_raw).collect();
        let model = fit_model(&train_messages, &train_raw, s, 1.0);
        for i in (0..messages.len()).filter(|&i| fold[i] == f) {
            scores[i] = (messages[i].domain, model.scores(&model.vector(&raw[i])));
        }
        fold_done(f + 1);
    }
    let temperature = fit_temperature(&scores);
    let predictions = scores.iter().map(|(a, s)| (*a, softmax(s, temperature))).collect();
    Ok(CrossValidation { predictions, temperature })
}

/// The temperature that minimises the negative log-likelihood of the out-of-fold scores (golden-
/// section search: the likelihood is unimodal in the temperature).
fn fit_temperature(scores: &[(usize, [f32; CLASSES])]) -> f32 {
    let nll = |t: f64| -> f64 { scores.iter().map(|(a, s)| -softmax(s, t as f32)[*a].max(1e-12).ln()).sum::<f64>() };
    let (mut lo, mut hi) = (0.1f64, 50.0f64);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let (x1, x2) = (hi - g * (hi - lo), lo + g * (hi - lo));
        if nll(x1) < nll(x2) {
            hi = x2;
        } else {
            lo = x1;
        }
    }
    ((lo + hi) / 2.0) as f32
}

/// One bin of a reliability table: messages whose top probability fell in it, their mean top
/// probability and the share of them classified right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationBin {
    pub from: f64,
    pub to: f64,
    pub n: usize,
    pub confidence: f64,
    pub accuracy: f64,
}

/// Reliability table over `bins` equal-width bins of the top probability (empty bins left out).
pub fn calibration(predictions: &[(usize, [f64; CLASSES])], bins: usize) -> Vec<CalibrationBin> {
    let mut count = vec![0usize; bins];
    let mut right = vec![0usize; bins];
    let mut confidence = vec![0.0f64; bins];
    for (actual, p) in predictions {
        let best = argmax(p);
        let bin = ((p[best] * bins as f64) as usize).min(bins - 1);
        count[bin] += 1;
        confidence[bin] += p[best];
        right[bin] += usize::from(best == *actual);
    }
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| CalibrationBin {
            from: b as f64 / bins as f64,
            to: (b + 1) as f64 / bins as f64,
            n: count[b],
            confidence: confidence[b] / count[b] as f64,
            accuracy: right[b] as f64 / count[b] as f64,
        })
        .collect()
}

/// Expected calibration error: the bins' |accuracy − confidence| weighted by their share.
pub fn calibration_error(table: &[CalibrationBin]) -> f64 {
    let n: usize = table.iter().map(|b| b.n).sum();
    table.iter().map(|b| (b.accuracy - b.confidence).abs() * b.n as f64 / n.max(1) as f64).sum()
}

/// Trains on every message, with the temperature found by cross-validation.
pub fn train(messages: &[Labelled], s: &Settings, temperature: f32) -> Result<Classifier, ClassifierError> {
    if messages.is_empty() {
        return Err(ClassifierError::TooFew);
    }
    let raw: Vec<Vec<(u32, f32)>> = messages.iter().map(|m| counts(m.title, m.body, s.max_chars)).collect();
    Ok(fit_model(&messages.iter().collect::<Vec<_>>(), &raw.iter().collect::<Vec<_>>(), s, temperature))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small, clearly separable training set of two domains' vocabularies.
    fn toy() -> Vec<(String, String, usize)> {
        let topics = [(0, ["电梯", "物业", "小区", "楼房"]), (6, ["医院", "医生", "药品", "住院"])];
        let mut out = Vec::new();
        for i in 0..40 {
            for (d, words) in &topics {
                let w = |k: usize| words[(i + k) % 4];
                out.push((
                    format!("{}{}问题", w(0), w(1)),
                    format!("我们的{}和{}一直没有解决，第{i}次反映", w(2), w(3)),
                    *d,
                ));
            }
        }
        out
    }

    fn view(rows: &[(String, String, usize)]) -> Vec<Labelled<'_>> {
        rows.iter().map(|(t, b, d)| Labelled { title: t, body: b, domain: *d }).collect()
    }

    #[test]
    fn training_is_deterministic_and_the_model_reads_back_what_it_wrote() {
        let rows = toy();
        let s = Settings { min_df: 1, ..Settings::default() };
        let a = train(&view(&rows), &s, 2.0).unwrap().to_bytes();
        let b = train(&view(&rows), &s, 2.0).unwrap().to_bytes();
        assert_eq!(a, b);
        let model = Classifier::from_bytes(&a).unwrap();
        assert_eq!(model.to_bytes(), a);
        let s = model.classify("小区电梯坏了", "物业不修").unwrap();
        assert_eq!(s.value, "城乡建设");
        assert!(s.words.contains(&"电梯".to_owned()), "{s:?}");
        assert_eq!(model.classify("医院", "医生").unwrap().value, "卫生计生");
    }

    #[test]
    fn damaged_model_files_are_refused() {
        let bytes = train(&view(&toy()), &Settings { min_df: 1, ..Settings::default() }, 1.0).unwrap().to_bytes();
        for bad in [&bytes[..10], &bytes[..bytes.len() - 1], b"MBXDOM01xxxxxxxxxxxxxxxxxxxxxx"] {
            assert!(Classifier::from_bytes(bad).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(Classifier::from_bytes(&longer), Err(ClassifierError::Damaged("trailing bytes"))));
    }

    #[test]
    fn cross_validation_scores_every_message_once_and_fits_a_temperature() {
        let rows = toy();
        let cv = cross_validate(&view(&rows), &[], 5, &Settings { min_df: 1, ..Settings::default() }).unwrap();
        assert_eq!(cv.predictions.len(), rows.len());
        assert!(cv.predictions.iter().all(|(a, p)| argmax(p) == *a), "a separable set is learnt");
        // Separable data is fitted ever more sharply: the temperature search ends at its upper end.
        assert!(cv.temperature > 1.0 && cv.temperature <= 50.0, "{}", cv.temperature);
        assert!(cross_validate(&view(&rows[..5]), &[], 5, &Settings::default()).is_err());
    }

    #[test]
    fn calibration_error_is_the_weighted_gap_between_confidence_and_accuracy() {
        let mut p = [0.0; CLASSES];
        p[0] = 0.9;
        p[1] = 0.1;
        // Ten predictions at 90 %: nine right gives no error, five right gives 0.4.
        let nine: Vec<_> = (0..10).map(|i| (usize::from(i == 0), p)).collect();
        assert!(calibration_error(&calibration(&nine, 10)) < 1e-9);
        let five: Vec<_> = (0..10).map(|i| (usize::from(i < 5), p)).collect();
        assert!((calibration_error(&calibration(&five, 10)) - 0.4).abs() < 1e-9);
    }
}
