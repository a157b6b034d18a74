// The decoding chain: undo content-encoding, then read the bytes as content-type says (JSON,
// msgpack, CBOR, protobuf, text), sniffing when it says nothing; hex when nothing fits. Pure
// and synchronous; callers decode only what is shown or filtered (never the forwarding path),
// and through BodyDecoder, whose cache keeps a few recent bodies.

import type { Decoder as MsgpackDecoder } from '@msgpack/msgpack';
import type { Type } from 'protobufjs';
import type { ArgumentValue, ContentProperties } from '../decoder/types.js';
import type { SpyEvent } from '../events.js';
import { type BodyNode, valueNode } from './body-node.js';
import { cborLib, msgpackLib } from './codecs.js';
import { DEFAULT_MAX_INFLATED, undoContentEncoding } from './content-encoding.js';
import { formatOfMediaType, parseContentType } from './content-type.js';
import { parseJsonLossless } from './json-lossless.js';
import { type ProtoSchemas, decodeWire, decodeWithSchema, findMessageType } from './protobuf.js';

export type BodyFormat = 'empty' | 'json' | 'msgpack' | 'cbor' | 'protobuf' | 'text' | 'hex';

export interface DecodedBody {
  readonly format: BodyFormat;
  /** the bytes the format was read from: the body with its content-encoding undone */
  readonly bytes: Uint8Array;
  /** json, msgpack, cbor, protobuf */
  readonly root?: BodyNode;
  /** text */
  readonly text?: string;
  /** content-encodings undone, in order */
  readonly encodings: readonly string[];
  /** no content-type: the format was guessed from the bytes */
  readonly sniffed: boolean;
  /** protobuf: the message type used, absent when walked without a schema */
  readonly schema?: string;
  /** what went wrong or was guessed, for the one-line note */
  readonly notes: readonly string[];
}

export interface BodyInput {
  readonly properties: ContentProperties;
  readonly body: Uint8Array;
  readonly exchange?: string | undefined;
  readonly routingKey?: string | undefined;
}

export interface BodyDecodeOptions {
  readonly proto?: ProtoSchemas | undefined;
  /** bytes a body may inflate to (DEFAULT_MAX_INFLATED) */
  readonly maxInflated?: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeBody(input: BodyInput, options: BodyDecodeOptions = {}): DecodedBody {
  const notes: string[] = [];
  const encoding = stringProperty(input.properties['content-encoding']);
  let bytes = input.body;
  let encodings: readonly string[] = [];
  if (encoding !== undefined && bytes.length > 0) {
    const undone = undoContentEncoding(bytes, encoding, options.maxInflated ?? DEFAULT_MAX_INFLATED);
    bytes = undone.bytes;
    encodings = undone.undone;
    if (undone.note !== undefined) notes.push(undone.note);
  }
  const base = { bytes, encodings, notes };
  if (bytes.length === 0) return { ...base, format: 'empty', sniffed: false };
  // an encoding left undone leaves compressed bytes: showing them as anything but hex would lie
  if (notes.length) return { ...base, format: 'hex', sniffed: false };

  const contentType = parseContentType(stringProperty(input.properties['content-type']));
  const declared = formatOfMediaType(contentType.mediaType);
  const typeProperty = stringProperty(input.properties.type);
  const opaque = contentType.mediaType === '' || contentType.mediaType === 'application/octet-stream';

  if (declared === 'protobuf' || (opaque && options.proto !== undefined)) {
    const named = contentType.params.proto ?? contentType.params.messagetype;
    const schema = pickSchema(options.proto, named, { exchange: input.exchange, routingKey: input.routingKey, type: typeProperty }, notes);
    if (schema !== undefined) {
      try {
        return { ...base, format: 'protobuf', root: decodeWithSchema(schema.type, bytes), schema: schema.name, sniffed: false };
      } catch (error) {
        notes.push(`does not fit ${schema.name} (${errorText(error)})`);
      }
    }
    if (declared === 'protobuf') {
      const wire = decodeWire(bytes);
      if (wire !== undefined) {
        if (wire.stopped !== undefined) notes.push(wire.stopped);
        return { ...base, format: 'protobuf', root: wire.root, sniffed: false };
      }
      notes.push('not a protobuf message');
      return asTextOrHex(base, false);
    }
  }
  switch (declared) {
    case 'json':
      try {
        return { ...base, format: 'json', root: valueNode(parseJsonLossless(utf8(bytes, contentType.params.charset))), sniffed: false };
      } catch (error) {
        notes.push(`not valid JSON (${errorText(error)})`);
        return asTextOrHex(base, false, contentType.params.charset);
      }
    case 'msgpack':
      try {
        return { ...base, format: 'msgpack', root: valueNode(msgpack().decode(bytes)), sniffed: false };
      } catch (error) {
        notes.push(`not valid msgpack (${errorText(error)})`);
        return { ...base, format: 'hex', sniffed: false };
      }
    case 'cbor':
      try {
        return { ...base, format: 'cbor', root: valueNode(cborLib().decode(bytes, { preferMap: true })), sniffed: false };
      } catch (error) {
        notes.push(`not valid CBOR (${errorText(error)})`);
        return { ...base, format: 'hex', sniffed: false };
      }
    default:
      break;
  }
  if (contentType.mediaType !== '') return asTextOrHex(base, false, contentType.params.charset);
  // no content-type: JSON when it parses, text when it is UTF-8, else hex
  if (looksLikeJson(bytes)) {
    try {
      return { ...base, format: 'json', root: valueNode(parseJsonLossless(strictUtf8.decode(bytes))), sniffed: true };
    } catch {
      // not JSON after all: text or hex below
    }
  }
  return asTextOrHex(base, true);
}

/** The schema a body is decoded with: content-type's `proto=`, then the rules, then `type`. */
function pickSchema(
  proto: ProtoSchemas | undefined,
  named: string | undefined,
  input: { exchange?: string | undefined; routingKey?: string | undefined; type?: string | undefined },
  notes: string[],
): { name: string; type: Type } | undefined {
  if (proto === undefined) return undefined;
  const tryName = (name: string) => {
    const type = findMessageType(proto.root, name);
    return type ? { name: type.fullName.replace(/^\./, ''), type } : undefined;
  };
  if (named !== undefined) {
    const found = tryName(named);
    if (found) return found;
    notes.push(`content-type names ${named}, not in the --proto files`);
  }
  for (const rule of proto.rules) if (rule.matches(input)) return tryName(rule.messageType);
  return input.type !== undefined ? tryName(input.type) : undefined;
}

function asTextOrHex(base: { bytes: Uint8Array; encodings: readonly string[]; notes: string[] }, sniffed: boolean, charset?: string): DecodedBody {
  const text = textOf(base.bytes, charset, base.notes);
  return text !== undefined ? { ...base, format: 'text', text, sniffed } : { ...base, format: 'hex', sniffed };
}

/** Text in the declared charset (UTF-8 when none); undefined when the bytes are binary. */
function textOf(bytes: Uint8Array, charset: string | undefined, notes: string[]): string | undefined {
  let text: string;
  try {
    text = utf8(bytes, charset);
  } catch (error) {
    if (error instanceof RangeError && /encoding/i.test(error.message)) notes.push(`unknown charset ${JSON.stringify(charset)}`);
    return undefined;
  }
  const controls = text.match(/[\x00-\x08\x0e-\x1f\x7f]/g);
  if (controls && controls.length > Math.max(1, text.length / 50)) return undefined;
  return text;
}

function utf8(bytes: Uint8Array, charset: string | undefined): string {
  const label = charset?.toLowerCase();
  if (label === undefined || label === 'utf-8' || label === 'utf8' || label === 'us-ascii') return strictUtf8.decode(bytes);
  return new TextDecoder(label, { fatal: true }).decode(bytes);
}

function looksLikeJson(bytes: Uint8Array): boolean {
  for (const b of bytes) {
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
    // objects, arrays and strings: a bare number or word is as likely plain text
    return b === 0x7b || b === 0x5b || b === 0x22;
  }
  return false;
}

function msgpack(): MsgpackDecoder {
  // bigints for 64-bit integers (exact), any map key (msgpack allows them) as text
  return new (msgpackLib().Decoder)({
    useBigInt64: true,
    mapKeyConverter: (key: unknown) => (typeof key === 'string' || typeof key === 'number' ? key : String(key)),
  });
}

function stringProperty(value: ArgumentValue | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function errorText(error: unknown): string {
  if (error instanceof RangeError && /call stack/i.test(error.message)) return 'nested too deeply';
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 120);
}

/** The one-line note on how the body was read: `gzip undone · json (sniffed) · shop.Order`. */
export function describeDecoding(decoded: DecodedBody, rawSize?: number): string {
  const parts: string[] = [];
  if (decoded.encodings.length)
    parts.push(`${decoded.encodings.join(', ')} undone${rawSize !== undefined ? ` (${rawSize} → ${decoded.bytes.length} bytes)` : ''}`);
  const format = decoded.format === 'protobuf' ? (decoded.schema !== undefined ? `protobuf ${decoded.schema}` : 'protobuf without a schema') : decoded.format;
  parts.push(decoded.sniffed ? `${format} (sniffed: no content-type)` : format);
  parts.push(...decoded.notes);
  return parts.join(' · ');
}

/** The body of an event (a message, or a body frame) with what its decoding needs. */
export function bodyInputOf(event: SpyEvent): BodyInput | undefined {
  if (event.kind === 'message') {
    const exchange = event.method.args.exchange;
    const routingKey = event.method.args['routing-key'];
    return {
      properties: event.properties,
      body: event.body,
      exchange: typeof exchange === 'string' ? exchange : undefined,
      routingKey: typeof routingKey === 'string' ? routingKey : undefined,
    };
  }
  if (event.kind === 'frame' && event.frame.type === 'body') return { properties: {}, body: event.frame.body };
  return undefined;
}

const CACHE_ENTRIES = 32;
/**
 * What the cache may hold, in bytes of decoded body weighted by what decoding made of them: a
 * parsed tree takes several times its text on the heap (JSON.parse of 10 MB: ~60 MB), so a
 * structured body counts 8 times its bytes. The body being shown is always kept.
 */
const CACHE_COST = 256 * 1024 * 1024;
const TREE_WEIGHT = 8;

const costOf = (decoded: DecodedBody) => decoded.bytes.length * (decoded.root !== undefined ? TREE_WEIGHT : 1);

/** Decodes events' bodies with one set of options, keeping the last few (by event identity). */
export class BodyDecoder {
  private readonly cache = new Map<SpyEvent, DecodedBody>();
  private cachedCost = 0;

  constructor(readonly options: BodyDecodeOptions = {}) {}

  decodeEvent(event: SpyEvent): DecodedBody | undefined {
    const hit = this.cache.get(event);
    if (hit !== undefined) {
      // most recently used last
      this.cache.delete(event);
      this.cache.set(event, hit);
      return hit;
    }
    const input = bodyInputOf(event);
    if (input === undefined) return undefined;
    const decoded = safeDecode(input, this.options);
    this.cache.set(event, decoded);
    this.cachedCost += costOf(decoded);
    for (const [old, value] of this.cache) {
      if (this.cache.size <= CACHE_ENTRIES && this.cachedCost <= CACHE_COST) break;
      if (old === event) break;
      this.cache.delete(old);
      this.cachedCost -= costOf(value);
    }
    return decoded;
  }
}

/** decodeBody, and should it ever throw (a bug, not a body), hex with the reason: a view must not fall over. */
function safeDecode(input: BodyInput, options: BodyDecodeOptions): DecodedBody {
  try {
    return decodeBody(input, options);
  } catch (error) {
    return { format: 'hex', bytes: input.body, encodings: [], sniffed: false, notes: [`decoding failed: ${errorText(error)}`] };
  }
}
