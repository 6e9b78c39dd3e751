//! A Messenger webhook delivery as events: `entry[].messaging[]` items (messages, quick replies,
//! postbacks, reactions, echoes, delivery and read watermarks) and `entry[].changes[]` comments on the
//! Page's posts, which become messages answerable by one private reply.

use serde_json::{Value, json};
use switchboard_plugin_sdk::channel::*;

/// Marks the `metadata` of what Switchboard sends, so that its echoes are recognised and dropped.
pub const OWN_METADATA: &str = "switchboard:";

/// What a delivery asks of the plugin besides its events.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub events: Vec<InboundEvent>,
    /// Contacts (PSIDs) that wrote, whose names may be worth fetching once.
    pub senders: Vec<String>,
    /// `(commenter id, comment id)`: comments the agent may answer once, privately.
    pub comments: Vec<(String, String)>,
}

fn bad(why: &str) -> WebhookError {
    WebhookError::BadRequest(why.to_owned())
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

fn contact(id: &str) -> ContactProfile {
    ContactProfile { external_id: id.to_owned(), ..Default::default() }
}

pub fn parse(body: &Value) -> Result<Parsed, WebhookError> {
    if body["object"].as_str() != Some("page") {
        return Err(bad("not a Messenger delivery (`object` is not `page`)"));
    }
    let entries = body["entry"].as_array().ok_or_else(|| bad("a delivery without `entry`"))?;
    let mut parsed = Parsed::default();
    for entry in entries {
        let page = entry["id"].as_str().unwrap_or_default();
        for item in entry["messaging"].as_array().map(Vec::as_slice).unwrap_or_default() {
            messaging(item, &mut parsed)?;
        }
        for change in entry["changes"].as_array().map(Vec::as_slice).unwrap_or_default() {
            comment(change, page, &mut parsed);
        }
    }
    Ok(parsed)
}

fn messaging(item: &Value, out: &mut Parsed) -> Result<(), WebhookError> {
    let sender = item["sender"]["id"].as_str().ok_or_else(|| bad("a messaging item without sender.id"))?;
    let timestamp_ms = item["timestamp"].as_i64();
    let message = &item["message"];
    if message.is_object() {
        let mid = text(&message["mid"]).ok_or_else(|| bad("a message without mid"))?;
        if message["is_echo"].as_bool() == Some(true) {
            // The Page wrote to the recipient; Switchboard's own sends are known already.
            if message["metadata"].as_str().is_some_and(|m| m.starts_with(OWN_METADATA)) {
                return Ok(());
            }
            let recipient = item["recipient"]["id"].as_str().ok_or_else(|| bad("an echo without recipient.id"))?;
            for (provider_message_id, content) in contents(&mid, message) {
                out.events.push(InboundEvent::Echo {
                    contact: contact(recipient),
                    provider_message_id,
                    timestamp_ms,
                    content,
                });
            }
            return Ok(());
        }
        for (provider_message_id, content) in contents(&mid, message) {
            out.events.push(InboundEvent::Message {
                contact: contact(sender),
                provider_message_id,
                timestamp_ms,
                content,
            });
        }
        out.senders.push(sender.to_owned());
    } else if item["postback"].is_object() {
        let postback = &item["postback"];
        let title = text(&postback["title"]).unwrap_or_else(|| "[postback]".into());
        // Postbacks have a mid since 2021; older ones are named by who pressed and when.
        let id = text(&postback["mid"]).unwrap_or_else(|| format!("postback:{sender}:{}", timestamp_ms.unwrap_or(0)));
        let content = json!({ "type": "reply", "text": title, "payload": postback["payload"] });
        out.events.push(InboundEvent::Message {
            contact: contact(sender),
            provider_message_id: id,
            timestamp_ms,
            content,
        });
        out.senders.push(sender.to_owned());
    } else if item["reaction"].is_object() {
        let reaction = &item["reaction"];
        let (Some(mid), Some("react")) = (text(&reaction["mid"]), reaction["action"].as_str()) else {
            // Taking a reaction back changes nothing stored.
            return Ok(());
        };
        let emoji = text(&reaction["emoji"]).or_else(|| text(&reaction["reaction"])).unwrap_or_else(|| "👍".into());
        let id = format!("reaction:{mid}:{sender}:{}", timestamp_ms.unwrap_or(0));
        let content = json!({ "type": "reaction", "emoji": emoji, "provider_message_id": mid });
        out.events.push(InboundEvent::Message {
            contact: contact(sender),
            provider_message_id: id,
            timestamp_ms,
            content,
        });
    } else if item["delivery"].is_object() {
        let delivery = &item["delivery"];
        for mid in delivery["mids"].as_array().map(Vec::as_slice).unwrap_or_default().iter().filter_map(text) {
            out.events.push(InboundEvent::Status {
                provider_message_id: mid,
                status: DeliveryStatus::Delivered,
                reason: None,
                timestamp_ms,
            });
        }
        if let Some(watermark_ms) = delivery["watermark"].as_i64() {
            let status = DeliveryStatus::Delivered;
            out.events.push(InboundEvent::Watermark { contact_external_id: sender.to_owned(), status, watermark_ms });
        }
    } else if let Some(watermark_ms) = item["read"]["watermark"].as_i64() {
        let status = DeliveryStatus::Read;
        out.events.push(InboundEvent::Watermark { contact_external_id: sender.to_owned(), status, watermark_ms });
    }
    // Opt-ins, referrals, hand-over and anything newer: acknowledged, nothing to store.
    Ok(())
}

/// A message's contents: its text (a quick reply's with the payload), then each attachment; the first keeps
/// the mid, the others are `mid#2`, `mid#3`, … so that every one is stored once.
fn contents(mid: &str, message: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let Some(t) = text(&message["text"]) {
        out.push(match message["quick_reply"]["payload"].as_str() {
            Some(payload) => json!({ "type": "reply", "text": t, "payload": payload }),
            None => json!({ "type": "text", "text": t }),
        });
    }
    for a in message["attachments"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let payload = &a["payload"];
        let media = |kind: &str| json!({ "type": "media", "kind": kind, "media_ref": payload["url"] });
        out.push(match a["type"].as_str().unwrap_or_default() {
            "image" => media("image"),
            "video" => media("video"),
            "audio" => media("audio"),
            "file" => media("document"),
            "location" => json!({
                "type": "location", "latitude": payload["coordinates"]["lat"],
                "longitude": payload["coordinates"]["long"], "name": a["title"],
            }),
            // A shared link or post.
            _ => {
                let shown = [&a["title"], &payload["url"], &a["url"]].into_iter().filter_map(text).collect::<Vec<_>>();
                json!({ "type": "text", "text": if shown.is_empty() { "[shared content]".into() } else { shown.join(" ") } })
            }
        });
    }
    out.into_iter()
        .enumerate()
        .map(|(i, content)| (if i == 0 { mid.to_owned() } else { format!("{mid}#{}", i + 1) }, content))
        .collect()
}

/// A new comment on one of the Page's posts, by someone other than the Page.
fn comment(change: &Value, page: &str, out: &mut Parsed) {
    let v = &change["value"];
    if change["field"].as_str() != Some("feed")
        || v["item"].as_str() != Some("comment")
        || v["verb"].as_str() != Some("add")
    {
        return;
    }
    let (Some(comment_id), Some(from)) = (text(&v["comment_id"]), text(&v["from"]["id"])) else { return };
    if from == page {
        return;
    }
    let mut profile = contact(&from);
    if let Some(name) = text(&v["from"]["name"]) {
        let (first, last) =
            name.split_once(' ').map_or((name.clone(), None), |(f, l)| (f.to_owned(), Some(l.to_owned())));
        profile.first_name = Some(first);
        profile.last_name = last;
    }
    let said = text(&v["message"]).unwrap_or_default();
    out.events.push(InboundEvent::Message {
        contact: profile,
        provider_message_id: format!("comment:{comment_id}"),
        timestamp_ms: v["created_time"].as_i64().map(|s| s * 1000),
        content: json!({ "type": "text", "text": format!("[comment on a post] {said}") }),
    });
    out.comments.push((from, comment_id));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(messaging: Value) -> Value {
        json!({ "object": "page", "entry": [{ "id": "P", "time": 1, "messaging": [messaging] }] })
    }

    #[test]
    fn attachments_and_quick_replies_become_contents() {
        let body = page(json!({ "sender": { "id": "U" }, "recipient": { "id": "P" }, "timestamp": 5, "message": {
            "mid": "m1", "text": "Yes", "quick_reply": { "payload": "YES" },
            "attachments": [
                { "type": "image", "payload": { "url": "https://scontent.fbcdn.net/a.jpg" } },
                { "type": "location", "title": "Home", "payload": { "coordinates": { "lat": 1.5, "long": 2.5 } } }
            ]
        } }));
        let parsed = parse(&body).expect("parsed");
        let ids: Vec<_> = parsed
            .events
            .iter()
            .map(|e| match e {
                InboundEvent::Message { provider_message_id, content, .. } => {
                    (provider_message_id.clone(), content["type"].clone())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            ids,
            vec![("m1".into(), json!("reply")), ("m1#2".into(), json!("media")), ("m1#3".into(), json!("location"))]
        );
        assert_eq!(parsed.senders, vec!["U".to_owned()]);
    }

    #[test]
    fn own_echoes_are_dropped_and_others_kept() {
        let echo = |metadata: &str| {
            page(json!({ "sender": { "id": "P" }, "recipient": { "id": "U" }, "timestamp": 5,
                         "message": { "mid": "m2", "is_echo": true, "metadata": metadata, "text": "hi" } }))
        };
        assert_eq!(parse(&echo("switchboard:m7")).expect("parsed").events, vec![]);
        let kept = parse(&echo("")).expect("parsed").events;
        assert!(matches!(&kept[..], [InboundEvent::Echo { contact, .. }] if contact.external_id == "U"), "{kept:?}");
    }

    #[test]
    fn comments_by_others_can_be_answered_privately() {
        let body = json!({ "object": "page", "entry": [{ "id": "P", "time": 1, "changes": [
            { "field": "feed", "value": { "item": "comment", "verb": "add", "comment_id": "C1", "post_id": "P_1",
              "message": "Price?", "created_time": 100, "from": { "id": "F", "name": "Ann Lee" } } },
            { "field": "feed", "value": { "item": "comment", "verb": "add", "comment_id": "C2",
              "message": "Thanks", "from": { "id": "P", "name": "The Page" } } }
        ] }] });
        let parsed = parse(&body).expect("parsed");
        assert_eq!(parsed.comments, vec![("F".to_owned(), "C1".to_owned())]);
        assert!(matches!(&parsed.events[..], [InboundEvent::Message { contact, provider_message_id, .. }]
            if contact.first_name.as_deref() == Some("Ann") && provider_message_id == "comment:C1"));
    }

    #[test]
    fn other_objects_are_refused() {
        assert!(parse(&json!({ "object": "instagram", "entry": [] })).is_err());
        assert!(parse(&page(json!({ "recipient": { "id": "P" } }))).is_err());
    }
}
