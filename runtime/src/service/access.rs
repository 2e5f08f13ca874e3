//! Who may do what: bearer tokens on every route but the health checks, JSON bodies for
//! commands, and CORS only for the origins configured.

use super::problem::Problem;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The service's access settings.
#[derive(Clone, Default)]
pub struct Access {
    /// Every route: commands and reads. When neither token is set, the service is open.
    pub token: Option<String>,
    /// Reads only (`GET`): a client holding it sends no command.
    pub read_token: Option<String>,
    /// The origins a browser may call the service from (CORS); none: no CORS headers at all.
    pub cors_origins: Vec<String>,
    /// Whether the service listens on loopback only, where a page on a rebound host name is
    /// the threat: then, without a token, only local host names are answered. A service bound
    /// to other addresses is meant to be reached under its host names.
    pub loopback: bool,
}

impl std::fmt::Debug for Access {
    // Tokens stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field(
                "read_token",
                &self.read_token.as_ref().map(|_| "<redacted>"),
            )
            .field("cors_origins", &self.cors_origins)
            .field("loopback", &self.loopback)
            .finish()
    }
}

/// Why access settings are refused at startup.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    /// A token that is set but empty would turn authentication off without saying so.
    #[error("{0} is set but empty: set a token, or unset it to run without one")]
    EmptyToken(&'static str),
    /// A read-only token alone would leave commands open.
    #[error(
        "a read-only token is set without a write token: set EVENTSMITH_TOKEN too, or commands would need none"
    )]
    ReadTokenAlone,
    /// A token a client could not send in an `Authorization` header as it is.
    #[error(
        "{0} holds characters other than visible ASCII (spaces, control characters or non-ASCII): a bearer token is sent as is in a header"
    )]
    BadToken(&'static str),
    /// The same token for both would give readers the right to write.
    #[error("the read-only token is the write token: give readers a token of their own")]
    SameTokens,
}

impl Access {
    /// Checks the settings: no empty token, no read-only token without a write token, no token
    /// a client cannot send; origins compared as browsers send them (no trailing `/`, lower case).
    pub fn checked(mut self) -> Result<Self, AccessError> {
        for (token, name) in [
            (&self.token, "the token (EVENTSMITH_TOKEN)"),
            (
                &self.read_token,
                "the read-only token (EVENTSMITH_READ_TOKEN)",
            ),
        ] {
            match token.as_deref() {
                Some("") => return Err(AccessError::EmptyToken(name)),
                Some(token) if !token.bytes().all(|b| b.is_ascii_graphic()) => {
                    return Err(AccessError::BadToken(name));
                }
                _ => {}
            }
        }
        for origin in &mut self.cors_origins {
            *origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        }
        match (&self.token, &self.read_token) {
            (None, Some(_)) => Err(AccessError::ReadTokenAlone),
            (Some(write), Some(read)) if write == read => Err(AccessError::SameTokens),
            _ => Ok(self),
        }
    }

    fn open(&self) -> bool {
        self.token.is_none() && self.read_token.is_none()
    }
}

/// What a request's token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    Everything,
    Reads,
}

impl Access {
    fn grant(&self, headers: &HeaderMap) -> Option<Grant> {
        if self.open() {
            return Some(Grant::Everything);
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())?;
        if self.token.as_deref().is_some_and(|t| same(given, t)) {
            Some(Grant::Everything)
        } else if self.read_token.as_deref().is_some_and(|t| same(given, t)) {
            Some(Grant::Reads)
        } else {
            None
        }
    }
}

/// Compared in full whatever the first difference (and whatever the length given), so the time
/// taken tells little of the token.
fn same(given: &str, token: &str) -> bool {
    let (given, token) = (given.as_bytes(), token.as_bytes());
    let mut differ = u8::from(given.len() != token.len());
    for (i, b) in token.iter().enumerate() {
        differ |= b ^ given.get(i).copied().unwrap_or(!b);
    }
    std::hint::black_box(differ) == 0
}

/// Routes anyone may call: what orchestrators probe, and the page's files (what the page shows
/// comes from routes that need a token; the page asks for one).
fn public(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/ui" | "/ui/") || path.starts_with("/ui/")
}

/// A browser's write from a page of another origin than the service's own, or than those
/// configured for CORS: refused, as a form on any web site could otherwise post to a service
/// that runs without a token (a retry or skip needs no body).
fn foreign(access: &Access, headers: &HeaderMap, authority: Option<&str>) -> Result<(), Problem> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    // A browser says so itself; behind a proxy that rewrites `Host`, only this tells.
    let same_site = headers
        .get("sec-fetch-site")
        .is_some_and(|site| site == "same-origin");
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(authority)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let own = origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority == host);
    if same_site || own || access.cors_origins.iter().any(|o| o == &origin || o == "*") {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::FORBIDDEN,
        "cross-origin",
        "The request comes from another site",
        format!(
            "a page of `{origin}` may not send this service commands or actions: serve the page from the service, or add its origin to EVENTSMITH_CORS_ORIGINS"
        ),
    ))
}

/// The middleware: CORS first (a preflight carries no token), then the token, then, for
/// commands, the body's media type.
pub(super) async fn guard(
    State(access): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(|origin| origin.trim_end_matches('/').to_ascii_lowercase())
        .filter(|origin| access.cors_origins.iter().any(|o| o == origin || o == "*"));
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let response = if preflight {
        match &origin {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => Problem::new(
                StatusCode::FORBIDDEN,
                "cors-origin",
                "The origin may not call this service",
                "the service answers browsers only from the origins configured (EVENTSMITH_CORS_ORIGINS)",
            )
            .into_response(),
        }
    } else {
        match check(&access, &request) {
            Ok(()) => next.run(request).await,
            Err(problem) => problem.into_response(),
        }
    };
    cors(response, &access, origin.as_deref(), preflight)
}

fn check(access: &Access, request: &Request) -> Result<(), Problem> {
    let path = request.uri().path();
    if public(path) {
        return Ok(());
    }
    if access.open() && access.loopback {
        local_host(request.headers())?;
    }
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if writes {
        foreign(
            access,
            request.headers(),
            request.uri().authority().map(|a| a.as_str()),
        )?;
    }
    match access.grant(request.headers()) {
        Some(Grant::Everything) => {}
        Some(Grant::Reads) if !writes => {}
        Some(Grant::Reads) => {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "read-only-token",
                "The token may only read",
                "send commands and actions (dead-letter and saga retries) with the service's write token (EVENTSMITH_TOKEN)",
            ));
        }
        None => {
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "A bearer token is required",
                "send `Authorization: Bearer <token>` with one of the service's tokens",
            ));
        }
    }
    if writes && path.starts_with("/commands/") {
        json_body(request.headers())?;
    }
    Ok(())
}

/// Commands are JSON: a form or `text/plain` body, which a web page may send without a
/// preflight, is refused.
fn json_body(headers: &HeaderMap) -> Result<(), Problem> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let json = media.as_deref().is_some_and(|media| {
        media == "application/json"
            || media
                .strip_prefix("application/")
                .is_some_and(|sub| sub.ends_with("+json"))
    });
    if json {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Commands are JSON",
            format!(
                "send the command with `Content-Type: application/json`{}",
                media.map(|m| format!(", not `{m}`")).unwrap_or_default()
            ),
        ))
    }
}

/// Without a token, a service on loopback answers only requests addressed to a loopback name or
/// an IP address: a web page whose own host name was rebound to 127.0.0.1 (DNS rebinding) is
/// same-origin with the service and could otherwise send it commands.
fn local_host(headers: &HeaderMap) -> Result<(), Problem> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // `name:port`, `[v6]:port`, `v4:port`, or without the port.
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let local = name.is_empty()
        || name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok();
    if local {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::FORBIDDEN,
            "host-not-allowed",
            "The service runs without a token",
            format!(
                "a service without a token answers only requests to localhost or an IP address, not to `{name}`: set EVENTSMITH_TOKEN to serve it under a host name"
            ),
        ))
    }
}

fn cors(
    mut response: Response,
    access: &Access,
    origin: Option<&str>,
    preflight: bool,
) -> Response {
    if access.cors_origins.is_empty() {
        return response;
    }
    let headers = response.headers_mut();
    // Answers differ by origin: caches must keep them apart.
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    let Some(origin) = origin.and_then(|o| HeaderValue::from_str(o).ok()) else {
        return response;
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("etag, x-correlation-id, retry-after"),
    );
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "authorization, content-type, if-match, idempotency-key, last-event-id, x-correlation-id, traceparent",
            ),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(token: Option<&str>, read: Option<&str>) -> Result<Access, AccessError> {
        Access {
            token: token.map(str::to_owned),
            read_token: read.map(str::to_owned),
            cors_origins: Vec::new(),
            loopback: true,
        }
        .checked()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    axum::http::HeaderName::from_static(name),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_write_from_another_origin_is_refused_unless_configured() {
        let open = access(None, None).unwrap();
        let own = headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(
            foreign(&open, &own, None).is_ok(),
            "the page of the service itself"
        );
        assert!(
            foreign(&open, &headers(&[("host", "127.0.0.1:8080")]), None).is_ok(),
            "no browser"
        );
        let evil = headers(&[
            ("origin", "https://evil.example"),
            ("host", "localhost:8080"),
        ]);
        let refused = foreign(&open, &evil, None).unwrap_err();
        assert_eq!(
            (refused.status, refused.kind),
            (StatusCode::FORBIDDEN, "cross-origin")
        );
        let proxied = headers(&[
            ("origin", "https://ops.example"),
            ("host", "backend:8080"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(
            foreign(&open, &proxied, None).is_ok(),
            "behind a proxy rewriting Host"
        );
        let http2 = headers(&[("origin", "https://ops.example")]);
        assert!(
            foreign(&open, &http2, Some("ops.example")).is_ok(),
            "HTTP/2: no Host header"
        );
        let configured = Access {
            cors_origins: vec!["https://evil.example".to_owned()],
            ..open
        };
        assert!(foreign(&configured, &evil, None).is_ok(), "a CORS origin");
    }

    #[test]
    fn empty_lone_or_shared_tokens_are_refused() {
        assert!(matches!(
            access(Some(""), None),
            Err(AccessError::EmptyToken(_))
        ));
        assert!(matches!(
            access(Some("w"), Some("")),
            Err(AccessError::EmptyToken(_))
        ));
        assert_eq!(
            access(None, Some("r")).unwrap_err(),
            AccessError::ReadTokenAlone
        );
        assert_eq!(
            access(Some("t"), Some("t")).unwrap_err(),
            AccessError::SameTokens
        );
        assert!(access(Some("w"), Some("r")).is_ok());
        assert!(access(None, None).is_ok());
        assert!(matches!(
            access(Some(" "), None),
            Err(AccessError::BadToken(_))
        ));
        assert!(matches!(
            access(Some("a b"), None),
            Err(AccessError::BadToken(_))
        ));
        assert!(matches!(
            access(Some("tök"), None),
            Err(AccessError::BadToken(_))
        ));
        let shown = format!("{:?}", access(Some("w3ite"), Some("r3ad")).unwrap());
        assert!(
            !shown.contains("w3ite") && !shown.contains("r3ad"),
            "{shown}"
        );
    }

    #[test]
    fn tokens_match_in_full_with_any_scheme_case() {
        let access = access(Some("s3cret"), Some("reader")).unwrap();
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            access.grant(&headers)
        };
        assert_eq!(with("Bearer s3cret"), Some(Grant::Everything));
        assert_eq!(with("bearer s3cret"), Some(Grant::Everything));
        assert_eq!(with("Bearer reader"), Some(Grant::Reads));
        assert_eq!(with("Bearer s3cre"), None);
        assert_eq!(with("Bearer s3crets"), None);
        assert_eq!(with("Basic s3cret"), None);
        assert_eq!(access.grant(&HeaderMap::new()), None);
    }

    #[test]
    fn without_a_token_only_local_names_and_addresses_are_served() {
        let host = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(value).unwrap());
            local_host(&headers).is_ok()
        };
        for local in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:80",
            "10.0.0.5",
            "app.localhost:1",
        ] {
            assert!(host(local), "{local}");
        }
        for remote in ["evil.example:8080", "evil.example", "127.0.0.1.nip.io:8080"] {
            assert!(!host(remote), "{remote}");
        }
    }

    #[test]
    fn commands_must_be_json() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            json_body(&headers).is_ok()
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/cloudevents+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!with("multipart/form-data; boundary=x"));
        assert!(json_body(&HeaderMap::new()).is_err());
    }
}
