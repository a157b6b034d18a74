// Fault rules armed while the session runs: what the `--control` HTTP API, the TUI's fault
// panel and the package API's `session.faults` drive. Engine-agnostic: the proxy's FaultEngine
// implements it, and a source that acts rules out another way (the built-in broker) can too.

import { AmqpSpyError } from '../errors.js';
import { FAULT_OPTIONS, FaultRuleError, parseFaultRule, type FaultRule } from './fault-rule.js';

/**
 * armed: acts on matching frames; disarmed: switched off by hand (it can be re-armed); spent:
 * its `times=` are used up; expired: its `duration=` is over.
 */
export type FaultRuleState = 'armed' | 'disarmed' | 'spent' | 'expired';

/** A rule as listed: its id stays the same for as long as it exists. */
export interface FaultRuleInfo {
  readonly id: number;
  /** the rule in the one-line grammar */
  readonly rule: string;
  readonly state: FaultRuleState;
  /** frames its action could act on that its filter matched */
  readonly matches: number;
  /** how often it acted */
  readonly fired: number;
  /** how often it may still act (`times=`), null without a limit */
  readonly timesLeft: number | null;
}

/** What can be done to one connection at once, whatever the rules say. */
export type ConnectionAction =
  | { readonly kind: 'close-connection'; readonly code: number }
  | { readonly kind: 'close-channel'; readonly code: number; readonly channel: number }
  | { readonly kind: 'block'; readonly ms: number | undefined }
  | { readonly kind: 'unblock' }
  | { readonly kind: 'cut' | 'reset' };

export interface FaultControl {
  /** every rule, in the order they were added */
  list(): FaultRuleInfo[];
  /** Arms checked rules, all of them; returns them as listed. */
  add(rules: readonly FaultRule[]): FaultRuleInfo[];
  /** Removes a rule and releases what it holds (a block is lifted, delayed frames go); false: no such rule. */
  remove(id: number): boolean;
  /** Removes every rule; returns how many there were. */
  removeAll(): number;
  /** Disarms (false) or re-arms (true) a rule; undefined: no such rule. */
  setArmed(id: number, armed: boolean): FaultRuleInfo | undefined;
  /** Acts on one connection now; returns what was done, in one line. Throws ConnectionActionError. */
  act(connection: number, action: ConnectionAction): string;
}

/** A one-shot action that cannot be done: no such connection (404), or not now (409). */
export class ConnectionActionError extends AmqpSpyError {
  override readonly exitCode = 1;
  constructor(
    readonly reason: string,
    readonly status: 404 | 409,
  ) {
    super(reason);
    this.name = 'ConnectionActionError';
  }
}

/** A body or a line that is not a rule: which one and why. */
export class FaultInputError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    /** the rule as given, when there was one */
    readonly rule: string | undefined,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'FaultInputError';
  }
}

/**
 * Rules as the control API takes them: one rule in the one-line grammar, the rule files' object
 * form, or a list of either. Every rule is checked before any is returned: one bad rule
 * throws FaultInputError naming it (`rule 2 'delay=later': ...`), and none is armed.
 */
export function parseRuleEntries(input: unknown): FaultRule[] {
  const list = Array.isArray(input) ? input : [input];
  if (list.length === 0) throw new FaultInputError(undefined, 'no rule given: a rule string, an object with "action", or a list of them');
  return list.map((entry: unknown, i) => {
    const origin = Array.isArray(input) ? `rule ${i + 1}` : 'rule';
    let text: string;
    try {
      text = ruleEntryText(entry);
    } catch (error) {
      throw new FaultInputError(undefined, `${origin}: ${(error as Error).message}`);
    }
    try {
      return parseFaultRule(text, origin);
    } catch (error) {
      if (error instanceof FaultRuleError) throw new FaultInputError(error.rule, error.message);
      throw error;
    }
  });
}

const ONE_SHOT = ['close-connection', 'close-channel', 'block', 'unblock', 'cut', 'reset'] as const;

/**
 * `close-connection=320`, `close-channel=406` (with a channel), `block`, `block=5s`, `unblock`,
 * `cut`, `reset`: the rule grammar's action word, acted out once on a connection.
 */
export function parseConnectionAction(text: string, channel?: number): ConnectionAction {
  const word = text.trim();
  const name = word.split('=')[0] ?? '';
  if (/\s/.test(word) || !(ONE_SHOT as readonly string[]).includes(name))
    throw new FaultInputError(word, `"${word}" is not a one-shot action (actions: ${ONE_SHOT.join(', ')}; e.g. close-connection=320)`);
  let rule: FaultRule;
  try {
    rule = parseFaultRule(word, 'action');
  } catch (error) {
    if (error instanceof FaultRuleError) throw new FaultInputError(word, error.message);
    throw error;
  }
  const action = rule.action;
  switch (action.kind) {
    case 'close-channel':
      if (channel === undefined || !Number.isInteger(channel) || channel < 1 || channel > 65535)
        throw new FaultInputError(word, `close-channel needs the channel: a number from 1 to 65535${channel === undefined ? '' : ` (got ${channel})`}`);
      return { kind: 'close-channel', code: action.code, channel };
    case 'close-connection':
      return { kind: 'close-connection', code: action.code };
    case 'block':
      return { kind: 'block', ms: action.ms };
    case 'unblock':
      return { kind: 'unblock' };
    case 'cut':
    case 'reset':
      if (action.midFrame) throw new FaultInputError(word, `${action.kind}=mid-frame needs a frame to cut: use it in a rule`);
      return { kind: action.kind };
    default:
      throw new FaultInputError(word, `"${name}" acts on frames: use it in a rule`);
  }
}

const OBJECT_KEYS = new Set(['action', 'when', ...FAULT_OPTIONS.map((o) => o.key)]);

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
