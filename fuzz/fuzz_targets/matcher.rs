#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| breakout_fuzz::matcher(data));
