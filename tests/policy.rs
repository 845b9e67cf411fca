//! The default policy grants nothing: a component that tries to read the
//! environment, files, stdin, or to reach the network from inside a decoder
//! is refused every time, and no connection reaches a real listener.

use std::net::TcpListener;
use std::time::Duration;

use arrow_array::StringArray;
use weir_tests::guests::SNOOP_FORMAT;
use weir_tests::runtime_with;

#[tokio::test(flavor = "multi_thread")]
async fn default_policy_grants_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("loopback listener");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("address").to_string();

    let runtime = runtime_with(&[SNOOP_FORMAT]).await;
    let schema = weir::schema![("attempt", String)];
    let mut decoder = runtime.decoder("t", "snoop", &[], &schema).await.expect("opens");
    let rows = decoder.decode(&weir::Frames::new([addr.as_str()])).await.expect("the probe itself runs");
    let column = rows.rows.column(0).as_any().downcast_ref::<StringArray>().expect("strings");
    let outcomes: Vec<&str> = column.iter().map(|v| v.expect("no nulls")).collect();

    let names: Vec<&str> = outcomes.iter().map(|o| o.split('=').next().unwrap_or("")).collect();
    assert_eq!(
        names,
        ["env", "args", "read-dir", "read-file", "write-file", "connect", "dns", "listen", "udp", "stdin"]
    );
    for o in &outcomes {
        assert!(o.contains("=denied"), "the sandbox let this through: {o}\nall outcomes: {outcomes:#?}");
    }

    std::thread::sleep(Duration::from_millis(50));
    assert!(listener.accept().is_err(), "a connection reached the listener despite the policy");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_env_grant_gives_exactly_that_variable() {
    // PATH is set wherever tests run; the guest must see it and nothing else.
    let name = "PATH";
    assert!(std::env::var_os(name).is_some());
    let runtime = runtime_with(&[SNOOP_FORMAT]).await;
    let entry = runtime.catalog().find("snoop", weir::catalog::Role::Format).expect("snoop");
    let grants = weir::policy::Grants { env: vec![name.to_owned()], ..weir::policy::Grants::none() };
    let mut instance =
        entry.loaded().expect("load the component").instantiate("snoop", &grants).await.expect("instance");
    let schema = weir::schema![("attempt", String)];
    let decoder = instance.open_decoder(&Vec::new(), &schema.to_contract()).await.expect("opens");
    let batch = instance.decode(decoder, weir::Frames::new(["127.0.0.1:9"]).as_contract()).await.expect("probe runs");
    let rows = weir::batch::to_arrow("snoop", &schema.to_contract(), batch).expect("valid");
    let column = rows.rows.column(0).as_any().downcast_ref::<StringArray>().expect("strings");
    let env = column.iter().flatten().find(|o| o.starts_with("env=")).expect("env probe");
    assert_eq!(env, "env=ALLOWED 1 variables", "exactly the granted variable");
}
