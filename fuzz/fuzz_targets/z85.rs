#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| weirmq_zmtp::fuzzing::z85(data));
