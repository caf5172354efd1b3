//! Canonical spelling of resource quantities.
//!
//! The API server stores quantities in canonical form ("1000m" becomes "1",
//! "1024Mi" becomes "1Gi"). Emitting that form ourselves keeps a fully applied
//! child equal to its desired state, so an unchanged XAgent sends no patch.

use std::fmt;

const BINARY: [(&str, u32); 6] = [("", 0), ("Ki", 1), ("Mi", 2), ("Gi", 3), ("Ti", 4), ("Pi", 5)];
const DECIMAL: [(&str, u32); 6] = [("", 0), ("k", 1), ("M", 2), ("G", 3), ("T", 4), ("P", 5)];

/// Canonical form of a quantity; spellings it does not understand (exponents,
/// values too large to compute exactly) pass through unchanged.
pub fn canonical(q: &str) -> String {
    canonicalize(q).unwrap_or_else(|| q.to_string())
}

fn canonicalize(q: &str) -> Option<String> {
    let (millis, binary) = parse(q)?;
    Some(format_millis(millis, binary))
}

/// The quantity in thousandths of its unit, so two spellings compare as
/// numbers ("10Gi" < "20Gi", "1024Mi" == "1Gi"); `None` for what
/// [`canonical`] does not understand either.
pub fn millis(q: &str) -> Option<u128> {
    parse(q).map(|(millis, _)| millis)
}

/// The quantity in thousandths, and whether it was spelled with a binary suffix.
fn parse(q: &str) -> Option<(u128, bool)> {
    let number_end = q.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(q.len());
    let (number, suffix) = q.split_at(number_end);
    let (binary, base_exp) = match suffix {
        "m" => (false, None),
        s => match (exponent(&DECIMAL, s), exponent(&BINARY, s)) {
            (Some(e), _) => (false, Some(1000u128.checked_pow(e)?)),
            (None, Some(e)) => (true, Some(1024u128.checked_pow(e)?)),
            (None, None) => return None,
        },
    };
    let (mantissa, scale) = parse_decimal(number)?;
    // Work in thousandths so "250m" and "0.25" land on the same integer.
    let multiplier = base_exp.map_or(Some(1), |m| m.checked_mul(1000))?;
    let scaled = mantissa.checked_mul(multiplier)?;
    if scale == 0 {
        // No fraction: no 128-bit division, a library call.
        return Some((scaled, binary));
    }
    let divisor = 10u128.checked_pow(scale)?;
    if !scaled.is_multiple_of(divisor) {
        return None;
    }
    Some((scaled / divisor, binary))
}

/// "1.25" as (125, 2).
fn parse_decimal(number: &str) -> Option<(u128, u32)> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    // Digit by digit: `parse` would need the two halves joined in a new string.
    let mantissa = int.bytes().chain(frac.bytes()).try_fold(0u128, |n, b| {
        n.checked_mul(10)?.checked_add(u128::from(b.checked_sub(b'0').filter(|d| *d < 10)?))
    })?;
    Some((mantissa, u32::try_from(frac.len()).ok()?))
}

/// The API server's spelling: fractions in millis, binary values of at least
/// 1Ki with the largest exact binary suffix, everything else decimal.
fn format_millis(millis: u128, binary: bool) -> String {
    // Every quantity a spec holds fits 64 bits in millis; dividing u64s
    // is an instruction where u128s take a library call per step.
    match u64::try_from(millis) {
        Ok(millis) => spell(millis, binary),
        Err(_) => spell(millis, binary),
    }
}

/// [`format_millis`] in the integer type the value fits.
fn spell<N>(millis: N, binary: bool) -> String
where
    N: Copy + PartialOrd + std::ops::Rem<Output = N> + std::ops::Div<Output = N> + From<u16> + fmt::Display,
{
    let zero = N::from(0);
    if millis % N::from(1000) != zero {
        return format!("{millis}m");
    }
    let value = millis / N::from(1000);
    let (base, table) = if binary && value >= N::from(1024) { (1024, &BINARY) } else { (1000, &DECIMAL) };
    let (base, mut value, mut idx) = (N::from(base), value, 0);
    // Largest suffix that divides the value exactly.
    while value != zero && value % base == zero && idx + 1 < table.len() {
        value = value / base;
        idx += 1;
    }
    format!("{value}{}", table[idx].0)
}

fn exponent(table: &[(&str, u32)], suffix: &str) -> Option<u32> {
    table.iter().find(|(s, _)| *s == suffix).map(|(_, e)| *e)
}

#[cfg(test)]
mod tests {
    use super::{canonical, millis};

    #[test]
    fn sizes_compare_as_numbers_whatever_their_spelling() {
        assert!(millis("10Gi") < millis("20Gi"));
        assert_eq!(millis("1024Mi"), millis("1Gi"));
        assert!(millis("1G") < millis("1Gi"));
        assert_eq!(millis("1500m"), millis("1.5"));
        assert_eq!(millis("lots"), None);
    }

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
    fn decimals_become_millis_or_smaller_binary_units() {
        assert_eq!(canonical("0.5"), "500m");
        assert_eq!(canonical("1.5"), "1500m");
        assert_eq!(canonical("0.25"), "250m");
        assert_eq!(canonical("1.5Gi"), "1536Mi");
        assert_eq!(canonical("0.5Gi"), "512Mi");
        assert_eq!(canonical("2.0"), "2");
        assert_eq!(canonical("0.5Ki"), "512");
    }

    #[test]
    fn unknown_or_huge_spellings_pass_through() {
        assert_eq!(canonical("1e3"), "1e3");
        assert_eq!(canonical(""), "");
        assert_eq!(canonical("."), ".");
        assert_eq!(canonical("12Qi"), "12Qi");
        let huge = format!("{}Pi", "9".repeat(40));
        assert_eq!(canonical(&huge), huge, "overflow must not panic");
    }
}
