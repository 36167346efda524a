/**
 * References: everything the gateway needs to know about an object later, since no state
 * survives a call.
 *
 * The host runs every call in a fresh instance, so this gateway keeps nothing: a reference says
 * what never changes about its object (how a payment was created, never where it stands now),
 * and every answer is computed from the call's input and the references in it.
 *
 * | object   | reference |
 * |----------|-----------|
 * | customer | `js_cus_<customer digest>` |
 * | card     | `js_card_<card kind>_<customer digest>` |
 * | payment  | `js_pay_<auto\|manual>_<amount>_<CURRENCY>_<card kind>_<customer digest>_<nonce>` |
 * | refund   | `js_re_<amount>_<reason>_<nonce>_<payment reference>` |
 *
 * The customer digest is 32 hex digits of the SHA-256 of the CRM customer id; a nonce is 16 hex
 * digits of the SHA-256 of the operation's input and idempotency key, so repeating an operation
 * with the same key and input gives the same reference. A reference that does not parse, or
 * that this gateway could not have issued, is `not-found`.
 *
 * @typedef {import("./cards.js").TestCard} TestCard
 * @typedef {{ card: TestCard, customer: string }} CardRef
 * @typedef {{ capture: string, amount: bigint, currency: string, card: CardRef, nonce: string }} PaymentRef
 * @typedef {{ amount: bigint, reason: string | undefined, nonce: string, payment: PaymentRef }} RefundRef
 */

import { byKind } from "./cards.js";
import { MAX_AMOUNT, notFound } from "./errors.js";

/** Starts every reference, so that a reference of another gateway is never mistaken for one. */
export const PREFIX = "js";

const DIGEST = /^[0-9a-f]{32}$/;
const NONCE = /^[0-9a-f]{16}$/;
const AMOUNT = /^[1-9][0-9]*$/;
const CURRENCY = /^[A-Z]{3}$/;

/** `capture-mode` cases and their words in references. */
const CAPTURE_WORDS = new Map([["automatic", "auto"], ["manual", "manual"]]);
/** `refund-reason` cases (or none) and their words in references. */
const REASON_WORDS = new Map([
  [undefined, "none"],
  ["duplicate", "duplicate"],
  ["fraudulent", "fraudulent"],
  ["requested-by-customer", "customer"],
]);

/**
 * `length` hex digits of the SHA-256 of `parts`, one per line. Web Crypto's digest is
 * asynchronous, so are the exports that use it: the bindings await what an export returns.
 * @param {string[]} parts
 * @param {number} length
 * @returns {Promise<string>}
 */
export async function digest(parts, length) {
  const bytes = new TextEncoder().encode(parts.join("\n"));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, length);
}

/**
 * The nonce of an operation: 16 hex digits of the digest of its input and key.
 * @param {...string} parts
 */
export const nonce = (...parts) => digest(parts, 16);

/**
 * The `count` fields after `<prefix>_<kind>_`, or undefined when there are not exactly so many.
 * @param {string} reference
 * @param {string} kind
 * @param {number} count
 */
function fields(reference, kind, count) {
  const head = `${PREFIX}_${kind}_`;
  if (!reference.startsWith(head)) return undefined;
  const parts = reference.slice(head.length).split("_");
  return parts.length === count && parts.every((p) => p !== "") ? parts : undefined;
}

/**
 * A positive amount in canonical decimal, at most `MAX_AMOUNT`.
 * @param {string} text
 */
function amountOf(text) {
  if (!AMOUNT.test(text)) return undefined;
  const amount = BigInt(text);
  return amount <= MAX_AMOUNT ? amount : undefined;
}

/**
 * The customer of a CRM customer: the same for the same id, every time.
 * @param {string} crmCustomerId
 */
export async function customerRef(crmCustomerId) {
  return `${PREFIX}_cus_${await digest([crmCustomerId], 32)}`;
}

/**
 * The customer digest of a customer reference; throws `not-found` otherwise.
 * @param {string} reference
 */
export function parseCustomer(reference) {
  const parts = fields(reference, "cus", 1);
  if (parts === undefined || !DIGEST.test(parts[0])) throw notFound("customer", reference);
  return parts[0];
}

/** @param {CardRef} card */
export const encodeCard = (card) => `${PREFIX}_card_${card.card.kind}_${card.customer}`;

/** @param {CardRef} card */
export const customerOf = (card) => `${PREFIX}_cus_${card.customer}`;

/**
 * Parses a card reference (of `customer`'s, when given); throws `not-found`.
 * @param {string} reference
 * @param {string} [customer] The owner's customer digest.
 * @returns {CardRef}
 */
export function parseCard(reference, customer) {
  const parts = fields(reference, "card", 2);
  const card = parts && byKind(parts[0]);
  if (!parts || !card || !DIGEST.test(parts[1]) || (customer !== undefined && parts[1] !== customer)) {
    throw notFound("card", reference);
  }
  return { card, customer: parts[1] };
}

/** @param {PaymentRef} payment */
export function encodePayment(payment) {
  const { capture, amount, currency, card } = payment;
  return [`${PREFIX}_pay`, CAPTURE_WORDS.get(capture), amount, currency, card.card.kind, card.customer, payment.nonce]
    .join("_");
}

/**
 * The payment a reference names, or undefined when this gateway could not have issued it.
 * @param {string} reference
 * @returns {PaymentRef | undefined}
 */
export function decodePayment(reference) {
  const parts = fields(reference, "pay", 6);
  if (parts === undefined) return undefined;
  const [captureWord, amountText, currency, kind, customer, nonceText] = parts;
  const capture = [...CAPTURE_WORDS].find(([, word]) => word === captureWord)?.[0];
  const amount = amountOf(amountText);
  const card = byKind(kind);
  if (
    capture === undefined || amount === undefined || card === undefined || !CURRENCY.test(currency)
    || !DIGEST.test(customer) || !NONCE.test(nonceText)
  ) {
    return undefined;
  }
  return { capture, amount, currency, card: { card, customer }, nonce: nonceText };
}

/**
 * Parses a payment reference; throws `not-found`.
 * @param {string} reference
 */
export function parsePayment(reference) {
  const payment = decodePayment(reference);
  if (payment === undefined) throw notFound("payment", reference);
  return payment;
}

/** @param {RefundRef} refund */
export function encodeRefund(refund) {
  const { amount, reason, payment } = refund;
  return `${PREFIX}_re_${amount}_${REASON_WORDS.get(reason)}_${refund.nonce}_${encodePayment(payment)}`;
}

/**
 * Parses a refund reference; throws `not-found`.
 * @param {string} reference
 * @returns {RefundRef}
 */
export function parseRefund(reference) {
  const head = `${PREFIX}_re_`;
  const [amountText, reasonWord, nonceText, ...rest] = reference.slice(head.length).split("_");
  const payment = decodePayment(rest.join("_"));
  const amount = amountOf(amountText ?? "");
  const reason = [...REASON_WORDS].find(([, word]) => word === reasonWord);
  if (
    !reference.startsWith(head) || amount === undefined || reason === undefined
    || !NONCE.test(nonceText ?? "") || payment === undefined || amount > payment.amount
  ) {
    throw notFound("refund", reference);
  }
  return { amount, reason: reason[0], nonce: nonceText, payment };
}
