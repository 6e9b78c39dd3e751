//! The body of `POST /{phone-number-id}/messages` for each kind of content the server sends.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::wire::Number;

/// What `send` receives (docs/plugins.md, "Message content"). Fields this side does not need, such as a
/// template's stored `components`, are ignored.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Outgoing {
    Text {
        text: String,
    },
    Media {
        kind: String,
        url: String,
        caption: Option<String>,
        filename: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    Interactive {
        text: String,
        buttons: Vec<String>,
    },
    List {
        text: String,
        button: String,
        sections: Vec<Section>,
    },
    /// One contact object or an array of them, in WhatsApp's own contact shape.
    ContactCard {
        card: Json,
    },
    Reaction {
        emoji: String,
        provider_message_id: String,
    },
    Template {
        name: String,
        language: String,
        #[serde(default)]
        body: Vec<String>,
        #[serde(default)]
        header: Option<Header>,
        #[serde(default)]
        buttons: Vec<TemplateButton>,
    },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Header {
    Image { url: String },
    Video { url: String },
    Document { url: String },
    Text { text: String },
}

#[derive(Deserialize)]
struct Section {
    #[serde(default)]
    title: Option<String>,
    rows: Vec<Row>,
}

#[derive(Deserialize)]
struct Row {
    /// `"{section index}.{row index}"` when not given.
    #[serde(default)]
    id: Option<String>,
    title: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct TemplateButton {
    index: Number,
    sub_type: String,
    parameter: String,
}

#[derive(Serialize)]
struct Request<'a> {
    messaging_product: &'static str,
    recipient_type: &'static str,
    to: &'a str,
    #[serde(flatten)]
    payload: Payload,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payload {
    Text { text: TextBody },
    Image { image: MediaBody },
    Video { video: MediaBody },
    Audio { audio: MediaBody },
    Document { document: MediaBody },
    Sticker { sticker: MediaBody },
    Location { location: LocationBody },
    Interactive { interactive: InteractiveBody },
    Contacts { contacts: Vec<Json> },
    Reaction { reaction: ReactionBody },
    Template { template: TemplateBody },
}

#[derive(Serialize)]
struct TextBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    preview_url: Option<bool>,
    body: String,
}

#[derive(Serialize)]
struct MediaBody {
    link: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    caption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<String>,
}

#[derive(Serialize)]
struct LocationBody {
    latitude: f64,
    longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
}

#[derive(Serialize)]
struct InteractiveBody {
    #[serde(rename = "type")]
    kind: &'static str,
    body: BodyText,
    action: Action,
}

#[derive(Serialize)]
struct BodyText {
    text: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Action {
    Buttons { buttons: Vec<ReplyButton> },
    List { button: String, sections: Vec<ListSection> },
}

#[derive(Serialize)]
struct ReplyButton {
    #[serde(rename = "type")]
    kind: &'static str,
    reply: Reply,
}

#[derive(Serialize)]
struct Reply {
    id: String,
    title: String,
}

#[derive(Serialize)]
struct ListSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    rows: Vec<ListRow>,
}

#[derive(Serialize)]
struct ListRow {
    id: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

#[derive(Serialize)]
struct ReactionBody {
    message_id: String,
    emoji: String,
}

#[derive(Serialize)]
struct TemplateBody {
    name: String,
    language: Language,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<Component>,
}

#[derive(Serialize)]
struct Language {
    policy: &'static str,
    code: String,
}

#[derive(Serialize)]
struct Component {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<String>,
    parameters: Vec<Parameter>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Parameter {
    Text { text: String },
    Image { image: Link },
    Video { video: Link },
    Document { document: Link },
    Payload { payload: String },
    CouponCode { coupon_code: String },
}

#[derive(Serialize)]
struct Link {
    link: String,
}

/// WhatsApp's limits on reply buttons.
const MAX_BUTTONS: usize = 3;
const MAX_BUTTON_TITLE: usize = 20;

/// WhatsApp's limits on list messages.
const MAX_LIST_TEXT: usize = 1024;
const MAX_LIST_BUTTON: usize = 20;
const MAX_SECTIONS: usize = 10;
const MAX_ROWS: usize = 10;
const MAX_SECTION_TITLE: usize = 24;
const MAX_ROW_TITLE: usize = 24;
const MAX_ROW_DESCRIPTION: usize = 72;
const MAX_ROW_ID: usize = 200;

/// The request body that sends `content` (the server's message content JSON) to the WhatsApp user `to`.
/// Content WhatsApp cannot carry is refused with the reason, so the message fails visibly instead of
/// arriving altered.
pub fn send_body(to: &str, content: &Json) -> Result<Json, String> {
    let outgoing: Outgoing =
        serde_json::from_value(content.clone()).map_err(|e| format!("WhatsApp cannot send this content: {e}"))?;
    let payload = payload(outgoing)?;
    let request = Request { messaging_product: "whatsapp", recipient_type: "individual", to, payload };
    serde_json::to_value(request).map_err(|e| e.to_string())
}

fn payload(outgoing: Outgoing) -> Result<Payload, String> {
    Ok(match outgoing {
        Outgoing::Text { text } => {
            // WhatsApp only renders a link preview when asked to.
            let preview_url = (text.contains("https://") || text.contains("http://")).then_some(true);
            Payload::Text { text: TextBody { preview_url, body: text } }
        }
        Outgoing::Media { kind, url, caption, filename } => media(&kind, url, caption, filename)?,
        Outgoing::Location { latitude, longitude, name, address } => {
            Payload::Location { location: LocationBody { latitude, longitude, name, address } }
        }
        Outgoing::Interactive { text, buttons } => Payload::Interactive { interactive: interactive(text, buttons)? },
        Outgoing::List { text, button, sections } => {
            Payload::Interactive { interactive: list(text, button, sections)? }
        }
        Outgoing::ContactCard { card } => Payload::Contacts { contacts: contacts(card)? },
        Outgoing::Reaction { emoji, provider_message_id } => {
            Payload::Reaction { reaction: ReactionBody { message_id: provider_message_id, emoji } }
        }
        Outgoing::Template { name, language, body, header, buttons } => {
            Payload::Template { template: template(name, language, body, header, buttons)? }
        }
    })
}

fn media(kind: &str, link: String, caption: Option<String>, filename: Option<String>) -> Result<Payload, String> {
    let caption = caption.filter(|c| !c.is_empty());
    if caption.is_some() && matches!(kind, "audio" | "sticker") {
        return Err(format!("WhatsApp {kind} messages cannot have a caption"));
    }
    // Only documents show a file name; WhatsApp refuses the field on other media.
    let filename = filename.filter(|_| kind == "document");
    let body = MediaBody { link, caption, filename };
    Ok(match kind {
        "image" => Payload::Image { image: body },
        "video" => Payload::Video { video: body },
        "audio" => Payload::Audio { audio: body },
        "document" => Payload::Document { document: body },
        "sticker" => Payload::Sticker { sticker: body },
        other => return Err(format!("WhatsApp cannot send media of kind `{other}`")),
    })
}

fn interactive(text: String, titles: Vec<String>) -> Result<InteractiveBody, String> {
    if text.trim().is_empty() {
        return Err("an interactive message needs a text".into());
    }
    if titles.is_empty() || titles.len() > MAX_BUTTONS {
        return Err(format!("WhatsApp takes 1 to {MAX_BUTTONS} reply buttons, not {}", titles.len()));
    }
    for (i, title) in titles.iter().enumerate() {
        let length = title.chars().count();
        if title.trim().is_empty() || length > MAX_BUTTON_TITLE {
            return Err(format!("button {i}: a title must be 1 to {MAX_BUTTON_TITLE} characters, not {length}"));
        }
        if titles[..i].contains(title) {
            return Err(format!("button {i}: WhatsApp needs distinct titles, `{title}` is repeated"));
        }
    }
    // A button's id is its index, which comes back as the reply's payload.
    let buttons = titles
        .into_iter()
        .enumerate()
        .map(|(i, title)| ReplyButton { kind: "reply", reply: Reply { id: i.to_string(), title } })
        .collect();
    Ok(InteractiveBody { kind: "button", body: BodyText { text }, action: Action::Buttons { buttons } })
}

/// Refuses `value` unless it has `min` to `max` characters (WhatsApp counts characters, not bytes); with a
/// minimum, a blank value counts as empty.
fn check_length(part: &str, value: &str, min: usize, max: usize) -> Result<(), String> {
    let length = if value.trim().is_empty() { 0 } else { value.chars().count() };
    if (min..=max).contains(&length) {
        return Ok(());
    }
    Err(if min == 0 {
        format!("{part} must be at most {max} characters, not {length}")
    } else {
        format!("{part} must be {min} to {max} characters, not {length}")
    })
}

fn list(text: String, button: String, sections: Vec<Section>) -> Result<InteractiveBody, String> {
    check_length("the list's text", &text, 1, MAX_LIST_TEXT)?;
    check_length("the list's button", &button, 1, MAX_LIST_BUTTON)?;
    if sections.is_empty() || sections.len() > MAX_SECTIONS {
        return Err(format!("WhatsApp takes 1 to {MAX_SECTIONS} list sections, not {}", sections.len()));
    }
    let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
    if rows == 0 || rows > MAX_ROWS {
        return Err(format!("WhatsApp takes 1 to {MAX_ROWS} list rows in all, not {rows}"));
    }
    let several = sections.len() > 1;
    let mut ids: Vec<String> = Vec::with_capacity(rows);
    let mut out = Vec::with_capacity(sections.len());
    for (i, section) in sections.into_iter().enumerate() {
        let title = section.title.filter(|t| !t.trim().is_empty());
        match &title {
            Some(title) => check_length(&format!("section {i}: the title"), title, 1, MAX_SECTION_TITLE)?,
            None if several => return Err(format!("section {i}: WhatsApp needs a title on each of several sections")),
            None => {}
        }
        if section.rows.is_empty() {
            return Err(format!("section {i}: WhatsApp needs at least one row in each section"));
        }
        let mut rows = Vec::with_capacity(section.rows.len());
        for (j, row) in section.rows.into_iter().enumerate() {
            let part = |what: &str| format!("section {i}, row {j}: the {what}");
            check_length(&part("title"), &row.title, 1, MAX_ROW_TITLE)?;
            let description = row.description.filter(|d| !d.is_empty());
            if let Some(description) = &description {
                check_length(&part("description"), description, 0, MAX_ROW_DESCRIPTION)?;
            }
            // The id comes back as the reply's payload.
            let id = row.id.unwrap_or_else(|| format!("{i}.{j}"));
            check_length(&part("id"), &id, 1, MAX_ROW_ID)?;
            if ids.contains(&id) {
                return Err(format!("section {i}, row {j}: WhatsApp needs distinct row ids, `{id}` is repeated"));
            }
            ids.push(id.clone());
            rows.push(ListRow { id, title: row.title, description });
        }
        out.push(ListSection { title, rows });
    }
    Ok(InteractiveBody { kind: "list", body: BodyText { text }, action: Action::List { button, sections: out } })
}

/// The contact objects, sent as given: WhatsApp's shape is also what incoming contact cards store.
fn contacts(card: Json) -> Result<Vec<Json>, String> {
    let cards = match card {
        Json::Array(cards) => cards,
        one => vec![one],
    };
    if cards.is_empty() {
        return Err("a contact card needs at least one contact".into());
    }
    for (i, card) in cards.iter().enumerate() {
        let named = card["name"]["formatted_name"].as_str().is_some_and(|n| !n.trim().is_empty());
        if !named {
            return Err(format!("contact card {i}: WhatsApp needs a `name.formatted_name`"));
        }
    }
    Ok(cards)
}

fn template(
    name: String,
    code: String,
    body: Vec<String>,
    header: Option<Header>,
    buttons: Vec<TemplateButton>,
) -> Result<TemplateBody, String> {
    let mut components = Vec::new();
    if let Some(header) = header {
        let link = |url: String| Link { link: url };
        let parameter = match header {
            Header::Image { url } => Parameter::Image { image: link(url) },
            Header::Video { url } => Parameter::Video { video: link(url) },
            Header::Document { url } => Parameter::Document { document: link(url) },
            Header::Text { text } => Parameter::Text { text },
        };
        components.push(Component { kind: "header", sub_type: None, index: None, parameters: vec![parameter] });
    }
    if !body.is_empty() {
        let parameters = body.into_iter().map(|text| Parameter::Text { text }).collect();
        components.push(Component { kind: "body", sub_type: None, index: None, parameters });
    }
    for button in buttons {
        let index = button.index.value().map_err(|e| format!("template button index: {e}"))?;
        let parameter = match button.sub_type.as_str() {
            "url" => Parameter::Text { text: button.parameter },
            "quick_reply" => Parameter::Payload { payload: button.parameter },
            "copy_code" => Parameter::CouponCode { coupon_code: button.parameter },
            other => return Err(format!("template button {index}: WhatsApp has no `{other}` button parameter")),
        };
        components.push(Component {
            kind: "button",
            sub_type: Some(button.sub_type),
            index: Some(index.to_string()),
            parameters: vec![parameter],
        });
    }
    Ok(TemplateBody { name, language: Language { policy: "deterministic", code }, components })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sent(content: Json) -> Json {
        let mut body = send_body("15550001111", &content).expect("a body");
        for (key, value) in [("messaging_product", "whatsapp"), ("recipient_type", "individual"), ("to", "15550001111")]
        {
            assert_eq!(body[key], value, "{key}");
            body.as_object_mut().expect("an object").remove(key);
        }
        body
    }

    #[test]
    fn text_asks_for_a_preview_only_with_a_link() {
        assert_eq!(sent(json!({"type": "text", "text": "hi"})), json!({"type": "text", "text": {"body": "hi"}}));
        assert_eq!(
            sent(json!({"type": "text", "text": "see https://x.test"})),
            json!({"type": "text", "text": {"preview_url": true, "body": "see https://x.test"}})
        );
    }

    #[test]
    fn media_goes_by_link_with_what_each_kind_allows() {
        assert_eq!(
            sent(
                json!({"type": "media", "kind": "image", "url": "https://x.test/a.jpg", "caption": "A", "filename": "a.jpg"})
            ),
            json!({"type": "image", "image": {"link": "https://x.test/a.jpg", "caption": "A"}})
        );
        assert_eq!(
            sent(
                json!({"type": "media", "kind": "document", "url": "https://x.test/a.pdf", "caption": "A", "filename": "a.pdf"})
            ),
            json!({"type": "document", "document": {"link": "https://x.test/a.pdf", "caption": "A", "filename": "a.pdf"}})
        );
        assert_eq!(
            sent(json!({"type": "media", "kind": "audio", "url": "https://x.test/a.ogg", "caption": ""})),
            json!({"type": "audio", "audio": {"link": "https://x.test/a.ogg"}})
        );
        assert_eq!(
            sent(json!({"type": "media", "kind": "sticker", "url": "https://x.test/s.webp"})),
            json!({"type": "sticker", "sticker": {"link": "https://x.test/s.webp"}})
        );
        assert_eq!(
            send_body("1", &json!({"type": "media", "kind": "audio", "url": "https://x.test/a.ogg", "caption": "no"})),
            Err("WhatsApp audio messages cannot have a caption".to_owned())
        );
        assert_eq!(
            send_body("1", &json!({"type": "media", "kind": "hologram", "url": "https://x.test/h"})),
            Err("WhatsApp cannot send media of kind `hologram`".to_owned())
        );
    }

    #[test]
    fn location_interactive_and_reaction() {
        assert_eq!(
            sent(json!({"type": "location", "latitude": 52.5, "longitude": 13.4, "name": "Office"})),
            json!({"type": "location", "location": {"latitude": 52.5, "longitude": 13.4, "name": "Office"}})
        );
        assert_eq!(
            sent(json!({"type": "interactive", "text": "Pick one", "buttons": ["Yes", "No"]})),
            json!({"type": "interactive", "interactive": {
                "type": "button",
                "body": {"text": "Pick one"},
                "action": {"buttons": [
                    {"type": "reply", "reply": {"id": "0", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "1", "title": "No"}},
                ]},
            }})
        );
        assert_eq!(
            sent(json!({"type": "reaction", "emoji": "👍", "provider_message_id": "wamid.in"})),
            json!({"type": "reaction", "reaction": {"message_id": "wamid.in", "emoji": "👍"}})
        );
    }

    #[test]
    fn interactive_messages_keep_to_whatsapps_limits() {
        let refused = |buttons: Json| {
            send_body("1", &json!({"type": "interactive", "text": "t", "buttons": buttons})).expect_err("refused")
        };
        assert_eq!(refused(json!([])), "WhatsApp takes 1 to 3 reply buttons, not 0");
        assert_eq!(refused(json!(["a", "b", "c", "d"])), "WhatsApp takes 1 to 3 reply buttons, not 4");
        assert_eq!(refused(json!(["a", "x".repeat(21)])), "button 1: a title must be 1 to 20 characters, not 21");
        assert_eq!(refused(json!(["a", "a"])), "button 1: WhatsApp needs distinct titles, `a` is repeated");
        assert!(sent(json!({"type": "interactive", "text": "t", "buttons": ["é".repeat(20)]})).is_object());
    }

    #[test]
    fn a_list_omits_what_is_not_given_and_numbers_rows_without_an_id() {
        let content = json!({
            "type": "list", "text": "Pick a size", "button": "Sizes",
            "sections": [{"title": null, "rows": [
                {"id": "s-m", "title": "Medium", "description": "Chest 96-101 cm"},
                {"id": null, "title": "Large", "description": null},
                {"title": "XL"},
            ]}],
        });
        assert_eq!(
            sent(content),
            json!({"type": "interactive", "interactive": {
                "type": "list",
                "body": {"text": "Pick a size"},
                "action": {"button": "Sizes", "sections": [{"rows": [
                    {"id": "s-m", "title": "Medium", "description": "Chest 96-101 cm"},
                    {"id": "0.1", "title": "Large"},
                    {"id": "0.2", "title": "XL"},
                ]}]},
            }})
        );
    }

    #[test]
    fn lists_keep_to_whatsapps_limits() {
        let list = |text: &str, button: &str, sections: Json| json!({"type": "list", "text": text, "button": button, "sections": sections});
        let refused = |sections: Json| send_body("1", &list("t", "b", sections)).expect_err("refused");
        let row = |title: &str| json!({"title": title});
        let rows = |n: usize| Json::Array((0..n).map(|i| row(&format!("r{i}"))).collect());

        assert_eq!(
            send_body("1", &list(&"x".repeat(1025), "b", json!([{"rows": [row("a")]}]))).expect_err("refused"),
            "the list's text must be 1 to 1024 characters, not 1025"
        );
        assert_eq!(
            send_body("1", &list(" ", "b", json!([{"rows": [row("a")]}]))).expect_err("refused"),
            "the list's text must be 1 to 1024 characters, not 0"
        );
        assert_eq!(
            send_body("1", &list("t", "", json!([{"rows": [row("a")]}]))).expect_err("refused"),
            "the list's button must be 1 to 20 characters, not 0"
        );
        assert_eq!(
            send_body("1", &list("t", &"b".repeat(21), json!([{"rows": [row("a")]}]))).expect_err("refused"),
            "the list's button must be 1 to 20 characters, not 21"
        );
        assert_eq!(refused(json!([])), "WhatsApp takes 1 to 10 list sections, not 0");
        let eleven: Vec<Json> = (0..11).map(|i| json!({"title": format!("s{i}"), "rows": []})).collect();
        assert_eq!(refused(json!(eleven)), "WhatsApp takes 1 to 10 list sections, not 11");
        assert_eq!(refused(json!([{"rows": []}])), "WhatsApp takes 1 to 10 list rows in all, not 0");
        assert_eq!(
            refused(json!([{"title": "A", "rows": rows(6)}, {"title": "B", "rows": rows(5)}])),
            "WhatsApp takes 1 to 10 list rows in all, not 11"
        );
        assert_eq!(
            refused(json!([{"title": "A", "rows": [row("a")]}, {"title": null, "rows": [row("b")]}])),
            "section 1: WhatsApp needs a title on each of several sections"
        );
        assert_eq!(
            refused(json!([{"title": "x".repeat(25), "rows": [row("a")]}])),
            "section 0: the title must be 1 to 24 characters, not 25"
        );
        assert_eq!(
            refused(json!([{"title": "A", "rows": [row("a")]}, {"title": "B", "rows": []}])),
            "section 1: WhatsApp needs at least one row in each section"
        );
        assert_eq!(
            refused(json!([{"rows": [row("a"), row(&"é".repeat(25))]}])),
            "section 0, row 1: the title must be 1 to 24 characters, not 25"
        );
        assert_eq!(
            refused(json!([{"rows": [row("")]}])),
            "section 0, row 0: the title must be 1 to 24 characters, not 0"
        );
        assert_eq!(
            refused(json!([{"rows": [{"title": "a", "description": "d".repeat(73)}]}])),
            "section 0, row 0: the description must be at most 72 characters, not 73"
        );
        assert_eq!(
            refused(json!([{"rows": [{"id": "i".repeat(201), "title": "a"}]}])),
            "section 0, row 0: the id must be 1 to 200 characters, not 201"
        );
        assert_eq!(
            refused(json!([{"rows": [{"id": "", "title": "a"}]}])),
            "section 0, row 0: the id must be 1 to 200 characters, not 0"
        );
        // A given id may not repeat another, given or numbered.
        assert_eq!(
            refused(json!([{"title": "A", "rows": [row("a")]}, {"title": "B", "rows": [{"id": "0.0", "title": "b"}]}])),
            "section 1, row 0: WhatsApp needs distinct row ids, `0.0` is repeated"
        );

        // At the limits.
        let full = json!([
            {"title": "s".repeat(24), "rows": [{"id": "i".repeat(200), "title": "é".repeat(24), "description": "d".repeat(72)}]},
            {"title": "B", "rows": rows(9)},
        ]);
        assert!(send_body("1", &list(&"x".repeat(1024), &"b".repeat(20), full)).is_ok());
    }

    #[test]
    fn contact_cards_go_as_given_and_need_a_formatted_name() {
        let ana = json!({
            "name": {"formatted_name": "Ana Diaz", "first_name": "Ana", "last_name": "Diaz"},
            "phones": [{"phone": "+1 555 0100", "type": "CELL", "wa_id": "15550100"}],
            "emails": [{"email": "ana@example.com", "type": "WORK"}],
        });
        let bo = json!({"name": {"formatted_name": "Bo"}});
        assert_eq!(sent(json!({"type": "contact_card", "card": ana})), json!({"type": "contacts", "contacts": [ana]}));
        assert_eq!(
            sent(json!({"type": "contact_card", "card": [ana, bo]})),
            json!({"type": "contacts", "contacts": [ana, bo]})
        );
        let refused = |card: Json| send_body("1", &json!({"type": "contact_card", "card": card})).expect_err("refused");
        assert_eq!(refused(json!([])), "a contact card needs at least one contact");
        assert_eq!(refused(json!({"phones": []})), "contact card 0: WhatsApp needs a `name.formatted_name`");
        assert_eq!(
            refused(json!([ana, {"name": {"formatted_name": " ", "first_name": "X"}}])),
            "contact card 1: WhatsApp needs a `name.formatted_name`"
        );
        assert_eq!(refused(json!("Ana")), "contact card 0: WhatsApp needs a `name.formatted_name`");
    }

    #[test]
    fn templates_with_a_text_header_and_code_and_quick_reply_buttons() {
        let content = json!({
            "type": "template", "name": "otp", "language": "en_US", "category": "authentication",
            "components": [{"type": "BODY", "text": "{{1}}"}],
            "body": [], "header": {"type": "text", "text": "Ana"},
            "buttons": [
                {"index": 0, "sub_type": "copy_code", "parameter": "123456"},
                {"index": "1", "sub_type": "quick_reply", "parameter": "STOP"},
            ],
        });
        assert_eq!(
            sent(content),
            json!({"type": "template", "template": {
                "name": "otp",
                "language": {"policy": "deterministic", "code": "en_US"},
                "components": [
                    {"type": "header", "parameters": [{"type": "text", "text": "Ana"}]},
                    {"type": "button", "sub_type": "copy_code", "index": "0",
                     "parameters": [{"type": "coupon_code", "coupon_code": "123456"}]},
                    {"type": "button", "sub_type": "quick_reply", "index": "1",
                     "parameters": [{"type": "payload", "payload": "STOP"}]},
                ],
            }})
        );
        assert_eq!(
            sent(
                json!({"type": "template", "name": "hello", "language": "en", "header": null, "body": [], "buttons": []})
            ),
            json!({"type": "template", "template": {"name": "hello", "language": {"policy": "deterministic", "code": "en"}}})
        );
    }

    #[test]
    fn content_whatsapp_cannot_carry_is_refused() {
        let err = send_body("1", &json!({"type": "carrier_pigeon"})).expect_err("refused");
        assert!(err.starts_with("WhatsApp cannot send this content: unknown variant `carrier_pigeon`"), "{err}");
        let err = send_body(
            "1",
            &json!({"type": "template", "name": "t", "language": "en",
                    "buttons": [{"index": 0, "sub_type": "phone_number", "parameter": "x"}]}),
        )
        .expect_err("refused");
        assert_eq!(err, "template button 0: WhatsApp has no `phone_number` button parameter");
    }
}
