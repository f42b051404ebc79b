use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::domain::text::{Lang, Mode};
use crate::domain::Role;

/// Members numbered from 0, each with the client's end of its socket.
async fn members(n: usize) -> (Members, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut members = Members::new(Default::default());
    let mut clients = Vec::with_capacity(n);
    for conn in 0..n as ConnId {
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let actor = Actor {
            participant: format!("p{conn}"),
            name: format!("Attendee {conn}"),
            role: Role::Attendee,
            mode: Mode::Remote,
            lang: Lang::En,
            affiliation: None,
            crew: vec![],
        };
        let out = Arc::new(Outbound::new(server));
        members.insert(Member { conn, actor, out, captions: None });
        clients.push(client);
    }
    (members, clients)
}

/// Whether the client's end holds exactly `frame`, waiting briefly for it.
async fn holds(client: &mut TcpStream, frame: &Frame) -> bool {
    let mut got = vec![0; frame.bytes().len()];
    tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut got)).await.is_ok_and(|r| r.is_ok())
        && got == frame.bytes()[..]
}

/// Whether no byte has arrived at the client's end (a closed end, as a removed member's, reads none).
fn empty(client: &TcpStream) -> bool {
    let mut byte = [0; 1];
    !matches!(client.try_read(&mut byte), Ok(n) if n > 0)
}

#[tokio::test]
async fn a_fan_out_to_a_list_reaches_those_listed_who_are_still_members_and_no_one_else() {
    // Over the split threshold, so that the list is cut over threads.
    let n = SPLIT_FROM + 100;
    let (mut members, mut clients) = members(n).await;
    let gone: ConnId = 7;
    members.remove(gone);
    let listed: Vec<ConnId> = (0..n as ConnId).filter(|conn| conn % 3 != 0).chain([gone]).collect();
    let frame = Frame::text(|buf| buf.extend_from_slice(b"{\"type\":\"presence\"}"));

    let failed = members.send_some(&listed, &|_| &frame);

    assert!(failed.is_empty(), "no listed member is gone or slow, yet {failed:?} failed");
    for (conn, client) in clients.iter_mut().enumerate() {
        if conn % 3 != 0 && conn as ConnId != gone {
            assert!(holds(client, &frame).await, "listed member {conn} did not get the frame");
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    for (conn, client) in clients.iter().enumerate() {
        if conn % 3 == 0 || conn as ConnId == gone {
            assert!(empty(client), "member {conn}, not listed or gone, got something");
        }
    }
}

#[tokio::test]
async fn a_listed_member_whose_connection_is_closed_is_reported() {
    let (members, _clients) = members(3).await;
    members.get(1).unwrap().out.shut();
    let frame = Frame::text(|buf| buf.extend_from_slice(b"{}"));

    assert_eq!(members.send_some(&[0, 1, 2], &|_| &frame), vec![1]);
}
