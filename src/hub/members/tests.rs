use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::domain::text::{Lang, Mode};
use crate::domain::Role;

/// Attendees numbered from 0, each with the client's end of its socket.
async fn members(n: usize) -> (Members, Vec<TcpStream>) {
    with_roles(&vec![Role::Attendee; n]).await
}

/// Members numbered from 0 with these roles, joined in this order.
async fn with_roles(roles: &[Role]) -> (Members, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut members = Members::new(Default::default());
    let mut clients = Vec::with_capacity(roles.len());
    for (conn, &role) in roles.iter().enumerate() {
        let conn = conn as ConnId;
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let actor = Actor {
            participant: format!("p{conn}"),
            name: format!("Member {conn}"),
            role,
            mode: Mode::Remote,
            lang: Lang::En,
            affiliation: None,
            crew: vec![],
        };
        let out = Arc::new(Outbound::new(server));
        members.insert(Member { conn, actor, out, captions: None, screen: None });
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

/// Roles in a mixed order, a staff member every fifth.
fn mixed(n: usize) -> Vec<Role> {
    let staff = [Role::Moderator, Role::Av, Role::Speaker, Role::Organizer, Role::Captioner];
    (0..n)
        .map(|k| {
            if k % 5 == 2 {
                staff[k / 5 % staff.len()]
            } else if k % 7 == 3 {
                Role::Display
            } else {
                Role::Attendee
            }
        })
        .collect()
}

/// The fan-out order holds every staff member ahead of every other member, and the index
/// still finds each member where it is.
fn assert_staff_first(members: &Members) {
    let order: Vec<&Member> = members.iter().collect();
    let first_other = order.iter().position(|m| !is_staff(m.actor.role)).unwrap_or(order.len());
    assert!(
        order[first_other..].iter().all(|m| !is_staff(m.actor.role)),
        "a staff member comes after the audience starts: {:?}",
        order.iter().map(|m| (m.conn, m.actor.role)).collect::<Vec<_>>()
    );
    for member in &order {
        assert_eq!(members.get(member.conn).map(|m| m.conn), Some(member.conn), "the index lost {}", member.conn);
    }
    let audience: Vec<ConnId> = members.audience().collect();
    assert_eq!(audience, order[first_other..].iter().map(|m| m.conn).collect::<Vec<_>>());
}

#[tokio::test]
async fn staff_stay_ahead_of_the_audience_through_joins_and_leaves() {
    let roles = mixed(60);
    let (mut members, _clients) = with_roles(&roles).await;
    assert_eq!(members.len(), 60);
    assert_staff_first(&members);
    // Leaves of staff and audience alike, the last and the first of each part among them.
    let staff: Vec<ConnId> = members.iter().filter(|m| is_staff(m.actor.role)).map(|m| m.conn).collect();
    for conn in [staff[0], *staff.last().unwrap(), 0, 59, 31, staff[3]] {
        assert!(members.remove(conn).is_some(), "{conn} was a member");
        assert!(members.get(conn).is_none(), "{conn} is gone from the index");
        assert_staff_first(&members);
    }
    assert_eq!(members.len(), 54);
    // Until no staff is left, and a new one joins again ahead of everyone.
    for conn in staff {
        members.remove(conn);
    }
    assert_staff_first(&members);
    let (extra, _client) = with_roles(&[Role::Moderator]).await;
    let moderator = extra.iter().next().unwrap();
    let moderator =
        Member { conn: 1000, actor: moderator.actor.clone(), out: moderator.out.clone(), captions: None, screen: None };
    members.insert(moderator);
    assert_eq!(members.iter().next().map(|m| m.conn), Some(1000));
    assert_staff_first(&members);
}

#[tokio::test]
async fn the_first_half_of_a_fan_out_reaches_the_staff_and_the_senders_only() {
    let roles = mixed(SPLIT_FROM + 40);
    let (members, mut clients) = with_roles(&roles).await;
    let sender = roles.iter().position(|&r| r == Role::Attendee).unwrap() as ConnId;
    let frame = Frame::text(|buf| buf.extend_from_slice(b"{\"type\":\"change\"}"));

    assert!(members.send_first(&[sender], &|_| &frame).is_empty());

    for (conn, client) in clients.iter_mut().enumerate() {
        if is_staff(roles[conn]) || conn as ConnId == sender {
            assert!(holds(client, &frame).await, "{:?} {conn} did not get the frame first", roles[conn]);
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    for (conn, client) in clients.iter().enumerate() {
        if !is_staff(roles[conn]) && conn as ConnId != sender {
            assert!(empty(client), "{:?} {conn} got the frame before the staff were done", roles[conn]);
        }
    }
    // The rest, in rounds over the audience, leaves out who had it.
    let rest: Vec<ConnId> = members.audience().filter(|&conn| conn != sender).collect();
    assert_eq!(rest.len(), roles.iter().filter(|&&r| !is_staff(r)).count() - 1);
    assert!(members.send_some(&rest, &|_| &frame).is_empty());
    for (conn, client) in clients.iter_mut().enumerate() {
        if !is_staff(roles[conn]) && conn as ConnId != sender {
            assert!(holds(client, &frame).await, "{conn} got the frame after the staff");
        }
    }
}
