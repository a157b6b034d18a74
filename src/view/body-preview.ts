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

/** `{"order":{"id":42,"items":[…` — or undefined when there is nothing to show. */
export function messageBodyPreview(event: MessageEvent, maxChars = PREVIEW_CHARS): string | undefined {
  const body = event.body;
  if (body.length === 0) return undefined;
  const encoding = event.properties['content-encoding'];
  const type = event.properties['content-type'];
  const format = typeof type === 'string' ? formatOfMediaType(parseContentType(type).mediaType) : undefined;
  if ((encoding === undefined || encoding === '' || encoding === 'identity') && (format === undefined || format === 'json')) {
    const head = plainHead(body, maxChars);
    if (head !== undefined) return head;
    if (format === 'json') return undefined;
  }
  if (body.length > PREVIEW_DECODE_BYTES) return undefined;
  return previewBody(bodyDecoder().decodeEvent(event)!, maxChars) || undefined;
}

/** The first characters of a UTF-8 text body, whitespace runs as one space; undefined when binary. */
function plainHead(body: Uint8Array, maxChars: number): string | undefined {
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
