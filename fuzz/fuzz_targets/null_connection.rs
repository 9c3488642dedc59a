#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| weirmq_zmtp::fuzzing::null_connection(data));
