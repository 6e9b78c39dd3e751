//! The JSON paths response mappings use: `$` then any of `.name`, `['name']` and `[index]` (negative
//! indexes count from the end), e.g. `$.data.items[0].id` or `$['user-info'].email`. That is the subset
//! respond.io documents for its HTTP request step; filters and wildcards are refused with a clear error.

use serde_json::Value;

/// One step of a path.
#[derive(Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(i64),
}

/// The value at `path` in `document`; `Ok(None)` when the path is valid but leads nowhere.
pub fn find<'a>(document: &'a Value, path: &str) -> Result<Option<&'a Value>, String> {
    let mut at = document;
    for segment in parse(path)? {
        let next = match (&segment, at) {
            (Segment::Key(k), Value::Object(map)) => map.get(k),
            (Segment::Index(i), Value::Array(items)) => {
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let i = if *i < 0 { len + i } else { *i };
                usize::try_from(i).ok().and_then(|i| items.get(i))
            }
            _ => None,
        };
        match next {
            Some(v) => at = v,
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}

fn parse(path: &str) -> Result<Vec<Segment>, String> {
    let path = path.trim();
    let rest = path.strip_prefix('$').ok_or("must start with `$`")?;
    let bytes = rest.as_bytes();
    let mut segments = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                let start = i + 1;
                let end = rest[start..].find(['.', '[']).map_or(rest.len(), |n| start + n);
                let name = &rest[start..end];
                if name.is_empty() || name == "*" {
                    return Err(format!("expected a name after `.` at {}", start + 1));
                }
                segments.push(Segment::Key(name.to_owned()));
                i = end;
            }
            b'[' => {
                let close = rest[i..].find(']').map(|n| i + n).ok_or("a `[` without `]`")?;
                let inner = rest[i + 1..close].trim();
                let quoted = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                match quoted {
                    Some(name) => segments.push(Segment::Key(name.to_owned())),
                    None => segments.push(Segment::Index(
                        inner.parse().map_err(|_| format!("`[{inner}]` is neither an index nor a quoted name"))?,
                    )),
                }
                i = close + 1;
            }
            _ => return Err(format!("unexpected `{}` at {}", &rest[i..=i], i + 1)),
        }
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_keys_indexes_and_quoted_names() {
        let doc = json!({ "data": { "items": [{ "id": 7 }, { "id": 8 }] }, "user-info": { "email": "a@b.test" } });
        assert_eq!(find(&doc, "$").expect("valid"), Some(&doc));
        assert_eq!(find(&doc, "$.data.items[0].id").expect("valid"), Some(&json!(7)));
        assert_eq!(find(&doc, "$.data.items[-1].id").expect("valid"), Some(&json!(8)));
        assert_eq!(find(&doc, "$['user-info'].email").expect("valid"), Some(&json!("a@b.test")));
        assert_eq!(find(&doc, "$[\"data\"].items").expect("valid"), Some(&doc["data"]["items"]));
    }

    #[test]
    fn a_path_that_leads_nowhere_finds_nothing() {
        let doc = json!({ "a": [1] });
        assert_eq!(find(&doc, "$.b").expect("valid"), None);
        assert_eq!(find(&doc, "$.a[3]").expect("valid"), None);
        assert_eq!(find(&doc, "$.a.b").expect("valid"), None);
        assert_eq!(find(&doc, "$.a[-2]").expect("valid"), None);
    }

    #[test]
    fn malformed_paths_are_refused() {
        for bad in ["data", "$.", "$.a[", "$[x]", "$.a.*", "$x"] {
            assert!(find(&json!({}), bad).is_err(), "{bad} should be refused");
        }
    }
}
