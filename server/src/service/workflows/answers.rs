//! Answers to the ask-a-question step: the question as sent (options numbered), and whether a reply is a
//! valid answer of the question's type, as the value to save.

use chrono::NaiveDate;
use serde_json::Value;

use crate::model::*;
use crate::service::validate;

/// The text sent for a question: multiple-choice options follow it, numbered, one per line.
pub fn question_text(text: &str, answer: &AnswerType) -> String {
    match answer {
        AnswerType::MultipleChoice { options } => {
            let lines: Vec<String> = options.iter().enumerate().map(|(i, o)| format!("{}. {o}", i + 1)).collect();
            format!("{text}\n{}", lines.join("\n"))
        }
        _ => text.to_owned(),
    }
}

/// What the contact wrote: text, or the text of a tapped button (media and the rest answer nothing).
pub fn reply_text(content: &MessageContent) -> Option<&str> {
    match content {
        MessageContent::Text { text, .. } | MessageContent::Reply { text, .. } => Some(text.trim()),
        _ => None,
    }
}

/// The value an answer saves, or why it is not an answer to this question.
pub fn check(answer: &AnswerType, reply: Option<&str>) -> Result<Value, String> {
    let Some(text) = reply.filter(|t| !t.is_empty()) else {
        return Err("the reply has no text".to_owned());
    };
    match answer {
        AnswerType::Text {} => Ok(Value::from(text)),
        AnswerType::MultipleChoice { options } => {
            let by_number = text.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| options.get(i));
            by_number
                .or_else(|| options.iter().find(|o| o.trim().eq_ignore_ascii_case(text)))
                .map(|o| Value::from(o.clone()))
                .ok_or_else(|| format!("`{text}` is not one of the options"))
        }
        AnswerType::Number { min, max } => {
            let n: f64 = text.replace(' ', "").parse().map_err(|_| format!("`{text}` is not a number"))?;
            if !n.is_finite() || min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return Err(format!("{n} is outside the range asked for"));
            }
            Ok(serde_json::Number::from_f64(n).map_or(Value::Null, |v| {
                if n.fract() == 0.0 && n.abs() < 9e15 { Value::from(n as i64) } else { Value::Number(v) }
            }))
        }
        AnswerType::Date {} => NaiveDate::parse_from_str(text, "%m/%d/%Y")
            .map(|d| Value::from(d.format("%Y-%m-%d").to_string()))
            .map_err(|_| format!("`{text}` is not a date as mm/dd/yyyy")),
        AnswerType::Phone {} => {
            if !text.starts_with('+') {
                return Err(format!("`{text}` has no country code (+…)"));
            }
            validate::phone("answer", text).map(|(e164, _)| Value::from(e164)).map_err(|e| e.to_string())
        }
        AnswerType::Email {} => validate::email("answer", text).map(Value::from).map_err(|e| e.to_string()),
        AnswerType::Url {} => validate::url("answer", text).map(Value::from).map_err(|e| e.to_string()),
        AnswerType::Rating {} => {
            // Digits, or stars as some keyboards send them.
            let stars = text.chars().filter(|c| *c == '⭐' || *c == '★').count();
            let n = text
                .parse::<u8>()
                .ok()
                .or((stars > 0 && text.chars().all(|c| c == '⭐' || c == '★' || c == '\u{fe0f}'))
                    .then_some(stars as u8));
            match n {
                Some(n @ 1..=5) => Ok(Value::from(n)),
                _ => Err(format!("`{text}` is not a rating from 1 to 5")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_type_accepts_its_answers_and_refuses_the_rest() {
        let choice = AnswerType::MultipleChoice { options: vec!["Sales".into(), "Support".into()] };
        let cases: Vec<(AnswerType, &str, Result<Value, ()>)> = vec![
            (AnswerType::Text {}, "anything", Ok(json!("anything"))),
            (choice.clone(), "2", Ok(json!("Support"))),
            (choice.clone(), "sales", Ok(json!("Sales"))),
            (choice.clone(), "3", Err(())),
            (choice, "billing", Err(())),
            (AnswerType::Number { min: Some(1.0), max: Some(10.0) }, "7", Ok(json!(7))),
            (AnswerType::Number { min: None, max: None }, "2.5", Ok(json!(2.5))),
            (AnswerType::Number { min: Some(1.0), max: Some(10.0) }, "11", Err(())),
            (AnswerType::Number { min: None, max: None }, "seven", Err(())),
            (AnswerType::Date {}, "02/29/2028", Ok(json!("2028-02-29"))),
            (AnswerType::Date {}, "2028-02-29", Err(())),
            (AnswerType::Date {}, "02/30/2028", Err(())),
            (AnswerType::Phone {}, "+971 50 123 4567", Ok(json!("+971501234567"))),
            (AnswerType::Phone {}, "0501234567", Err(())),
            (AnswerType::Email {}, "Ana@Example.com", Ok(json!("ana@example.com"))),
            (AnswerType::Email {}, "ana at example", Err(())),
            (AnswerType::Url {}, "https://acme.test/x", Ok(json!("https://acme.test/x"))),
            (AnswerType::Url {}, "acme", Err(())),
            (AnswerType::Rating {}, "4", Ok(json!(4))),
            (AnswerType::Rating {}, "⭐⭐⭐", Ok(json!(3))),
            (AnswerType::Rating {}, "6", Err(())),
        ];
        for (answer, text, want) in cases {
            let got = check(&answer, Some(text)).map_err(|_| ());
            assert_eq!(got, want, "{answer:?} {text:?}");
        }
        assert!(check(&AnswerType::Text {}, None).is_err(), "media answers nothing");
    }

    #[test]
    fn options_are_numbered_under_the_question() {
        let choice = AnswerType::MultipleChoice { options: vec!["Sales".into(), "Support".into()] };
        assert_eq!(question_text("Which team?", &choice), "Which team?\n1. Sales\n2. Support");
    }
}
