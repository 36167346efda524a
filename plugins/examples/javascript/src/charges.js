/**
 * Charges, captures, voids, refunds and customer actions, answered from the payment reference
 * and the call's input alone.
 *
 * Nothing remembers a capture, a void or a refund: each answer says where the payment stands
 * after *this* operation, and the host's ledger keeps the history. So a second capture, a void
 * after a capture, or refunds adding up to more than was taken are not detected here; a refund
 * is checked against the payment's amount.
 *
 * WIT types in JavaScript: records are objects with camelCase fields, enums are their WIT
 * names as strings (`"requires-capture"`), variants are `{ tag, val }`, options are the value
 * or `undefined`, `s64` and `u64` are `BigInt`s, smaller integers are numbers.
 *
 * @typedef {import("./references.js").PaymentRef} PaymentRef
 */

import { takesMoney } from "./cards.js";
import {
  GatewayError, checkChargeAmount, checkInPaymentCurrency, checkKey, checkMetadata, invalid,
} from "./errors.js";
import {
  customerOf, encodeCard, encodePayment, encodeRefund, nonce, parseCard, parseCustomer, parsePayment,
  parseRefund,
} from "./references.js";

/**
 * Where a redirect sends the customer. Nobody serves it: the customer's action is simulated,
 * and `complete-action` completes it.
 */
export const AUTHENTICATION_PAGE = "https://example.invalid/authenticate/";

/** The key and value in `action-completion.details` that make the authentication fail. */
export const FAILED_AUTHENTICATION = ["result", "failed"];

/** Seconds since the Unix epoch, as the contract's `timestamp` (an `s64`). */
export const now = () => BigInt(Math.floor(Date.now() / 1000));

/**
 * Charges (or authorizes) a stored card: the payment, or a decline or an action needed.
 * @param {any} request A `charge-request`.
 */
export async function charge(request) {
  checkKey(request.idempotencyKey);
  checkChargeAmount(request.amount);
  checkMetadata(request.metadata);
  const card = parseCard(request.card, parseCustomer(request.customer));
  const { amount, currency } = request.amount;
  /** @type {PaymentRef} */
  const payment = {
    capture: request.capture,
    amount,
    currency,
    card,
    nonce: await nonce(
      "charge", request.customer, request.card, String(amount), currency, request.capture,
      request.idempotencyKey,
    ),
  };
  const decline = declineOf(payment);
  if (decline !== undefined) {
    throw new GatewayError("declined", decline);
  }
  if (card.card.needsAuthentication) {
    throw new GatewayError("action-required", {
      payment: encodePayment(payment),
      nextAction: nextAction(payment, request.storedCredential),
      customerMessage: "Your bank asks you to authenticate this payment.",
      requestId: undefined,
    });
  }
  return { ...takenOrAuthorized(payment), description: request.description, metadata: request.metadata };
}

/**
 * Captures part or all of an authorization; every capture is final.
 * @param {any} request A `capture-request`.
 */
export function capturePayment(request) {
  checkKey(request.idempotencyKey);
  checkMetadata(request.metadata);
  const payment = parsePayment(request.payment);
  if (payment.capture !== "manual") {
    throw invalid("payment", "the payment was charged with automatic capture: nothing to capture");
  }
  if (payment.card.card.decline !== undefined) {
    throw invalid("payment", "the payment was declined: nothing was authorized");
  }
  checkInPaymentCurrency(request.amount, payment.currency);
  if (request.amount.amount < 1n || request.amount.amount > payment.amount) {
    throw invalid("amount", `must be between 1 and the authorized ${payment.amount}`);
  }
  return {
    id: request.payment,
    payment: request.payment,
    status: "succeeded",
    amount: request.amount,
    paymentAfter: paymentIn(payment, "succeeded", request.amount.amount),
    failureReason: undefined,
  };
}

/**
 * Voids a payment that took no money: an authorization, a decline, one waiting for the
 * customer.
 * @param {any} request A `void-request`.
 */
export function voidPayment(request) {
  checkKey(request.idempotencyKey);
  checkMetadata(request.metadata);
  const payment = parsePayment(request.payment);
  if (payment.capture === "automatic" && takesMoney(payment.card.card)) {
    throw invalid("payment", "the payment was captured when it was charged: refund it instead");
  }
  return {
    id: request.payment,
    payment: request.payment,
    status: "succeeded",
    amount: undefined,
    paymentAfter: paymentIn(payment, "canceled", 0n),
    failureReason: undefined,
  };
}

/**
 * Refunds up to the payment's amount; the refund succeeds at once.
 * @param {any} request A `refund-request`.
 */
export async function refundPayment(request) {
  checkKey(request.idempotencyKey);
  checkMetadata(request.metadata);
  const payment = parsePayment(request.payment);
  if (payment.card.card.decline !== undefined) {
    throw invalid("payment", "the payment was declined: nothing was taken");
  }
  checkInPaymentCurrency(request.amount, payment.currency);
  const { amount } = request.amount;
  if (amount < 1n || amount > payment.amount) {
    throw invalid("amount", `must be between 1 and the payment's ${payment.amount}`);
  }
  return refundOf({
    amount,
    reason: request.reason,
    nonce: await nonce("refund", request.payment, String(amount), request.idempotencyKey),
    payment,
  });
}

/**
 * Finishes a payment after the customer's (simulated) authentication: it succeeds unless
 * `details` holds `result=failed`. A payment that waited for nothing stands as its charge left
 * it.
 * @param {any} request An `action-completion`.
 */
export function completeAction(request) {
  checkKey(request.idempotencyKey);
  const payment = parsePayment(request.payment);
  const decline = declineOf(payment);
  if (decline !== undefined) {
    return { ...paymentIn(payment, "failed", 0n), lastDecline: decline };
  }
  const [key, value] = FAILED_AUTHENTICATION;
  const failed = request.details.some(([k, v]) => k === key && v === value);
  if (payment.card.card.needsAuthentication && failed) {
    return {
      ...paymentIn(payment, "failed", 0n),
      lastDecline: {
        category: "authentication-required",
        code: "authentication_failed",
        declineReason: undefined,
        customerMessage: "We could not authenticate your payment. Please try again.",
        payment: request.payment,
        requestId: undefined,
      },
    };
  }
  return takenOrAuthorized(payment);
}

/**
 * A refund, from its reference alone.
 * @param {string} reference
 */
export function getRefund(reference) {
  return refundOf(parseRefund(reference));
}

/**
 * The refund a reference describes: refunds succeed at once, so it never changes.
 * @param {import("./references.js").RefundRef} refund
 */
function refundOf(refund) {
  return {
    id: encodeRefund(refund),
    payment: encodePayment(refund.payment),
    amount: { amount: refund.amount, currency: refund.payment.currency },
    status: "succeeded",
    reason: refund.reason,
    created: now(),
    failureReason: undefined,
  };
}

/**
 * A payment whose card took it: captured in full, or authorized for a later capture.
 * @param {PaymentRef} payment
 */
function takenOrAuthorized(payment) {
  return payment.capture === "automatic"
    ? paymentIn(payment, "succeeded", payment.amount)
    : paymentIn(payment, "requires-capture", 0n);
}

/**
 * The payment in `status`. `created` is the time of this call: nothing kept the time of the
 * charge.
 * @param {PaymentRef} payment
 * @param {string} status A `payment-status` case.
 * @param {bigint} captured
 */
function paymentIn(payment, status, captured) {
  return {
    id: encodePayment(payment),
    status,
    amount: { amount: payment.amount, currency: payment.currency },
    amountCaptured: captured,
    amountRefunded: 0n,
    customer: customerOf(payment.card),
    card: encodeCard(payment.card),
    description: undefined,
    metadata: [],
    created: now(),
    lastDecline: undefined,
    nextAction: undefined,
    fee: undefined,
    networkTransactionId: undefined,
  };
}

/**
 * The decline of a payment of a declining card; undefined for other cards.
 * @param {PaymentRef} payment
 */
export function declineOf(payment) {
  const decline = payment.card.card.decline;
  if (decline === undefined) return undefined;
  return {
    category: decline.category,
    code: decline.code,
    declineReason: decline.reason,
    customerMessage: decline.message,
    payment: encodePayment(payment),
    requestId: undefined,
  };
}

/**
 * A redirect when the customer is there to follow it; else they must come back.
 * @param {PaymentRef} payment
 * @param {string} use A `stored-credential-use` case.
 */
function nextAction(payment, use) {
  if (use !== "customer-initiated") {
    return { tag: "bring-customer-on-session" };
  }
  return {
    tag: "redirect",
    val: { url: AUTHENTICATION_PAGE + encodePayment(payment), method: "get", fields: [] },
  };
}
