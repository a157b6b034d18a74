// Content header payloads: class-id, weight, body-size (u64), then property-flag words (bit 15
// of the first word is the first property; bit 0 set means another word follows) and the
// present properties in order. The flag words are kept so re-encoding is byte-identical.

import { EncodeError } from './encode-error.js';
import { DecodeError, PayloadError } from './errors.js';
import { readFieldTable } from './field-table.js';
import { checkedValueSize, writeValue } from './method-codec.js';
import { CLASSES, type BasicPropertiesInput } from './spec.js';
import type { ArgumentValue, ClassSpec, ContentProperties, DecodedContentHeader, FieldSpec, SpecFieldType } from './types.js';
import { WireReader, WireWriter } from './wire.js';

/** Flag bits per word: 15..1 carry properties, bit 0 is the continuation bit. */
const PROPERTIES_PER_WORD = 15;

/** A one-word flag set's shared array, and an object with its properties' keys in order. */
interface SingleWord {
  readonly flags: readonly number[];
  readonly shape: Readonly<Record<string, ArgumentValue>>;
}

/** A class with content properties, with what the codec needs of it precomputed. */
interface ContentClass {
  readonly spec: ClassSpec;
  readonly properties: readonly FieldSpec[];
  /** `basic property priority (octet)`, for error messages */
  readonly labels: readonly string[];
  readonly names: ReadonlySet<string>;
  /** per single flag word: see decodeContentHeader */
  readonly singleWords: (SingleWord | undefined)[];
}

const CONTENT_CLASSES: (ContentClass | undefined)[] = [];
for (const c of CLASSES) {
  if (c.properties.length === 0) continue;
  CONTENT_CLASSES[c.id] = {
    spec: c,
    properties: c.properties,
    labels: c.properties.map((p) => `${c.name} property ${p.name} (${p.type})`),
    names: new Set(c.properties.map((p) => p.name)),
    singleWords: [],
  };
}

/** The class a header belongs to, if it is one that has content properties. */
function contentClass(classId: number): ContentClass | undefined {
  return CONTENT_CLASSES[classId];
}

function singleWord(c: ContentClass, word: number): SingleWord {
  const shape: Record<string, ArgumentValue> = {};
  for (let bit = 15; bit >= 1; bit--) {
    const p = c.properties[15 - bit];
    if ((word & (1 << bit)) !== 0 && p !== undefined) shape[p.name] = 0;
  }
  return { flags: Object.freeze([word]), shape };
}

const reader = new WireReader(new Uint8Array(0), 0, 0);

/**
 * Decodes a content header payload. Throws PayloadError ('unknown-class', 'truncated',
 * 'unknown-field-type' for a flag bit past the class's properties, 'trailing-bytes').
 */
export function decodeContentHeader(payload: Uint8Array): DecodedContentHeader {
  return decodeContentHeaderIn(payload, 0, payload.length);
}

/**
 * Decodes the payload at `bytes[start, end)` (a frame's payload in place, without a view of
 * it). Results equal decodeContentHeader's; error offsets are only right when start is 0, so
 * callers re-decode a payload view to report an error.
 */
export function decodeContentHeaderIn(bytes: Uint8Array, start: number, end: number): DecodedContentHeader {
  const r = reader.reset(bytes, start, end);
  const classId = r.u16('content header class-id');
  const c = contentClass(classId);
  if (c === undefined) {
    throw new PayloadError('unknown-class', `content header for class ${classId}, which has no content`, 0, { classId });
  }
  const { properties: props, labels } = c;
  try {
    const weight = r.u16('content header weight');
    const bodySize = r.u64('content header body-size');
    let propertyFlags: readonly number[];
    let properties: Record<string, ArgumentValue>;
    const first = r.u16('content header property flags');
    if ((first & 1) === 0) {
      // The usual case: one flag word. Its array is shared (frozen) between headers, and the
      // properties object starts as a clone of an object with the present keys in order, so
      // the stores below overwrite properties instead of adding them (much faster in V8).
      const single = (c.singleWords[first] ??= singleWord(c, first));
      propertyFlags = single.flags;
      properties = { ...single.shape };
    } else {
      const words = [first];
      let word: number;
      do {
        word = r.u16('content header property flags');
        words.push(word);
      } while ((word & 1) === 1);
      propertyFlags = words;
      properties = {};
    }

    for (let w = 0; w < propertyFlags.length; w++) {
      const flags = propertyFlags[w]!;
      if ((flags & 0xfffe) === 0) continue;
      for (let bit = 15; bit >= 1; bit--) {
        if ((flags & (1 << bit)) === 0) continue;
        const index = w * PROPERTIES_PER_WORD + (15 - bit);
        const p = props[index];
        if (p === undefined) {
          throw new PayloadError(
            'unknown-field-type',
            `property flag bit ${bit} of flag word ${w} is set, but class ${c.spec.name} has only ${props.length} properties`,
            12 + 2 * w,
          );
        }
        properties[p.name] = readProperty(r, p, labels[index]!);
      }
    }
    if (r.pos !== end) {
      throw new PayloadError('trailing-bytes', `${end - r.pos} bytes after the content header properties at offset ${r.pos}`, r.pos);
    }
    return { classId, weight, bodySize, properties, propertyFlags };
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    const error = new PayloadError(e.code, e.message, e.offset, { ...e.context, classId });
    error.cause = e;
    throw error;
  }
}

function readProperty(r: WireReader, p: FieldSpec, label: string): ArgumentValue {
  switch (p.type) {
    case 'shortstr':
      return r.shortstr(label);
    case 'octet':
      return r.u8(label);
    case 'table':
      return readFieldTable(r, 0, label);
    case 'timestamp':
    case 'longlong':
      return r.u64(label);
    case 'short':
      return r.u16(label);
    case 'long':
      return r.u32(label);
    case 'longstr':
      return r.longstr(label);
    case 'bit':
      // Bit properties are carried by their flag alone (none exist in 0-9-1's basic).
      return true;
  }
}

export interface ContentHeaderInput {
  readonly classId: number;
  /** 0 unless you are reproducing odd traffic */
  readonly weight?: number;
  readonly bodySize: bigint | number;
  /** keyed by the spec's property names, e.g. `content-type`, `delivery-mode` */
  readonly properties?: BasicPropertiesInput | ContentProperties;
  /** flag words to write as given (must agree with `properties`); computed when absent */
  readonly propertyFlags?: readonly number[];
}

/** Flag words for the properties present (continuation bits set on all words but the last). */
export function propertyFlagsFor(classId: number, properties: BasicPropertiesInput | ContentProperties): number[] {
  const c = contentClass(classId);
  if (c === undefined) throw new EncodeError('unknown-class', `class ${classId} has no content properties`);
  const given = properties as Readonly<Record<string, unknown>>;
  const words: number[] = [0];
  c.properties.forEach((p, index) => {
    if (given[p.name] === undefined) return;
    const w = Math.floor(index / PROPERTIES_PER_WORD);
    while (words.length <= w) words.push(0);
    words[w] = words[w]! | (1 << (15 - (index % PROPERTIES_PER_WORD)));
  });
  for (let w = 0; w < words.length - 1; w++) words[w] = words[w]! | 1;
  return words;
}

/** Encodes a content header payload. Throws EncodeError for bad values or disagreeing flags. */
export function encodeContentHeader(header: ContentHeaderInput): Uint8Array {
  const prepared = prepareContentHeader(header);
  const out = new Uint8Array(prepared.size);
  prepared.write(out, 0);
  return out;
}

/** For frame encoders: the header payload's size and a writer for it. */
export function prepareContentHeader(header: ContentHeaderInput): {
  readonly size: number;
  write(target: Uint8Array, offset: number): void;
} {
  const { classId } = header;
  const c = contentClass(classId);
  if (c === undefined) throw new EncodeError('unknown-class', `class ${classId} has no content properties`);
  const properties = (header.properties ?? {}) as Readonly<Record<string, unknown>>;
  const weight = header.weight ?? 0;
  if (!Number.isInteger(weight) || weight < 0 || weight > 0xffff) {
    throw new EncodeError('value-out-of-range', `content header weight must be 0..65535, got ${weight}`);
  }
  checkedValueSize('longlong', header.bodySize, 'content header body-size', {});
  for (const key of Object.keys(properties)) {
    if (!c.names.has(key) && properties[key] !== undefined) {
      throw new EncodeError('bad-value', `class ${c.spec.name} has no property ${JSON.stringify(key)}`, { field: key });
    }
  }
  const flags = header.propertyFlags ?? propertyFlagsFor(classId, properties as ContentProperties);
  checkFlags(c, flags, properties);

  let size = 12 + 2 * flags.length;
  const present: { readonly type: SpecFieldType; readonly value: unknown }[] = [];
  c.properties.forEach((p, i) => {
    const value = properties[p.name];
    if (value === undefined) return;
    size += checkedValueSize(p.type, value, c.labels[i]!, { field: p.name });
    present.push({ type: p.type, value });
  });
  return {
    size,
    write(target, offset) {
      const w = new WireWriter(target, offset);
      w.u16(classId);
      w.u16(weight);
      w.u64(BigInt(header.bodySize));
      for (const word of flags) w.u16(word);
      for (const p of present) writeValue(w, p.type, p.value);
    },
  };
}

function checkFlags(c: ContentClass, flags: readonly number[], properties: Readonly<Record<string, unknown>>): void {
  const mismatch = (what: string): EncodeError => new EncodeError('property-flags-mismatch', `property flags: ${what}`);
  if (flags.length === 0) throw mismatch('at least one flag word is needed');
  flags.forEach((word, w) => {
    if (!Number.isInteger(word) || word < 0 || word > 0xffff) throw mismatch(`word ${w} is not a 16-bit value`);
    const last = w === flags.length - 1;
    if (((word & 1) === 1) === last) throw mismatch(`continuation bit of word ${w} must be ${last ? 'clear' : 'set'}`);
    for (let bit = 15; bit >= 1; bit--) {
      const set = (word & (1 << bit)) !== 0;
      const p = c.properties[w * PROPERTIES_PER_WORD + (15 - bit)];
      if (p === undefined) {
        if (set) throw mismatch(`bit ${bit} of word ${w} is set, but class ${c.spec.name} has no property there`);
        continue;
      }
      const has = properties[p.name] !== undefined;
      if (set !== has) throw mismatch(`bit for ${p.name} is ${set ? 'set' : 'clear'} but the property is ${has ? 'present' : 'absent'}`);
    }
  });
  // Properties beyond the last word given would be silently dropped.
  c.properties.forEach((p, index) => {
    if (index >= flags.length * PROPERTIES_PER_WORD && properties[p.name] !== undefined) {
      throw mismatch(`no flag word covers property ${p.name}`);
    }
  });
}
