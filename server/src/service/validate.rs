//! Input checks shared by the services; each failure names the field at fault.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};
use phonenumber::Mode;

use crate::error::{AppError, AppResult};
use crate::model::{FieldDefinition, FieldType};

/// Trims a required text field and checks its length.
pub fn required(field: &str, value: &str, max: usize) -> AppResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::validation(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(AppError::validation(field, format!("must be at most {max} characters")));
    }
    Ok(v.to_owned())
}

/// Trims an optional text field; empty becomes `None`.
pub fn optional(field: &str, value: Option<&str>, max: usize) -> AppResult<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => required(field, v, max).map(Some),
    }
}

/// A plausible e-mail address, lower-cased.
pub fn email(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim().to_lowercase();
    let valid = v.len() <= 254
        && !v.chars().any(char::is_whitespace)
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
    if valid { Ok(v) } else { Err(AppError::validation(field, "is not a valid e-mail address")) }
}

/// An international phone number, returned in E.164 form with the country it belongs to.
pub fn phone(field: &str, value: &str) -> AppResult<(String, Option<String>)> {
    let v = value.trim();
    let with_plus = if v.starts_with('+') { v.to_owned() } else { format!("+{v}") };
    parsed_phone(with_plus).ok_or_else(|| {
        AppError::validation(field, "is not a valid international phone number (E.164, e.g. +971501234567)")
    })
}

/// Builds the phone number plan (regular expressions compiled from the library's metadata), which the
/// library otherwise does on the first number it parses.
pub fn warm_up() {
    let _ = phonenumber::parse(None, "+971501234567");
}

/// Numbers parsed lately, with their E.164 form and country (`None`: not valid). Parsing against the number
/// plan was 3.5 % of the server's time under webhook load (every incoming message's profile is checked), and
/// the same customers write again and again.
type Parsed = Option<(String, Option<String>)>;
static PHONES: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, Parsed>>> =
    std::sync::LazyLock::new(Default::default);
const PHONES_KEPT: usize = 8192;

fn parsed_phone(with_plus: String) -> Parsed {
    if let Some(known) = PHONES.lock().unwrap_or_else(|e| e.into_inner()).get(&with_plus) {
        return known.clone();
    }
    let parsed = phonenumber::parse(None, &with_plus).ok().filter(phonenumber::is_valid).map(|parsed| {
        let e164 = parsed.format().mode(Mode::E164).to_string();
        (e164, parsed.country().id().map(|id| format!("{id:?}")))
    });
    let mut cache = PHONES.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= PHONES_KEPT {
        cache.clear();
    }
    cache.insert(with_plus, parsed.clone());
    parsed
}

/// An ISO 3166-1 alpha-2 country code, upper-cased.
pub fn country(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim().to_uppercase();
    if v.len() == 2 && v.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(v)
    } else {
        Err(AppError::validation(field, "must be an ISO 3166-1 alpha-2 code such as AE"))
    }
}

/// A BCP 47 language tag such as `ar` or `en-GB`.
pub fn language(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim();
    let mut parts = v.split('-');
    let primary_ok =
        parts.next().is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    let rest_ok = parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if primary_ok && rest_ok {
        Ok(v.to_owned())
    } else {
        Err(AppError::validation(field, "must be a language tag such as ar or en-GB"))
    }
}

/// An IANA time zone name such as `Asia/Dubai`.
pub fn timezone(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim();
    v.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| AppError::validation(field, "must be an IANA time zone such as Asia/Dubai"))
}

/// An absolute http(s) URL.
pub fn url(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim();
    let rest = v.strip_prefix("https://").or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !v.chars().any(char::is_whitespace) && v.len() <= 2048 => Ok(v.to_owned()),
        _ => Err(AppError::validation(field, "must be an http:// or https:// URL")),
    }
}

/// A machine key: lower-case ASCII letters, digits and `_`, starting with a letter.
pub fn key(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim();
    let ok = (1..=64).contains(&v.len())
        && v.starts_with(|c: char| c.is_ascii_lowercase())
        && v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(v.to_owned())
    } else {
        Err(AppError::validation(field, "must be lower-case letters, digits and _, starting with a letter"))
    }
}

/// Checks custom field values against the workspace's definitions and merges them into `current`;
/// a `null` value removes the field.
pub fn custom_fields(
    defs: &[FieldDefinition],
    current: &mut BTreeMap<String, serde_json::Value>,
    updates: &BTreeMap<String, serde_json::Value>,
) -> AppResult<()> {
    for (key, value) in updates {
        let field = format!("custom_fields.{key}");
        let Some(def) = defs.iter().find(|d| &d.key == key) else {
            return Err(AppError::validation(field, "no custom field with this key is defined in the workspace"));
        };
        if value.is_null() {
            current.remove(key);
            continue;
        }
        let text = value.as_str();
        let ok = match def.field_type {
            FieldType::Text => text.is_some_and(|t| t.chars().count() <= 2000),
            FieldType::Number => value.is_number(),
            FieldType::Date => text.is_some_and(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok()),
            FieldType::Time => text.is_some_and(|t| NaiveTime::parse_from_str(t, "%H:%M").is_ok()),
            FieldType::List => text.is_some_and(|t| def.options.iter().any(|o| o == t)),
            FieldType::Checkbox => value.is_boolean(),
            FieldType::Url => text.is_some_and(|t| url(&field, t).is_ok()),
        };
        if !ok {
            let expected = match def.field_type {
                FieldType::Text => "a text of at most 2000 characters".to_owned(),
                FieldType::Number => "a number".to_owned(),
                FieldType::Date => "a date YYYY-MM-DD".to_owned(),
                FieldType::Time => "a time HH:MM".to_owned(),
                FieldType::List => format!("one of {:?}", def.options),
                FieldType::Checkbox => "true or false".to_owned(),
                FieldType::Url => "an http(s) URL".to_owned(),
            };
            return Err(AppError::validation(field, format!("must be {expected}")));
        }
        current.insert(key.clone(), value.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_become_e164_with_country() {
        let (e164, country) = phone("phone", "+971 50 123 4567").expect("valid");
        assert_eq!(e164, "+971501234567");
        assert_eq!(country.as_deref(), Some("AE"));
        assert!(phone("phone", "12").is_err());
        assert!(phone("phone", "hello").is_err());
    }

    #[test]
    fn a_number_seen_before_gets_the_same_answer_from_the_cache() {
        for _ in 0..3 {
            assert_eq!(phone("phone", "971501234568").expect("valid"), ("+971501234568".into(), Some("AE".into())));
            let err = phone("mobile", "+999 123").expect_err("not a number plan");
            assert!(err.to_string().contains("mobile"), "the error names the field it was asked for: {err}");
        }
        // Past the cache's size it starts over rather than growing.
        for i in 0..PHONES_KEPT + 10 {
            let _ = phone("phone", &format!("+97150{i:07}"));
        }
        assert!(PHONES.lock().expect("cache").len() <= PHONES_KEPT);
        assert_eq!(phone("phone", "+971 50 123 4567").expect("valid").0, "+971501234567");
    }

    #[test]
    fn emails_languages_and_urls() {
        assert_eq!(email("email", " Ana@Example.COM ").expect("valid"), "ana@example.com");
        for bad in ["ana", "ana@", "@x.y", "a b@c.d", "a@localhost"] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
        assert!(language("language", "en-GB").is_ok() && language("language", "english!").is_err());
        assert!(url("u", "https://x.y/a.png").is_ok() && url("u", "ftp://x").is_err());
    }

    #[test]
    fn custom_fields_are_typed() {
        let defs = vec![
            FieldDefinition {
                id: 1,
                key: "plan".into(),
                label: "Plan".into(),
                field_type: FieldType::List,
                options: vec!["gold".into()],
            },
            FieldDefinition {
                id: 2,
                key: "seats".into(),
                label: "Seats".into(),
                field_type: FieldType::Number,
                options: vec![],
            },
            FieldDefinition {
                id: 3,
                key: "born".into(),
                label: "Born".into(),
                field_type: FieldType::Date,
                options: vec![],
            },
        ];
        let mut current = BTreeMap::new();
        let ok: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(r#"{"plan":"gold","seats":3,"born":"1990-02-28"}"#).expect("json");
        custom_fields(&defs, &mut current, &ok).expect("valid values");
        assert_eq!(current.len(), 3);
        for bad in [r#"{"plan":"silver"}"#, r#"{"seats":"3"}"#, r#"{"born":"28/02/1990"}"#, r#"{"nope":1}"#] {
            let upd: BTreeMap<String, serde_json::Value> = serde_json::from_str(bad).expect("json");
            let err = custom_fields(&defs, &mut current, &upd).expect_err(bad);
            assert!(matches!(err, AppError::Validation { ref field, .. } if field.starts_with("custom_fields.")));
        }
        let clear: BTreeMap<String, serde_json::Value> = serde_json::from_str(r#"{"plan":null}"#).expect("json");
        custom_fields(&defs, &mut current, &clear).expect("null clears");
        assert!(!current.contains_key("plan"));
    }
}
