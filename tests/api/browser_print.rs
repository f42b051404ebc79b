//! The run sheet printed the way a crew prints it: Chromium's print to PDF on A4, the PDF's
//! text read back with pypdf.

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::helpers::{python_json, spawn_app};
use crate::retries::join_as;

/// A PDF given as base64, read with pypdf: its pages, the first page's size in points, and
/// which of `texts` it does not hold whole. Both sides in NFKC (a PDF's CJK text may come
/// out as compatibility characters) and without whitespace (lines wrap anywhere).
async fn read_pdf(base64: &str, texts: &[String]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (pdf, wanted) = (dir.path().join("runsheet.pdf.b64"), dir.path().join("wanted.json"));
    std::fs::write(&pdf, base64).unwrap();
    std::fs::write(&wanted, json!(texts).to_string()).unwrap();
    let script = "import base64, io, json, sys, unicodedata, pypdf\n\
                  pdf = pypdf.PdfReader(io.BytesIO(base64.b64decode(open(sys.argv[1]).read())))\n\
                  plain = lambda t: ''.join(unicodedata.normalize('NFKC', t).split())\n\
                  text = plain(''.join(page.extract_text() for page in pdf.pages))\n\
                  missing = [t for t in json.load(open(sys.argv[2])) if plain(t) not in text]\n\
                  box = pdf.pages[0].mediabox\n\
                  print(json.dumps({'pages': len(pdf.pages), 'size': [float(box.width), float(box.height)],\n\
                                    'missing': missing, 'text': text}))";
    python_json(script, &[&pdf, &wanted], "pypdf 7.1.0").await
}

#[tokio::test]
async fn the_run_sheet_prints_on_a4_in_japanese_with_every_segment_speaker_and_cue_whole() {
    let app = spawn_app().await;
    let (_, welcome) = join_as(app.addr, app.token(Role::Av), "Kato", "kato").await;
    let segments = welcome["snapshot"]["segments"].as_array().unwrap().clone();
    let browser = Browser::start().await;
    let sheet = browser.session().await;
    sheet.open(&app, "runsheet", Role::Av, "&lang=ja").await;
    let last = segments.last().unwrap()["id"].as_str().unwrap();
    sheet.wait_text(&format!("tr[data-segment='{last}']"), |t| !t.is_empty()).await;
    sheet.wait_text("#btn-print", |t| t == "印刷").await;

    // Every title, speaker, cue and AV note, whole: a clipped cell would lose its end.
    let mut wanted = Vec::new();
    for segment in &segments {
        wanted.push(segment["title"]["ja"].as_str().unwrap().to_owned());
        for speaker in segment["speakers"].as_array().unwrap() {
            wanted.push(speaker["name"]["ja"].as_str().unwrap().to_owned());
        }
        for cue in segment["cues"].as_array().unwrap() {
            wanted.push(cue["text"]["ja"].as_str().unwrap().to_owned());
        }
        wanted.extend(segment["av_notes"].as_str().map(str::to_owned));
    }
    assert!(wanted.len() > 20, "the demo's plan has plenty to print: {wanted:?}");
    let pdf = read_pdf(&browser.pdf_base64(&sheet).await, &wanted).await;
    let size: Vec<f64> = pdf["size"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!((size[0] - 595.3).abs() < 2.0 && (size[1] - 841.9).abs() < 2.0, "A4: {size:?}");
    assert_eq!(pdf["missing"], json!([]), "printed whole; the PDF says {}", pdf["text"]);
    assert!(!pdf["text"].as_str().unwrap().contains("印刷する"), "no button on paper");
}
