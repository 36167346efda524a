//! The bounds of an amount of money the service accepts, checked before anything is written.

use crate::error::Error;

/// The largest amount, in minor units, of a charge, capture or refund: 999,999,999,999 (USD
/// 9,999,999,999.99). No gateway takes more (Stripe stops at 99,999,999 for most currencies),
/// and every amount up to it is exact in any JSON client (below 2^53).
pub const MAX_AMOUNT: i64 = 999_999_999_999;
const _: () = assert!(MAX_AMOUNT < (1 << 53) - 1, "exact in every JSON client");

/// Checks that `amount` (of the request field `field`) is a positive count of minor units, at
/// most [`MAX_AMOUNT`].
pub fn check_amount(field: &str, amount: i64) -> Result<(), Error> {
    if (1..=MAX_AMOUNT).contains(&amount) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("must be an integer of minor units from 1 to {MAX_AMOUNT}; {amount} is not"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_positive_and_exact_in_json() {
        assert!(check_amount("amount", 1).is_ok());
        assert!(check_amount("amount", MAX_AMOUNT).is_ok());
        for bad in [0, -5, MAX_AMOUNT + 1, (1 << 53) + 1, i64::MAX, i64::MIN] {
            let e = check_amount("amount", bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("amount"), "{bad}");
        }
    }
}
