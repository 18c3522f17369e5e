//! The engines start, answer on their ports, and are gone after being dropped.

use std::net::TcpStream;

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().split('/').next().unwrap().parse().unwrap()
}

#[test]
fn a_throwaway_postgres_starts_and_stops() {
    let pg = engines::Postgres::start().unwrap();
    let port = port_of(&pg.url());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
    drop(pg);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_nats_cluster_survives_one_server() {
    let mut nats = engines::NatsCluster::start(3).unwrap();
    let ports: Vec<u16> = nats.url().split(',').map(port_of).collect();
    assert_eq!(ports.len(), 3);
    nats.kill(0);
    assert!(TcpStream::connect(("127.0.0.1", ports[0])).is_err());
    assert!(TcpStream::connect(("127.0.0.1", ports[1])).is_ok());
}
