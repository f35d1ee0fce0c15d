//! "Did you mean ...?": the nearest known name to a misspelt one.
//!
//! Used for config keys, capability, rlimit and mount option names. The
//! distance is case-insensitive Levenshtein with transpositions, so `cap_chown` and `CAP_CHOWN`
//! are the same word and a single typo is always within reach.

/// The candidate nearest to `word`, if it is close enough to be a plausible
/// typo: within max(2, len/3) edits, where len is `word`'s length in chars.
/// Ties go to the earlier candidate.
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word: Vec<char> = word.to_lowercase().chars().collect();
    let limit = (word.len() / 3).max(2);
    candidates
        .iter()
        .map(|&c| {
            (
                distance(&word, &c.to_lowercase().chars().collect::<Vec<_>>()),
                c,
            )
        })
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// `" (did you mean 'x'?)"` for the nearest candidate, or `""` when none is
/// close: ready to append to an error message.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    hint(nearest(word, candidates))
}

/// `" (did you mean 'x'?)"` for `suggestion`, or `""` without one: how
/// every error message words a suggestion.
pub fn hint(suggestion: Option<impl std::fmt::Display>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => String::new(),
    }
}

/// The nearest expected name in one of serde's messages
/// "unknown field `x`, expected one of `a`, `b`" /
/// "unknown variant `x`, expected `a` or `b`", which may carry a key path in
/// front (serde_path_to_error) or a position after (serde_json).
pub fn suggest_from_serde_message(msg: &str) -> Option<String> {
    let start = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|marker| msg.find(marker).map(|i| i + marker.len()))?;
    let rest = &msg[start..];
    let end = rest.find('`')?;
    let word = &rest[..end];
    let expected = &rest[end..];
    let expected = &expected[expected.find("expected")?..];
    // Expected names are the odd pieces between backticks.
    let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    nearest(word, &names).map(str::to_string)
}

/// Levenshtein distance over chars, where swapping two neighbours is one
/// edit too (optimal string alignment): `TREM` is one edit from `TERM`.
fn distance(a: &[char], b: &[char]) -> usize {
    // Three rows: the one before the previous sees a transposition.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            row[j + 1] = substitute.min(prev[j + 1] + 1).min(row[j] + 1);
            if i > 0 && j > 0 && *ca == b[j - 1] && a[i - 1] == *cb {
                row[j + 1] = row[j + 1].min(before[j - 1] + 1);
            }
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

/// The field names of `T`, from serde's own "unknown field ..., expected
/// one of `a`, `b`, `c`" message for a key no struct has (for two fields
/// "expected `a` or `b`", for one "expected `a`"), so that they cannot
/// drift from the runtime's types.
pub fn field_names<T: serde::de::DeserializeOwned>() -> Vec<String> {
    let probe = serde_json::json!({ "\u{0}": 0 });
    let Err(err) = serde_json::from_value::<T>(probe) else {
        return Vec::new();
    };
    let message = err.to_string();
    let Some((_, list)) = message.split_once(", expected ") else {
        return Vec::new();
    };
    let list = list.strip_prefix("one of ").unwrap_or(list);
    list.split(", ")
        .flat_map(|keys| keys.split(" or "))
        .map(|key| key.trim_matches('`').to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(a: &str, b: &str) -> usize {
        distance(
            &a.chars().collect::<Vec<_>>(),
            &b.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn levenshtein_distances() {
        assert_eq!(dist("", ""), 0);
        assert_eq!(dist("abc", ""), 3);
        assert_eq!(dist("", "abc"), 3);
        assert_eq!(dist("kitten", "sitting"), 3);
        assert_eq!(dist("rootfs", "rootfz"), 1);
        assert_eq!(dist("memroy", "memory"), 1);
        assert_eq!(dist("TREM", "TERM"), 1);
        assert_eq!(dist("ca", "abc"), 3);
    }

    #[test]
    fn nearest_picks_closest_within_limit() {
        let keys = ["rootfs", "readonly_rootfs", "hostname", "namespaces"];
        assert_eq!(nearest("rootfz", &keys), Some("rootfs"));
        assert_eq!(nearest("hostnme", &keys), Some("hostname"));
        assert_eq!(nearest("namespace", &keys), Some("namespaces"));
        assert_eq!(nearest("completely_different", &keys), None);
    }

    #[test]
    fn nearest_is_case_insensitive() {
        let caps = ["CAP_CHOWN", "CAP_KILL"];
        assert_eq!(nearest("cap_chown", &caps), Some("CAP_CHOWN"));
        assert_eq!(nearest("Cap_Kil", &caps), Some("CAP_KILL"));
    }

    #[test]
    fn limit_grows_with_word_length() {
        // 2 edits are always allowed, even for short words ...
        assert_eq!(nearest("ab", &["abcd"]), Some("abcd"));
        assert_eq!(nearest("ab", &["abcde"]), None);
        // ... and len/3 for long ones: 12 chars allow 4 edits, not 5.
        assert_eq!(
            nearest("RLIMIT_NOFXX", &["RLIMIT_NOFILE"]),
            Some("RLIMIT_NOFILE")
        );
        assert_eq!(nearest("abcdefghijkl", &["abcdefgh"]), Some("abcdefgh"));
        assert_eq!(nearest("abcdefghijkl", &["abcdefg"]), None);
    }

    #[test]
    fn ties_go_to_the_first_candidate() {
        assert_eq!(nearest("cat", &["bat", "car"]), Some("bat"));
    }

    #[test]
    fn did_you_mean_formats_or_is_empty() {
        assert_eq!(
            did_you_mean("RLIMIT_NOFLE", &["RLIMIT_NOFILE", "RLIMIT_CORE"]),
            " (did you mean 'RLIMIT_NOFILE'?)"
        );
        assert_eq!(did_you_mean("zzzzzzzz", &["RLIMIT_NOFILE"]), "");
        assert_eq!(did_you_mean("x", &[]), "");
    }

    #[test]
    fn serde_unknown_field_messages() {
        let msg =
            "unknown field `rootfz`, expected one of `rootfs`, `readonly_rootfs`, `capabilities`";
        assert_eq!(suggest_from_serde_message(msg).as_deref(), Some("rootfs"));
        // serde_path_to_error prefix and serde_json suffix.
        let msg = "cgroups.memroy: unknown field `memroy`, expected one of `name`, `memory`, \
                   `memory_swap` at line 1 column 20";
        assert_eq!(suggest_from_serde_message(msg).as_deref(), Some("memory"));
        let msg = "unknown field `tpye`, expected `type` or `path`";
        assert_eq!(suggest_from_serde_message(msg).as_deref(), Some("type"));
    }

    #[test]
    fn serde_unknown_variant_messages() {
        let msg = "unknown variant `pdi`, expected one of `mount`, `uts`, `ipc`, `pid`, `net`";
        assert_eq!(suggest_from_serde_message(msg).as_deref(), Some("pid"));
        let msg = "unknown variant `netx`, expected `net`";
        assert_eq!(suggest_from_serde_message(msg).as_deref(), Some("net"));
    }

    #[test]
    fn serde_messages_without_a_suggestion() {
        assert_eq!(
            suggest_from_serde_message("unknown field `x`, there are no fields"),
            None
        );
        assert_eq!(
            suggest_from_serde_message("invalid type: string, expected u64"),
            None
        );
        assert_eq!(
            suggest_from_serde_message("unknown field `zzzzzzzzz`, expected `rootfs`"),
            None
        );
    }

    #[test]
    fn field_names_of_one_two_and_more_fields() {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct One {
            a: u8,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Two {
            a: u8,
            b: u8,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Three {
            a: u8,
            b: u8,
            c: u8,
        }
        assert_eq!(field_names::<One>(), ["a"]);
        assert_eq!(field_names::<Two>(), ["a", "b"]);
        assert_eq!(field_names::<Three>(), ["a", "b", "c"]);
    }
}
