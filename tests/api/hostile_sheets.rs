//! Hostile spreadsheets against the real binary: zip bombs, far-away cells and huge CSV
//! files are refused naming the limit they break, while the server's memory stays small
//! and its show commands and pings are answered as if no upload were being parsed.

use std::io::{Cursor, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::crash::launch;
use crate::helpers::{http_get, http_request, Client, EVENT};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const MIB: usize = 1024 * 1024;

/// Rows of inline-string cells, the way a sheet's XML holds them; `None` is no cell.
fn sheet_rows(rows: &[(u32, &[(&str, &str)])]) -> String {
    let mut xml = String::new();
    for (number, cells) in rows {
        xml.push_str(&format!("<row r=\"{number}\">"));
        for (at, text) in *cells {
            xml.push_str(&format!("<c r=\"{at}\" t=\"inlineStr\"><is><t>{text}</t></is></c>"));
        }
        xml.push_str("</row>");
    }
    xml
}

/// A plan of one segment, as rows of a sheet.
fn plan_rows() -> String {
    sheet_rows(&[
        (1, &[("A1", "kind"), ("B1", "duration"), ("C1", "title_en"), ("D1", "start")]),
        (2, &[("A2", "break"), ("B2", "15"), ("C2", "Coffee"), ("D2", "09:00")]),
    ])
}

/// What writes one part of a workbook.
type WritePart<'a> = &'a dyn Fn(&mut dyn Write);

/// A workbook of one sheet, "Run of show", built part by part so that a test can make any
/// part hostile: `sheet` writes the sheet's XML, `strings` the shared strings' (none when
/// absent). Parts are deflated as Excel does, so that a bomb is small on disk.
fn workbook(sheet: impl Fn(&mut dyn Write), strings: Option<WritePart<'_>>) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut part = |name: &str, write: WritePart<'_>| {
        zip.start_file(name, deflated).unwrap();
        write(&mut zip);
    };
    part("[Content_Types].xml", &|w| {
        w.write_all(
            br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
        )
        .unwrap()
    });
    part("_rels/.rels", &|w| {
        w.write_all(
            br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        )
        .unwrap()
    });
    part("xl/workbook.xml", &|w| {
        write!(w, r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Run of show" sheetId="1" r:id="rId1"/></sheets></workbook>"#).unwrap()
    });
    part("xl/_rels/workbook.xml.rels", &|w| {
        w.write_all(
            br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        )
        .unwrap()
    });
    part("xl/worksheets/sheet1.xml", &sheet);
    if let Some(strings) = strings {
        part("xl/sharedStrings.xml", strings);
    }
    zip.finish().unwrap().into_inner()
}

/// A sheet whose `<sheetData>` holds `rows`, after `padding` bytes of white space.
fn sheet(rows: String, padding: usize) -> impl Fn(&mut dyn Write) {
    move |w| {
        write!(w, r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>"#).unwrap();
        let spaces = vec![b' '; MIB];
        let mut left = padding;
        while left > 0 {
            let n = left.min(MIB);
            w.write_all(&spaces[..n]).unwrap();
            left -= n;
        }
        write!(w, "{rows}</sheetData></worksheet>").unwrap();
    }
}

/// Status and JSON answer of a plan upload (a dry run) to the demo event.
async fn import(addr: SocketAddr, token: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", content_type)];
    let (status, body) = http_request(addr, "POST", &format!("/api/events/{EVENT}/plan"), &headers, body).await;
    (status, serde_json::from_str(&body).unwrap_or_else(|_| json!(body)))
}

/// The refusal's text: its message and every error's.
fn refusal(answer: &Value) -> String {
    let errors = answer["errors"].as_array().into_iter().flatten().map(|e| e["message"].as_str().unwrap_or_default());
    std::iter::once(answer["message"].as_str().unwrap_or_default()).chain(errors).collect::<Vec<_>>().join("; ")
}

/// The most memory the process has held, in bytes (its peak resident set).
fn peak_rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("Linux's /proc");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse::<usize>().ok()).expect("a size in kB") * 1024
}

#[tokio::test]
async fn zip_bombs_and_far_away_cells_are_refused_by_their_limit_in_little_memory() {
    let data = tempfile::tempdir().unwrap();
    let server = launch(data.path()).await;
    let pid = server.child.id().expect("the server runs");
    let token = server.tokens["organizer"].clone();

    let fine = workbook(sheet(plan_rows(), 0), None);
    let (status, answer) = import(server.addr, &token, XLSX, &fine).await;
    assert_eq!(status, 200, "the hand-made workbook is readable: {answer}");

    let claimed = |w: &mut dyn Write| {
        write!(w, r#"<sst xmlns="{MAIN}" count="4000000000" uniqueCount="4000000000"><si><t>x</t></si></sst>"#).unwrap()
    };
    let many = |w: &mut dyn Write| {
        write!(w, r#"<sst xmlns="{MAIN}">"#).unwrap();
        w.write_all(&b"<si/>".repeat(200_000)).unwrap();
        w.write_all(b"</sst>").unwrap();
    };
    let long = |w: &mut dyn Write| {
        write!(w, r#"<sst xmlns="{MAIN}"><si><t>"#).unwrap();
        let text = vec![b'a'; MIB];
        for _ in 0..300 {
            w.write_all(&text).unwrap();
        }
        w.write_all(b"</t></si></sst>").unwrap();
    };
    let far = |at: &str| {
        let number: u32 = at.trim_start_matches(char::is_alphabetic).parse().unwrap();
        format!("{}{}", plan_rows(), sheet_rows(&[(number, &[(at, "x")])]))
    };
    let wordy = format!("{}{}", plan_rows(), sheet_rows(&[(3, &[("C3", &"a".repeat(40_000))])]));
    let hostile: [(&str, Vec<u8>, &str); 8] = [
        (
            "a claimed count of 4 billion strings",
            workbook(sheet(plan_rows(), 0), Some(&claimed)),
            "100000 shared strings",
        ),
        ("200,000 shared strings", workbook(sheet(plan_rows(), 0), Some(&many)), "100000 shared strings"),
        ("a shared string of 300 MB", workbook(sheet(plan_rows(), 0), Some(&long)), "20 MiB"),
        ("a cell of 40,000 characters", workbook(sheet(wordy, 0), None), "32767 characters"),
        ("400 MB of white space between tags", workbook(sheet(plan_rows(), 400 * MIB), None), "20 MiB"),
        ("a cell at XFD1048576", workbook(sheet(far("XFD1048576"), 0), None), "1000 rows"),
        ("a cell at B1048576", workbook(sheet(far("B1048576"), 0), None), "1000 rows"),
        ("a cell at XFD3", workbook(sheet(far("XFD3"), 0), None), "64 columns"),
    ];
    for (what, file, limit) in &hostile {
        assert!(file.len() < MIB, "{what} is small on disk: {} bytes", file.len());
        let started = Instant::now();
        let (status, answer) = import(server.addr, &token, XLSX, file).await;
        println!(
            "{what}: {} bytes, {status} in {:?}, peak RSS {} MB",
            file.len(),
            started.elapsed(),
            peak_rss(pid) / MIB
        );
        assert_eq!((status, answer["code"].as_str()), (422, Some("invalid_file")), "{what}: {answer}");
        assert!(refusal(&answer).contains(limit), "{what} is refused naming {limit:?}: {answer}");
    }

    // The rooms API reads a spreadsheet that creates an event with the same reader.
    let rooms_token = std::fs::read_to_string(data.path().join("rooms-token")).unwrap();
    let path = "/api/events?id=bombed&title_en=Bombed&venue_en=Hall&start=09:00";
    for (what, file, limit) in &hostile[4..6] {
        let bearer = format!("Bearer {}", rooms_token.trim());
        let headers = [("Authorization", bearer.as_str()), ("Content-Type", XLSX)];
        let (status, body) = http_request(server.addr, "POST", path, &headers, file).await;
        assert_eq!(status, 422, "{what}: {body}");
        assert!(body.contains("invalid_event") && body.contains(limit), "{what} is refused naming {limit:?}: {body}");
    }

    assert_eq!(http_get(server.addr, "/healthz").await.0, 200, "the server is still up");
    let peak = peak_rss(pid);
    println!("the server's peak RSS through every hostile workbook: {} MB", peak / MIB);
    assert!(peak < 300 * MIB, "the server held {} MB at its peak", peak / MIB);
}

/// Rows of a CSV plan leaving ids to be made: the shape that took time in the square of
/// its rows.
fn csv_of(rows: usize) -> Vec<u8> {
    let mut file = b"kind,duration,title_en\n".to_vec();
    for _ in 0..rows {
        file.extend_from_slice(b"break,1,B\n");
    }
    file
}

#[tokio::test]
async fn a_csv_of_200000_rows_is_refused_at_the_first_row_past_the_limit() {
    let data = tempfile::tempdir().unwrap();
    let server = launch(data.path()).await;
    let file = csv_of(199_999);
    assert!(file.len() <= 2 * MIB, "within the upload limit: {} bytes", file.len());
    let started = Instant::now();
    let (status, answer) = import(server.addr, &server.tokens["organizer"], "text/csv", &file).await;
    println!("200,000 rows: {status} in {:?}", started.elapsed());
    assert_eq!((status, answer["code"].as_str()), (422, Some("invalid_file")), "{answer}");
    assert_eq!(answer["errors"].as_array().map(Vec::len), Some(1), "reading stopped at the limit: {answer}");
    assert!(refusal(&answer).contains("more than 1000 rows"), "{answer}");
}

#[tokio::test]
async fn uploads_being_parsed_hold_up_no_ping_and_no_show_command() {
    let data = tempfile::tempdir().unwrap();
    let server = launch(data.path()).await;
    let (mut chair, _) = Client::join(server.addr, &server.tokens["moderator"], "Ji Weidong").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");

    // Two uploaders at once, each alternating a 1 MB CSV of 100,000 rows and a workbook
    // that unpacks to 19 MiB, the heaviest XLSX accepted.
    let heavy = workbook(sheet(plan_rows(), 19 * MIB), None);
    let (addr, token) = (server.addr, server.tokens["organizer"].clone());
    let uploaders: Vec<_> = (0..2)
        .map(|_| {
            let (heavy, token) = (heavy.clone(), token.clone());
            tokio::spawn(async move {
                let csv = csv_of(100_000);
                for _ in 0..6 {
                    let (status, answer) = import(addr, &token, "text/csv", &csv).await;
                    assert_eq!(status, 422, "{answer}");
                    let (status, answer) = import(addr, &token, XLSX, &heavy).await;
                    assert_eq!(status, 200, "{answer}");
                }
            })
        })
        .collect();

    let mut slowest = Duration::ZERO;
    let mut rounds = 0;
    while uploaders.iter().any(|u| !u.is_finished()) {
        let started = Instant::now();
        chair.send(json!({"type": "ping", "t": rounds})).await;
        while chair.next_frame().await["type"] != "pong" {}
        slowest = slowest.max(started.elapsed());
        let started = Instant::now();
        assert_eq!(chair.run("extend", json!({"seconds": 1})).await["type"], "ack");
        slowest = slowest.max(started.elapsed());
        rounds += 1;
        // A chair's pace: samples spread over the uploads rather than one long queue of them.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for uploader in uploaders {
        uploader.await.unwrap();
    }
    println!("{rounds} rounds of a ping and a show command during the uploads; the slowest answer took {slowest:?}");
    assert!(slowest < Duration::from_secs(1), "a ping or a show command waited {slowest:?} behind the uploads");
}
