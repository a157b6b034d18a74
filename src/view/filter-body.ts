// What the body terms of a filter (`body:"text"`, `json.a.b=42`) look at: a message's body
// with its content-encoding undone, and that body parsed as JSON. One small place, so the
// body decoding chain can take it over. Worked out only when such a term asks, on an event
// a filter is shown (never on the forwarding path), and bounded against hostile bodies.

import zlib from 'node:zlib';
import type { SpyEvent } from '../events.js';

/** Decoded bytes a body term looks through: a compressed body may not grow past this (a zip bomb). */
export const FILTER_BODY_BYTES = 16 * 1024 * 1024;

/** The content-encodings undone (Node's zlib); others leave the body as it came. */
const INFLATERS: Readonly<Record<string, (body: Uint8Array) => Buffer>> = {
  gzip: (body) => zlib.gunzipSync(body, { maxOutputLength: FILTER_BODY_BYTES }),
  'x-gzip': (body) => zlib.gunzipSync(body, { maxOutputLength: FILTER_BODY_BYTES }),
  deflate: (body) => zlib.inflateSync(body, { maxOutputLength: FILTER_BODY_BYTES }),
  br: (body) => zlib.brotliDecompressSync(body, { maxOutputLength: FILTER_BODY_BYTES }),
};

/** A message's content-encoding, lower case, when it has one. */
function encodingOf(event: SpyEvent): string | undefined {
  if (event.kind !== 'message') return undefined;
  const encoding = event.properties['content-encoding'];
  return typeof encoding === 'string' && encoding !== '' ? encoding.toLowerCase() : undefined;
}

/**
 * A message's body as its sender meant it: gzip/deflate/br undone; undefined for an event
 * without a body, or a body that does not inflate (then no body term matches it).
 */
export function decodedBody(event: SpyEvent): Uint8Array | undefined {
  if (event.kind !== 'message') return undefined;
  const encoding = encodingOf(event);
  const inflate = encoding === undefined ? undefined : INFLATERS[encoding];
  if (inflate === undefined) return event.body.length > FILTER_BODY_BYTES ? event.body.subarray(0, FILTER_BODY_BYTES) : event.body;
  try {
    return inflate(event.body);
  } catch {
    return undefined;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Marks a body that is not JSON (so it is parsed once per event, not per term). */
export const NOT_JSON: unique symbol = Symbol('not JSON');

/** A decoded body as JSON, or NOT_JSON. */
export function bodyAsJson(body: Uint8Array): unknown {
  // JSON starts with one of these after whitespace; anything else is not worth decoding
  let i = 0;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  const first = body[i];
  if (first === undefined) return NOT_JSON;
  if (
    first !== 0x7b &&
    first !== 0x5b &&
    first !== 0x22 &&
    first !== 0x2d &&
    !(first >= 0x30 && first <= 0x39) &&
    first !== 0x74 &&
    first !== 0x66 &&
    first !== 0x6e
  )
    return NOT_JSON;
  try {
    return JSON.parse(utf8.decode(body)) as unknown;
  } catch {
    return NOT_JSON;
  }
}
