//! Decoding of Stripe's form encoding: `application/x-www-form-urlencoded` pairs whose keys nest
//! with brackets (`metadata[k]=v`, `expand[]=x`, `items[0][price]=p`, `created[gte]=1`).

use std::collections::BTreeMap;

use crate::error::ApiError;

/// One decoded parameter value: a string, a nested hash, or a list (`key[]=`).
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// A plain value.
    Str(String),
    /// A hash: `key[sub]=...`. Indexed lists (`key[0][x]=...`) are hashes with numeric keys.
    Map(BTreeMap<String, Param>),
    /// A list built from `key[]=...`.
    List(Vec<Param>),
}

/// The decoded parameters of one request, plus the raw pairs (sorted) used to compare idempotent
/// requests.
#[derive(Debug, Clone, Default)]
pub struct Params {
    root: BTreeMap<String, Param>,
    sorted_pairs: Vec<(String, String)>,
}

enum Segment<'a> {
    Key(&'a str),
    Push,
}

fn split_key(key: &str) -> Result<Vec<Segment<'_>>, ApiError> {
    let invalid = || ApiError::invalid_param(key, format!("Invalid parameter name: {key}"));
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return Err(invalid());
    }
    let mut segments = vec![Segment::Key(head)];
    while !rest.is_empty() {
        if !rest.starts_with('[') {
            return Err(invalid());
        }
        let close = rest.find(']').ok_or_else(invalid)?;
        let inner = &rest[1..close];
        segments.push(if inner.is_empty() {
            Segment::Push
        } else {
            Segment::Key(inner)
        });
        rest = &rest[close + 1..];
    }
    Ok(segments)
}

fn insert(
    map: &mut BTreeMap<String, Param>,
    segments: &[Segment<'_>],
    value: String,
    full_key: &str,
) -> Result<(), ApiError> {
    let conflict = || ApiError::invalid_param(full_key, format!("Invalid hash: {full_key}"));
    let Segment::Key(name) = &segments[0] else {
        return Err(conflict());
    };
    if segments.len() == 1 {
        // A later plain value for the same key wins, like Stripe (and Rack) decoding.
        map.insert((*name).to_string(), Param::Str(value));
        return Ok(());
    }
    match &segments[1] {
        Segment::Push => {
            let entry = map
                .entry((*name).to_string())
                .or_insert_with(|| Param::List(Vec::new()));
            let Param::List(list) = entry else {
                return Err(conflict());
            };
            if segments.len() == 2 {
                list.push(Param::Str(value));
                Ok(())
            } else {
                Err(conflict())
            }
        }
        Segment::Key(_) => {
            let entry = map
                .entry((*name).to_string())
                .or_insert_with(|| Param::Map(BTreeMap::new()));
            match entry {
                Param::Map(inner) => insert(inner, &segments[1..], value, full_key),
                // `metadata=` followed by `metadata[k]=v`: the nested form wins.
                Param::Str(s) if s.is_empty() => {
                    let mut inner = BTreeMap::new();
                    insert(&mut inner, &segments[1..], value, full_key)?;
                    *entry = Param::Map(inner);
                    Ok(())
                }
                _ => Err(conflict()),
            }
        }
    }
}

impl Params {
    /// Decodes a query string or form body. Malformed nesting is a 400 `invalid_request_error`.
    pub fn parse(query: Option<&str>, body: &[u8]) -> Result<Params, ApiError> {
        let mut params = Params::default();
        let sources: [&[u8]; 2] = [query.unwrap_or("").as_bytes(), body];
        for source in sources {
            for (key, value) in form_urlencoded::parse(source) {
                let segments = split_key(&key)?;
                insert(&mut params.root, &segments, value.to_string(), &key)?;
                params
                    .sorted_pairs
                    .push((key.into_owned(), value.into_owned()));
            }
        }
        params.sorted_pairs.sort();
        Ok(params)
    }

    /// The raw pairs, sorted: two requests with the same parameters in another order compare equal.
    pub fn fingerprint(&self) -> &[(String, String)] {
        &self.sorted_pairs
    }

    /// The top-level parameter names.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.root.keys().map(String::as_str)
    }

    /// Fails with Stripe's "Received unknown parameter" error for any top-level key not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        for key in self.keys() {
            if !known.contains(&key) && key != "expand" {
                return Err(ApiError::invalid_param(
                    key,
                    format!("Received unknown parameter: {key}"),
                ));
            }
        }
        Ok(())
    }

    /// The raw parameter.
    pub fn get(&self, key: &str) -> Option<&Param> {
        self.root.get(key)
    }

    /// A string parameter; an empty string counts as given.
    pub fn str(&self, key: &str) -> Result<Option<&str>, ApiError> {
        match self.root.get(key) {
            None => Ok(None),
            Some(Param::Str(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid_param(
                key,
                format!("Invalid string: {key} must be a string"),
            )),
        }
    }

    /// A string parameter that is given and not empty.
    pub fn non_empty(&self, key: &str) -> Result<Option<&str>, ApiError> {
        Ok(self.str(key)?.filter(|s| !s.is_empty()))
    }

    /// A required string parameter.
    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.non_empty(key)?
            .ok_or_else(|| ApiError::missing_param(key))
    }

    /// An integer parameter.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.non_empty(key)? {
            None => Ok(None),
            Some(s) => s
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::invalid_param(key, format!("Invalid integer: {s}"))),
        }
    }

    /// A boolean parameter (`true` / `false`).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.non_empty(key)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(s) => Err(ApiError::invalid_param(
                key,
                format!("Invalid boolean: {s}"),
            )),
        }
    }

    /// A hash parameter (`key[sub]=...`).
    pub fn map(&self, key: &str) -> Result<Option<&BTreeMap<String, Param>>, ApiError> {
        match self.root.get(key) {
            None => Ok(None),
            Some(Param::Map(m)) => Ok(Some(m)),
            Some(Param::Str(s)) if s.is_empty() => Ok(None),
            Some(_) => Err(ApiError::invalid_param(
                key,
                format!("Invalid object: {key} must be a hash"),
            )),
        }
    }

    /// A list of strings (`key[]=a&key[]=b`, `key[0]=a`, or a single `key=a`).
    pub fn str_list(&self, key: &str) -> Result<Vec<String>, ApiError> {
        let invalid = || ApiError::invalid_param(key, format!("Invalid array: {key}"));
        match self.root.get(key) {
            None => Ok(Vec::new()),
            Some(Param::Str(s)) if s.is_empty() => Ok(Vec::new()),
            Some(Param::Str(s)) => Ok(vec![s.clone()]),
            Some(Param::List(items)) => items
                .iter()
                .map(|p| match p {
                    Param::Str(s) => Ok(s.clone()),
                    _ => Err(invalid()),
                })
                .collect(),
            Some(Param::Map(m)) => {
                let mut indexed = Vec::new();
                for (k, v) in m {
                    let index: usize = k.parse().map_err(|_| invalid())?;
                    let Param::Str(s) = v else {
                        return Err(invalid());
                    };
                    indexed.push((index, s.clone()));
                }
                indexed.sort();
                Ok(indexed.into_iter().map(|(_, s)| s).collect())
            }
        }
    }

    /// The `expand[]` paths.
    pub fn expand(&self) -> Result<Vec<String>, ApiError> {
        self.str_list("expand")
    }
}

/// Reads a nested string such as `invoice_settings[default_payment_method]`.
pub fn nested_str<'a>(map: &'a BTreeMap<String, Param>, key: &str) -> Option<&'a str> {
    match map.get(key) {
        Some(Param::Str(s)) => Some(s),
        _ => None,
    }
}

/// Percent-decodes one path segment (ids are plain, but be lenient).
pub fn decode_segment(segment: &str) -> String {
    form_urlencoded::parse(format!("s={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_brackets() {
        let p = Params::parse(
            Some("expand[]=a&expand[]=b.c&created[gte]=5"),
            b"metadata[k]=v&items[1][x]=2&items[0][x]=1&amount=10",
        )
        .unwrap();
        assert_eq!(p.expand().unwrap(), vec!["a", "b.c"]);
        assert_eq!(p.int("amount").unwrap(), Some(10));
        let created = p.map("created").unwrap().unwrap();
        assert_eq!(nested_str(created, "gte"), Some("5"));
        assert_eq!(
            nested_str(p.map("metadata").unwrap().unwrap(), "k"),
            Some("v")
        );
        assert!(matches!(p.get("items"), Some(Param::Map(m)) if m.len() == 2));
    }

    #[test]
    fn rejects_conflicts() {
        assert!(Params::parse(None, b"a=1&a[b]=2").is_err());
        assert!(Params::parse(None, b"a[b=2").is_err());
        assert!(Params::parse(None, b"metadata=&metadata[k]=v").is_ok());
    }
}
