// Message bodies people can read: the decoding chain (content-encoding, then content-type)
// and what views make of its result. See docs/bodies.md.

import { nodeToText } from './body-render.js';
import type { DecodedBody } from './decode-body.js';

export type { BodyNode, BodyNodeKind, BodyScalar } from './body-node.js';
export { nodeAtPath, nodeToText, nodeValueText, scalarText, treeLines, type TreeLine } from './body-render.js';
export { DEFAULT_MAX_INFLATED, undoContentEncoding } from './content-encoding.js';
export {
  BodyDecoder,
  bodyInputOf,
  decodeBody,
  describeDecoding,
  type BodyDecodeOptions,
  type BodyFormat,
  type BodyInput,
  type DecodedBody,
} from './decode-body.js';
export { loadProtoSchemas, ProtoOptionError, type ProtoSchemas } from './protobuf.js';

/** One line of the decoded body, cut at `maxChars`: `{"order": {"id": 42, …`. */
export function previewBody(decoded: DecodedBody, maxChars = 80): string {
  if (decoded.root !== undefined) return nodeToText(decoded.root, { maxChars }).text;
  if (decoded.format === 'text' && decoded.text !== undefined) {
    const head = decoded.text.slice(0, maxChars + 1).replace(/[\x00-\x1f\x7f]+/g, ' ');
    return head.length > maxChars ? `${head.slice(0, maxChars - 1)}…` : head;
  }
  if (decoded.format === 'empty') return '';
  const shown = Math.max(1, Math.floor((maxChars - 12) / 2));
  const hex = Buffer.from(decoded.bytes.buffer, decoded.bytes.byteOffset, Math.min(decoded.bytes.length, shown)).toString('hex');
  return `<hex ${hex}${decoded.bytes.length > shown ? '…' : ''}>`;
}

/**
 * The decoded body as text a `body:"…"` filter searches, at most `maxChars`: the text of a
 * text body, the one-line JSON form of a structured one, nothing for binary.
 */
export function bodySearchText(decoded: DecodedBody, maxChars = 64 * 1024): string {
  if (decoded.root !== undefined) return nodeToText(decoded.root, { maxChars }).text;
  if (decoded.text !== undefined) return decoded.text.slice(0, maxChars);
  return '';
}

export { bodyDecoder, configureBodies, type BodyOptions } from './shared-decoder.js';
