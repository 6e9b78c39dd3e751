//! `switchboard dev seed`: fills a workspace with realistic data for benchmarks and demos — agents in two
//! teams, two channels, contacts with English and Arabic names writing in both languages, conversations
//! assigned, tagged, pinned and mostly closed — through the same store calls the server makes (webhook
//! batches for incoming messages), so the data has every row and event real traffic would leave.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;
use crate::store::{Delivery, StoreError};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    pub conversations: u32,
    /// Messages in all, spread unevenly over the conversations (at least one each).
    pub messages: u64,
    /// The same seed gives the same contacts, texts and shapes (names of agents and teams differ per run).
    pub seed: u64,
}

#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    pub conversations: u64,
    pub messages: u64,
    pub closed: u64,
}

/// Conversations written per round (one webhook batch of their incoming messages each).
const ROUND: u32 = 250;

const FIRST_EN: &[&str] = &["James", "Mary", "Ana", "John", "Linda", "David", "Sara", "Michael", "Emma", "Daniel"];
const LAST_EN: &[&str] = &["Smith", "Silva", "Brown", "Taylor", "Wilson", "Martin", "Clark", "Lewis", "Walker"];
const FIRST_AR: &[&str] = &["أحمد", "محمد", "فاطمة", "عائشة", "يوسف", "مريم", "خالد", "ليلى", "عمر", "نور"];
const LAST_AR: &[&str] = &["الحسن", "العلي", "الخطيب", "المنصوري", "الشامي", "النجار", "الكعبي", "الزهراني"];
const FROM_CONTACT: &[&str] = &[
    "Hi, where is my order?",
    "Can I change the delivery address?",
    "The payment failed twice, can you check?",
    "Do you ship to Dubai?",
    "I want to return the shoes, they are too small",
    "Is the blue one back in stock?",
    "مرحبا، أين طلبي؟",
    "هل يمكن تغيير عنوان التوصيل؟",
    "الدفع لم ينجح، هل يمكنكم المساعدة؟",
    "متى يصل الطلب إلى الرياض؟",
    "أريد إرجاع المنتج من فضلك",
    "شكراً جزيلاً على المساعدة",
];
const FROM_AGENT: &[&str] = &[
    "Thanks for waiting! Let me check that for you.",
    "Your order left our warehouse this morning.",
    "I have updated the address; you will get a confirmation by e-mail.",
    "Here is the return label. Anything else?",
    "أهلاً بك! دعني أتحقق من ذلك.",
    "تم شحن طلبك اليوم وسيصل خلال يومين.",
    "تم تحديث العنوان بنجاح.",
    "هل هناك شيء آخر يمكنني مساعدتك به؟",
];

/// A contact's message: one of the phrases, a third of them with an order number (rare words, as real
/// texts have, for the search benchmark).
fn contact_text(rng: &mut StdRng) -> String {
    let phrase = FROM_CONTACT.choose(rng).copied().unwrap_or("hi");
    if rng.gen_bool(0.3) { format!("{phrase} #{}", rng.gen_range(100_000..1_000_000u32)) } else { phrase.to_owned() }
}

/// Fills workspace `ws` as `plan` says; `progress` is told how many conversations are done after each round.
pub async fn seed(app: &App, ws: Id, plan: &SeedPlan, progress: impl Fn(u64)) -> AppResult<SeedReport> {
    if plan.conversations == 0 || plan.messages < u64::from(plan.conversations) {
        return Err(AppError::validation(
            "messages",
            "give at least one conversation and one message per conversation",
        ));
    }
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let store = app.store.as_ref();
    let system = Actor::system();
    // Names of this run's agents, teams and channels, so seeding twice adds to a workspace instead of failing.
    let run = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let mut agents = Vec::new();
    for i in 1..=6 {
        let user = NewUser {
            email: format!("agent{i}-{run}@seed.invalid"),
            name: format!("Seed Agent {i}"),
            password_hash: String::from("!"),
            role: Role::Agent,
        };
        agents.push(store.create_user(ws, &user, system).await?.id);
    }
    let mut teams = Vec::new();
    for (name, members) in [("Sales", &agents[..3]), ("Support", &agents[3..])] {
        let team = store.create_team(ws, &format!("{name} {run}"), system).await?;
        for &user in members {
            store.set_team_member(ws, team.id, user, true, system).await?;
        }
        teams.push((team.id, members.to_vec()));
    }
    let mut channels = Vec::new();
    for (name, plugin) in [("Seed WhatsApp", "whatsapp-cloud"), ("Seed Telegram", "telegram")] {
        let fields = ChannelFields {
            name: format!("{name} {run}"),
            plugin_id: plugin.into(),
            config: serde_json::json!({}),
            secret_names: vec![],
            secrets_sealed: app.secrets.seal(b"{}").map_err(AppError::internal)?,
            // Nothing is ever sent to a provider from seeded data.
            enabled: false,
        };
        channels.push(store.create_channel(ws, &fields, system).await?.id);
    }
    let tags = ["vip".to_owned(), "lead".to_owned(), "returns".to_owned()];
    let per_conversation = plan.messages as f64 / f64::from(plan.conversations);

    let mut report = SeedReport::default();
    let mut remaining = plan.messages;
    let mut done = 0u32;
    while done < plan.conversations {
        let round = ROUND.min(plan.conversations - done);
        // Each conversation: its contact, channel and how many messages (1 to twice the mean).
        let mut shapes = Vec::with_capacity(round as usize);
        for k in 0..round {
            let left_after = u64::from(plan.conversations - done - k - 1);
            let want = (rng.gen_range(0.0..2.0) * per_conversation).round().max(1.0) as u64;
            let count = want.min(remaining.saturating_sub(left_after)).max(1);
            remaining -= count;
            let arabic = rng.gen_bool(0.5);
            let (first, last) = if arabic { (FIRST_AR, LAST_AR) } else { (FIRST_EN, LAST_EN) };
            let profile = ContactFields {
                first_name: first.choose(&mut rng).map(|s| s.to_string()),
                last_name: last.choose(&mut rng).map(|s| s.to_string()),
                phone: Some(format!("+9715{:08}", rng.gen_range(0..100_000_000u32))),
                ..Default::default()
            };
            let channel = channels[usize::from(rng.gen_bool(0.3))];
            shapes.push((format!("seed-{run}-{}", done + k), profile, channel, count));
        }
        // Incoming messages go in through the webhook path: one batch for the round.
        let mut items = Vec::with_capacity(shapes.len());
        let mut outgoing = Vec::new();
        for (external, profile, channel, count) in &shapes {
            let incoming = count.div_ceil(2);
            let list: Vec<InboundItem> = (0..incoming)
                .map(|n| InboundItem::Message {
                    external_id: external.clone(),
                    profile: profile.clone(),
                    provider_message_id: format!("{external}-{n}"),
                    content: MessageContent::text(contact_text(&mut rng)),
                })
                .collect();
            items.push((*channel, list));
            outgoing.push(count - incoming);
        }
        let deliveries: Vec<Delivery<'_>> = items
            .iter()
            .map(|(channel, list)| Delivery { workspace_id: ws, channel_id: *channel, items: list })
            .collect();
        store.ingest_many(&deliveries).await?;
        for ((external, _, channel, count), replies) in shapes.iter().zip(outgoing) {
            let contact = store
                .find_contact_by_identity(ws, *channel, external)
                .await?
                .ok_or_else(|| AppError::Internal("a seeded contact was not stored".into()))?;
            let filter = ConversationFilter { contact_id: Some(contact.id), ..Default::default() };
            let page = PageRequest { after: None, limit: 1 };
            let Some(conversation) = store.list_conversations(ws, &filter, &page).await?.items.into_iter().next()
            else {
                continue;
            };
            let (team, members) = &teams[rng.gen_range(0..teams.len())];
            let agent = *members.choose(&mut rng).unwrap_or(&agents[0]);
            if rng.gen_bool(0.6) {
                store.assign_conversation(ws, conversation.id, Some(agent), Some(*team), system).await?;
            }
            if rng.gen_bool(0.2) {
                let tag = tags.choose(&mut rng).cloned().unwrap_or_default();
                store.add_contact_tags(ws, contact.id, &[tag], system).await?;
            }
            for _ in 0..replies {
                let message = NewMessage {
                    channel_id: Some(*channel),
                    direction: Direction::Outgoing,
                    sender: Actor::user(agent),
                    content: MessageContent::text(FROM_AGENT.choose(&mut rng).copied().unwrap_or("ok")),
                    provider_message_id: None,
                    status: *[MessageStatus::Delivered, MessageStatus::Read]
                        .choose(&mut rng)
                        .unwrap_or(&MessageStatus::Read),
                };
                store.add_message(ws, conversation.id, &message).await?;
            }
            if rng.gen_bool(0.7) {
                match store.close_conversation(ws, conversation.id, &CloseRequest::default(), Actor::user(agent)).await
                {
                    Ok(_) | Err(StoreError::Conflict { .. }) => report.closed += 1,
                    Err(e) => return Err(e.into()),
                }
            }
            report.conversations += 1;
            report.messages += count;
        }
        done += round;
        progress(u64::from(done));
    }
    Ok(report)
}
