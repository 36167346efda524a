/**
 * The test cards: which tokens this gateway stores, and what happens when each is charged.
 *
 * The tokens are Stripe's test names (`tok_visa` or `pm_card_visa`), so that a CRM set up for
 * Stripe's test mode works with this gateway unchanged. A card's `kind` (lower-case letters
 * only) names it inside references. A card succeeds when charged unless it has a `decline` or
 * `needsAuthentication`.
 *
 * @typedef {object} Decline
 * @property {string} code The gateway's error code.
 * @property {string | undefined} reason The issuer's reason.
 * @property {string} category A `decline-category` case.
 * @property {string} message Safe to show to the customer.
 *
 * @typedef {object} TestCard
 * @property {string} name Stripe's name: the token is `tok_<name>` or `pm_card_<name>`.
 * @property {string} kind The card's name in references.
 * @property {string} brand
 * @property {string} last4
 * @property {string} funding A `card-funding` case.
 * @property {Decline} [decline] How a charge is declined.
 * @property {boolean} [needsAuthentication] Whether a charge waits for the customer.
 */

const DECLINED = "Your card was declined.";

/** @type {readonly TestCard[]} */
export const CARDS = Object.freeze([
  { name: "visa", kind: "visa", brand: "visa", last4: "4242", funding: "credit" },
  { name: "visa_debit", kind: "visadebit", brand: "visa", last4: "5556", funding: "debit" },
  { name: "mastercard", kind: "mastercard", brand: "mastercard", last4: "4444", funding: "credit" },
  {
    name: "chargeDeclined", kind: "declined", brand: "visa", last4: "0002", funding: "credit",
    decline: { code: "card_declined", reason: "generic_decline", category: "do-not-honor", message: DECLINED },
  },
  {
    name: "chargeDeclinedInsufficientFunds", kind: "insufficientfunds", brand: "visa", last4: "9995",
    funding: "credit",
    decline: {
      code: "card_declined", reason: "insufficient_funds", category: "insufficient-funds",
      message: "Your card has insufficient funds.",
    },
  },
  {
    name: "chargeDeclinedExpiredCard", kind: "expiredcard", brand: "visa", last4: "0069", funding: "credit",
    decline: { code: "expired_card", reason: undefined, category: "expired-card", message: "Your card has expired." },
  },
  {
    name: "chargeDeclinedFraudulent", kind: "fraudulent", brand: "visa", last4: "0019", funding: "credit",
    decline: { code: "card_declined", reason: "fraudulent", category: "suspected-fraud", message: DECLINED },
  },
  {
    name: "chargeDeclinedProcessingError", kind: "processingerror", brand: "visa", last4: "0119",
    funding: "credit",
    decline: {
      code: "processing_error", reason: undefined, category: "try-again-later",
      message: "An error occurred while processing your card. Try again in a little bit.",
    },
  },
  {
    name: "threeDSecure2Required", kind: "threedsecure", brand: "visa", last4: "3220", funding: "credit",
    needsAuthentication: true,
  },
]);

/** Expiry month of every test card. */
export const EXP_MONTH = 12;
/** Expiry year of every test card. */
export const EXP_YEAR = 2034;

/**
 * The card of a token: `tok_<name>` or `pm_card_<name>`.
 * @param {string} token
 * @returns {TestCard | undefined}
 */
export function byToken(token) {
  const name = ["tok_", "pm_card_"].filter((p) => token.startsWith(p)).map((p) => token.slice(p.length))[0];
  return CARDS.find((card) => card.name === name);
}

/**
 * The card of a kind, as references spell it.
 * @param {string} kind
 * @returns {TestCard | undefined}
 */
export function byKind(kind) {
  return CARDS.find((card) => card.kind === kind);
}

/**
 * Whether a charge of the card succeeds without the customer.
 * @param {TestCard} card
 */
export function takesMoney(card) {
  return card.decline === undefined && !card.needsAuthentication;
}
