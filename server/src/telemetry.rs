//! Logging (tracing, text or JSON) and the Prometheus metrics recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global tracing subscriber; `RUST_LOG` overrides `log.level`. Safe to call twice.
pub fn init_logging(log: &LogConfig) {
    let text = std::env::var("RUST_LOG").ok().filter(|v| EnvFilter::try_new(v).is_ok());
    let filter = log_filter(text.as_deref().unwrap_or(&log.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Libraries whose INFO lines are their own bookkeeping, kept at WARN unless the filter names them:
/// tantivy logs six lines for every commit of the search index, which is several times a second while
/// messages arrive.
const CHATTY: &[&str] = &["tantivy"];

/// The filter for a `log.level` or `RUST_LOG` text (already known to be valid).
pub fn log_filter(text: &str) -> EnvFilter {
    let mut filter = EnvFilter::new(text);
    for target in CHATTY.iter().filter(|t| !text.contains(**t)) {
        if let Ok(directive) = format!("{target}=warn").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide metrics recorder once; later calls reuse it.
pub fn init_metrics() {
    METRICS.get_or_init(|| PrometheusBuilder::new().install_recorder().ok());
}

/// The current metrics in Prometheus text format.
pub fn render_metrics() -> String {
    init_metrics();
    METRICS.get().and_then(Option::as_ref).map(PrometheusHandle::render).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::log_filter;

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
