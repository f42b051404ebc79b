use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use super::*;

/// An outbound side and the client's end of its socket.
async fn pair() -> (Outbound, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (Outbound::new(server), client)
}

/// Big enough that the socket takes part of one now and then: partial writes happen.
fn numbered(k: usize) -> Frame {
    Frame::text(|buf| buf.extend_from_slice(format!("{k:06}{}", "x".repeat(7_993)).as_bytes()))
}

/// Sends numbered frames, the client reading nothing, until the connection counts as too slow.
fn fill(out: &Outbound) -> Vec<u8> {
    let mut expected = Vec::new();
    for k in 0.. {
        let frame = numbered(k);
        match out.send(&frame) {
            Ok(()) => expected.extend_from_slice(frame.bytes()),
            Err(refused) => {
                assert_eq!(refused, Refused::TooSlow);
                return expected;
            }
        }
        assert!(k < 100_000, "never refused");
    }
    unreachable!()
}

/// Writes out what waits, as the session does, while the client reads `len` bytes.
async fn drain_to(out: &Outbound, peer: &mut TcpStream, len: usize) -> (Flushed, Vec<u8>) {
    let mut received = vec![0; len];
    let (flushed, read) = tokio::join!(
        async {
            loop {
                match out.flush() {
                    Flushed::Waiting => out.socket().writable().await.unwrap(),
                    other => return other,
                }
            }
        },
        tokio::time::timeout(Duration::from_secs(10), peer.read_exact(&mut received)),
    );
    read.expect("the client got everything in time").unwrap();
    (flushed, received)
}

#[tokio::test]
async fn what_the_socket_cannot_take_waits_in_order_up_to_the_limit() {
    let (out, mut peer) = pair().await;
    let expected = fill(&out);
    {
        let queue = out.lock();
        assert!(!queue.frames.is_empty(), "the socket filled up and frames wait");
        assert!(queue.frames.len() <= MAX_QUEUED_FRAMES && queue.bytes <= MAX_QUEUED_BYTES);
    }
    let (flushed, received) = drain_to(&out, &mut peer, expected.len()).await;
    assert_eq!(flushed, Flushed::Open);
    assert!(received == expected, "every byte of every frame, in order, none twice");
    assert_eq!(out.lock().frames.capacity(), 0, "a drained connection keeps no buffer");

    let frame = numbered(0);
    out.send(&frame).unwrap();
    let (_, received) = drain_to(&out, &mut peer, frame.bytes().len()).await;
    assert_eq!(&received[..], &frame.bytes()[..], "and it is written at once again");
}

#[tokio::test]
async fn a_close_comes_after_what_waits_and_nothing_after_it() {
    let (out, mut peer) = pair().await;
    let mut expected = fill(&out);
    let last_word = Frame::text(|buf| buf.extend_from_slice(b"{\"type\":\"error\"}"));
    out.close(1008, "too slow", Some(last_word.clone()));
    out.close(1000, "a second close is ignored", None);
    assert_eq!(out.send(&numbered(1)), Err(Refused::Closed));
    expected.extend_from_slice(last_word.bytes());
    expected.extend_from_slice(Frame::close(1008, "too slow").bytes());
    let (flushed, received) = drain_to(&out, &mut peer, expected.len()).await;
    assert_eq!(flushed, Flushed::Closed { code: 1008, reason: "too slow" });
    assert!(received == expected);
}

#[tokio::test]
async fn a_socket_the_client_closed_is_found_dead() {
    let (out, peer) = pair().await;
    drop(peer);
    let mut refused = None;
    for _ in 0..100 {
        if let Err(e) = out.send(&numbered(0)) {
            refused = Some(e);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(refused, Some(Refused::Closed));
    assert_eq!(out.flush(), Flushed::Dead);
}

#[tokio::test]
async fn frames_sent_together_arrive_whole_and_in_order_also_behind_what_waits() {
    let (out, mut peer) = pair().await;
    let (a, b) = (numbered(1), numbered(2));
    out.send_many(&[&a, &b]).unwrap();
    let mut expected = [a.bytes().as_ref(), b.bytes().as_ref()].concat();
    let mut waiting = fill(&out);
    // Behind a queue at its limit, more are refused whole.
    assert_eq!(out.send_many(&[&numbered(3), &numbered(4)]), Err(Refused::TooSlow));
    expected.append(&mut waiting);
    let (flushed, received) = drain_to(&out, &mut peer, expected.len()).await;
    assert_eq!(flushed, Flushed::Open);
    assert!(received == expected, "every byte once, in the order sent");
    out.shut();
    assert_eq!(out.send_many(&[&a]), Err(Refused::Closed));
}
