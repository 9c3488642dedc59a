#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| weirmq_cipher::fuzzing::differential(data));
