//! Events: `GET /v1/events` and `GET /v1/events/{id}`.

use serde_json::Value;

use crate::error::ApiError;
use crate::form::Params;
use crate::state::{Object, Page, State};

/// `GET /v1/events/{id}`
pub fn retrieve(st: &mut State, id: &str) -> Result<Value, ApiError> {
    Ok(st.events.find(id, "id")?.render(st))
}

/// `GET /v1/events` (filters: `type` (with `*` wildcards like `invoice.*`), `types[]`, `created`).
pub fn list(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "type",
        "types",
        "delivery_success",
    ])?;
    let page = Page::parse(p)?;
    let kind = p.non_empty("type")?.map(str::to_string);
    let types = p.str_list("types")?;
    let matches = |pattern: &str, kind: &str| match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    };
    let (items, has_more) = st.events.page(&page, |e| {
        kind.as_deref().is_none_or(|k| matches(k, &e.kind))
            && (types.is_empty() || types.iter().any(|t| matches(t, &e.kind)))
    })?;
    Ok(st.render_list("/v1/events", &items, has_more))
}
