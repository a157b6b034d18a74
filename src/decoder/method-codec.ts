// Method frame payloads: class-id, method-id, then the arguments in spec order, consecutive
// bits packed into octets LSB first. Each method's reader/writer program is compiled from
// the spec table once; decoding a frame is one loop over a small opcode array.

import { amqpStringByteLength, writeAmqpString } from './amqp-string.js';
import { EncodeError } from './encode-error.js';
import { DecodeError, PayloadError } from './errors.js';
import { fieldTableSize, readFieldTable, writeFieldTable } from './field-table.js';
import { METHODS, methodByName } from './spec.js';
import type { MethodArgs, MethodArgsInput, MethodName } from './spec.js';
import type { AmqpString, ArgumentValue, DecodedMethod, FieldTable, MethodSpec, SpecFieldType } from './types.js';
import { WireReader, WireWriter } from './wire.js';

const OP_BIT = 0;
const OP_OCTET = 1;
const OP_SHORT = 2;
const OP_LONG = 3;
const OP_LONGLONG = 4;
const OP_SHORTSTR = 5;
const OP_LONGSTR = 6;
const OP_TABLE = 7;
const OP_TIMESTAMP = 8;

const OPCODES: Record<SpecFieldType, number> = {
  bit: OP_BIT,
  octet: OP_OCTET,
  short: OP_SHORT,
  long: OP_LONG,
  longlong: OP_LONGLONG,
  shortstr: OP_SHORTSTR,
  longstr: OP_LONGSTR,
  table: OP_TABLE,
  timestamp: OP_TIMESTAMP,
};

const EMPTY_TABLE: FieldTable = Object.freeze({ entries: Object.freeze([]) });
const ZERO_DEFAULTS: Record<SpecFieldType, ArgumentValue> = {
  bit: false,
  octet: 0,
  short: 0,
  long: 0,
  longlong: 0n,
  timestamp: 0n,
  shortstr: '',
  longstr: '',
  table: EMPTY_TABLE,
};

/** A method's argument program, built once from its spec. */
interface CompiledMethod {
  readonly spec: MethodSpec;
  readonly ops: Uint8Array;
  readonly names: readonly string[];
  /** bit position inside its octet; 0 starts a new octet */
  readonly bitPositions: Uint8Array;
  /** what a missing argument becomes when encoding */
  readonly defaults: readonly ArgumentValue[];
  /** `basic.publish routing-key (shortstr)`, for error messages */
  readonly labels: readonly string[];
}

function compile(spec: MethodSpec): CompiledMethod {
  const n = spec.fields.length;
  const ops = new Uint8Array(n);
  const bitPositions = new Uint8Array(n);
  let bit = 8; // 8: no open bit octet
  spec.fields.forEach((f, i) => {
    const op = OPCODES[f.type];
    ops[i] = op;
    if (op === OP_BIT) {
      // Consecutive bits share an octet; a ninth bit starts another.
      if (bit >= 8) bit = 0;
      bitPositions[i] = bit++;
      return;
    }
    bit = 8;
  });
  return {
    spec,
    ops,
    names: spec.fields.map((f) => f.name),
    bitPositions,
    defaults: spec.fields.map((f) => f.defaultValue ?? ZERO_DEFAULTS[f.type]),
    labels: spec.fields.map((f) => `${spec.name} ${f.name} (${f.type})`),
  };
}

const COMPILED_BY_ID: ((CompiledMethod | undefined)[] | undefined)[] = [];
const COMPILED_BY_SPEC = new Map<MethodSpec, CompiledMethod>();
for (const spec of METHODS) {
  const c = compile(spec);
  (COMPILED_BY_ID[spec.classId] ??= [])[spec.methodId] = c;
  COMPILED_BY_SPEC.set(spec, c);
}

// --- decoding ------------------------------------------------------------------------------

const reader = new WireReader(new Uint8Array(0), 0, 0);

/**
 * Decodes a method frame payload. Throws PayloadError ('unknown-method', 'truncated',
 * 'trailing-bytes', or a field-table code) with the offset inside the payload and the
 * class/method ids in its context.
 */
export function decodeMethod(payload: Uint8Array): DecodedMethod {
  return decodeMethodIn(payload, 0, payload.length);
}

/**
 * Decodes the method payload at `bytes[start, end)` (a frame's payload in place, without a
 * view of it). Results equal decodeMethod's; error offsets are only right when start is 0,
 * so callers re-decode a payload view to report an error.
 */
export function decodeMethodIn(bytes: Uint8Array, start: number, end: number): DecodedMethod {
  if (end - start < 4) {
    throw new PayloadError('truncated', `method payload of ${end - start} bytes is shorter than its 4-byte class/method ids`, 0);
  }
  const classId = (bytes[start]! << 8) | bytes[start + 1]!;
  const methodId = (bytes[start + 2]! << 8) | bytes[start + 3]!;
  const c = COMPILED_BY_ID[classId]?.[methodId];
  if (c === undefined) {
    throw new PayloadError('unknown-method', `unknown method ${classId}.${methodId}`, 0, { classId, methodId });
  }
  const r = reader.reset(bytes, start + 4, end);
  const args: Record<string, ArgumentValue> = {};
  try {
    const { ops, names, labels, bitPositions } = c;
    let bits = 0;
    for (let i = 0; i < ops.length; i++) {
      switch (ops[i]) {
        case OP_BIT: {
          // Bits of the octet that no argument uses are ignored, so a frame that sets them
          // re-encodes with them clear (the only non-lossless case of method decoding).
          const bit = bitPositions[i]!;
          if (bit === 0) bits = r.u8(labels[i]!);
          args[names[i]!] = ((bits >> bit) & 1) === 1;
          break;
        }
        case OP_OCTET:
          args[names[i]!] = r.u8(labels[i]!);
          break;
        case OP_SHORT:
          args[names[i]!] = r.u16(labels[i]!);
          break;
        case OP_LONG:
          args[names[i]!] = r.u32(labels[i]!);
          break;
        case OP_LONGLONG:
        case OP_TIMESTAMP:
          args[names[i]!] = r.u64(labels[i]!);
          break;
        case OP_SHORTSTR:
          args[names[i]!] = r.shortstr(labels[i]!);
          break;
        case OP_LONGSTR:
          args[names[i]!] = r.longstr(labels[i]!);
          break;
        default: // OP_TABLE
          args[names[i]!] = readFieldTable(r, 0, labels[i]!);
      }
    }
  } catch (e) {
    throw withMethodContext(e, classId, methodId);
  }
  if (r.pos !== end) {
    throw new PayloadError('trailing-bytes', `${end - r.pos} bytes after the arguments of ${c.spec.name} at offset ${r.pos}`, r.pos, { classId, methodId });
  }
  return { classId, methodId, name: c.spec.name, spec: c.spec, args };
}

function withMethodContext(e: unknown, classId: number, methodId: number): unknown {
  if (!(e instanceof DecodeError)) return e;
  const error = new PayloadError(e.code, e.message, e.offset, { ...e.context, classId, methodId });
  error.cause = e;
  return error;
}

// --- encoding ------------------------------------------------------------------------------

/** Argument values `encodeMethod` accepts when given a MethodSpec. */
export type ArgumentInput = ArgumentValue | number;

function compiledFor(method: MethodName | MethodSpec): CompiledMethod {
  const spec = typeof method === 'string' ? methodByName(method as string) : method;
  const c = spec === undefined ? undefined : (COMPILED_BY_SPEC.get(spec) ?? COMPILED_BY_ID[spec.classId]?.[spec.methodId]);
  if (c === undefined) {
    const name = typeof method === 'string' ? method : method.name;
    throw new EncodeError('unknown-method', `unknown method ${JSON.stringify(name)}`, { method: String(name) });
  }
  return c;
}

const UINT64_MAX = 2n ** 64n - 1n;

function isAmqpString(v: unknown): v is AmqpString {
  return typeof v === 'string' || v instanceof Uint8Array;
}

/**
 * Checks a value against a spec type and returns its size on the wire (0 for a bit, whose
 * octet the caller counts). Throws EncodeError naming `label`.
 */
export function checkedValueSize(type: SpecFieldType, v: unknown, label: string, context: { readonly method?: string; readonly field?: string }): number {
  const fail = (what: string): EncodeError =>
    new EncodeError(
      typeof v === 'number' || typeof v === 'bigint' ? 'value-out-of-range' : 'bad-value',
      `${label}: ${what}, got ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`,
      context,
    );
  switch (type) {
    case 'bit':
      if (typeof v !== 'boolean') throw fail('expected a boolean');
      return 0;
    case 'octet':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xff) throw fail('expected an integer 0..255');
      return 1;
    case 'short':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) throw fail('expected an integer 0..65535');
      return 2;
    case 'long':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw fail('expected an integer 0..4294967295');
      return 4;
    case 'longlong':
    case 'timestamp':
      if (typeof v === 'bigint' ? v < 0n || v > UINT64_MAX : typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw fail('expected a bigint 0..2^64-1');
      }
      return 8;
    case 'shortstr': {
      if (!isAmqpString(v)) throw fail('expected a string or bytes');
      const n = amqpStringByteLength(v);
      if (n > 255) throw new EncodeError('string-too-long', `${label}: ${n} bytes (max 255)`, context);
      return 1 + n;
    }
    case 'longstr': {
      if (!isAmqpString(v)) throw fail('expected a string or bytes');
      const n = amqpStringByteLength(v);
      if (n > 0xffffffff) throw new EncodeError('string-too-long', `${label}: ${n} bytes`, context);
      return 4 + n;
    }
    case 'table':
      if (typeof v !== 'object' || v === null || !Array.isArray((v as FieldTable).entries)) {
        throw fail('expected a FieldTable (see fieldTable())');
      }
      try {
        return fieldTableSize(v as FieldTable);
      } catch (e) {
        if (e instanceof EncodeError) throw new EncodeError(e.code, `${label}: ${e.message}`, context);
        throw e;
      }
  }
}

/** Writes a non-bit value checked by checkedValueSize. */
export function writeValue(w: WireWriter, type: SpecFieldType, v: unknown): void {
  const b = w.bytes;
  switch (type) {
    case 'bit':
      return;
    case 'octet':
      w.u8(v as number);
      return;
    case 'short':
      w.u16(v as number);
      return;
    case 'long':
      w.u32(v as number);
      return;
    case 'longlong':
    case 'timestamp':
      w.u64(typeof v === 'bigint' ? v : BigInt(v as number));
      return;
    case 'shortstr': {
      const at = w.pos;
      w.pos = writeAmqpString(v as AmqpString, b, at + 1);
      b[at] = w.pos - at - 1;
      return;
    }
    case 'longstr': {
      const at = w.pos;
      w.pos = writeAmqpString(v as AmqpString, b, at + 4);
      const n = w.pos - at - 4;
      b[at] = n >>> 24;
      b[at + 1] = n >>> 16;
      b[at + 2] = n >>> 8;
      b[at + 3] = n;
      return;
    }
    case 'table':
      writeFieldTable(w, v as FieldTable);
  }
}

/** Bytes of the method payload for these arguments; checks every value against its type. */
function payloadSize(c: CompiledMethod, args: Readonly<Record<string, unknown>>): number {
  for (const key in args) {
    if (!c.names.includes(key) && args[key] !== undefined) {
      throw new EncodeError('bad-value', `${c.spec.name} has no argument ${JSON.stringify(key)}`, { method: c.spec.name, field: key });
    }
  }
  let size = 4;
  const { fields } = c.spec;
  const { names, defaults, bitPositions } = c;
  for (let i = 0; i < fields.length; i++) {
    const type = fields[i]!.type;
    const v = args[names[i]!] ?? defaults[i];
    size += checkedValueSize(type, v, c.labels[i]!, { method: c.spec.name, field: names[i]! });
    if (type === 'bit' && bitPositions[i] === 0) size += 1;
  }
  return size;
}

/** Writes the payload; values were checked by payloadSize. */
function writePayload(c: CompiledMethod, args: Readonly<Record<string, unknown>>, w: WireWriter): void {
  w.u16(c.spec.classId);
  w.u16(c.spec.methodId);
  const { fields } = c.spec;
  const { names, defaults, bitPositions } = c;
  const b = w.bytes;
  let bitsAt = 0;
  for (let i = 0; i < fields.length; i++) {
    const type = fields[i]!.type;
    const v = args[names[i]!] ?? defaults[i];
    if (type === 'bit') {
      const bit = bitPositions[i]!;
      if (bit === 0) {
        bitsAt = w.pos;
        b[w.pos++] = 0;
      }
      if (v === true) b[bitsAt] = b[bitsAt]! | (1 << bit);
    } else writeValue(w, type, v);
  }
}

/**
 * Encodes a method payload (class-id, method-id, arguments). Missing arguments take the
 * spec default, else 0 / '' / false / an empty table. Throws EncodeError for values that do
 * not fit their type.
 */
export function encodeMethod<N extends MethodName>(name: N, args?: MethodArgsInput<N>): Uint8Array;
export function encodeMethod(spec: MethodSpec, args?: Readonly<Record<string, ArgumentInput>>): Uint8Array;
export function encodeMethod(method: MethodName | MethodSpec, args: Readonly<Record<string, unknown>> = {}): Uint8Array {
  const c = compiledFor(method);
  const w = new WireWriter(new Uint8Array(payloadSize(c, args)));
  writePayload(c, args, w);
  return w.bytes;
}

/** For frame encoders: the payload size and a writer that puts it at `offset` of `target`. */
export function prepareMethodPayload(
  method: MethodName | MethodSpec,
  args: Readonly<Record<string, unknown>>,
): { readonly size: number; write(target: Uint8Array, offset: number): void } {
  const c = compiledFor(method);
  const size = payloadSize(c, args);
  return { size, write: (target, offset) => writePayload(c, args, new WireWriter(target, offset)) };
}

/** The defaults-filled arguments `encodeMethod` would send, as decoded values. */
export function methodArgsWithDefaults<N extends MethodName>(name: N, args: MethodArgsInput<N> = {} as MethodArgsInput<N>): MethodArgs<N> {
  const c = compiledFor(name);
  const out: Record<string, ArgumentValue> = {};
  const given = args as Readonly<Record<string, ArgumentValue | number | undefined>>;
  c.names.forEach((n, i) => {
    const v = given[n] ?? c.defaults[i]!;
    out[n] = (c.ops[i] === OP_LONGLONG || c.ops[i] === OP_TIMESTAMP) && typeof v === 'number' ? BigInt(v) : v;
  });
  return out as MethodArgs<N>;
}
