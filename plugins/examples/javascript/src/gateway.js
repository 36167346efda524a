/**
 * An example payment gateway in JavaScript: the `gateway` world of `omnicrm:payments@0.2.0`.
 *
 * componentize-js builds this module into a component (see `README.md` beside it). Each
 * interface the world exports is an exported object named after it in camelCase (`info`,
 * `tokens`, `charging`, `webhooks`) whose methods are the interface's functions in camelCase.
 * Imports are ES modules named by their WIT interface (`omnicrm:payments/credentials@0.2.0`).
 *
 * A stateless, network-free test gateway: customers derived from the CRM id, cards stored from
 * Stripe's test tokens, charges that succeed, decline (with a category) or wait for the
 * customer, captures, voids and refunds, and webhooks verified by the host. The host runs every
 * call in a fresh instance, so the references it returns hold all it needs later (see
 * `references.js`).
 */

import { EXP_MONTH, EXP_YEAR, byToken } from "./cards.js";
import * as charges from "./charges.js";
import { CURRENCIES, checkKey, checkMetadata, invalid, unsupported } from "./errors.js";
import { handleWebhook } from "./events.js";
import { customerOf, customerRef, digest, encodeCard, parseCard, parseCustomer } from "./references.js";

export const VERSION = "0.1.0";

export const info = {
  describe() {
    // Declares only what it does: no lookup of payments (a reference cannot say where a payment
    // stands now), no card sessions, no fees, no disputes.
    return {
      name: "javascript-example",
      displayName: "JavaScript example gateway",
      version: VERSION,
      currencies: [...CURRENCIES],
      capabilities: { partialCapture: true, refundLookup: true, customerActions: true },
    };
  },
};

export const tokens = {
  async ensureCustomer(request, idempotencyKey) {
    checkKey(idempotencyKey);
    if (request.crmCustomerId === "") {
      throw invalid("crm-customer-id", "must not be empty");
    }
    checkMetadata(request.metadata);
    // Derived from the CRM id, so "created" by the first call with this CRM customer's key.
    return {
      id: await customerRef(request.crmCustomerId),
      crmCustomerId: request.crmCustomerId,
      defaultCard: undefined,
      created: true,
    };
  },

  async storeCard(request) {
    checkKey(request.idempotencyKey);
    const customer = parseCustomer(request.customer);
    const card = byToken(request.token);
    if (card === undefined) {
      throw invalid("token", "not a test token: use tok_<name> or pm_card_<name>, such as tok_visa");
    }
    return storedCard({ card, customer }, request.makeDefault);
  },

  startCardSession() {
    throw unsupported("card sessions: store a test token with store-card");
  },

  listCards(customer) {
    parseCustomer(customer);
    return []; // Nothing is kept: the host's ledger lists the cards.
  },

  setDefaultCard(customer, card) {
    parseCard(card, parseCustomer(customer));
  },

  removeCard(customer, card) {
    parseCard(card, parseCustomer(customer));
  },
};

export const charging = {
  charge: charges.charge,
  capturePayment: charges.capturePayment,
  voidPayment: charges.voidPayment,
  refundPayment: charges.refundPayment,
  completeAction: charges.completeAction,
  getPayment() {
    throw unsupported("payment lookup: a reference says how a payment began, not where it stands");
  },
  getRefund: charges.getRefund,
};

export const webhooks = { handleWebhook };

/**
 * The stored card a reference describes.
 * @param {import("./references.js").CardRef} card
 * @param {boolean} isDefault
 */
async function storedCard(card, isDefault) {
  return {
    id: encodeCard(card),
    customer: customerOf(card),
    brand: card.card.brand,
    last4: card.card.last4,
    expMonth: EXP_MONTH,
    expYear: EXP_YEAR,
    fingerprint: `fp_${await digest([card.card.kind], 16)}`,
    funding: card.card.funding,
    country: "US",
    isDefault,
    networkTransactionId: undefined,
  };
}
