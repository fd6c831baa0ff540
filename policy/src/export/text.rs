//! Plain text, one entry per line, as firewalls fetch external dynamic lists (Palo Alto EDLs,
//! Fortinet external block lists/threat feeds). Both vendors keep IP lists and domain lists
//! apart (a list of one type holds entries of that type only), so devices fetch
//! `kind=hosts` and `kind=cidrs` as two lists. Domain lists take host names and `*.parent`;
//! a `*` standing for a whole label is kept (`autodiscover.*.onmicrosoft.com`), but a `*`
//! inside a label (`*cdn.onenote.net`) has no EDL form: such entries are left out and counted.

use super::{Entry, Kind};
use crate::Destination;

/// The list, and how many entries it could not express.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextOutput {
    pub text: String,
    pub omitted: usize,
}

/// One line per entry, in the entries' order.
pub fn render_text(entries: &[&Entry]) -> TextOutput {
    let mut text = String::new();
    let mut omitted = 0;
    for e in entries {
        // A pattern in its plain glob form: `[*].x` (one label) is `*.x` to a firewall.
        let line = match &e.dest {
            Destination::Pattern(p) => p.clone(),
            d => d.to_string(),
        };
        if e.kind == Kind::Pattern && !whole_label_wildcards(&line) {
            omitted += 1;
            continue;
        }
        text.push_str(&line);
        text.push('\n');
    }
    TextOutput { text, omitted }
}

/// True when every `*` in `pattern` is a label of its own.
fn whole_label_wildcards(pattern: &str) -> bool {
    pattern
        .split('.')
        .all(|label| label == "*" || !label.contains('*'))
}
