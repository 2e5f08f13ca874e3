//! RFC 9457 problem details: every error the service answers is `application/problem+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An error answer: a status, a problem type, a title and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// The problem type, a URN naming the kind of problem (`urn:eventsmith:problem:<kind>`).
    pub kind: &'static str,
    /// A short, fixed summary of the kind.
    pub title: &'static str,
    /// What happened this time.
    pub detail: String,
    /// Extension members (`errors`, `expected`, …).
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// A problem of `kind` with `status`.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
            extensions: Map::new(),
        }
    }

    /// The same problem with an extension member.
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.extensions.insert(name.to_owned(), value);
        self
    }

    /// 404: no such resource.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 400: a request that cannot be understood.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    /// 500: the service failed.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "The service failed",
            detail,
        )
    }

    /// 503: the service is busy; the answer says when to try again (`Retry-After`).
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service is busy",
            detail,
        )
    }

    /// The problem as JSON.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "type": format!("urn:eventsmith:problem:{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Value::Object(object) = &mut body {
            object.extend(self.extensions.clone());
        }
        body
    }
}

/// Why a request failed on the service's side: kept out of the answer (it may name tables, files
/// or SQL) and logged with the request's correlation id instead, which the answer's `body` then
/// gets too.
#[derive(Debug, Clone)]
pub(crate) struct Cause {
    pub(crate) cause: String,
    pub(crate) body: Value,
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        let cause = (self.status == StatusCode::INTERNAL_SERVER_ERROR).then(|| {
            std::mem::replace(
                &mut self.detail,
                "the service failed; its log has the cause under this request's correlation id"
                    .to_owned(),
            )
        });
        let mut response = (self.status, self.body().to_string()).into_response();
        if let Some(cause) = cause {
            let body = self.body();
            response.extensions_mut().insert(Cause { cause, body });
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
