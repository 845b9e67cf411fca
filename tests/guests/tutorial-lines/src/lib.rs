//! Lines from a TCP server, for the table's `format` to decode.
use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use weir_framing::{Framer, Framing};
use weir_sdk::{
    Accepted, CapabilityKind, ComponentSpec, Connector, Error, OptionSpec, Options, OptionsExt, Payload, RawRecords,
    ReadResult, Result, ScanPlan, ScanRequest, Schema, Source, Split, VarData, export_source,
};

/// The reader of the one split: a connection and a line framer.
pub struct Lines {
    stream: TcpStream,
    framer: Framer,
    buffer: Vec<u8>,
}

impl Connector for Lines {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("lines", "Lines from a TCP server")
            .payload(Payload::RawRecords) // the table needs a 'format'
            .option(OptionSpec::string("hostname", "Server host").required())
            .option(OptionSpec::int("port", "Server port").required())
            // The host grants this only if the operator does (--allow-net).
            .capability(CapabilityKind::TcpConnect, "{hostname}:{port}")
    }
}

impl Source for Lines {
    fn plan(_: &Options, _: &Schema, _: &ScanRequest) -> Result<ScanPlan> {
        let split = Split { id: "stream".into(), payload: Vec::new() };
        let accepted = Accepted { projection: false, filters: Vec::new(), limit: false, partitions: false };
        Ok(ScanPlan { splits: vec![split], bounded: false, accepted })
    }

    fn open(options: &Options, _: &Schema, _: &ScanRequest, _: &Split, _state: Option<&[u8]>) -> Result<Self> {
        let address = format!("{}:{}", options.string("hostname")?, options.long("port")?);
        let stream =
            TcpStream::connect(&address).map_err(|e| Error::connection(format!("cannot connect to {address}: {e}")))?;
        // Give the host control back while the server is quiet.
        stream.set_read_timeout(Some(Duration::from_millis(100))).map_err(|e| Error::connection(e.to_string()))?;
        Ok(Lines { stream, framer: Framer::new(Framing::Newline), buffer: vec![0; 64 * 1024] })
    }

    fn next(&mut self, _max_records: u32) -> Result<ReadResult> {
        match self.stream.read(&mut self.buffer) {
            Ok(0) => Ok(ReadResult::EndOfSplit), // the server closed the connection
            Ok(n) => {
                let frames = self.framer.push(&self.buffer[..n]).map_err(|e| Error::data(0, b"", e.to_string()))?;
                if frames.is_empty() {
                    return Ok(ReadResult::WouldBlock); // no complete line yet
                }
                let values = VarData { offsets: frames.offsets, data: frames.data };
                Ok(ReadResult::Records(RawRecords { values, keys: None, timestamps: None, metadata: Vec::new() }))
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                Ok(ReadResult::WouldBlock) // the host calls again a little later
            }
            Err(e) => Err(Error::connection(e.to_string())),
        }
    }

    /// A stream cannot be replayed: a restored reader reads on from now.
    fn checkpoint(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

export_source!(Lines);
