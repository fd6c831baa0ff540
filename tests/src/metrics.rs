//! A small parser for the Prometheus text exposition format.

use std::collections::BTreeMap;

/// One sample line: `name{labels} value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// All samples in `text`; comment and malformed lines are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(parse_line)
        .collect()
}

/// The value of the sample called `name` whose label set equals `labels` exactly.
pub fn find(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse(text)
        .into_iter()
        .find(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
}

/// The sum of the samples called `name` whose labels include every pair of `labels` (other
/// labels may have any value); 0 if there is none.
pub fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    parse(text)
        .into_iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).is_some_and(|have| have == v))
        })
        .map(|s| s.value)
        .sum()
}

/// True if `text` declares a metric family `name` (a `# TYPE` line).
pub fn has_family(text: &str, name: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix("# TYPE ")
            .is_some_and(|r| r.split(' ').next() == Some(name))
    })
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let (name, labels, rest) = match line.find('{') {
        Some(open) => {
            let close = line.rfind('}')?;
            (
                &line[..open],
                parse_labels(&line[open + 1..close])?,
                &line[close + 1..],
            )
        }
        None => {
            let sp = line.find(' ')?;
            (&line[..sp], BTreeMap::new(), &line[sp..])
        }
    };
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

fn parse_labels(s: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        chars.next()?; // '='
        if chars.next()? != '"' {
            return None;
        }
        let mut val = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => val.push('\n'),
                    c => val.push(c),
                },
                '"' => break,
                c => val.push(c),
            }
        }
        out.insert(key.trim().to_string(), val);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_and_plain_samples() {
        let text = "# TYPE a counter\na{tenant=\"acme\",reason=\"x\\\"y\"} 3\nb 1.5\nc{} 2\n";
        assert_eq!(
            find(text, "a", &[("tenant", "acme"), ("reason", "x\"y")]),
            Some(3.0)
        );
        assert_eq!(find(text, "a", &[("tenant", "acme")]), None);
        assert_eq!(find(text, "b", &[]), Some(1.5));
        assert_eq!(find(text, "c", &[]), Some(2.0));
        assert_eq!(sum(text, "a", &[("tenant", "acme")]), 3.0);
        assert_eq!(sum(text, "a", &[("tenant", "other")]), 0.0);
        assert!(has_family(text, "a"));
        assert!(!has_family(text, "b"));
    }
}
