#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kaicalls::fuzzing::webhook_signature(data));
