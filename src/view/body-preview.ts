// What headless output says of a message's body: a one-line preview on text lines, and with
// --json the decoded form beside the raw base64. The preview runs on every printed message,
// so plain text and JSON are previewed from their first bytes alone (the text of a JSON body
// is its own one-line form); only small bodies that need decoding (compressed, msgpack, CBOR,
// protobuf) are decoded whole.

import { bodyDecoder, describeDecoding, nodeToText, previewBody } from '../body/index.js';
import { parseContentType, formatOfMediaType } from '../body/content-type.js';
import type { MessageEvent } from '../events.js';

export const PREVIEW_CHARS = 80;
/** Bodies decoded whole for a preview at most this big; bigger ones are previewed only when plain. */
const PREVIEW_DECODE_BYTES = 16 * 1024;
/**
 * Characters of a decoded value in --json; a bigger value is left out (and said so): the raw
 * base64 is there, and a second copy of a big body would double the output.
 */
const JSON_VALUE_CHARS = 64 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The common case without a string: a body shown as it is (no content-encoding, JSON or no
 * content-type) whose first `maxChars` bytes are printable ASCII with single spaces. Returns
 * how many of its bytes the preview is (the rest cut, with "…" after) and whether it is cut;
 * undefined when the preview must be made by messageBodyPreview.
 */
export function plainPreviewBytes(event: MessageEvent, maxChars = PREVIEW_CHARS): { bytes: number; cut: boolean } | undefined {
  const body = event.body;
  const encoding = event.properties['content-encoding'];
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') return undefined;
  const type = event.properties['content-type'];
  if (type !== undefined && (typeof type !== 'string' || formatOfMediaType(parseContentType(type).mediaType) !== 'json')) return undefined;
  const end = Math.min(body.length, maxChars);
  if (end === 0 || body[0] === 0x20 || body[end - 1] === 0x20) return undefined;
  for (let i = 0; i < end; i++) {
    const b = body[i]!;
    if (b > 0x20 ? b >= 0x7f : b !== 0x20 || body[i + 1] === 0x20) return undefined;
  }
  return body.length <= maxChars ? { bytes: end, cut: false } : { bytes: maxChars - 1, cut: true };
}

/** `{"order":{"id":42,"items":[…` — or undefined when there is nothing to show. */
export function messageBodyPreview(event: MessageEvent, maxChars = PREVIEW_CHARS): string | undefined {
  const body = event.body;
  if (body.length === 0) return undefined;
  const encoding = event.properties['content-encoding'];
  const type = event.properties['content-type'];
  const format = typeof type === 'string' ? formatOfMediaType(parseContentType(type).mediaType) : undefined;
  if ((encoding === undefined || encoding === '' || encoding === 'identity') && (format === undefined || format === 'json')) {
    const head = plainHead(body, maxChars);
    if (head !== undefined) return head === '' ? undefined : head;
    if (format === 'json') return undefined;
  }
  if (body.length > PREVIEW_DECODE_BYTES) return undefined;
  return previewBody(bodyDecoder().decodeEvent(event)!, maxChars) || undefined;
}

/**
 * The first characters of a UTF-8 text body, whitespace runs as one space; undefined when
 * binary. Plain ASCII (most JSON and text) is read byte by byte, without a decoder: this runs
 * for every message a busy proxy prints.
 */
function plainHead(body: Uint8Array, maxChars: number): string | undefined {
  const ascii = asciiHead(body, maxChars);
  return ascii === null ? utf8Head(body, maxChars) : ascii;
}

type Slicer = (this: Uint8Array, start: number, end: number) => string;
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: Slicer }).latin1Slice;

/** null when a non-ASCII byte comes before the preview is complete. */
function asciiHead(body: Uint8Array, maxChars: number): string | undefined | null {
  // the common case, compact JSON or a line of text: printable ASCII with single spaces
  const end = Math.min(body.length, maxChars);
  let plain = body.length > 0 && body[0] !== 0x20;
  for (let i = 0; plain && i < end; i++) {
    const b = body[i]!;
    plain = b > 0x20 ? b < 0x7f : b === 0x20 && body[i + 1] !== 0x20;
  }
  if (plain && body[end - 1] !== 0x20) {
    if (body.length <= maxChars) return latin1Slice.call(body, 0, end);
    return `${latin1Slice.call(body, 0, maxChars - 1)}…`;
  }
  const codes: number[] = [];
  let space = false;
  let i = 0;
  // leading whitespace is dropped, runs become one space
  for (; i < body.length && codes.length < maxChars; i++) {
    const b = body[i]!;
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) {
      space = codes.length > 0;
      continue;
    }
    if (b >= 0x80) return null;
    if (b < 0x20 || b === 0x7f) return undefined;
    if (space) {
      codes.push(0x20);
      space = false;
      if (codes.length === maxChars) break;
    }
    codes.push(b);
  }
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  if (i >= body.length) return String.fromCharCode(...codes);
  // more follows: cut, with room for the ellipsis
  return `${String.fromCharCode(...codes.slice(0, maxChars - 1))}…`;
}

function utf8Head(body: Uint8Array, maxChars: number): string | undefined {
  // 4 bytes per character at most, and room to drop a character cut at the end
  const slice = body.subarray(0, maxChars * 4 + 4);
  let text: string | undefined;
  try {
    text = utf8.decode(slice);
  } catch {
    let end = slice.length;
    if (end < body.length) {
      while (end > 0 && (slice[end - 1]! & 0xc0) === 0x80) end--;
      end--;
      try {
        text = utf8.decode(slice.subarray(0, Math.max(0, end)));
      } catch {
        text = undefined;
      }
    }
  }
  if (text === undefined || /[\x00-\x08\x0e-\x1f\x7f]/.test(text)) return undefined;
  const flat = text.replace(/\s+/g, ' ').trim();
  const cut = flat.length > maxChars || slice.length < body.length;
  return cut ? `${flat.slice(0, maxChars - 1)}…` : flat;
}

/** `,"decoded":{…}` for a message's --json line (the recording keeps raw bytes only). */
export function decodedJsonMember(event: MessageEvent): string {
  const decoded = bodyDecoder().decodeEvent(event)!;
  const note = describeDecoding(decoded, event.body.length);
  let value = 'null';
  let extra = '';
  if (decoded.root !== undefined) {
    const written = nodeToText(decoded.root, { style: 'json', maxChars: JSON_VALUE_CHARS });
    if (written.cut) extra = `,"omitted":${JSON.stringify(`the decoded value is over ${JSON_VALUE_CHARS} characters`)}`;
    else value = written.text;
  } else if (decoded.text !== undefined) {
    if (decoded.text.length > JSON_VALUE_CHARS) extra = `,"omitted":${JSON.stringify(`the text is over ${JSON_VALUE_CHARS} characters`)}`;
    else value = JSON.stringify(decoded.text);
  }
  const schema = decoded.schema !== undefined ? `,"schema":${JSON.stringify(decoded.schema)}` : '';
  const encodings = decoded.encodings.length ? `,"encodings":${JSON.stringify(decoded.encodings)}` : '';
  return `,"decoded":{"format":${JSON.stringify(decoded.format)},"value":${value}${schema}${encodings},"sniffed":${decoded.sniffed},"note":${JSON.stringify(note)}${extra}}`;
}
