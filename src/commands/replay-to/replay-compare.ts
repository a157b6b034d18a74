// Compares a recorded value with the new server's for `replay --to`: names a broker
// generates afresh each run are mapped, not reported; a broker's own clock in x-death is not
// a difference; and inside tables and arrays only the entry that differs is named
// (`headers.x-death[0].count: recorded 1, now 2`), not the whole table.

import { isFieldTable } from '../../decoder/field-table.js';
import type { ArgumentValue, FieldValue } from '../../decoder/types.js';
import { formatValue } from '../../view/format.js';

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
