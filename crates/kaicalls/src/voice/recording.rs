//! Playable recordings of simulated calls: a WAV (8 kHz, 8-bit mono) as long as the
//! call, with a tone per transcript turn, agent and customer at different pitches.

use super::{Role, Turn};

pub const RATE: u32 = 8000;

/// One second of a 1 Hz sine as samples: the tone of frequency `f` (a whole number of
/// hertz) at sample `k` is `SINE[k * f % RATE]`, so a recording costs a table lookup
/// per sample, not a `sin`.
fn sine() -> &'static [u8] {
    static SINE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SINE.get_or_init(|| {
        (0..RATE)
            .map(|p| {
                let v = (p as f64 / RATE as f64 * std::f64::consts::TAU).sin() * 40.0;
                (128.0 + v) as u8
            })
            .collect()
    })
}

/// Writes the tone of `freq` Hz over `samples[start..end]`, sample `k` being
/// `SINE[k * freq % RATE]`: the tone repeats every `RATE / gcd(freq, RATE)` samples,
/// so one period is computed and copied (a ten-minute recording is 4.8 MB).
fn fill_tone(samples: &mut [u8], start: usize, end: usize, freq: usize) {
    if start >= end {
        return;
    }
    let rate = RATE as usize;
    let (mut a, mut b) = (freq, rate);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let period = rate / a.max(1);
    let sine = sine();
    let tone: Vec<u8> = (0..period).map(|k| sine[k * freq % rate]).collect();
    let mut k = start;
    while k < end {
        let phase = k % period;
        let len = (period - phase).min(end - k);
        samples[k..k + len].copy_from_slice(&tone[phase..phase + len]);
        k += len;
    }
}

pub fn wav(transcript: &[Turn], duration_secs: i64) -> Vec<u8> {
    let secs = duration_secs.max(1) as usize;
    let n = secs * RATE as usize;
    let mut samples = vec![128u8; n];
    for (i, turn) in transcript.iter().enumerate() {
        let start = (turn.start_s.max(0.0) * RATE as f64) as usize;
        let end = transcript
            .get(i + 1)
            .map(|t| (t.start_s * RATE as f64) as usize)
            .unwrap_or(n)
            .min(n);
        let freq: usize = match turn.role {
            Role::Agent => 440,
            Role::Customer => 330,
        };
        // Speak for 80% of the turn, then a pause.
        let speak_end = (start + (end.saturating_sub(start)) * 4 / 5).min(n);
        fill_tone(&mut samples, start, speak_end, freq);
    }
    let mut out = Vec::with_capacity(44 + n);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + n as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&RATE.to_le_bytes()); // byte rate
    out.extend_from_slice(&1u16.to_le_bytes()); // block align
    out.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&samples);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_header_and_length() {
        let turns = vec![Turn {
            role: Role::Agent,
            text: "hi".into(),
            start_s: 0.0,
        }];
        let bytes = wav(&turns, 3);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WAVE");
        assert_eq!(bytes.len(), 44 + 3 * 8000);
        assert!(bytes[44..].iter().any(|b| *b != 128));
        // The agent's 440 Hz tone: sample k is sin(2π·440·k/8000), scaled around 128.
        for k in [1usize, 7, 1234, 19_000] {
            let v = (k as f64 * 440.0 / RATE as f64 * std::f64::consts::TAU).sin() * 40.0;
            let expected = 128.0 + v;
            assert!((bytes[44 + k] as f64 - expected).abs() <= 1.0, "sample {k}");
        }
    }

    #[test]
    fn each_turn_is_its_tone_sample_by_sample_then_a_pause() {
        let turns = vec![
            Turn {
                role: Role::Agent,
                text: "hello".into(),
                start_s: 0.3,
            },
            Turn {
                role: Role::Customer,
                text: "hi".into(),
                start_s: 2.5,
            },
        ];
        let bytes = wav(&turns, 5);
        let samples = &bytes[44..];
        let sine = sine();
        let rate = RATE as usize;
        let (a0, a1, c0, end) = (2_400usize, 20_000usize, 20_000usize, 5 * rate);
        for (k, sample) in samples.iter().enumerate() {
            let expected = if k >= a0 && k < a0 + (a1 - a0) * 4 / 5 {
                sine[k * 440 % rate]
            } else if k >= c0 && k < c0 + (end - c0) * 4 / 5 {
                sine[k * 330 % rate]
            } else {
                128
            };
            assert_eq!(*sample, expected, "sample {k}");
        }
    }
}
