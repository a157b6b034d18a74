// RabbitMQ's redeclaration checks (rabbit_misc:assert_field_equivalence and
// assert_args_equivalence) with its exact 406 texts.

import type { FieldTable, FieldValue } from '../decoder/types.js';
import { AmqpError } from './amqp-error.js';
import { erlangDisplay, erlangTypeName, lookup, typeClass, valuesEqual } from './field-values.js';

function inequivalent(key: string, resource: string, received: string, current: string): AmqpError {
  return AmqpError.of('PRECONDITION_FAILED', `inequivalent arg '${key}' for ${resource}: received ${received} but current is ${current}`);
}

/** Checks a declared property (type, durable, auto_delete, internal). */
export function assertFieldEquivalence(current: string | boolean, requested: string | boolean, resource: string, key: string): void {
  if (current !== requested) throw inequivalent(key, resource, `'${String(requested)}'`, `'${String(current)}'`);
}

const typed = (v: FieldValue | undefined): string => (v === undefined ? 'none' : `the value '${erlangDisplay(v)}' of type '${erlangTypeName(v.type)}'`);

/**
 * Checks the listed argument keys, in order. Values of the same type class (all integer
 * widths, both float widths) compare by value; a key present on one side only is printed
 * with its type.
 */
export function assertArgsEquivalence(current: FieldTable, requested: FieldTable, resource: string, keys: readonly string[]): void {
  for (const key of keys) {
    const cur = lookup(current, key);
    const req = lookup(requested, key);
    if (cur === undefined && req === undefined) continue;
    if (cur === undefined || req === undefined) throw inequivalent(key, resource, typed(req), typed(cur));
    const sameType = erlangTypeName(cur.type) === erlangTypeName(req.type);
    if ((sameType || typeClass(cur.type) === typeClass(req.type)) && valuesEqual(cur, req)) continue;
    throw inequivalent(key, resource, `'${erlangDisplay(req)}'`, `'${erlangDisplay(cur)}'`);
  }
}
