// Compares a recorded server method, and its values, with the new server's for `replay --to`:
// names a broker generates afresh each run are mapped, not reported; a broker's own clock in
// x-death is not a difference; and inside tables and arrays only the entry that differs is
// named (`headers.x-death[0].count: recorded 1, now 2`), not the whole table.

import { isFieldTable, tableString } from '../../decoder/field-table.js';
import { isErrorReplyCode } from '../../decoder/spec.js';
import type { ArgumentValue, DecodedMethod, FieldValue } from '../../decoder/types.js';
import { formatArguments, formatValue } from '../../view/format.js';
import type { ServerItem } from './replay-channel.js';

/** Names the broker makes up per run (server-named queues, consumer tags, direct reply-to). */
const GENERATED_NAME = /^(amq\.gen-|amq\.ctag-|amq\.rabbitmq\.reply-to\.)/;

/** A value of a method argument, a property, or inside a field table or array. */
type Comparable = ArgumentValue | FieldValue['value'];

/** Recorded name → the new server's, learnt as replies come and applied to later frames. */
export class NameMap {
  private readonly names = new Map<string, string>();

  get(recorded: string): string | undefined {
    return this.names.get(recorded);
  }

  has(recorded: string): boolean {
    return this.names.has(recorded);
  }

  /** The new server chose `fresh` where the recording has `recorded`. */
  learn(recorded: string, fresh: string): void {
    if (recorded !== fresh) this.names.set(recorded, fresh);
  }

  map(value: ArgumentValue): ArgumentValue {
    return typeof value === 'string' ? (this.names.get(value) ?? value) : value;
  }

  /**
   * Whether a recorded string stands for the new one: equal, mapped already, or both names
   * the broker generated of the same kind (learnt here, so later frames use the new one).
   */
  sameName(recorded: string, fresh: string): boolean {
    if ((this.names.get(recorded) ?? recorded) === fresh) return true;
    const kind = GENERATED_NAME.exec(recorded)?.[1];
    if (kind === undefined || !fresh.startsWith(kind) || this.names.has(recorded)) return false;
    this.names.set(recorded, fresh);
    return true;
  }
}

/**
 * Appends `path: recorded X, now Y` for each place the values differ. `undefined` is an
 * absent value.
 */
export function diffValues(path: string, recorded: Comparable | undefined, fresh: Comparable | undefined, names: NameMap, out: string[]): void {
  if (recorded === undefined || fresh === undefined) {
    if (recorded !== fresh) out.push(`${path}: recorded ${describe(recorded)}, now ${describe(fresh)}`);
    return;
  }
  if (isFieldTable(recorded) && isFieldTable(fresh)) {
    const r = new Map(recorded.entries);
    const f = new Map(fresh.entries);
    for (const key of new Set([...r.keys(), ...f.keys()])) {
      const rv = r.get(key);
      const fv = f.get(key);
      // x-death's `time` is when the broker dead-lettered it: its clock, not its decision
      if (key === 'time' && /x-death\[\d+\]$/.test(path) && rv?.type === 'T' && fv?.type === 'T') continue;
      diffValues(`${path}.${key}`, rv?.value, fv?.value, names, out);
    }
    return;
  }
  if (Array.isArray(recorded) && Array.isArray(fresh)) {
    const r = recorded as readonly FieldValue[];
    const f = fresh as readonly FieldValue[];
    if (r.length !== f.length) {
      out.push(`${path}: recorded ${r.length} entries, now ${f.length}`);
      return;
    }
    for (let i = 0; i < r.length; i++) diffValues(`${path}[${i}]`, r[i]!.value, f[i]!.value, names, out);
    return;
  }
  if (typeof recorded === 'string' && typeof fresh === 'string') {
    if (!names.sameName(recorded, fresh)) out.push(`${path}: recorded ${formatValue(recorded)}, now ${formatValue(fresh)}`);
    return;
  }
  if (!sameScalar(recorded, fresh)) out.push(`${path}: recorded ${formatValue(recorded)}, now ${formatValue(fresh)}`);
}

function describe(value: Comparable | undefined): string {
  return value === undefined ? 'absent' : formatValue(value);
}

function sameScalar(a: Comparable, b: Comparable): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && Buffer.compare(a, b) === 0;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    // a decimal, or a table against a non-table
    return JSON.stringify(a, bigintSafe) === JSON.stringify(b, bigintSafe);
  }
  return a === b;
}

function bigintSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}

/** What a comparison must know of its channel, and learns into it. */
export interface CompareContext {
  readonly names: NameMap;
  /** the last request the client sent on the channel, to tell which names the server chose */
  readonly lastRequest: DecodedMethod | undefined;
  /** recorded delivery tag → the new server's, learnt from deliveries */
  readonly deliveryTags: Map<bigint, bigint>;
}

export interface ItemComparison {
  /** another method than recorded: the channel's recorded frames no longer apply */
  readonly diverged: boolean;
  /** one line for people, when they differ (`queue.declare-ok: message-count: recorded 0, now 3`) */
  readonly text?: string;
}

/**
 * Compares one recorded server method (with its content) with the new server's, learning the
 * names the server chose and the delivery tags it gave.
 */
export function compareServerItems(recorded: ServerItem, fresh: ServerItem, context: CompareContext): ItemComparison {
  const r = recorded.method;
  const f = fresh.method;
  if (r.name !== f.name) return { diverged: true, text: `recorded ${methodText(r)}, now ${methodText(f)}` };
  const { names } = context;
  const serverChose = (arg: string) => {
    const request = context.lastRequest;
    if (r.name === 'queue.declare-ok' && arg === 'queue') return request?.name === 'queue.declare' && request.args['queue'] === '';
    if (r.name === 'basic.consume-ok' && arg === 'consumer-tag') return request?.name === 'basic.consume' && request.args['consumer-tag'] === '';
    return false;
  };
  const diffs: string[] = [];
  if (r.name !== 'connection.start' && r.name !== 'connection.open-ok' && !bothNormalCloses(r, f)) {
    for (const field of r.spec.fields) {
      const rv = r.args[field.name];
      const fv = f.args[field.name];
      if (rv === undefined || fv === undefined) continue;
      if (field.name === 'delivery-tag' && (r.name === 'basic.deliver' || r.name === 'basic.get-ok')) {
        context.deliveryTags.set(rv as bigint, fv as bigint);
        continue;
      }
      if (serverChose(field.name) && learnName(names, rv, fv)) continue;
      diffValues(field.name, rv, fv, names, diffs);
    }
  }
  if (recorded.header && fresh.header) {
    const rp = recorded.header.properties;
    const fp = fresh.header.properties;
    const keys = new Set([...Object.keys(rp), ...Object.keys(fp)]);
    for (const key of keys) diffValues(`property ${key}`, rp[key], fp[key], names, diffs);
    const rb = concat(recorded.body);
    const fb = concat(fresh.body);
    if (!sameBytes(rb, fb)) diffs.push(`body: recorded ${rb.length} bytes, now ${fb.length} bytes${rb.length === fb.length ? ' (different bytes)' : ''}`);
  }
  return diffs.length > 0 ? { diverged: false, text: `${r.name}: ${diffs.join('; ')}` } : { diverged: false };
}

/** Records a name the new server chose in place of the recorded one. */
function learnName(names: NameMap, recorded: ArgumentValue | undefined, fresh: ArgumentValue | undefined): boolean {
  if (typeof recorded !== 'string' || typeof fresh !== 'string') return false;
  names.learn(recorded, fresh);
  return true;
}

/** `queue.declare-ok queue=q message-count=0`: a method and its arguments, for people. */
export function methodText(method: DecodedMethod): string {
  const args = formatArguments(method);
  return args ? `${method.name} ${args}` : method.name;
}

/** Both closes are normal (0 from py-amqp and Bunny, 200 from others): the same answer, whatever their codes and texts. */
function bothNormalCloses(r: DecodedMethod, f: DecodedMethod): boolean {
  return (
    (r.name === 'channel.close' || r.name === 'connection.close') &&
    !isErrorReplyCode(Number(r.args['reply-code'])) &&
    !isErrorReplyCode(Number(f.args['reply-code']))
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** `RabbitMQ 3.10.8` from connection.start's server-properties (`unknown server` without them). */
export function serverName(properties: ArgumentValue | undefined): string {
  if (!isFieldTable(properties)) return 'unknown server';
  const name = [tableString(properties, 'product'), tableString(properties, 'version')].filter((x) => x !== undefined && x !== '').join(' ');
  return name === '' ? 'unknown server' : name;
}
