//! Where a modem's bytes go: a serial device (a USB stick's AT port, a UART), or a
//! simulated modem inside the process for the `sim` channel and tests.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream to a modem.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub type Stream = Box<dyn Io>;

/// Opens a fresh stream to a simulated modem.
pub type Connect = Arc<dyn Fn() -> io::Result<Stream> + Send + Sync>;

#[derive(Clone)]
pub enum Device {
    Serial {
        path: PathBuf,
        baud: u32,
    },
    /// A modem in the process: every open powers one up.
    Simulated(Connect),
}

impl Device {
    /// Opens the device. A serial port is opened exclusively (TIOCEXCL), so ModemManager or
    /// a second otpd cannot write into the conversation, in raw mode 8N1 without flow
    /// control.
    pub fn open(&self) -> io::Result<Stream> {
        match self {
            Device::Serial { path, baud } => {
                let path = path.to_string_lossy();
                let port = tokio_serial::SerialStream::open(&tokio_serial::new(path, *baud))
                    .map_err(io::Error::from)?;
                Ok(Box::new(port))
            }
            Device::Simulated(connect) => connect(),
        }
    }

    /// The device as logs name it.
    pub fn describe(&self) -> String {
        match self {
            Device::Serial { path, .. } => path.display().to_string(),
            Device::Simulated(_) => "simulated modem".to_owned(),
        }
    }
}
