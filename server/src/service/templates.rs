//! Message templates at send time: the parameters a template needs (body `{{n}}` variables, a media or
//! text header, button variables) checked against what the sender gave, and the provider-ready content
//! the channel's plugin receives.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::error::{AppError, AppResult};
use crate::model::*;

/// The components of a template by their (upper-cased) type.
fn component<'a>(template: &'a Template, kind: &str) -> Option<&'a Value> {
    template.components.iter().find(|c| c["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(kind)))
}

/// The distinct `{{n}}` variables of a text, e.g. 2 for "Hi {{1}}, order {{2}} ({{1}})".
pub fn variables(text: &str) -> usize {
    let mut seen = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        if let Ok(n) = after[..end].trim().parse::<u32>() {
            seen.insert(n);
        }
        rest = &after[end + 2..];
    }
    seen.len()
}

fn header_format(template: &Template) -> Option<String> {
    component(template, "HEADER").map(|h| h["format"].as_str().unwrap_or("TEXT").to_ascii_uppercase())
}

/// The template's buttons as `(index, sub_type, has_variable)`.
fn buttons(template: &Template) -> Vec<(u32, String, bool)> {
    let Some(list) = component(template, "BUTTONS").and_then(|b| b["buttons"].as_array()) else { return Vec::new() };
    list.iter()
        .enumerate()
        .map(|(i, b)| {
            let kind = b["type"].as_str().unwrap_or("").to_ascii_lowercase();
            let variable = match kind.as_str() {
                "url" => b["url"].as_str().is_some_and(|u| variables(u) > 0),
                "copy_code" => true,
                _ => false,
            };
            (i as u32, kind, variable)
        })
        .collect()
}

/// Refuses parameters that do not fit the template, naming the component at fault.
pub fn check(
    template: &Template,
    body: &[String],
    header: Option<&TemplateHeader>,
    given_buttons: &[TemplateButton],
) -> AppResult<()> {
    let name = &template.name;
    let wanted = component(template, "BODY").and_then(|b| b["text"].as_str()).map(variables).unwrap_or(0);
    if body.len() != wanted {
        return Err(AppError::validation(
            "content.parameters",
            format!("the body of `{name}` has {wanted} variable(s); {} given", body.len()),
        ));
    }
    for (i, value) in body.iter().enumerate() {
        if value.trim().is_empty() {
            return Err(AppError::validation(format!("content.parameters[{i}]"), "must not be empty"));
        }
    }
    match (header_format(template).as_deref(), header) {
        (Some("IMAGE"), Some(TemplateHeader::Image { url }))
        | (Some("VIDEO"), Some(TemplateHeader::Video { url }))
        | (Some("DOCUMENT"), Some(TemplateHeader::Document { url })) => {
            super::validate::url("content.header.url", url)?;
        }
        (Some(format @ ("IMAGE" | "VIDEO" | "DOCUMENT")), _) => {
            return Err(AppError::validation(
                "content.header",
                format!("the header of `{name}` is {} media: give its URL", format.to_ascii_lowercase()),
            ));
        }
        (Some("TEXT"), given) => {
            let text = component(template, "HEADER").and_then(|h| h["text"].as_str()).unwrap_or("");
            match (variables(text) > 0, given) {
                (true, Some(TemplateHeader::Text { text })) if !text.trim().is_empty() => {}
                (true, _) => {
                    return Err(AppError::validation(
                        "content.header",
                        format!("the header of `{name}` has a variable: give {{\"type\": \"text\", \"text\": …}}"),
                    ));
                }
                (false, Some(_)) => {
                    return Err(AppError::validation(
                        "content.header",
                        format!("the header of `{name}` takes no parameter"),
                    ));
                }
                (false, None) => {}
            }
        }
        (_, Some(_)) => {
            return Err(AppError::validation("content.header", format!("`{name}` has no header with a parameter")));
        }
        (_, None) => {}
    }
    let buttons = buttons(template);
    for (index, kind, variable) in &buttons {
        if *variable && !given_buttons.iter().any(|b| b.index == *index) {
            return Err(AppError::validation(
                "content.buttons",
                format!("button {index} ({kind}) of `{name}` has a variable: give its parameter"),
            ));
        }
    }
    for (i, b) in given_buttons.iter().enumerate() {
        if !buttons.iter().any(|(index, _, variable)| *index == b.index && *variable) {
            return Err(AppError::validation(
                format!("content.buttons[{i}]"),
                format!("`{name}` has no button {} that takes a parameter", b.index),
            ));
        }
    }
    Ok(())
}

/// What the channel's plugin receives for a template message (see docs/plugins.md, "Message content").
pub fn provider_content(
    template: &Template,
    body: &[String],
    header: Option<&TemplateHeader>,
    given_buttons: &[TemplateButton],
) -> Value {
    let kinds = buttons(template);
    let buttons: Vec<Value> = given_buttons
        .iter()
        .map(|b| {
            let sub_type = kinds.iter().find(|(i, _, _)| *i == b.index).map(|(_, k, _)| k.clone()).unwrap_or_default();
            json!({ "index": b.index, "sub_type": sub_type, "parameter": b.parameter })
        })
        .collect();
    json!({
        "type": "template",
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "components": template.components,
        "body": body,
        "header": header,
        "buttons": buttons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(components: Value) -> Template {
        Template {
            id: 1,
            channel_id: None,
            name: "order_shipped".into(),
            language: "en".into(),
            category: TemplateCategory::Utility,
            components: components.as_array().cloned().unwrap_or_default(),
            status: "approved".into(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn variables_are_counted_once_each() {
        assert_eq!(variables("Hi {{1}}, your order {{2}} ({{1}}) ships {{ 3 }}"), 3);
        assert_eq!(variables("no variables {{x}} {{"), 0);
    }

    #[test]
    fn parameters_must_fit_every_component() {
        let t = template(json!([
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hi {{1}}, order {{2}} is on its way"},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"},
                                            {"type": "URL", "text": "Track", "url": "https://t.example/{{1}}"}]}
        ]));
        let image = TemplateHeader::Image { url: "https://cdn.example/box.jpg".into() };
        let track = TemplateButton { index: 1, parameter: "ABC123".into() };
        let body = ["Ana".to_owned(), "#42".to_owned()];
        check(&t, &body, Some(&image), std::slice::from_ref(&track)).expect("fits");
        let field = |r: AppResult<()>| match r {
            Err(AppError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(field(check(&t, &body[..1], Some(&image), std::slice::from_ref(&track))), "content.parameters");
        assert_eq!(field(check(&t, &body, None, std::slice::from_ref(&track))), "content.header");
        assert_eq!(field(check(&t, &body, Some(&image), &[])), "content.buttons");
        let wrong = TemplateButton { index: 0, parameter: "x".into() };
        assert_eq!(field(check(&t, &body, Some(&image), &[track.clone(), wrong])), "content.buttons[1]");
        let content = provider_content(&t, &body, Some(&image), &[track]);
        assert_eq!(content["buttons"], json!([{"index": 1, "sub_type": "url", "parameter": "ABC123"}]));
        assert_eq!(content["header"], json!({"type": "image", "url": "https://cdn.example/box.jpg"}));
        assert_eq!((content["name"].clone(), content["body"].clone()), (json!("order_shipped"), json!(["Ana", "#42"])));
    }
}
