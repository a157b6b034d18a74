// `--faults FILE`: rules in JSON or YAML (YAML is a superset of JSON, so one parser reads
// both). Either a list, or an object with a `faults` list; each rule is the string form
// (`"close-channel=404 when method:basic.publish"`) or an object:
//   { action: "close-channel=404", when: "method:basic.publish", times: 1,
//     probability: 0.5, after: 2, duration: "5s" }
// Every rule is checked before any is used: a file with one bad rule arms none.

import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describeFsError } from '../source/errno.js';
import { AmqpSpyError } from '../errors.js';
import { FAULT_OPTIONS, parseFaultRule, type FaultRule } from './fault-rule.js';

/** A rule file that cannot be read or is not in the schema; exit 2. */
export class FaultFileError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`--faults ${path}: ${reason}`);
    this.name = 'FaultFileError';
  }
}

const OBJECT_KEYS = new Set(['action', 'when', ...FAULT_OPTIONS.map((o) => o.key)]);

/** Reads and checks every rule of a file. */
export function readFaultFile(path: string): FaultRule[] {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    throw new FaultFileError(path, describeFsError(error));
  }
  return parseFaultFile(text, path);
}

export function parseFaultFile(text: string, path: string): FaultRule[] {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new FaultFileError(path, `not JSON or YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const list = Array.isArray(document) ? document : isObject(document) && Array.isArray(document['faults']) ? document['faults'] : undefined;
  if (list === undefined) throw new FaultFileError(path, 'expected a list of rules, or an object with a "faults" list');
  return list.map((entry: unknown, i) => parseFaultRule(ruleText(entry, path, i + 1), `--faults ${path} rule ${i + 1}`));
}

/** A rule entry as the one-line form, which the grammar then checks. */
function ruleText(entry: unknown, path: string, n: number): string {
  try {
    return ruleEntryText(entry);
  } catch (error) {
    throw new FaultFileError(path, `rule ${n}: ${(error as Error).message}`);
  }
}

/**
 * A rule given as a string or as the object form, in the one-line grammar (not yet checked by
 * it); throws an Error saying what is wrong with the entry's shape.
 */
export function ruleEntryText(entry: unknown): string {
  if (typeof entry === 'string') return entry;
  if (!isObject(entry)) throw new Error(`a rule is a string or an object with "action", got ${JSON.stringify(entry) ?? String(entry)}`);
  for (const key of Object.keys(entry)) {
    if (!OBJECT_KEYS.has(key)) throw new Error(`unknown key "${key}" (keys: ${[...OBJECT_KEYS].join(', ')})`);
  }
  const action = entry['action'];
  if (typeof action !== 'string' || action.trim() === '') throw new Error('"action" is missing (e.g. action: close-channel=404)');
  if (/\s/.test(action.trim())) throw new Error('"action" is one word (e.g. delay=200ms); options and "when" are keys of their own');
  const words = [action.trim()];
  for (const { key } of FAULT_OPTIONS) {
    const value = entry[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`"${key}" must be a number or a string`);
    if (/\s/.test(String(value))) throw new Error(`"${key}" has blanks in it: ${JSON.stringify(value)}`);
    words.push(`${key}=${value}`);
  }
  const when = entry['when'];
  if (when !== undefined) {
    if (typeof when !== 'string') throw new Error('"when" must be a filter string (e.g. "method:basic.publish")');
    words.push('when', when);
  }
  return words.join(' ');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
