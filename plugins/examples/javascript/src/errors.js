/**
 * The contract's errors, and the checks every operation makes on its input.
 *
 * A function of the contract that returns `result<T, gateway-error>` answers an error by
 * *throwing* it. The bindings (jco's, inside componentize-js) take a thrown object with a
 * `payload` property (like their own `ComponentError`), or a plain `{ tag, val }` object, as the
 * result's error. Any other `Error` escaping an export traps the instance: the host reports a
 * trap, which it must treat as "money may have moved" (it reconciles). So every expected
 * failure is thrown as a `GatewayError` below, never as a bare `Error`.
 */

/** The currencies this gateway charges in. */
export const CURRENCIES = Object.freeze(["EUR", "GBP", "USD"]);

/** The largest amount of a charge, in minor units. */
export const MAX_AMOUNT = 99_999_999n;

/**
 * A contract error to throw from an export: `payload` is the `gateway-error` (or `rejection`)
 * case, `{ tag, val }`.
 */
export class GatewayError extends Error {
  /**
   * @param {string} tag The case, as the WIT spells it (`invalid-input`).
   * @param {unknown} [val] Its payload, if the case has one.
   */
  constructor(tag, val) {
    super(tag);
    this.name = "GatewayError";
    this.payload = val === undefined ? { tag } : { tag, val };
  }
}

/**
 * `gateway-error::invalid-input` on `field`.
 * @param {string} field
 * @param {string} message
 */
export const invalid = (field, message) =>
  new GatewayError("invalid-input", { field, message, requestId: undefined });

/**
 * `gateway-error::not-found` of a `kind` object.
 * @param {string} kind
 * @param {string} id
 */
export const notFound = (kind, id) => new GatewayError("not-found", { kind, id });

/** @param {string} message */
export const unsupported = (message) => new GatewayError("unsupported", message);

const KEY = /^[A-Za-z0-9._:-]{1,200}$/;

/**
 * An idempotency key is 1 to 200 characters of `[A-Za-z0-9._:-]`.
 * @param {string} key
 */
export function checkKey(key) {
  if (!KEY.test(key)) {
    throw invalid("idempotency-key", "must be 1 to 200 characters of [A-Za-z0-9._:-]");
  }
}

/**
 * A charge's amount is 1 to `MAX_AMOUNT` minor units of a currency this gateway takes.
 * @param {{ amount: bigint, currency: string }} money
 */
export function checkChargeAmount({ amount, currency }) {
  if (amount < 1n || amount > MAX_AMOUNT) {
    throw invalid("amount", `must be between 1 and ${MAX_AMOUNT} minor units`);
  }
  if (!CURRENCIES.includes(currency)) {
    throw invalid("currency", `${JSON.stringify(currency)} is not one of ${CURRENCIES.join(", ")}`);
  }
}

/**
 * A capture or refund is in the payment's currency.
 * @param {{ amount: bigint, currency: string }} money
 * @param {string} currency
 */
export function checkInPaymentCurrency(money, currency) {
  if (money.currency !== currency) {
    throw invalid("amount", `must be in the payment's currency ${currency}`);
  }
}

/**
 * At most 50 unique keys of 1 to 40 characters, values of at most 500.
 * @param {Array<[string, string]>} metadata
 */
export function checkMetadata(metadata) {
  if (metadata.length > 50) {
    throw invalid("metadata", "at most 50 keys");
  }
  const seen = new Set();
  for (const [key, value] of metadata) {
    if ([...key].length < 1 || [...key].length > 40) {
      throw invalid("metadata", `key ${JSON.stringify(key)} must have 1 to 40 characters`);
    }
    if ([...value].length > 500) {
      throw invalid("metadata", `the value of ${JSON.stringify(key)} is longer than 500 characters`);
    }
    if (seen.has(key)) {
      throw invalid("metadata", `key ${JSON.stringify(key)} appears twice`);
    }
    seen.add(key);
  }
}
