// Protobuf bodies with protobufjs: schemas from .proto files (`--proto DIR`), rules that say
// which message type a body is (`--proto-type 'exchange:orders rk:order.* => shop.Order'`),
// and, when no schema fits, the wire itself walked with protobufjs's Reader (field numbers,
// wire types, nested messages guessed) — bounded, so hostile bytes cost little.

import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type protobuf from 'protobufjs';
import { protobufLib } from './codecs.js';
import { AmqpSpyError } from '../errors.js';
import { compileTopicPattern } from '../view/topic-pattern.js';
import { type BodyNode, containerNode, scalarNode } from './body-node.js';

/** `--proto DIR` or `--proto-type RULE` is wrong: one line, exit 2. */
export class ProtoOptionError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'ProtoOptionError';
  }
}

export interface ProtoTypeRule {
  readonly source: string;
  readonly messageType: string;
  readonly matches: (input: {
    readonly exchange?: string | undefined;
    readonly routingKey?: string | undefined;
    readonly type?: string | undefined;
  }) => boolean;
}

export interface ProtoSchemas {
  readonly root: protobuf.Root;
  /** the .proto files loaded, relative to the directory */
  readonly files: readonly string[];
  readonly rules: readonly ProtoTypeRule[];
}

const MAX_PROTO_FILES = 10_000;

/** Loads every .proto file under `dir` (sorted, so errors are stable); an error names the file. */
export function loadProtoDir(dir: string): protobuf.Root {
  let files: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new ProtoOptionError(`--proto ${dir}: not a directory`);
    files = protoFiles(dir);
  } catch (error) {
    if (error instanceof ProtoOptionError) throw error;
    throw new ProtoOptionError(`--proto ${dir}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (error as Error).message}`);
  }
  if (files.length === 0) throw new ProtoOptionError(`--proto ${dir}: no .proto files in it`);
  const root = new (protobufLib().Root)();
  // imports are found next to the importing file first, then from the directory's top
  root.resolvePath = (origin, target) => {
    const beside = protobufLib().util.path.resolve(origin, target);
    try {
      statSync(beside);
      return beside;
    } catch {
      return join(dir, target);
    }
  };
  for (const file of files) {
    try {
      // each file on its own: a parse error then names its file
      root.loadSync(file, { keepCase: true });
    } catch (error) {
      throw new ProtoOptionError(`--proto ${dir}: ${relative(dir, file)}: ${oneLine(error)}`, file);
    }
  }
  try {
    root.resolveAll();
  } catch (error) {
    throw new ProtoOptionError(`--proto ${dir}: ${oneLine(error)}`);
  }
  return root;
}

function protoFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (out.length >= MAX_PROTO_FILES) return;
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.proto')) out.push(path);
    }
  };
  walk(dir);
  return out;
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

/** The message type named `name` (with or without a leading dot), if the schemas have one. */
export function findMessageType(root: protobuf.Root, name: string): protobuf.Type | undefined {
  if (name === '') return undefined;
  try {
    const found = root.lookup(name.startsWith('.') ? name : `.${name}`);
    return found instanceof protobufLib().Type ? (found as protobuf.Type) : undefined;
  } catch {
    return undefined;
  }
}

const RULE_TERMS = new Set(['exchange', 'rk', 'routing-key', 'type']);

/** `exchange:orders rk:order.* type:OrderPlaced => shop.Order`: every term must hold. */
export function parseProtoTypeRule(source: string, root: protobuf.Root | undefined): ProtoTypeRule {
  const fail = (why: string) => new ProtoOptionError(`--proto-type ${JSON.stringify(source)}: ${why}`);
  const arrow = source.lastIndexOf('=>');
  if (arrow < 0) throw fail("expected 'TERMS => message.Type'");
  const messageType = source
    .slice(arrow + 2)
    .trim()
    .replace(/^\./, '');
  if (messageType === '') throw fail("no message type after '=>'");
  if (root === undefined) throw fail('needs --proto DIR for its message types');
  if (findMessageType(root, messageType) === undefined) throw fail(`no message type ${messageType} in the --proto files`);
  const tests: Array<(input: Parameters<ProtoTypeRule['matches']>[0]) => boolean> = [];
  for (const term of source.slice(0, arrow).trim().split(/\s+/).filter(Boolean)) {
    const colon = term.indexOf(':');
    const name = colon < 0 ? term : term.slice(0, colon);
    if (colon < 0 || !RULE_TERMS.has(name)) throw fail(`unknown term ${JSON.stringify(term)} (exchange:NAME, rk:PATTERN, type:NAME)`);
    const value = term.slice(colon + 1);
    if (name === 'exchange') tests.push((input) => input.exchange === value);
    else if (name === 'type') tests.push((input) => input.type === value);
    else {
      const pattern = compileTopicPattern(value);
      tests.push((input) => input.routingKey !== undefined && pattern(input.routingKey));
    }
  }
  return { source, messageType, matches: (input) => tests.every((test) => test(input)) };
}

/** The schemas of `--proto DIR` and the rules of `--proto-type`, checked together. */
export function loadProtoSchemas(dir: string | undefined, rules: readonly string[] = []): ProtoSchemas | undefined {
  if (dir === undefined) {
    if (rules.length) parseProtoTypeRule(rules[0]!, undefined);
    return undefined;
  }
  const root = loadProtoDir(dir);
  return { root, files: root.files.map((f) => relative(dir, f)), rules: rules.map((rule) => parseProtoTypeRule(rule, root)) };
}

// --- with a schema ---

/** The body decoded as `type`; throws when the bytes do not fit it. */
export function decodeWithSchema(type: protobuf.Type, bytes: Uint8Array): BodyNode {
  const message = type.decode(bytes);
  return messageNode(type, message, undefined, bytes.length);
}

function messageNode(type: protobuf.Type, message: protobuf.Message, key: string | undefined, size?: number): BodyNode {
  const record = message as unknown as Record<string, unknown>;
  const present = type.fieldsArray.filter((field) => {
    if (!Object.hasOwn(record, field.name)) return false;
    const value = record[field.name];
    if (value === null || (Array.isArray(value) && value.length === 0)) return false;
    // protobufjs gives every map field an object: an empty one was not on the wire
    return !(field.map && typeof value === 'object' && Object.keys(value as object).length === 0);
  });
  return containerNode('object', present.length, () => present.map((field) => fieldNode(field, record[field.name], field.name)), {
    key,
    tag: type.fullName.replace(/^\./, ''),
    size,
  });
}

function fieldNode(field: protobuf.Field, value: unknown, key: string): BodyNode {
  if (field.map) {
    const entries = Object.entries(value as Record<string, unknown>);
    return containerNode('object', entries.length, () => entries.map(([k, v]) => elementNode(field, v, k)), {
      key,
      tag: `map<${(field as unknown as protobuf.MapField).keyType}, ${field.type}>`,
    });
  }
  if (field.repeated && Array.isArray(value)) {
    const items = value as unknown[];
    return containerNode('array', items.length, () => items.map((item, i) => elementNode(field, item, `[${i}]`)), { key, tag: `repeated ${field.type}` });
  }
  return elementNode(field, value, key);
}

function elementNode(field: protobuf.Field, value: unknown, key: string): BodyNode {
  const resolved = field.resolvedType;
  if (resolved instanceof protobufLib().Type) return messageNode(resolved, value as protobuf.Message, key);
  if (resolved instanceof protobufLib().Enum) {
    const name = typeof value === 'number' ? resolved.valuesById[value] : undefined;
    return scalarNode('string', name ?? String(value), { key, tag: `enum ${resolved.name}` });
  }
  if (isLong(value)) return scalarNode('number', longValue(value), { key, tag: field.type });
  if (value instanceof Uint8Array) return scalarNode('bytes', value, { key, tag: field.type });
  if (typeof value === 'string') return scalarNode('string', value, { key, tag: field.type });
  if (typeof value === 'number') return scalarNode('number', value, { key, tag: field.type });
  if (typeof value === 'boolean') return scalarNode('boolean', value, { key, tag: field.type });
  return scalarNode('other', String(value), { key, tag: field.type });
}

function isLong(value: unknown): value is protobuf.Long {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { low?: unknown }).low === 'number' &&
    typeof (value as { high?: unknown }).high === 'number'
  );
}

function longValue(long: protobuf.Long): number | bigint {
  const big = BigInt(long.toString());
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

// --- without a schema ---

/** Bounds on a schema-less walk: nested guesses re-read bytes, so both depth and work are capped. */
const MAX_WIRE_DEPTH = 32;
const MAX_WIRE_STEPS = 1_000_000;

interface WireBudget {
  steps: number;
}

export interface WireResult {
  readonly root: BodyNode;
  /** set when the walk stopped at its work bound */
  readonly stopped?: string;
}

/** The wire format walked without a schema; undefined when the bytes are not a protobuf message. */
export function decodeWire(bytes: Uint8Array): WireResult | undefined {
  const budget: WireBudget = { steps: 0 };
  const fields = walkWire(bytes, 0, budget);
  if (fields === undefined) return undefined;
  const root = containerNode('object', fields.length, () => fields, { tag: 'message (no schema)', size: bytes.length });
  return budget.steps > MAX_WIRE_STEPS ? { root, stopped: `wire decoding stopped after ${MAX_WIRE_STEPS} fields` } : { root };
}

function walkWire(bytes: Uint8Array, depth: number, budget: WireBudget): BodyNode[] | undefined {
  const reader = protobufLib().Reader.create(bytes);
  const fields: BodyNode[] = [];
  try {
    while (reader.pos < reader.len) {
      if (++budget.steps > MAX_WIRE_STEPS) return fields;
      const start = reader.pos;
      const tag = reader.uint32();
      const number = tag >>> 3;
      const wireType = tag & 7;
      if (number === 0) return undefined;
      const key = `#${number}`;
      switch (wireType) {
        case 0:
          fields.push(scalarNode('number', longValue(reader.uint64() as protobuf.Long), { key, tag: 'varint', size: reader.pos - start }));
          break;
        case 1:
          fields.push(scalarNode('number', longValue(reader.fixed64() as protobuf.Long), { key, tag: 'fixed64', size: reader.pos - start }));
          break;
        case 5:
          fields.push(scalarNode('number', reader.fixed32(), { key, tag: 'fixed32', size: reader.pos - start }));
          break;
        case 2: {
          const length = reader.uint32();
          if (length > reader.len - reader.pos) return undefined;
          const data = bytes.subarray(reader.pos, reader.pos + length);
          reader.skip(length);
          fields.push(lengthDelimited(data, key, depth, budget, reader.pos - start));
          break;
        }
        default:
          // groups (3, 4) are long deprecated; 6 and 7 are not wire types
          return undefined;
      }
    }
  } catch {
    // protobufjs's Reader throws RangeError past the end: not a message
    return undefined;
  }
  return fields;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A length-delimited field is a string, a nested message or bytes: printable text first. */
function lengthDelimited(data: Uint8Array, key: string, depth: number, budget: WireBudget, size: number): BodyNode {
  const text = printableText(data);
  if (text !== undefined) return scalarNode('string', text, { key, tag: 'string?', size });
  if (depth < MAX_WIRE_DEPTH && data.length > 0) {
    const nested = walkWire(data, depth + 1, budget);
    if (nested !== undefined && nested.length > 0) return containerNode('object', nested.length, () => nested, { key, tag: 'message?', size });
  }
  return scalarNode('bytes', data, { key, tag: 'bytes', size });
}

function printableText(data: Uint8Array): string | undefined {
  if (data.length === 0) return '';
  let text: string;
  try {
    text = strictUtf8.decode(data);
  } catch {
    return undefined;
  }
  return /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text) ? undefined : text;
}
