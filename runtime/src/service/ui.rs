//! `GET /ui`: the service's own page (a live timeline, time travel through a stream, correlation
//! traces, operations), its files embedded in the binary. It calls nothing but the service's
//! routes, which its Content-Security-Policy enforces, so it works offline and behind a firewall.
//! The files need no token: what they show comes from the routes, which do.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

use super::problem::Problem;

/// What the page may load and call: its own files and the service's routes, nothing else.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One file of the page.
struct File {
    name: &'static str,
    media_type: &'static str,
    body: &'static str,
}

macro_rules! files {
    ($(($name:literal, $media_type:literal)),* $(,)?) => {
        &[$(File { name: $name, media_type: $media_type, body: include_str!(concat!("ui/", $name)) }),*]
    };
}

const FILES: &[File] = files![
    ("index.html", "text/html; charset=utf-8"),
    ("app.css", "text/css; charset=utf-8"),
    ("icon.svg", "image/svg+xml"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("api.js", "text/javascript; charset=utf-8"),
    ("dom.js", "text/javascript; charset=utf-8"),
    ("detail.js", "text/javascript; charset=utf-8"),
    ("timeline.js", "text/javascript; charset=utf-8"),
    ("stream.js", "text/javascript; charset=utf-8"),
    ("trace.js", "text/javascript; charset=utf-8"),
    ("operations.js", "text/javascript; charset=utf-8"),
];

/// The page's files and their size, for the docs and the tests.
pub fn files() -> impl Iterator<Item = (&'static str, usize)> {
    FILES.iter().map(|file| (file.name, file.body.len()))
}

/// An entity tag per file, from its content: a browser revalidates (`no-cache`) and gets 304
/// until the binary serves another page.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        FILES
            .iter()
            .map(|file| {
                // FNV-1a: stable across builds and platforms, unlike std's hasher.
                let hash = file
                    .body
                    .bytes()
                    .fold(0xcbf2_9ce4_8422_2325_u64, |hash, b| {
                        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
                    });
                format!("\"{hash:016x}\"")
            })
            .collect()
    })
}

fn serve(index: usize, headers: &HeaderMap) -> Response {
    let file = &FILES[index];
    let etag = &etags()[index];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, file.media_type)], file.body).into_response()
    };
    let set = response.headers_mut();
    set.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    set.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    set.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(etag) {
        set.insert(header::ETAG, etag);
    }
    response
}

/// `GET /ui`: the page.
pub(crate) async fn page(headers: HeaderMap) -> Response {
    serve(0, &headers)
}

/// `GET /ui/{file}`: one of its files.
pub(crate) async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match FILES.iter().position(|file| file.name == name) {
        Some(index) => serve(index, &headers),
        None => Problem::not_found(format!("the page has no file `{name}`")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_it_has() {
        let page = FILES[0].body;
        for reference in page
            .split(['"', '\''])
            .filter(|part| part.starts_with("/ui/"))
        {
            let name = &reference["/ui/".len()..];
            assert!(
                FILES.iter().any(|file| file.name == name),
                "index.html loads {reference}, which is not embedded"
            );
        }
    }

    #[test]
    fn every_module_the_scripts_import_is_embedded() {
        for file in FILES.iter().filter(|f| f.name.ends_with(".js")) {
            for line in file.body.lines() {
                let Some(from) = line.trim().strip_prefix("import ").and_then(|l| {
                    let start = l.find(['"', '\''])? + 1;
                    let end = start + l[start..].find(['"', '\''])?;
                    Some(&l[start..end])
                }) else {
                    continue;
                };
                let name = from.trim_start_matches("./");
                assert!(
                    FILES.iter().any(|file| file.name == name),
                    "{} imports {from}, which is not embedded",
                    file.name
                );
            }
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_the_policy_would_block() {
        let page = FILES[0].body;
        assert!(!page.contains(" style="), "an inline style attribute");
        for script in page.split("<script").skip(1) {
            let tag = &script[..script.find('>').unwrap_or(script.len())];
            assert!(tag.contains("src="), "an inline script: <script{tag}>");
        }
    }

    #[test]
    fn no_file_names_an_address_outside_the_service() {
        for file in FILES {
            // The SVG namespace is a name, not an address the browser loads.
            let body = file.body.replace("http://www.w3.org/2000/svg", "");
            for scheme in ["http://", "https://", "ws://", "wss://", "//cdn", "@import"] {
                assert!(
                    !body.contains(scheme),
                    "{} names an address outside the service ({scheme})",
                    file.name
                );
            }
        }
    }
}
