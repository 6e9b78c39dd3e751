//! The search index (tantivy, in the data directory): contacts and message texts of every workspace, kept
//! current from the event log by `indexer`. It is derived state: deleting it loses nothing, and the server
//! (or `switchboard reindex`) rebuilds it from the database.
//!
//! The index records, in each commit, how far into every workspace's event log it has read, so the
//! documents and the cursors move together and a restart resumes exactly where the last commit ended.

pub mod analyzer;
pub mod highlight;
pub mod indexer;
pub mod query;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{DocAddress, Index, IndexReader, Order, ReloadPolicy, TantivyDocument, Term};

use crate::model::{Direction, Id};
pub use query::ParsedQuery;

/// Bumped whenever the schema or the analyzers change: an index of another version is rebuilt.
pub const FORMAT_VERSION: u32 = 1;

/// Log targets of the search library whose INFO lines are its own bookkeeping: tantivy logs six lines for
/// every commit of the index, and the index commits several times a second while messages arrive. The log
/// filter holds them at WARN unless it names them (`telemetry::log_filter`).
pub const QUIET_LOG_TARGETS: &[&str] = &["tantivy"];

/// The index's fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// `c:{id}` or `m:{id}`: what an update replaces.
    key: Field,
    /// `contact` or `message`.
    kind: Field,
    ws: Field,
    id: Field,
    /// The contact (for a contact, itself): deleting a contact deletes its messages too.
    contact: Field,
    conversation: Field,
    name: Field,
    phone: Field,
    email: Field,
    fields: Field,
    text: Field,
    at: Field,
    direction: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let words = |stored: bool| {
        let indexing =
            TextFieldIndexing::default().set_tokenizer(analyzer::TEXT).set_index_option(IndexRecordOption::WithFreqs);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored { options.set_stored() } else { options }
    };
    let phone = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default().set_tokenizer(analyzer::PHONE).set_index_option(IndexRecordOption::Basic),
        )
        .set_stored();
    let fields = Fields {
        key: b.add_text_field("key", STRING),
        kind: b.add_text_field("kind", STRING),
        ws: b.add_i64_field("ws", INDEXED),
        id: b.add_i64_field("id", STORED | FAST),
        contact: b.add_i64_field("contact", INDEXED | STORED),
        conversation: b.add_i64_field("conversation", STORED),
        name: b.add_text_field("name", words(true)),
        phone: b.add_text_field("phone", phone),
        email: b.add_text_field("email", words(true)),
        fields: b.add_text_field("fields", words(true)),
        text: b.add_text_field("text", words(true)),
        at: b.add_i64_field("at", STORED | FAST),
        direction: b.add_text_field("direction", STORED),
    };
    (b.build(), fields)
}

/// What the index has read of each workspace's event log, stored with every commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub version: u32,
    /// Whether a full build has completed (until then the index may miss rows older than the log).
    #[serde(default)]
    pub built: bool,
    /// Workspace id → the last event sequence number applied.
    pub cursors: BTreeMap<Id, i64>,
}

/// A contact as stored in the index.
#[derive(Debug, Clone)]
pub struct FoundContact {
    pub id: Id,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub fields: Vec<String>,
    pub score: f32,
}

/// A message as stored in the index.
#[derive(Debug, Clone)]
pub struct FoundMessage {
    pub id: Id,
    pub conversation_id: Id,
    pub contact_id: Id,
    pub direction: Direction,
    pub text: String,
    pub at_ms: i64,
    pub score: f32,
}

/// How message hits are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    #[default]
    Relevance,
    Newest,
}

/// The index, open for reading; [`indexer::Indexer`] writes it.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    dir: PathBuf,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it when missing and starting it afresh when it was written by
    /// another format version or cannot be read (it is derived state; the indexer then rebuilds it).
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create the search index directory {}: {e}", dir.display()))?;
        let (schema, fields) = schema();
        let index = match Index::open_in_dir(dir) {
            Ok(index) if index.schema() == schema && read_progress(&index).version == FORMAT_VERSION => index,
            Ok(_) | Err(tantivy::TantivyError::DataCorruption(_)) => {
                tracing::warn!(dir = %dir.display(), "the search index is of another version: starting it afresh");
                clear_dir(dir)?;
                Index::create_in_dir(dir, schema)?
            }
            Err(tantivy::TantivyError::OpenDirectoryError(_) | tantivy::TantivyError::OpenReadError(_))
                if !dir.join("meta.json").exists() =>
            {
                Index::create_in_dir(dir, schema)?
            }
            Err(e) => anyhow::bail!("cannot open the search index in {}: {e}", dir.display()),
        };
        index.tokenizers().register(analyzer::TEXT, analyzer::text_analyzer());
        index.tokenizers().register(analyzer::PHONE, analyzer::phone_analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self { index, reader, fields, dir: dir.to_path_buf() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How far the last commit has read into each workspace's event log.
    pub fn progress(&self) -> Progress {
        read_progress(&self.index)
    }

    /// Makes the latest commit visible to searches.
    pub fn reload(&self) -> anyhow::Result<()> {
        Ok(self.reader.reload()?)
    }

    /// How many documents (contacts and messages) searches see.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Contacts of `ws` matching `query` by name, e-mail, custom field values or phone digits, best first.
    pub fn contacts(
        &self,
        ws: Id,
        query: &ParsedQuery,
        offset: usize,
        limit: usize,
    ) -> anyhow::Result<Vec<FoundContact>> {
        let f = self.fields;
        let words = query.words_query(&[(f.name, 2.0), (f.email, 1.0), (f.fields, 0.5)]);
        let phone = query.phone_query(f.phone).map(|q| Box::new(BoostQuery::new(q, 2.0)) as Box<dyn Query>);
        let either: Vec<(Occur, Box<dyn Query>)> = words.into_iter().chain(phone).map(|q| (Occur::Should, q)).collect();
        if either.is_empty() {
            return Ok(vec![]);
        }
        let query = self.scoped(ws, "contact", Box::new(BooleanQuery::new(either)));
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit).and_offset(offset))?;
        top.into_iter()
            .map(|(score, addr)| {
                let doc: TantivyDocument = searcher.doc(addr)?;
                Ok(FoundContact {
                    id: int(&doc, f.id),
                    name: text(&doc, f.name).unwrap_or_default(),
                    phone: text(&doc, f.phone),
                    email: text(&doc, f.email),
                    fields: doc.get_all(f.fields).filter_map(|v| v.as_str().map(str::to_string)).collect(),
                    score,
                })
            })
            .collect()
    }

    /// Messages of `ws` containing every word of `query`.
    pub fn messages(
        &self,
        ws: Id,
        query: &ParsedQuery,
        sort: SearchSort,
        offset: usize,
        limit: usize,
    ) -> anyhow::Result<Vec<FoundMessage>> {
        let f = self.fields;
        let Some(words) = query.words_query(&[(f.text, 1.0)]) else { return Ok(vec![]) };
        let query = self.scoped(ws, "message", words);
        let searcher = self.reader.searcher();
        let top = TopDocs::with_limit(limit).and_offset(offset);
        let hits: Vec<(f32, DocAddress)> = match sort {
            SearchSort::Relevance => searcher.search(&query, &top)?,
            SearchSort::Newest => searcher
                .search(&query, &top.order_by_fast_field::<i64>("at", Order::Desc))?
                .into_iter()
                .map(|(_, addr)| (0.0, addr))
                .collect(),
        };
        hits.into_iter()
            .map(|(score, addr)| {
                let doc: TantivyDocument = searcher.doc(addr)?;
                let direction = text(&doc, f.direction).and_then(|d| Direction::parse(&d));
                Ok(FoundMessage {
                    id: int(&doc, f.id),
                    conversation_id: int(&doc, f.conversation),
                    contact_id: int(&doc, f.contact),
                    direction: direction.unwrap_or(Direction::Incoming),
                    text: text(&doc, f.text).unwrap_or_default(),
                    at_ms: int(&doc, f.at),
                    score,
                })
            })
            .collect()
    }

    /// `inner`, limited to documents of one kind in one workspace.
    fn scoped(&self, ws: Id, kind: &str, inner: Box<dyn Query>) -> BooleanQuery {
        let f = self.fields;
        // The filters add nothing to the score.
        let term = |t: Term| {
            Box::new(ConstScoreQuery::new(Box::new(TermQuery::new(t, IndexRecordOption::Basic)), 0.0)) as Box<dyn Query>
        };
        BooleanQuery::new(vec![
            (Occur::Must, inner),
            (Occur::Must, term(Term::from_field_i64(f.ws, ws))),
            (Occur::Must, term(Term::from_field_text(f.kind, kind))),
        ])
    }
}

fn read_progress(index: &Index) -> Progress {
    index.load_metas().ok().and_then(|m| m.payload).and_then(|p| serde_json::from_str(&p).ok()).unwrap_or(Progress {
        version: FORMAT_VERSION,
        built: false,
        cursors: BTreeMap::new(),
    })
}

fn clear_dir(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() { std::fs::remove_dir_all(&path)? } else { std::fs::remove_file(&path)? }
    }
    Ok(())
}

fn int(doc: &TantivyDocument, field: Field) -> i64 {
    doc.get_first(field).and_then(|v| v.as_i64()).unwrap_or_default()
}

fn text(doc: &TantivyDocument, field: Field) -> Option<String> {
    doc.get_first(field).and_then(|v| v.as_str()).map(str::to_string)
}

#[cfg(test)]
mod log_tests {
    use std::sync::{Arc, Mutex};

    use crate::telemetry::log_filter;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a subscriber with the filter for `text` writes of one INFO and one WARN line from tantivy and
    /// one INFO line from the server.
    fn logged(text: &str) -> String {
        let logs = Capture::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(log_filter(text))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        // A second registered dispatcher makes tracing-core ask the current thread's subscriber about
        // each event, instead of deciding once for the callsite with whichever test's filter came first.
        let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "tantivy::indexer::index_writer", "Preparing commit");
            tracing::warn!(target: "tantivy::indexer::index_writer", "merge failed");
            tracing::info!(target: "switchboard::app", "plugins loaded");
        });
        String::from_utf8(logs.0.lock().expect("log buffer").clone()).expect("utf-8 logs")
    }

    #[test]
    fn search_index_bookkeeping_stays_out_of_the_info_log() {
        let logs = logged("info");
        assert!(logs.contains("plugins loaded"), "{logs}");
        assert!(logs.contains("merge failed"), "tantivy's warnings still show:\n{logs}");
        assert!(!logs.contains("Preparing commit"), "{logs}");
    }

    #[test]
    fn a_filter_that_names_tantivy_gets_its_info_lines() {
        let logs = logged("info,tantivy=info");
        assert!(logs.contains("Preparing commit"), "{logs}");
        assert!(logs.contains("plugins loaded"), "{logs}");
    }
}
