// What the body terms of a filter (`body:"text"`, `json.a.b=42`) look at, through the body
// decoding chain (src/body): the body with its content-encoding undone, and the decoded value
// (JSON, msgpack, CBOR, protobuf) as a tree. Worked out only when such a term asks, on an
// event a filter is shown (never on the forwarding path); zlib's cap bounds a bomb.

import { bodyDecoder, nodeAtPath, undoContentEncoding, type BodyNode } from '../body/index.js';
import type { SpyEvent } from '../events.js';

/** Decoded bytes a body term looks through: a compressed body may not grow past this. */
export const FILTER_BODY_BYTES = 16 * 1024 * 1024;

/**
 * A message's (or body frame's) body as its sender meant it: gzip/deflate/br undone; the bytes
 * as they came when an encoding cannot be undone; undefined for an event without a body.
 */
export function decodedBody(event: SpyEvent): Uint8Array | undefined {
  const body = event.kind === 'message' ? event.body : event.kind === 'frame' && event.frame.type === 'body' ? event.frame.body : undefined;
  if (body === undefined) return undefined;
  const encoding = event.kind === 'message' ? event.properties['content-encoding'] : undefined;
  if (typeof encoding !== 'string' || encoding === '' || body.length === 0) return body.length > FILTER_BODY_BYTES ? body.subarray(0, FILTER_BODY_BYTES) : body;
  return undoContentEncoding(body, encoding, FILTER_BODY_BYTES).bytes;
}

/** Marks a body with no structured value (text, binary, or not parsable as its type says). */
export const NOT_STRUCTURED: unique symbol = Symbol('not structured');

/** A message's body decoded as its content-type says (JSON, msgpack, CBOR, protobuf), as a tree. */
export function bodyTree(event: SpyEvent): BodyNode | typeof NOT_STRUCTURED {
  if (event.kind !== 'message') return NOT_STRUCTURED;
  return bodyDecoder().decodeEvent(event)?.root ?? NOT_STRUCTURED;
}

/** The node at a dotted path (`order.items.0.sku`), if the tree has one. */
export function nodeAt(root: BodyNode, path: readonly string[]): BodyNode | undefined {
  return nodeAtPath(root, path);
}
