//! Who may do what: bearer tokens on every route but the health checks, JSON bodies for
//! commands, and CORS only for the origins configured.

use super::problem::Problem;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The service's access settings.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Every route: commands and reads. When neither token is set, the service is open.
    pub token: Option<String>,
    /// Reads only (`GET`): a client holding it sends no command.
    pub read_token: Option<String>,
    /// The origins a browser may call the service from (CORS); none: no CORS headers at all.
    pub cors_origins: Vec<String>,
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
    /// The same token for both would give readers the right to write.
    #[error("the read-only token is the write token: give readers a token of their own")]
    SameTokens,
}

impl Access {
    /// Checks the settings: no empty token, no read-only token without a write token.
    pub fn checked(self) -> Result<Self, AccessError> {
        if self.token.as_deref() == Some("") {
            return Err(AccessError::EmptyToken("the token (EVENTSMITH_TOKEN)"));
        }
        if self.read_token.as_deref() == Some("") {
            return Err(AccessError::EmptyToken(
                "the read-only token (EVENTSMITH_READ_TOKEN)",
            ));
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
            .and_then(|v| v.strip_prefix("Bearer "))?;
        if self.token.as_deref().is_some_and(|t| same(given, t)) {
            Some(Grant::Everything)
        } else if self.read_token.as_deref().is_some_and(|t| same(given, t)) {
            Some(Grant::Reads)
        } else {
            None
        }
    }
}

/// Compared in full whatever the first difference, so the time taken tells nothing of the token.
fn same(given: &str, token: &str) -> bool {
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Routes anyone may call: what orchestrators probe.
fn public(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
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
        .filter(|origin| access.cors_origins.iter().any(|o| o == origin || o == "*"))
        .map(str::to_owned);
    if request.method() == Method::OPTIONS {
        return match origin {
            Some(origin) => cors(StatusCode::NO_CONTENT.into_response(), &origin, true),
            None => Problem::new(
                StatusCode::FORBIDDEN,
                "cors-origin",
                "The origin may not call this service",
                "the service answers browsers only from the origins configured (EVENTSMITH_CORS_ORIGINS)",
            )
            .into_response(),
        };
    }
    let response = match check(&access, &request) {
        Ok(()) => next.run(request).await,
        Err(problem) => problem.into_response(),
    };
    match origin {
        Some(origin) => cors(response, &origin, false),
        None => response,
    }
}

fn check(access: &Access, request: &Request) -> Result<(), Problem> {
    let path = request.uri().path();
    if public(path) {
        return Ok(());
    }
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD);
    match access.grant(request.headers()) {
        Some(Grant::Everything) => {}
        Some(Grant::Reads) if !writes => {}
        Some(Grant::Reads) => {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "read-only-token",
                "The token may only read",
                "send commands with the service's write token (EVENTSMITH_TOKEN)",
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

fn cors(mut response: Response, origin: &str, preflight: bool) -> Response {
    let headers = response.headers_mut();
    if let Ok(origin) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
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
        }
        .checked()
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
