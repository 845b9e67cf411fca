//! Flink's `socket` source, from Flink's full-stack example: connects to
//! `hostname:port`, cuts the byte stream at `byte-delimiter` (default 10,
//! a newline) and hands the records to the table's `format`.
//!
//! When the server goes away the source reconnects every
//! `reconnect-interval` (a Weir option; Flink's example simply ends), so a
//! restarted server is picked up again; records are never split across a
//! reconnect — a partial record at the break is dropped and counted in
//! `partial-records-dropped`. The scan is unbounded.
//!
//! As a **sink** it connects to the same kind of server and writes each
//! encoded record followed by `byte-delimiter`, flushing at every
//! checkpoint (at-least-once: a socket cannot take back what it sent).
//!
//! It declares `tcp-connect {hostname}:{port}`; the operator grants it with
//! `--allow-net hostname:port`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use weir_framing::{Framer, Framing};
use weir_sdk::{
    Accepted, CapabilityKind, Committable, ComponentSpec, Connector, Error, OptionSpec, Options, OptionsExt, Payload,
    RawRecords, ReadResult, Result, RowKind, ScanPlan, ScanRequest, Schema, Sink, SinkInput, Source, Split, VarData,
    WriterContext, export_connector,
};

/// The reader of the one split.
pub struct Socket {
    address: String,
    delimiter: u8,
    reconnect: Duration,
    stream: Option<TcpStream>,
    last_attempt: Option<Instant>,
    failed_attempts: u64,
    framer: Framer,
    buffer: Vec<u8>,
}

/// The connector: one spec and validation for reading and writing.
struct SocketConnector;

impl Connector for SocketConnector {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("socket", "Delimited records from and to a TCP server (Flink's socket example source)")
            .payload(Payload::RawRecords)
            .changelog(&[RowKind::Insert, RowKind::UpdateBefore, RowKind::UpdateAfter, RowKind::Delete])
            .option(OptionSpec::string("hostname", "Host to connect to").required())
            .option(OptionSpec::int("port", "Port to connect to").required())
            .option(
                OptionSpec::int("byte-delimiter", "Byte that ends each record (10 is a newline)").default_value("10"),
            )
            .option(
                OptionSpec::new(
                    "reconnect-interval",
                    weir_sdk::OptionType::Duration,
                    "Pause between attempts to reach the server when it is not there",
                )
                .default_value("1 s"),
            )
            .capability(CapabilityKind::TcpConnect, "{hostname}:{port}")
    }

    fn validate(options: &Options, _schema: &Schema) -> Result<()> {
        settings(options).map(|_| ())
    }
}

impl Source for Socket {
    fn plan(options: &Options, _schema: &Schema, _request: &ScanRequest) -> Result<ScanPlan> {
        let (address, ..) = settings(options)?;
        Ok(ScanPlan {
            splits: vec![Split { id: format!("socket-{address}"), payload: Vec::new() }],
            bounded: false,
            accepted: Accepted { projection: false, filters: Vec::new(), limit: false, partitions: false },
        })
    }

    fn open(
        options: &Options,
        _schema: &Schema,
        _request: &ScanRequest,
        _split: &Split,
        _state: Option<&[u8]>,
    ) -> Result<Self> {
        let (address, delimiter, reconnect) = settings(options)?;
        Ok(Socket {
            address,
            delimiter,
            reconnect,
            stream: None,
            last_attempt: None,
            failed_attempts: 0,
            framer: Framer::new(Framing::Delimiter(delimiter)),
            buffer: vec![0; 64 * 1024],
        })
    }

    fn next(&mut self, _max_records: u32) -> Result<ReadResult> {
        self.connect();
        let Some(stream) = self.stream.as_mut() else { return Ok(ReadResult::WouldBlock) };
        match stream.read(&mut self.buffer) {
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                Ok(ReadResult::WouldBlock)
            }
            Ok(0) | Err(_) => {
                // The server went away: drop a partial record, retry later.
                self.stream = None;
                if self.framer.finish().is_ok_and(|partial| !partial.is_empty()) {
                    weir_sdk::log::counter_add("partial-records-dropped", 1);
                }
                self.framer = Framer::new(Framing::Delimiter(self.delimiter));
                weir_sdk::log::warn(&format!("connection to {} closed; reconnecting", self.address));
                Ok(ReadResult::WouldBlock)
            }
            Ok(n) => {
                let frames = self.framer.push(&self.buffer[..n]).map_err(|e| Error::data(0, b"", e.to_string()))?;
                if frames.is_empty() {
                    return Ok(ReadResult::WouldBlock);
                }
                Ok(ReadResult::Records(RawRecords {
                    values: VarData { offsets: frames.offsets, data: frames.data },
                    keys: None,
                    timestamps: None,
                    metadata: Vec::new(),
                }))
            }
        }
    }

    /// A socket stream cannot be replayed: the state is empty and a restore
    /// reads on from whatever the server sends next.
    fn checkpoint(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

impl Socket {
    /// (Re)connects when not connected and the interval allows.
    fn connect(&mut self) {
        if self.stream.is_none() && self.last_attempt.is_none_or(|t| t.elapsed() >= self.reconnect) {
            self.last_attempt = Some(Instant::now());
            match TcpStream::connect(&self.address) {
                Ok(stream) => {
                    weir_sdk::log::info(&format!("connected to {}", self.address));
                    // Return to the host now and then while the server is
                    // quiet, so checkpoints and a stop are not held up.
                    if let Err(e) = stream.set_read_timeout(Some(Duration::from_millis(200))) {
                        weir_sdk::log::debug(&format!("no read timeout on this platform: {e}"));
                    }
                    self.failed_attempts = 0;
                    self.stream = Some(stream);
                }
                Err(e) => {
                    // Warn on the first failure and then now and again, not every interval.
                    let message =
                        format!("cannot connect to {}: {e}; retrying every {:?}", self.address, self.reconnect);
                    if self.failed_attempts.is_multiple_of(60) {
                        weir_sdk::log::warn(&message);
                    } else {
                        weir_sdk::log::debug(&message);
                    }
                    self.failed_attempts += 1;
                }
            }
        }
    }
}

fn settings(options: &Options) -> Result<(String, u8, Duration)> {
    let host = options.string("hostname")?;
    let port = u16::try_from(options.long("port")?).map_err(|_| Error::config(Some("port"), "must be 0 to 65535"))?;
    let delimiter = u8::try_from(options.long("byte-delimiter")?)
        .map_err(|_| Error::config(Some("byte-delimiter"), "must be a byte value, 0 to 255"))?;
    Ok((format!("{host}:{port}"), delimiter, options.duration("reconnect-interval")?))
}

/// The sink's writer: one connection, records joined with the delimiter.
pub struct SocketWriter {
    address: String,
    delimiter: u8,
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Sink for SocketWriter {
    fn open(options: &Options, _schema: &Schema, _context: &WriterContext) -> Result<Self> {
        let (address, delimiter, _) = settings(options)?;
        let stream = TcpStream::connect(&address)
            .map_err(|e| Error::connection(format!("cannot connect to {address}: {e}; is the server running?")))?;
        Ok(SocketWriter { address, delimiter, stream, buffer: Vec::new() })
    }

    fn write(&mut self, input: SinkInput) -> Result<()> {
        let SinkInput::Records(records) = input else {
            return Err(Error::unsupported("the socket sink writes encoded records; give the table a 'format'"));
        };
        self.buffer.clear();
        weir_framing::join(
            &weir_framing::VarData { offsets: records.values.offsets, data: records.values.data },
            Framing::Delimiter(self.delimiter),
            &mut self.buffer,
        );
        self.stream
            .write_all(&self.buffer)
            .map_err(|e| Error::connection(format!("cannot send to {}: {e}", self.address)))
    }

    fn prepare_commit(&mut self, _checkpoint_id: u64) -> Result<Vec<Committable>> {
        self.stream.flush().map_err(|e| Error::connection(format!("cannot send to {}: {e}", self.address)))?;
        Ok(Vec::new())
    }

    fn commit(_options: &Options, _committables: Vec<Committable>) -> Result<()> {
        Ok(())
    }
}

export_connector!(SocketConnector, Socket, SocketWriter);
