#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| weirmq_zmtp::fuzzing::curve_server(data));
