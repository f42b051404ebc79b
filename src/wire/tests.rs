use super::*;

/// A client frame as a browser sends it: masked.
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xFA, 0x21, 0x3D];
    let mut out = vec![first];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

fn new_reader() -> Reader {
    Reader::new(16 * 1024)
}

#[test]
fn server_frames_carry_the_shortest_length_encoding() {
    let short = Frame::text(|buf| buf.extend_from_slice(b"hello"));
    assert_eq!(&short.bytes()[..], b"\x81\x05hello");
    assert_eq!(short.as_str(), "hello");

    let medium = Frame::text(|buf| buf.extend_from_slice(&[b'a'; 300]));
    assert_eq!(&medium.bytes()[..4], &[0x81, 126, 0x01, 0x2C]);
    assert_eq!(medium.payload().len(), 300);

    let long = Frame::text(|buf| buf.extend_from_slice(&[b'b'; 70_000]));
    assert_eq!(&long.bytes()[..2], &[0x81, 127]);
    assert_eq!(&long.bytes()[2..10], &70_000u64.to_be_bytes());
    assert_eq!(long.payload().len(), 70_000);
}

#[test]
fn close_ping_and_pong_frames() {
    assert_eq!(&Frame::close(1008, "too slow").bytes()[..], b"\x88\x0a\x03\xf0too slow");
    assert_eq!(&Frame::ping().bytes()[..], b"\x89\x00");
    assert_eq!(&Frame::pong(b"t").bytes()[..], b"\x8a\x01t");
}

#[test]
fn a_masked_text_frame_arriving_in_pieces_is_one_message() {
    let bytes = client_frame(0x81, "你好 hello".as_bytes());
    let mut reader = new_reader();
    for (i, byte) in bytes.iter().enumerate() {
        assert_eq!(reader.message(), Ok(None), "incomplete after {i} bytes");
        reader.push(&[*byte]);
    }
    assert_eq!(reader.message(), Ok(Some(Message::Text("你好 hello".into()))));
    assert_eq!(reader.message(), Ok(None));
    assert_eq!(reader.input.capacity(), 0, "an idle reader holds no buffer");
}

#[test]
fn several_messages_in_one_read_come_out_in_order() {
    let mut bytes = client_frame(0x81, b"one");
    bytes.extend(client_frame(0x89, b"p"));
    bytes.extend(client_frame(0x82, b"\x00\x01"));
    bytes.extend(client_frame(0x8A, b""));
    bytes.extend(client_frame(0x88, &1000u16.to_be_bytes()));
    let mut reader = new_reader();
    reader.push(&bytes);
    assert_eq!(reader.message(), Ok(Some(Message::Text("one".into()))));
    assert_eq!(reader.message(), Ok(Some(Message::Ping(b"p".to_vec()))));
    assert_eq!(reader.message(), Ok(Some(Message::Binary)));
    assert_eq!(reader.message(), Ok(Some(Message::Pong)));
    assert_eq!(reader.message(), Ok(Some(Message::Close(Some(1000)))));
    assert_eq!(reader.message(), Ok(None));
}

#[test]
fn fragments_are_reassembled_around_a_control_frame() {
    let mut bytes = client_frame(0x01, b"{\"type\":");
    bytes.extend(client_frame(0x89, b""));
    bytes.extend(client_frame(0x80, b"\"ping\"}"));
    let mut reader = new_reader();
    reader.push(&bytes);
    assert_eq!(reader.message(), Ok(Some(Message::Ping(Vec::new()))));
    assert_eq!(reader.message(), Ok(Some(Message::Text("{\"type\":\"ping\"}".into()))));
}

#[test]
fn an_oversized_message_is_refused_from_its_header() {
    let mut reader = new_reader();
    let header = &client_frame(0x81, &[b'x'; 20_000])[..14];
    reader.push(header);
    assert_eq!(reader.message(), Err(WireError::TooLarge(16 * 1024)));

    let mut reader = new_reader();
    reader.push(&client_frame(0x01, &[b'x'; 10_000]));
    reader.push(&client_frame(0x80, &[b'x'; 10_000])[..14]);
    assert_eq!(reader.message(), Err(WireError::TooLarge(16 * 1024)), "fragments count together");
}

#[test]
fn protocol_violations() {
    let cases: [(&str, Vec<u8>); 6] = [
        ("unmasked", vec![0x81, 0x01, b'x']),
        ("reserved bit", client_frame(0xC1, b"x")),
        ("reserved opcode", client_frame(0x83, b"x")),
        ("fragmented ping", client_frame(0x09, b"")),
        ("continuation without a start", client_frame(0x80, b"x")),
        ("long control frame", client_frame(0x89, &[0; 126])),
    ];
    for (name, bytes) in cases {
        let mut reader = new_reader();
        reader.push(&bytes);
        assert!(matches!(reader.message(), Err(WireError::Protocol(_))), "{name}");
    }
}

#[test]
fn invalid_utf8_text_is_refused_and_binary_is_not_decoded() {
    let mut reader = new_reader();
    reader.push(&client_frame(0x81, &[0xFF, 0xFE]));
    assert_eq!(reader.message(), Err(WireError::InvalidUtf8));
    assert_eq!(WireError::InvalidUtf8.close_code(), 1007);

    let mut reader = new_reader();
    reader.push(&client_frame(0x82, &[0xFF, 0xFE]));
    assert_eq!(reader.message(), Ok(Some(Message::Binary)));
}

fn close_body(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason);
    body
}

fn read_close(body: &[u8]) -> Result<Option<Message>, WireError> {
    let mut reader = new_reader();
    reader.push(&client_frame(0x88, body));
    reader.message()
}

#[test]
fn an_empty_close_frame_carries_no_code() {
    assert_eq!(read_close(b""), Ok(Some(Message::Close(None))));
}

#[test]
fn a_close_frame_of_one_byte_is_a_protocol_violation() {
    assert!(matches!(read_close(&[0x03]), Err(WireError::Protocol(_))));
}

#[test]
fn close_codes_that_may_be_sent_are_accepted_with_a_utf8_reason() {
    for code in [1000, 1001, 1002, 1003, 1007, 1010, 1011, 1014, 3000, 4000, 4999] {
        assert_eq!(read_close(&close_body(code, b"")), Ok(Some(Message::Close(Some(code)))), "{code}");
    }
    let reason = close_body(1000, "再见, Zoë".as_bytes());
    assert_eq!(read_close(&reason), Ok(Some(Message::Close(Some(1000)))));
}

#[test]
fn close_codes_that_may_not_be_sent_are_protocol_violations() {
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535] {
        let read = read_close(&close_body(code, b""));
        assert!(matches!(read, Err(WireError::Protocol(_))), "{code}: {read:?}");
        assert_eq!(read.unwrap_err().close_code(), 1002);
    }
}

#[test]
fn a_close_reason_that_is_not_utf8_is_refused_as_invalid_utf8() {
    let read = read_close(&close_body(1000, &[b'o', b'k', 0xFF]));
    assert_eq!(read, Err(WireError::InvalidUtf8));
    // Cut in the middle of a character: a reason is whole, so this is not UTF-8 either.
    let cut = &"再".as_bytes()[..2];
    assert_eq!(read_close(&close_body(1001, cut)), Err(WireError::InvalidUtf8));
}
