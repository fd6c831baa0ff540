//! The `breakoutctl` command that fixes an API refusal, added to its message. The server's
//! messages name the field, the article or the route; a shell user wants the command. Pure: the
//! error's code and message in, the hint out (matched on the message's stable wording, which
//! `control-plane/src/state` and `contracts` own; an unknown message gets no hint).

/// One known refusal: every `needles` substring in the message (in order) → the hint.
/// `{1}`, `{2}` are the words that follow the first and second needle.
struct Known {
    needles: &'static [&'static str],
    hint: &'static str,
}

const KNOWN: &[Known] = &[
    Known {
        needles: &["no price book is set"],
        hint: "breakoutctl price-book set --file FILE",
    },
    Known {
        needles: &["region ", " does not exist"],
        hint: "breakoutctl region create {1}",
    },
    Known {
        needles: &["tenant ", " does not exist"],
        hint: "breakoutctl tenant list (or tenant create {1})",
    },
    Known {
        needles: &["needs the list-update-api option", "which tenant "],
        hint: "breakoutctl opt add {2} list-update-api",
    },
    Known {
        needles: &["tenant ", " has no list "],
        hint: "breakoutctl list ls {1}",
    },
    Known {
        needles: &["tenant ", " has no subscription to "],
        hint: "breakoutctl template subscriptions {1}",
    },
    Known {
        needles: &["tenant ", " holds no list-template contract for "],
        hint: "breakoutctl contract add {1} list-template --item {2}",
    },
    Known {
        needles: &["needs a cloud-bypass contract; tenant "],
        hint: "breakoutctl contract add {1} cloud-bypass --capacity N",
    },
    Known {
        needles: &["tenant ", " has no contract "],
        hint: "breakoutctl contract list {1}",
    },
    Known {
        needles: &["tenant ", " holds no "],
        hint: "breakoutctl opt list {1}",
    },
    Known {
        needles: &["tenant ", " has no webhook "],
        hint: "breakoutctl webhook list {1}",
    },
    Known {
        needles: &["template ", " has no candidate "],
        hint: "breakoutctl template versions {1}",
    },
    Known {
        needles: &["template ", " has no version"],
        hint: "breakoutctl template versions {1} (or template sync)",
    },
    Known {
        needles: &["has no PAC settings"],
        hint: "breakoutctl pac set TENANT --file FILE",
    },
];

/// The word after `needle` in `text` from `from` on: (the word, where the search goes on).
fn word_after(text: &str, from: usize, needle: &str) -> Option<(String, usize)> {
    let at = text[from..].find(needle)? + from + needle.len();
    let word: String = text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ';' | ':' | ')' | '('))
        .collect();
    Some((word, at))
}

/// The command that fixes the refusal `code`/`message`, if it is a known one.
pub fn hint(code: &str, message: &str) -> Option<String> {
    if code == "precondition_failed" {
        return Some(
            "read it again (e.g. breakoutctl tenant get TENANT) and retry; the CLI's \
             read-modify-write commands retry by themselves unless --if-match is given"
                .into(),
        );
    }
    'known: for k in KNOWN {
        let mut words = Vec::new();
        let mut at = 0;
        for needle in k.needles {
            match word_after(message, at, needle) {
                Some((w, next)) => {
                    words.push(w);
                    at = next;
                }
                None => continue 'known,
            }
        }
        let mut hint = k.hint.to_string();
        for (i, w) in words.iter().enumerate() {
            hint = hint.replace(&format!("{{{}}}", i + 1), w);
        }
        return Some(hint);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_refusals_name_the_command() {
        for (code, message, want) in [
            (
                "conflict",
                "no price book is set; set one (PUT /v1/price-book) before billing",
                "breakoutctl price-book set --file FILE",
            ),
            (
                "bad_request",
                "tenant.region: region tokyo does not exist; create it first",
                "breakoutctl region create tokyo",
            ),
            (
                "not_found",
                "tenant acme does not exist",
                "breakoutctl tenant list (or tenant create acme)",
            ),
            (
                "forbidden",
                "art. 10-4: changing lists with a tenant token needs the list-update-api \
                 option, which tenant acme does not hold in force on 2026-12-03",
                "breakoutctl opt add acme list-update-api",
            ),
            (
                "unprocessable",
                "art. 2: tenant acme holds no list-template contract for microsoft365 in force",
                "breakoutctl contract add acme list-template --item microsoft365",
            ),
            (
                "not_found",
                "template microsoft365 has no candidate 4",
                "breakoutctl template versions microsoft365",
            ),
        ] {
            assert_eq!(hint(code, message).as_deref(), Some(want), "{message}");
        }
        assert!(hint("precondition_failed", "version 3, not 2")
            .is_some_and(|h| h.contains("breakoutctl tenant get")));
        assert_eq!(hint("bad_request", "rules[0].action: unknown"), None);
    }
}
