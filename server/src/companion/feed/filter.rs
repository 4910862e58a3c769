//! What a page asked to see: `?filter=` as a substring or a glob, matched
//! against each line as Redis spelled it.

/// A line filter from `?filter=`: a glob when it has `*` or `?` (matched
/// anywhere in the raw line), a substring otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Filter {
    /// Every line.
    All,
    /// Lines containing this.
    Substring(String),
    /// Lines with a part matching this glob.
    Glob(String),
    /// Lines containing any of these (the default over several prefixes).
    AnyOf(Vec<String>),
}

impl Filter {
    /// Reads `?filter=`; an empty one means every line.
    pub(crate) fn parse(s: &str) -> Self {
        if s.is_empty() {
            Self::All
        } else if s.contains(['*', '?']) {
            Self::Glob(format!("*{}*", s.trim_matches('*')))
        } else {
            Self::Substring(s.to_owned())
        }
    }

    /// Lines containing any of `needles`: one is a plain substring.
    pub(crate) fn any_of(needles: impl IntoIterator<Item = String>) -> Self {
        let mut needles: Vec<String> = needles.into_iter().collect();
        match needles.len() {
            1 => Self::parse(&needles.remove(0)),
            _ => Self::AnyOf(needles),
        }
    }

    /// Whether the page wants `raw`.
    pub(super) fn matches(&self, raw: &str) -> bool {
        match self {
            Self::All => true,
            Self::Substring(s) => raw.contains(s.as_str()),
            Self::Glob(g) => glob_match(g.as_bytes(), raw.as_bytes()),
            Self::AnyOf(needles) => needles.iter().any(|n| raw.contains(n.as_str())),
        }
    }
}

/// `*` any run, `?` any one byte; linear backtracking on the last `*`.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Globs match anywhere; `?` is one byte; plain text is a substring.
    #[test]
    fn filters() {
        let line = r#"1.000000 [0 127.0.0.1:1] "PUBLISH" "conduit_signalr:H:group:navigation-updates" "x""#;
        assert!(Filter::parse("conduit_signalr").matches(line));
        assert!(Filter::parse("*:group:nav*").matches(line));
        assert!(Filter::parse("H:gro?p").matches(line));
        assert!(!Filter::parse("*:all\"*").matches(line));
        assert!(!Filter::parse("other").matches(line));
        assert!(Filter::parse("").matches(line));
    }

    /// Several needles match a line containing any of them; one is a substring.
    #[test]
    fn any_of() {
        let admin = r#"1.000000 [0 127.0.0.1:1] "PUBLISH" "conduit_admin_signalr:A:all" "x""#;
        let both = Filter::any_of(["conduit_signalr".into(), "conduit_admin_signalr".into()]);
        assert!(both.matches(admin));
        assert!(!both.matches(r#""PUBLISH" "other:A:all""#));
        assert_eq!(
            Filter::any_of(["conduit_signalr".into()]),
            Filter::Substring("conduit_signalr".into())
        );
    }
}
