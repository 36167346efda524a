//! The behaviours that go through `wasi:http`: single requests (`fetch:`, `send:`, `header:`),
//! one passing on what another received (`relay:`), many in a row (`repeat:`) or at once
//! (`flood:`), and hoarding host memory (`hoard-bodies:`, `hoard-headers:`,
//! `hoard-long-requests:`). See the crate documentation for what each returns.

use crate::wasi::http::{outgoing_handler, types as http};
use crate::wasi::io::streams::StreamError;

/// Splits `<N>:<rest>`.
pub(crate) fn count_and_rest(arg: &str) -> Option<(usize, &str)> {
    let (n, rest) = arg.split_once(':')?;
    Some((n.parse().ok()?, rest))
}

/// A request with `method` to `url`, its body started: or why not (`denied: ...`).
fn request(
    method: http::Method,
    url: &str,
) -> Result<(http::OutgoingRequest, http::OutgoingBody), String> {
    request_with(method, url, http::Fields::new())
}

/// [`request`] with the headers `headers`.
fn request_with(
    method: http::Method,
    url: &str,
    headers: http::Fields,
) -> Result<(http::OutgoingRequest, http::OutgoingBody), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("denied: invalid url".into());
    };
    let scheme = match scheme {
        "http" => http::Scheme::Http,
        "https" => http::Scheme::Https,
        other => http::Scheme::Other(other.to_string()),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() {
        return Err("denied: invalid url".into());
    }
    let path = if path.is_empty() { "/" } else { path };
    let request = http::OutgoingRequest::new(headers);
    let valid = request.set_method(&method).is_ok()
        && request.set_scheme(Some(&scheme)).is_ok()
        && request.set_authority(Some(authority)).is_ok()
        && request.set_path_with_query(Some(path)).is_ok();
    if !valid {
        return Err("denied: invalid url".into());
    }
    let Ok(body) = request.body() else {
        return Err("denied: request body unavailable".into());
    };
    Ok((request, body))
}

/// Sends a request with no body; the response to wait for.
fn start(method: http::Method, url: &str) -> Result<http::FutureIncomingResponse, String> {
    start_with(method, url, http::Fields::new())
}

/// [`start`] with the headers `headers`.
fn start_with(
    method: http::Method,
    url: &str,
    headers: http::Fields,
) -> Result<http::FutureIncomingResponse, String> {
    let (request, body) = request_with(method, url, headers)?;
    let future =
        outgoing_handler::handle(request, None).map_err(|code| format!("denied: {code:?}"))?;
    http::OutgoingBody::finish(body, None).map_err(|e| format!("denied: {e:?}"))?;
    Ok(future)
}

/// Waits for a response and describes it: `status: <N>, body: <body>` or `denied: <code>`.
fn outcome(future: http::FutureIncomingResponse) -> String {
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return format!("denied: {code:?}"),
        Some(Err(())) | None => return "denied: response already taken".into(),
    };
    let status = response.status();
    let body = read_body(&response).unwrap_or_else(|e| format!("<unreadable body: {e}>"));
    format!("status: {status}, body: {body}")
}

/// `fetch:<url>`.
pub(crate) fn fetch(url: &str) -> String {
    send(http::Method::Get, url)
}

/// `send:<METHOD>:<url>`: the request with that method.
pub(crate) fn send_with(arg: &str) -> String {
    let Some((method, url)) = arg.split_once(':') else {
        return "denied: invalid method".into();
    };
    let method = match method {
        "GET" => http::Method::Get,
        "HEAD" => http::Method::Head,
        "POST" => http::Method::Post,
        "PUT" => http::Method::Put,
        "DELETE" => http::Method::Delete,
        "CONNECT" => http::Method::Connect,
        "OPTIONS" => http::Method::Options,
        "TRACE" => http::Method::Trace,
        "PATCH" => http::Method::Patch,
        other => http::Method::Other(other.to_string()),
    };
    send(method, url)
}

fn send(method: http::Method, url: &str) -> String {
    match start(method, url) {
        Ok(future) => outcome(future),
        Err(denied) => denied,
    }
}

/// `header:<name>=<value>:<url>`: a GET with that header.
pub(crate) fn fetch_with_header(arg: &str) -> String {
    let Some((header, url)) = arg.split_once(':') else {
        return "denied: invalid header".into();
    };
    let Some((name, value)) = header.split_once('=') else {
        return "denied: invalid header".into();
    };
    let headers = http::Fields::new();
    if headers.append(name, value.as_bytes()).is_err() {
        return "denied: header refused".into();
    }
    match start_with(http::Method::Get, url, headers) {
        Ok(future) => outcome(future),
        Err(denied) => denied,
    }
}

/// `relay:<url> <sink>`: what `url` answered, passed on to `sink` in the query (hex).
pub(crate) fn relay(arg: &str) -> String {
    let Some((url, sink)) = arg.split_once(' ') else {
        return "denied: invalid relay".into();
    };
    let first = fetch(url);
    let hex: String = first.bytes().map(|b| format!("{b:02x}")).collect();
    let second = fetch(&format!("{sink}?got={hex}"));
    format!("first: {first}; relay: {second}")
}

/// `repeat:<N>:<url>`: N requests in a row; `repeated: <ok> ok` or the first failure.
pub(crate) fn repeat(arg: &str) -> String {
    let Some((n, url)) = count_and_rest(arg) else {
        return "denied: invalid count".into();
    };
    for i in 0..n {
        let answer = fetch(url);
        if !answer.starts_with("status: 200") {
            return format!("request {i} failed: {answer}");
        }
    }
    format!("repeated: {n} ok")
}

/// `flood:<N>:<url>`: N requests sent at once, then waited for; `flood: <ok> ok, <failed>
/// failed` and the first failure.
pub(crate) fn flood(arg: &str) -> String {
    let Some((n, url)) = count_and_rest(arg) else {
        return "denied: invalid count".into();
    };
    let mut futures = Vec::new();
    let mut failures = Vec::new();
    for _ in 0..n {
        match start(http::Method::Get, url) {
            Ok(future) => futures.push(future),
            Err(denied) => failures.push(denied),
        }
    }
    let mut ok = 0;
    for future in futures {
        let answer = outcome(future);
        if answer.starts_with("status: 200") {
            ok += 1;
        } else {
            failures.push(answer);
        }
    }
    format!(
        "flood: {ok} ok, {} failed{}",
        failures.len(),
        failures
            .first()
            .map(|f| format!(": {f}"))
            .unwrap_or_default()
    )
}

/// `hoard-bodies:<N>:<url>`: N POST requests to `url`, never sent, each with as much body
/// written as its stream accepts without waiting (up to 2 MiB); all kept until the call ends.
/// `hoarded: <N> bodies, <bytes> bytes` if the host let it.
pub(crate) fn hoard_bodies(arg: &str) -> String {
    const PER_BODY: usize = 2 << 20;
    let Some((n, url)) = count_and_rest(arg) else {
        return "denied: invalid count".into();
    };
    let chunk = vec![0x61u8; 1 << 20];
    let mut kept = Vec::new();
    let mut total = 0usize;
    for _ in 0..n {
        let (request, body) = match request(http::Method::Post, url) {
            Ok(started) => started,
            Err(denied) => return denied,
        };
        let Ok(stream) = body.write() else {
            return "denied: body stream unavailable".into();
        };
        let mut written = 0;
        while written < PER_BODY {
            let room = match stream.check_write() {
                Ok(0) | Err(_) => break,
                Ok(room) => room as usize,
            };
            let len = room.min(chunk.len()).min(PER_BODY - written);
            if stream.write(&chunk[..len]).is_err() {
                break;
            }
            written += len;
        }
        total += written;
        kept.push((request, body, stream));
    }
    format!("hoarded: {} bodies, {total} bytes", kept.len())
}

/// `hoard-headers:<N>:<bytes>`: N header sets, each filled with 1,000-byte values up to
/// `<bytes>` (or until the host refuses one), all kept until the call ends. `hoarded: <N> header
/// sets, <bytes> bytes` if the host let it.
pub(crate) fn hoard_headers(arg: &str) -> String {
    let Some((n, per_set)) = count_and_rest(arg) else {
        return "denied: invalid count".into();
    };
    let Ok(per_set) = per_set.parse::<usize>() else {
        return "denied: invalid size".into();
    };
    let value = vec![b'v'; 1000];
    let mut kept = Vec::new();
    let mut total = 0;
    for _ in 0..n {
        let fields = http::Fields::new();
        let mut size = 0;
        let mut k = 0;
        while size + value.len() <= per_set && fields.append(&format!("x-pad-{k}"), &value).is_ok()
        {
            size += value.len();
            k += 1;
        }
        total += size;
        kept.push(fields);
    }
    format!("hoarded: {} header sets, {total} bytes", kept.len())
}

/// `hoard-long-requests:<N>:<bytes>`: N requests, never sent, on each of which the plugin tries
/// to set an authority, a path and a method of `<bytes>` bytes; all kept until the call ends.
/// `kept: <N> requests; accepted <a> authorities, <p> paths, <m> methods`.
pub(crate) fn hoard_long_requests(arg: &str) -> String {
    let Some((n, bytes)) = count_and_rest(arg) else {
        return "denied: invalid count".into();
    };
    let Ok(bytes) = bytes.parse::<usize>() else {
        return "denied: invalid size".into();
    };
    let authority = "a".repeat(bytes);
    let path = format!("/{}", "p".repeat(bytes.saturating_sub(1)));
    let method = http::Method::Other("M".repeat(bytes));
    let (mut authorities, mut paths, mut methods) = (0, 0, 0);
    let mut kept = Vec::new();
    for _ in 0..n {
        let request = http::OutgoingRequest::new(http::Fields::new());
        authorities += usize::from(request.set_authority(Some(&authority)).is_ok());
        paths += usize::from(request.set_path_with_query(Some(&path)).is_ok());
        methods += usize::from(request.set_method(&method).is_ok());
        kept.push(request);
    }
    format!(
        "kept: {} requests; accepted {authorities} authorities, {paths} paths, {methods} methods",
        kept.len()
    )
}

/// Reads a response body to its end and decodes it as UTF-8 (lossily).
fn read_body(response: &http::IncomingResponse) -> Result<String, String> {
    let body = response
        .consume()
        .map_err(|()| "body already consumed".to_string())?;
    let mut bytes = Vec::new();
    {
        let stream = body
            .stream()
            .map_err(|()| "body stream already taken".to_string())?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(e) => return Err(format!("{e:?}")),
            }
        }
    }
    drop(http::IncomingBody::finish(body));
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
