fn main() -> std::process::ExitCode {
    match otpd::cli::main() {
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("otpd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
