// What free text reaches beyond an event's row: every method argument and content property
// (field tables entry by entry, named by path: `headers.trace-id`), and the text of a body.
// Worked out only when a filter or search asks, never on the forwarding path; nothing is
// decoded or lower-cased to look (most events do not match, and a filter asks them all).

import { isFieldTable } from '../decoder/field-table.js';
import type { ArgumentValue, FieldValue } from '../decoder/types.js';
import type { SpyEvent } from '../events.js';
import { bodyAsText } from './event-detail.js';
import { formatValue } from './format.js';

/** Bytes of a body searched: a search must not decode megabytes per event. */
export const SEARCH_BODY_BYTES = 64 * 1024;

/**
 * The first argument or property (in spec order, tables entry by entry) whose value holds
 * `needle` (lower case), by path: `correlation-id`, `headers.trace-id`. A table entry's key
 * is searched with its value (header names are the user's words); a spec name is not.
 */
export function findInFields(event: SpyEvent, needle: string): string | undefined {
  if (event.kind === 'message') return findInRecord(event.method.args, needle) ?? findInRecord(event.properties, needle);
  if (event.kind !== 'frame') return undefined;
  if (event.frame.type === 'method') return findInRecord(event.frame.method.args, needle);
  if (event.frame.type === 'header') return findInRecord(event.frame.header.properties, needle);
  return undefined;
}

/** The body of a message or body frame, if the event has one. */
export function bodyOf(event: SpyEvent): Uint8Array | undefined {
  return event.kind === 'message' ? event.body : event.kind === 'frame' && event.frame.type === 'body' ? event.frame.body : undefined;
}

/** Whether the first SEARCH_BODY_BYTES of a body are UTF-8 text holding `needle` (lower case). */
export function bodyTextIncludes(body: Uint8Array, needle: string): boolean {
  if (body.length === 0) return false;
  // ASCII needles are looked for in the bytes (in UTF-8, ASCII bytes only stand for
  // themselves): only a body that holds one is decoded, to tell text from binary
  if (isAscii(needle)) return bytesIncludeFolded(body, needle) && bodyAsText(body, SEARCH_BODY_BYTES) !== undefined;
  return bodyAsText(body, SEARCH_BODY_BYTES)?.toLowerCase().includes(needle) === true;
}

function findInRecord(record: Readonly<Record<string, ArgumentValue>>, needle: string): string | undefined {
  for (const name in record) {
    const value = record[name]!;
    if (isFieldTable(value)) {
      for (const [key, entry] of value.entries) {
        const found = findInFieldValue(`${name}.${key}`, key, entry, needle);
        if (found !== undefined) return found;
      }
    } else if (scalarIncludes(value, needle)) return name;
  }
  return undefined;
}

function findInFieldValue(path: string, key: string, field: FieldValue, needle: string): string | undefined {
  if (includesFolded(key, needle)) return path;
  if (field.type === 'F') {
    for (const [k, entry] of field.value.entries) {
      const found = findInFieldValue(`${path}.${k}`, k, entry, needle);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (field.type === 'A') {
    for (let i = 0; i < field.value.length; i++) {
      const found = findInFieldValue(`${path}[${i}]`, '', field.value[i]!, needle);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return scalarIncludes(field.value, needle) ? path : undefined;
}

function scalarIncludes(value: ArgumentValue | FieldValue['value'], needle: string): boolean {
  // bytes (a masked SASL response, a non-UTF-8 string) have no text to find
  if (value instanceof Uint8Array || value === null) return false;
  return includesFolded(typeof value === 'string' ? value : formatValue(value), needle);
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

const fold = (c: number): number => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);

/** `text` holds `needle` (lower case), ASCII letters without case; others through toLowerCase. */
function includesFolded(text: string, needle: string): boolean {
  const n = needle.length;
  if (text.length < n) return false;
  if (!isAscii(text) || !isAscii(needle)) return text.toLowerCase().includes(needle);
  const first = needle.charCodeAt(0);
  for (let at = 0, end = text.length - n; at <= end; at++) {
    if (fold(text.charCodeAt(at)) !== first) continue;
    let i = 1;
    while (i < n && fold(text.charCodeAt(at + i)) === needle.charCodeAt(i)) i++;
    if (i === n) return true;
  }
  return false;
}

/** The bytes hold an ASCII needle (lower case), letters without case; candidates found natively. */
function bytesIncludeFolded(bytes: Uint8Array, needle: string): boolean {
  const n = needle.length;
  const limit = Math.min(bytes.length, SEARCH_BODY_BYTES);
  if (n === 0) return true;
  const first = needle.charCodeAt(0);
  const upper = first >= 0x61 && first <= 0x7a ? first - 0x20 : first;
  let lower = bytes.indexOf(first);
  let up = upper === first ? -1 : bytes.indexOf(upper);
  while (lower >= 0 || up >= 0) {
    const at = lower < 0 ? up : up < 0 ? lower : Math.min(lower, up);
    if (at + n > limit) return false;
    let i = 1;
    while (i < n && fold(bytes[at + i]!) === needle.charCodeAt(i)) i++;
    if (i === n) return true;
    if (at === lower) lower = bytes.indexOf(first, at + 1);
    else up = bytes.indexOf(upper, at + 1);
  }
  return false;
}
