// Credentials on the wire: SASL responses (connection.start-ok, secure-ok) and
// connection.update-secret. Masked with '*' of the same length, in a copy of the frame, so
// the masked frame stays well-formed and the forwarded bytes are never touched.

import { FRAME_HEADER_SIZE, FRAME_METHOD } from '../decoder/types.js';

const MASK = 0x2a; // '*'
const CONNECTION = 10;
const START_OK = 11;
const SECURE_OK = 21;
const UPDATE_SECRET = 70;
const AMQPLAIN_PASSWORD = new TextEncoder().encode('\x08PASSWORDS');

/** Whether a raw frame may hold a secret (cheap test on the hot path). */
export function mayHoldSecret(raw: Uint8Array): boolean {
  if (raw[0] !== FRAME_METHOD || raw.length < FRAME_HEADER_SIZE + 5) return false;
  const p = FRAME_HEADER_SIZE;
  if (raw[p] !== 0 || raw[p + 1] !== CONNECTION || raw[p + 2] !== 0) return false;
  const methodId = raw[p + 3];
  return methodId === START_OK || methodId === SECURE_OK || methodId === UPDATE_SECRET;
}

/**
 * A copy of the frame with its secret masked, or the frame itself when it holds none. A
 * credential frame whose fields cannot be followed (it will not decode either, and its bytes
 * are shown as the error's) has everything after its method id masked.
 */
export function redactFrame(raw: Uint8Array): Uint8Array {
  if (!mayHoldSecret(raw)) return raw;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const end = raw.length - 1; // before the end byte
  const methodId = raw[FRAME_HEADER_SIZE + 3];
  let at = FRAME_HEADER_SIZE + 4;
  const longstrAt = (pos: number): [number, number] | undefined => {
    if (pos + 4 > end) return undefined;
    const len = view.getUint32(pos);
    return pos + 4 + len <= end ? [pos + 4, pos + 4 + len] : undefined;
  };
  const copy = raw.slice();
  const maskArguments = (): Uint8Array => copy.fill(MASK, FRAME_HEADER_SIZE + 4, end);
  if (methodId === SECURE_OK || methodId === UPDATE_SECRET) {
    const span = longstrAt(at);
    if (!span) return maskArguments();
    copy.fill(MASK, span[0], span[1]);
    return copy;
  }
  // start-ok: client-properties table, mechanism shortstr, response longstr
  if (at + 4 > end) return maskArguments();
  at += 4 + view.getUint32(at);
  if (at >= end) return maskArguments();
  const mechanism = new TextDecoder().decode(raw.subarray(at + 1, at + 1 + raw[at]!));
  at += 1 + raw[at]!;
  const span = longstrAt(at);
  if (!span) return maskArguments();
  const [from, to] = span;
  if (mechanism === 'PLAIN') {
    // \0user\0password: keep the user visible, mask the password
    const firstNul = copy.indexOf(0, from);
    const secondNul = firstNul >= 0 && firstNul < to ? copy.indexOf(0, firstNul + 1) : -1;
    copy.fill(MASK, secondNul >= 0 && secondNul < to ? secondNul + 1 : from, to);
  } else if (mechanism === 'AMQPLAIN') {
    const key = indexOfBytes(copy, AMQPLAIN_PASSWORD, from, to);
    const value = key >= 0 ? longstrAt(key + AMQPLAIN_PASSWORD.length) : undefined;
    if (value && value[1] <= to) copy.fill(MASK, value[0], value[1]);
    else copy.fill(MASK, from, to);
  } else {
    copy.fill(MASK, from, to);
  }
  return copy;
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  outer: for (let i = from; i + needle.length <= to; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
