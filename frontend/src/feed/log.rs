//! The feed's lines as plain Rust: a bounded log (newest first, at most
//! [`MAX_LINES`]), pause that holds lines back instead of losing them, the
//! filter, and a one-line reading of each decoded backplane envelope.

use std::collections::VecDeque;
use std::sync::Arc;

use protocol::api::FeedLine;
use protocol::backplane::summary::Payload;

/// Most lines kept (and so in the DOM), shown or held.
pub const MAX_LINES: usize = 500;

/// A line with the id its row is keyed by.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Unique in this log, increasing.
    pub id: u64,
    /// The line; shared, because rows are cloned on every redraw.
    pub line: Arc<FeedLine>,
}

/// The bounded log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedLog {
    /// Lines on screen, newest first.
    shown: VecDeque<Row>,
    /// Lines that came while paused, oldest first.
    held: VecDeque<Row>,
    /// Whether new lines are held back.
    paused: bool,
    /// Next row id.
    next_id: u64,
    /// Lines pushed out of the held queue while paused (it is bounded too).
    overflowed: u64,
}

impl FeedLog {
    /// Adds a line (held back while paused).
    pub fn push(&mut self, line: FeedLine) {
        let row = Row {
            id: self.next_id,
            line: Arc::new(line),
        };
        self.next_id += 1;
        if self.paused {
            if self.held.len() == MAX_LINES {
                self.held.pop_front();
                self.overflowed += 1;
            }
            self.held.push_back(row);
        } else {
            self.show(row);
        }
    }

    fn show(&mut self, row: Row) {
        self.shown.push_front(row);
        self.shown.truncate(MAX_LINES);
    }

    /// Holds new lines back.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Shows the held lines and the new ones again.
    pub fn resume(&mut self) {
        self.paused = false;
        while let Some(row) = self.held.pop_front() {
            self.show(row);
        }
    }

    /// Whether new lines are held back.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Lines waiting for resume.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Lines lost from the held queue while paused.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }

    /// Forgets every line (held ones too).
    pub fn clear(&mut self) {
        self.shown.clear();
        self.held.clear();
        self.overflowed = 0;
    }

    /// The newest `limit` shown lines matching `filter`, newest first.
    pub fn visible(&self, filter: &str, limit: usize) -> Vec<Row> {
        self.matching(filter).take(limit).cloned().collect()
    }

    /// How many shown lines match `filter`.
    pub fn count(&self, filter: &str) -> usize {
        self.matching(filter).count()
    }

    /// Shown lines matching `filter`, newest first.
    fn matching<'a>(&'a self, filter: &str) -> impl Iterator<Item = &'a Row> + 'a {
        let needle = lowercase(filter.trim());
        self.shown
            .iter()
            .filter(move |r| needle.is_empty() || matches(&r.line, &needle))
    }

    /// The raw text of shown line `id`, while it is kept.
    pub fn raw(&self, id: u64) -> Option<&str> {
        self.shown
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.line.raw.as_str())
    }

    /// Every line kept, oldest first, for the export.
    pub fn all(&self) -> impl Iterator<Item = &FeedLine> {
        self.shown.iter().rev().chain(&self.held).map(|r| &*r.line)
    }
}

/// Whether a line contains `needle` (already lower-cased) in its command,
/// channel, publisher, decoded reading or raw text.
pub fn matches(line: &FeedLine, needle: &str) -> bool {
    let fields = [
        Some(line.command.as_str()),
        line.channel.as_deref(),
        line.publisher_name.as_deref(),
        line.publisher_addr.as_deref(),
        Some(line.raw.as_str()),
    ];
    fields
        .into_iter()
        .flatten()
        .any(|f| lowercase(f).contains(needle))
        || lowercase(&describe(line)).contains(needle)
}

/// `str::to_lowercase`; in the browser, its `toLowerCase`, which applies
/// the same Unicode mapping: Rust's own table and code would add 15 KB to
/// the .wasm.
fn lowercase(s: &str) -> String {
    #[cfg(target_arch = "wasm32")]
    return js_sys::JsString::from(s).to_lower_case().into();
    #[cfg(not(target_arch = "wasm32"))]
    return s.to_lowercase();
}

/// A readable one-liner for a line's decoded envelope (or its command and
/// channel when it has none).
pub fn describe(line: &FeedLine) -> String {
    let Some(summary) = &line.summary else {
        return match &line.channel {
            Some(c) => format!("{} {c}", line.command),
            None => line.command.clone(),
        };
    };
    let channel = summary.channel.suffix();
    let channel = channel.trim_start_matches(':');
    let what = match &summary.payload {
        None => String::new(),
        Some(Payload::Invocation {
            target,
            arguments,
            excluded_connection_ids,
            ..
        }) => {
            let mut s = format!("→ {}", target.as_deref().unwrap_or("(no target)"));
            if let Some(args) = arguments {
                s.push(' ');
                s.push_str(&clip(&args.to_string(), 160));
            }
            if !excluded_connection_ids.is_empty() {
                s.push_str(&format!(
                    " (excluding {})",
                    excluded_connection_ids.join(", ")
                ));
            }
            s
        }
        Some(Payload::GroupCommand {
            id,
            server_name,
            action,
            group,
            connection_id,
        }) => format!("group {action} '{group}' for {connection_id} (#{id} from {server_name})"),
        Some(Payload::Ack { id }) => format!("ack #{id}"),
        Some(Payload::Completion { protocol, message }) => {
            format!("client result ({protocol}) {}", clip(message, 120))
        }
        Some(Payload::Undecodable { error }) => format!("undecodable: {error}"),
    };
    format!("{} {channel} {what}", line.command)
        .trim_end()
        .to_owned()
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::api::FeedSource;
    use protocol::backplane::summary::Summary;
    use protocol::backplane::ChannelKind;
    use serde_json::json;

    fn line(command: &str, raw: &str) -> FeedLine {
        FeedLine {
            time_micros: 0,
            source: FeedSource::Monitor,
            node: None,
            publisher_addr: None,
            publisher_name: None,
            command: command.into(),
            channel: None,
            summary: None,
            raw: raw.into(),
            truncated: false,
        }
    }

    /// The log keeps the newest 500 lines, newest first.
    #[test]
    fn keeps_at_most_500_newest_first() {
        let mut log = FeedLog::default();
        for i in 0..600 {
            log.push(line("PUBLISH", &i.to_string()));
        }
        let rows = log.visible("", MAX_LINES);
        assert_eq!(rows.len(), MAX_LINES);
        assert_eq!(rows[0].line.raw, "599");
        assert_eq!(rows[499].line.raw, "100");
    }

    /// A shown line's raw text is found by its row id until the line is
    /// pushed out of the log.
    #[test]
    fn raw_text_by_id_while_kept() {
        let mut log = FeedLog::default();
        for i in 0..=MAX_LINES {
            log.push(line("PUBLISH", &i.to_string()));
        }
        let newest = log.visible("", 1)[0].id;
        assert_eq!(log.raw(newest), Some(MAX_LINES.to_string().as_str()));
        assert_eq!(log.raw(0), None);
    }

    /// Paused lines are held, then shown on resume in order.
    #[test]
    fn pause_holds_then_resume_shows() {
        let mut log = FeedLog::default();
        log.push(line("A", "1"));
        log.pause();
        log.push(line("B", "2"));
        log.push(line("C", "3"));
        assert_eq!(log.visible("", MAX_LINES).len(), 1);
        assert_eq!(log.held(), 2);
        log.resume();
        let raws: Vec<_> = log
            .visible("", MAX_LINES)
            .iter()
            .map(|r| r.line.raw.clone())
            .collect();
        assert_eq!(raws, ["3", "2", "1"]);
    }

    /// The held queue is bounded too, and says how much it lost.
    #[test]
    fn held_queue_is_bounded() {
        let mut log = FeedLog::default();
        log.pause();
        for i in 0..510 {
            log.push(line("A", &i.to_string()));
        }
        assert_eq!((log.held(), log.overflowed()), (500, 10));
    }

    /// The filter matches case-insensitively on any field.
    #[test]
    fn filter_is_case_insensitive() {
        let mut log = FeedLog::default();
        log.push(line("SUBSCRIBE", "\"SUBSCRIBE\" \"x\""));
        log.push(line("PUBLISH", "\"PUBLISH\" \"conduit_signalr:Hub:all\""));
        let rows = log.visible("Conduit_SignalR", MAX_LINES);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line.command, "PUBLISH");
    }

    /// A window shows the newest lines that match; the count says how
    /// many match in all, so the page can offer the rest.
    #[test]
    fn a_window_shows_the_newest_matching_lines() {
        let mut log = FeedLog::default();
        for i in 0..10 {
            log.push(line(
                if i % 2 == 0 { "PUBLISH" } else { "PING" },
                &i.to_string(),
            ));
        }
        let raws: Vec<_> = log
            .visible("publish", 2)
            .iter()
            .map(|r| r.line.raw.clone())
            .collect();
        assert_eq!(raws, ["8", "6"]);
        assert_eq!((log.count("publish"), log.count("")), (5, 10));
    }

    /// Clear forgets shown and held lines.
    #[test]
    fn clear_forgets_everything() {
        let mut log = FeedLog::default();
        log.push(line("A", "1"));
        log.pause();
        log.push(line("B", "2"));
        log.clear();
        assert_eq!((log.visible("", MAX_LINES).len(), log.held()), (0, 0));
    }

    /// A decoded invocation reads as channel, target and arguments.
    #[test]
    fn describes_an_invocation() {
        let mut l = line("PUBLISH", "");
        l.summary = Some(Summary {
            hub: "H".into(),
            channel: ChannelKind::Group("navigation-updates".into()),
            payload: Some(Payload::Invocation {
                target: Some("NavigationStateUpdate".into()),
                arguments: Some(json!([{"type": "TestBroadcast"}])),
                invocation_id: None,
                excluded_connection_ids: vec!["c1".into()],
                protocols: vec!["json".into()],
                return_channel: None,
            }),
        });
        assert_eq!(
            describe(&l),
            "PUBLISH group:navigation-updates → NavigationStateUpdate [{\"type\":\"TestBroadcast\"}] (excluding c1)"
        );
    }

    /// Long text is cut at a character boundary with an ellipsis.
    #[test]
    fn clip_cuts_on_characters() {
        assert_eq!(clip("ééé", 2), "éé…");
        assert_eq!(clip("ab", 2), "ab");
    }
}
