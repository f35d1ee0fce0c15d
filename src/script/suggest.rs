//! "did you mean ...?" for misspelt config keys and names.
//!
//! Private stand-in with the same names as the shared `runtime::suggest`
//! being written on another branch, so switching is a `use` change.

/// The candidate closest to `word`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Rewrites serde's "unknown field `x`, expected one of `a`, `b`" (or
/// "unknown variant ...") into "unknown field `x` (did you mean `a`?)" when
/// one candidate is close; otherwise returns the message unchanged.
pub fn suggest_from_serde_message(msg: &str) -> String {
    if !(msg.starts_with("unknown field") || msg.starts_with("unknown variant")) {
        return msg.to_string();
    }
    let quoted: Vec<&str> = msg.split('`').skip(1).step_by(2).collect();
    let Some((word, candidates)) = quoted.split_first() else {
        return msg.to_string();
    };
    match did_you_mean(word, candidates) {
        Some(best) => {
            let head = msg.split(", expected").next().unwrap_or(msg);
            format!("{head} (did you mean `{best}`?)")
        }
        None => msg.to_string(),
    }
}

/// Edit distance counting a swap of two neighbours as one edit (optimal
/// string alignment), since "memroy" is one slip, not two.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_field() {
        let msg = "unknown field `namespces`, expected one of `rootfs`, `namespaces`, `mounts`";
        assert_eq!(
            suggest_from_serde_message(msg),
            "unknown field `namespces` (did you mean `namespaces`?)"
        );
    }

    #[test]
    fn keeps_the_list_when_nothing_is_close() {
        let msg = "unknown field `zzz`, expected `rootfs` or `mounts`";
        assert_eq!(suggest_from_serde_message(msg), msg);
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("memroy", "memory"), 1);
        assert_eq!(edit_distance("arsg", "args"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            did_you_mean("memroy", &["memory", "pids_limit"]),
            Some("memory")
        );
    }
}
