/**
 * Webhooks: the signature checked by the host (`credentials.verify-mac`), then the event read.
 *
 * A request carries `example-signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, where a `v1`
 * is the hex HMAC-SHA256, keyed with the secret `webhook-secret`, of `<t>.<raw body>`. The
 * plugin never holds the secret: it hands the signed bytes and the signature to the host, which
 * compares in constant time. The body is read only once the signature holds:
 *
 *     {"id": "evt_1", "created": 1700000000, "type": "payment.succeeded",
 *      "data": {"payment": "<payment reference>", "metadata": {"crm_transaction_id": "42"}}}
 *
 * `payment.succeeded`, `payment.authorized`, `payment.failed` and `payment.canceled` are payment
 * updates: the amount (and a declining card's decline) comes from the reference, the captured
 * amount from `data.amount_captured` (default: all of a succeeded payment, else 0).
 * `refund.succeeded` (`data.refund`: a refund reference) is a modification update. Other types
 * are `other(<type>)`.
 */

import { get as setting } from "omnicrm:payments/config@0.2.0";
import { verifyMac } from "omnicrm:payments/credentials@0.2.0";
import { log } from "omnicrm:payments/logging@0.2.0";

import { declineOf } from "./charges.js";
import { GatewayError } from "./errors.js";
import { decodePayment, encodePayment, parseRefund } from "./references.js";

export const SIGNATURE_HEADER = "example-signature";
const WEBHOOK_SECRET = { secret: "webhook-secret", encoding: "raw" };
/**
 * How far the signed time may be from now, in seconds; the setting `webhook-tolerance-secs`
 * (0: no check) overrides it.
 */
export const DEFAULT_TOLERANCE_SECS = 300;

const PAYMENT_STATUSES = new Map([
  ["payment.succeeded", "succeeded"],
  ["payment.authorized", "requires-capture"],
  ["payment.failed", "failed"],
  ["payment.canceled", "canceled"],
]);

const malformed = (/** @type {string} */ message) => new GatewayError("malformed", message);

/**
 * Verifies a request, then reads its event; throws the `rejection` otherwise.
 * @param {any} request A `webhook-request`.
 */
export function handleWebhook(request) {
  let event;
  try {
    event = verifiedEvent(request);
  } catch (error) {
    if (error instanceof GatewayError) {
      log("warn", `webhook rejected: ${error.payload.tag}`);
    }
    throw error;
  }
  return {
    events: [event],
    response: {
      status: 200,
      contentType: "application/json",
      body: new TextEncoder().encode('{"received":true}'),
    },
  };
}

/** @param {any} request */
function verifiedEvent(request) {
  if (request.method !== "POST") {
    throw malformed(`expected a POST, not a ${request.method}`);
  }
  const headers = request.headers.filter(([name]) => name === SIGNATURE_HEADER).map(([, value]) => value);
  if (headers.length === 0) {
    throw new GatewayError("missing-signature");
  }
  const signedAt = headers.map((header) => verify(header, request.body)).find((t) => t !== undefined);
  if (signedAt === undefined) {
    throw new GatewayError("bad-signature");
  }
  const tolerance = toleranceSecs();
  if (tolerance > 0 && Math.abs(Date.now() / 1000 - signedAt) > tolerance) {
    throw new GatewayError("outside-tolerance");
  }
  return parseEvent(request.body);
}

/**
 * The signed time of a header one of whose signatures the host verifies, else undefined.
 * @param {Uint8Array} header
 * @param {Uint8Array} body
 */
function verify(header, body) {
  const signed = parseHeader(header);
  if (signed === undefined) return undefined;
  const { timestamp, signatures } = signed;
  const prefix = new TextEncoder().encode(`${timestamp}.`);
  const message = new Uint8Array(prefix.length + body.length);
  message.set(prefix);
  message.set(body, prefix.length);
  for (const signature of signatures) {
    let valid;
    try {
      valid = verifyMac(WEBHOOK_SECRET, "hmac-sha256", message, signature);
    } catch (error) {
      // An import's error is thrown as the bindings' `ComponentError`, whose `payload` is the
      // `credential-error`. Left to escape, it would be taken as this export's own error.
      if (error?.payload?.tag === "too-large") throw malformed("the body is too large to verify");
      throw new GatewayError("not-configured", "the webhook secret is not configured or not usable");
    }
    if (valid) return timestamp;
  }
  return undefined;
}

/**
 * `t=<seconds>,v1=<hex>...`: the time and (at most 8) signatures, or undefined.
 * @param {Uint8Array} header
 */
function parseHeader(header) {
  const items = new TextDecoder().decode(header).split(",").map((item) => {
    const at = item.indexOf("=");
    return at < 0 ? [item.trim(), ""] : [item.slice(0, at).trim(), item.slice(at + 1)];
  });
  const t = items.find(([key]) => key === "t")?.[1];
  const signatures = items.filter(([key]) => key === "v1").map(([, hex]) => fromHex(hex));
  if (t === undefined || !/^[0-9]+$/.test(t) || signatures.length === 0 || signatures.includes(undefined)) {
    return undefined;
  }
  return { timestamp: Number(t), signatures: signatures.slice(0, 8) };
}

/** @param {string} hex */
function fromHex(hex) {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) return undefined;
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

function toleranceSecs() {
  const text = setting("webhook-tolerance-secs");
  if (text === undefined) return DEFAULT_TOLERANCE_SECS;
  if (!/^[0-9]+$/.test(text)) {
    throw new GatewayError("not-configured", "webhook-tolerance-secs is not a whole number of seconds");
  }
  return Number(text);
}

/** @param {Uint8Array} body */
function parseEvent(body) {
  let event;
  try {
    event = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (error) {
    throw malformed(`not JSON: ${error}`);
  }
  if (event === null || typeof event !== "object" || Array.isArray(event)) {
    throw malformed("the event must be a JSON object");
  }
  const id = field(event, "id", "string", "");
  if (id === "") throw malformed("id must not be empty");
  const created = BigInt(field(event, "created", "integer", ""));
  const type = field(event, "type", "string", "");
  return { id, created, gatewayType: type, kind: kindOf(type, event) };
}

/**
 * @param {string} type
 * @param {any} event
 */
function kindOf(type, event) {
  const status = PAYMENT_STATUSES.get(type);
  if (status !== undefined) {
    const data = field(event, "data", "object", "");
    const reference = field(data, "payment", "string", "data.");
    const payment = decodePayment(reference);
    if (payment === undefined) {
      throw malformed(`data.payment ${JSON.stringify(reference)} is not a payment of this gateway`);
    }
    const captured = "amount_captured" in data
      ? BigInt(field(data, "amount_captured", "integer", "data."))
      : (status === "succeeded" ? payment.amount : 0n);
    const metadata = data.metadata ?? {};
    if (typeof metadata !== "object" || Array.isArray(metadata)
      || !Object.values(metadata).every((v) => typeof v === "string")) {
      throw malformed("data.metadata must be an object of strings");
    }
    return {
      tag: "payment",
      val: {
        payment: reference,
        status,
        amount: { amount: payment.amount, currency: payment.currency },
        amountCaptured: captured,
        decline: status === "failed" ? declineOf(payment) : undefined,
        metadata: Object.entries(metadata),
        fee: undefined,
        networkTransactionId: undefined,
      },
    };
  }
  if (type === "refund.succeeded") {
    const data = field(event, "data", "object", "");
    const reference = field(data, "refund", "string", "data.");
    let refund;
    try {
      refund = parseRefund(reference);
    } catch {
      throw malformed(`data.refund ${JSON.stringify(reference)} is not a refund of this gateway`);
    }
    return {
      tag: "modification",
      val: {
        modification: reference,
        kind: "refund",
        payment: encodePayment(refund.payment),
        status: "succeeded",
        amount: { amount: refund.amount, currency: refund.payment.currency },
        reason: undefined,
      },
    };
  }
  return { tag: "other", val: type };
}

/**
 * `object[name]` of the JSON type `kind`, or a `malformed` rejection naming it.
 * @param {any} object
 * @param {string} name
 * @param {"string" | "integer" | "object"} kind
 * @param {string} path
 */
function field(object, name, kind, path) {
  const value = object[name];
  const fits = kind === "integer" ? Number.isSafeInteger(value)
    : kind === "object" ? value !== null && typeof value === "object" && !Array.isArray(value)
      : typeof value === kind;
  if (!fits) {
    throw malformed(value === undefined || value === null ? `${path}${name} is missing` : `${path}${name} must be a ${kind}`);
  }
  return value;
}
