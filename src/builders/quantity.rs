//! Canonical spelling of resource quantities.
//!
//! The API server stores quantities in canonical form ("1000m" becomes "1",
//! "1024Mi" becomes "1Gi"). Emitting that form ourselves keeps a fully applied
//! child equal to its desired state, so an unchanged XAgent sends no patch.

const BINARY: [(&str, u32); 6] = [("", 0), ("Ki", 1), ("Mi", 2), ("Gi", 3), ("Ti", 4), ("Pi", 5)];
const DECIMAL: [(&str, u32); 6] = [("", 0), ("k", 1), ("M", 2), ("G", 3), ("T", 4), ("P", 5)];

/// Canonical form of an integer quantity with an optional suffix; other spellings pass through.
pub fn canonical(q: &str) -> String {
    let digits_end = q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len());
    let (digits, suffix) = q.split_at(digits_end);
    let Ok(n) = digits.parse::<u128>() else {
        return q.to_string();
    };
    if suffix == "m" {
        return millis(n);
    }
    // A bare number is a decimal quantity, so the decimal table is tried first.
    if let Some(exp) = exponent(&DECIMAL, suffix) {
        return rescale(n * 1000u128.pow(exp), 1000, &DECIMAL);
    }
    if let Some(exp) = exponent(&BINARY, suffix) {
        return rescale(n * 1024u128.pow(exp), 1024, &BINARY);
    }
    q.to_string()
}

fn exponent(table: &[(&str, u32)], suffix: &str) -> Option<u32> {
    table.iter().find(|(s, _)| *s == suffix).map(|(_, e)| *e)
}

fn millis(n: u128) -> String {
    if n.is_multiple_of(1000) { (n / 1000).to_string() } else { format!("{n}m") }
}

/// Largest suffix that divides the value exactly. A binary value smaller than 1Ki
/// is written without suffix, which the API server also does.
fn rescale(mut value: u128, base: u128, table: &[(&str, u32); 6]) -> String {
    let mut idx = 0;
    while value != 0 && value.is_multiple_of(base) && idx + 1 < table.len() {
        value /= base;
        idx += 1;
    }
    format!("{value}{}", table[idx].0)
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn cpu_millis_fold_into_cores() {
        assert_eq!(canonical("1000m"), "1");
        assert_eq!(canonical("2500m"), "2500m");
        assert_eq!(canonical("250m"), "250m");
        assert_eq!(canonical("2"), "2");
    }

    #[test]
    fn memory_takes_the_largest_exact_suffix() {
        assert_eq!(canonical("1024Mi"), "1Gi");
        assert_eq!(canonical("512Mi"), "512Mi");
        assert_eq!(canonical("1536Mi"), "1536Mi");
        assert_eq!(canonical("1000M"), "1G");
        assert_eq!(canonical("2048"), "2048");
        assert_eq!(canonical("0Gi"), "0");
    }

    #[test]
    fn unknown_spellings_pass_through() {
        assert_eq!(canonical("0.5"), "0.5");
        assert_eq!(canonical("1e3"), "1e3");
        assert_eq!(canonical(""), "");
    }
}
