//! The PostgreSQL test peer itself: started by the tests (as an
//! unprivileged user when they run as root) on a free loopback port, with
//! SCRAM-SHA-256 password authentication, reachable with psql.

use weir_tests::peers::postgres;

#[test]
fn the_peer_starts_and_answers_psql_with_a_password() {
    let pg = postgres();
    assert_eq!(pg.psql("SELECT 1 + 1").trim(), "2");
    assert!(pg.psql("SHOW password_encryption").trim() == "scram-sha-256");
}
