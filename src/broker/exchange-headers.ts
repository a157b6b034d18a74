// Headers exchange: bindings match on message headers, not the routing key.
// RabbitMQ semantics: `x-match` is all (default), any, all-with-x or any-with-x; with all/any,
// binding keys starting with `x-` are ignored; a binding value of type void matches the
// header's presence whatever its value; other values compare as Erlang terms (1 == 1.0).

import type { FieldTable, FieldValue } from '../decoder/types.js';
import { AmqpError } from './amqp-error.js';
import { Exchange, type Binding } from './exchange.js';
import { amqpStringText, erlangTerm, erlangTypeName, lookup, valuesEqual } from './field-values.js';

export type HeadersMatchKind = 'all' | 'any' | 'all-with-x' | 'any-with-x';

export interface HeadersPattern {
  readonly kind: HeadersMatchKind;
  /** the pairs to test, in binding order; `x-match` itself is never one */
  readonly pairs: ReadonlyArray<readonly [string, FieldValue]>;
}

/** Reads `x-match`; throws RabbitMQ's 406 for a bad one. */
export function parseMatchKind(args: FieldTable): HeadersMatchKind {
  const v = lookup(args, 'x-match');
  if (v === undefined) return 'all';
  if (v.type !== 'S') {
    throw AmqpError.of('PRECONDITION_FAILED', `Invalid x-match field type ${erlangTypeName(v.type)} (value ${erlangTerm(v)}); expected longstr`);
  }
  const text = amqpStringText(v.value);
  if (text === 'all' || text === 'any' || text === 'all-with-x' || text === 'any-with-x') return text;
  throw AmqpError.of('PRECONDITION_FAILED', `Invalid x-match field value ${erlangTerm(v)}; expected all, any, all-with-x, or any-with-x`);
}

export function compileHeadersPattern(args: FieldTable): HeadersPattern {
  const kind = parseMatchKind(args);
  const withX = kind === 'all-with-x' || kind === 'any-with-x';
  const pairs = args.entries.filter(([k]) => k !== 'x-match' && (withX || !k.startsWith('x-')));
  return { kind, pairs };
}

/** Message headers by key, first occurrence winning (as a lookup would). */
export function headersIndex(headers: FieldTable | undefined): Map<string, FieldValue> {
  const map = new Map<string, FieldValue>();
  if (headers !== undefined) for (const [k, v] of headers.entries) if (!map.has(k)) map.set(k, v);
  return map;
}

export function headersMatch(pattern: HeadersPattern, data: ReadonlyMap<string, FieldValue>): boolean {
  const all = pattern.kind === 'all' || pattern.kind === 'all-with-x';
  for (const [key, expected] of pattern.pairs) {
    const actual = data.get(key);
    const ok = actual !== undefined && (expected.type === 'V' || valuesEqual(expected, actual));
    if (all && !ok) return false;
    if (!all && ok) return true;
  }
  // no pairs left: `all` held for every pair (vacuously true); `any` found none
  return all;
}

interface CompiledBinding {
  readonly binding: Binding;
  readonly pattern: HeadersPattern;
}

export class HeadersExchange extends Exchange {
  readonly type = 'headers';
  private readonly compiled = new Map<Binding, CompiledBinding>();

  override validateBinding(_routingKey: string, args: FieldTable): void {
    parseMatchKind(args);
  }

  route(_routingKey: string, headers: FieldTable | undefined, out: Set<Binding>): void {
    if (this.compiled.size === 0) return;
    const data = headersIndex(headers);
    for (const c of this.compiled.values()) if (headersMatch(c.pattern, data)) out.add(c.binding);
  }

  protected index(binding: Binding): void {
    this.compiled.set(binding, { binding, pattern: compileHeadersPattern(binding.arguments) });
  }

  protected unindex(binding: Binding): void {
    this.compiled.delete(binding);
  }
}
