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
import { parseFaultRule, type FaultRule } from './fault-rule.js';
import { ruleEntryText } from './fault-control.js';

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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
