//! The config parser: TOML text to a checked `Config`, or an error that names the line, the
//! column and the key (its `Display` is what the operator reads, so it is formatted too).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use otpd::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // These keys make the parser read the file they name. That is I/O, not parsing, and a
    // path such as /dev/zero would only measure the disk: keep the fuzzer off them.
    if ["password_file", "sim_pin_file", "secret_file"]
        .iter()
        .any(|key| text.contains(key))
    {
        return;
    }
    if let Err(e) = Config::parse(text, Path::new("fuzz.toml")) {
        let _ = e.to_string();
    }
});
