//! A hostile source, for the attacks that only a source can make: a scan
//! plan that aliases one buffer thousands of times, a reader that fails
//! forever, a reader that never has data. The `attack` option picks one.

use weir_sdk::{
    Accepted, ComponentSpec, Connector, Error, OptionSpec, Options, OptionsExt, Payload, ReadResult, Result, ScanPlan,
    ScanRequest, Schema, Source, Split,
};

struct HostileSource {
    attack: String,
}

impl Connector for HostileSource {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("hostile-source", "Test guest: attacks the host from plan and next")
            .option(OptionSpec::string("attack", "Which attack to carry out").required())
            .payload(Payload::Rows)
    }
}

impl Source for HostileSource {
    fn plan(options: &Options, _schema: &Schema, _request: &ScanRequest) -> Result<ScanPlan> {
        let accepted = Accepted { projection: false, filters: Vec::new(), limit: false, partitions: false };
        let splits = match options.string("attack")? {
            // 4096 splits whose payloads are the same 16 MiB: 64 GiB if
            // lifted naively.
            "aliased-splits" => {
                let mut big = std::mem::ManuallyDrop::new(vec![7u8; 16 << 20]);
                let (ptr, len, cap) = (big.as_mut_ptr(), big.len(), big.capacity());
                (0..4096)
                    .map(|i| Split {
                        id: format!("s{i}"),
                        // SAFETY: not safe at all, on purpose — the payloads alias.
                        payload: unsafe { Vec::from_raw_parts(ptr, len, cap) },
                    })
                    .collect()
            }
            _ => vec![Split { id: "only".into(), payload: Vec::new() }],
        };
        Ok(ScanPlan { splits, bounded: false, accepted })
    }

    fn open(
        options: &Options,
        _schema: &Schema,
        _request: &ScanRequest,
        _split: &Split,
        _state: Option<&[u8]>,
    ) -> Result<Self> {
        Ok(HostileSource { attack: options.string("attack")?.to_owned() })
    }

    fn next(&mut self, _max_records: u32) -> Result<ReadResult> {
        match self.attack.as_str() {
            "errors-forever" => Err(Error::transient("the upstream is away (forever)")),
            "never-ready" => Ok(ReadResult::WouldBlock),
            other => Err(Error::config(Some("attack"), format!("unknown attack '{other}'"))),
        }
    }

    fn checkpoint(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

weir_sdk::export_source!(HostileSource);
