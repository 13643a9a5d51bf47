//! `eqlc serve`: a local preview page for rule authors.
//!
//! The page (embedded in the binary: no CDN, no network at run time) has an editor for a rule
//! document or an EQL query, and shows as the author types the canonical EQL and Query DSL,
//! the Sigma rule, and what the native evaluator compiles the rule to, with diagnostics
//! highlighted in the editor; pasted NDJSON events are run through the engine to show which
//! match. The page talks to a JSON API on the same server ([`api`]).
//!
//! Routing ([`handle`]) is a pure function of method, path, content type and body, so it is
//! tested without sockets; [`Server`] only moves requests between tiny_http and it.

pub mod api;
pub mod describe;

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;

/// Request bodies larger than this are refused with 413: a rule and a sample of events fit
/// many times over, and no request can make the server hold much memory.
pub const MAX_BODY: usize = 1 << 20;

/// Worker threads answering requests: enough that a slow evaluation does not hold up the
/// translations the page asks for as the author types.
const WORKERS: usize = 4;

/// Stack of each worker thread.
const WORKER_STACK: usize = 8 << 20;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

/// Everything the page loads comes from this server; nothing inline, nothing elsewhere.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// An HTTP request, as far as routing needs it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, ….
    pub method: &'a str,
    /// The request target (a query string is ignored).
    pub path: &'a str,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The body (at most [`MAX_BODY`] bytes; the server refuses larger ones before routing).
    pub body: &'a [u8],
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, &'static str)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn asset(content_type: &'static str, body: &'static str) -> Self {
        let mut response = Response::new(200, content_type, body);
        // Assets change only with the binary; revalidation is cheap on loopback.
        response.headers.push(("Cache-Control", "no-cache"));
        response
    }

    fn json(status: u16, value: &impl Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                let mut response = Response::new(status, "application/json", body);
                response.headers.push(("Cache-Control", "no-store"));
                response
            }
            Err(e) => Response::error(500, &format!("internal error: {e}")),
        }
    }

    /// `{"error": message}` with `status`.
    pub fn error(status: u16, message: &str) -> Self {
        let body = serde_json::json!({ "error": message }).to_string();
        Response::new(status, "application/json", body)
    }

    /// The body as UTF-8 text (lossy), for tests and logs.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Answer one request. Only `GET /`, `GET /assets/...`, `POST /api/translate` and
/// `POST /api/eval` exist; bad input gets a 4xx with a JSON `error`, never a panic.
pub fn handle(request: &Request<'_>) -> Response {
    let path = request.path.split(['?', '#']).next().unwrap_or("");
    let asset = match path {
        "/" | "/index.html" => Some(("text/html; charset=utf-8", INDEX_HTML)),
        "/assets/app.js" => Some(("text/javascript; charset=utf-8", APP_JS)),
        "/assets/style.css" => Some(("text/css; charset=utf-8", STYLE_CSS)),
        "/favicon.ico" | "/assets/favicon.svg" => Some(("image/svg+xml", FAVICON_SVG)),
        _ => None,
    };
    if let Some((content_type, body)) = asset {
        return match request.method {
            "GET" => {
                let mut response = Response::asset(content_type, body);
                if content_type.starts_with("text/html") {
                    response
                        .headers
                        .push(("Content-Security-Policy", PAGE_POLICY));
                }
                response
            }
            _ => method_not_allowed("GET"),
        };
    }
    let api = match path {
        "/api/translate" => Api::Translate,
        "/api/eval" => Api::Eval,
        _ => return Response::error(404, &format!("no such page: {path}")),
    };
    if request.method != "POST" {
        return method_not_allowed("POST");
    }
    // A JSON content type makes a cross-site page's request need a CORS preflight, which this
    // server never grants: only the page it serves can call the API.
    let is_json = request
        .content_type
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Response::error(415, "send the request body as application/json");
    }
    if request.body.len() > MAX_BODY {
        return too_large();
    }
    match api {
        Api::Translate => match serde_json::from_slice::<api::TranslateRequest>(request.body) {
            Ok(req) => Response::json(200, &api::translate(&req)),
            Err(e) => Response::error(400, &format!("expected {{\"text\": \"...\"}}: {e}")),
        },
        Api::Eval => match serde_json::from_slice::<api::EvalRequest>(request.body) {
            Ok(req) => Response::json(200, &api::evaluate(&req)),
            Err(e) => Response::error(
                400,
                &format!("expected {{\"text\": \"...\", \"events\": \"...\"}}: {e}"),
            ),
        },
    }
}

enum Api {
    Translate,
    Eval,
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut response = Response::error(405, &format!("method not allowed; use {allow}"));
    response.headers.push(("Allow", allow));
    response
}

fn too_large() -> Response {
    Response::error(413, &format!("request body larger than {} bytes", MAX_BODY))
}

/// The preview server, bound and ready to run.
pub struct Server {
    inner: Arc<tiny_http::Server>,
    addr: SocketAddr,
}

impl Server {
    /// Bind to `host:port` (port 0 picks a free port).
    pub fn bind(host: &str, port: u16) -> std::io::Result<Server> {
        let server = tiny_http::Server::http((host, port)).map_err(std::io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("not bound to an IP address"))?;
        Ok(Server {
            inner: Arc::new(server),
            addr,
        })
    }

    /// The address bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Answer requests until the process ends.
    pub fn run(self) {
        let workers: Vec<_> = (0..WORKERS)
            .filter_map(|i| {
                let server = Arc::clone(&self.inner);
                std::thread::Builder::new()
                    .name(format!("eqlc-serve-{i}"))
                    // The CLI's recursive passes run on the main thread's 8 MiB; a worker
                    // gets as much, so the deepest query the parser accepts is safe here too.
                    .stack_size(WORKER_STACK)
                    .spawn(move || {
                        for request in server.incoming_requests() {
                            respond(request);
                        }
                    })
                    .ok()
            })
            .collect();
        if workers.is_empty() {
            // Not even one thread: answer on this one.
            for request in self.inner.incoming_requests() {
                respond(request);
            }
        }
        for worker in workers {
            // A worker ends only if the listener closes; nothing to report then.
            let _ = worker.join();
        }
    }
}

/// Read one request's body within [`MAX_BODY`], route it, send the answer.
fn respond(mut request: tiny_http::Request) {
    let response = if request.body_length().is_some_and(|n| n > MAX_BODY) {
        // Refused on its declared length alone, before any of it is read.
        too_large()
    } else {
        let mut body = Vec::new();
        let read = request
            .as_reader()
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body);
        match read {
            Err(e) => Response::error(400, &format!("cannot read the request body: {e}")),
            Ok(_) if body.len() > MAX_BODY => too_large(),
            Ok(_) => {
                let content_type = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Content-Type"))
                    .map(|h| h.value.as_str().to_string());
                let routed = Request {
                    method: request.method().as_str(),
                    path: request.url(),
                    content_type: content_type.as_deref(),
                    body: &body,
                };
                // A bug must cost one request, not a worker.
                std::panic::catch_unwind(|| handle(&routed))
                    .unwrap_or_else(|_| Response::error(500, "internal error"))
            }
        }
    };
    let close = response.status == 413;
    let mut reply = tiny_http::Response::from_data(response.body).with_status_code(response.status);
    let mut headers = vec![
        ("Content-Type", response.content_type),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ];
    headers.extend(response.headers);
    if close {
        // The unread rest of a refused body would otherwise be taken for the next request.
        headers.push(("Connection", "close"));
    }
    for (name, value) in headers {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            reply.add_header(header);
        }
    }
    // The browser may have gone away; nothing to do about it.
    let _ = request.respond(reply);
}
