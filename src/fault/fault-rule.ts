// The fault rule language: what to do to the traffic, and when.
//   close-channel=404 when method:basic.publish exchange:orders times=1
//   delay=200ms±50ms when queue:jobs dir:s2c
// ACTION[=VALUE] then OPTION=VALUE words (probability, times, after, duration) in any order,
// then `when` and a filter in the filter language (src/view/filter.ts) up to the end.
// The grammar is data (FAULT_ACTIONS, FAULT_OPTIONS) so docs and help are made from it.

import { isHardReplyCode, ReplyCode } from '../broker/amqp-error.js';
import { AmqpSpyError } from '../errors.js';
import { FilterSyntaxError, parseFilter, type Filter } from '../view/filter.js';

/** A bad rule: names the rule (and where it came from) and the problem, in one line; exit 2. */
export class FaultRuleError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    /** the rule as given */
    readonly rule: string,
    readonly reason: string,
    /** where the rule came from: `--fault`, or `rules.yaml rule 3` */
    readonly origin = '--fault',
  ) {
    super(`${origin} '${rule}': ${reason}`);
    this.name = 'FaultRuleError';
  }
}

export type FaultAction =
  /** answer a client method with channel.close (code), and close the channel upstream too */
  | { readonly kind: 'close-channel'; readonly code: number }
  /** connection.close (code) to the client, the connection closed upstream too */
  | { readonly kind: 'close-connection'; readonly code: number }
  /** basic.nack to the client for a matching publish in confirm mode, instead of the broker's ack */
  | { readonly kind: 'nack' }
  /** hold matching frames (and what follows them in their direction) this long */
  | { readonly kind: 'delay'; readonly ms: number; readonly jitterMs: number }
  /** bandwidth of matching frames per connection and direction */
  | { readonly kind: 'rate'; readonly bytesPerSecond: number }
  /** heartbeat frames that match are not forwarded */
  | { readonly kind: 'drop-heartbeats' }
  /**
   * ends both sockets, FIN (`cut`) or RST (`reset`): before the matching frame, in its middle
   * (`midFrame`), or `afterBytes` bytes after its start in its direction
   */
  | { readonly kind: 'cut' | 'reset'; readonly midFrame: boolean; readonly afterBytes: number | undefined }
  /** the connection blocked as by RabbitMQ's memory alarm: for `ms`, or until an unblock rule fires */
  | { readonly kind: 'block'; readonly ms: number | undefined }
  | { readonly kind: 'unblock' }
  /** the consumer a matching consume, consume-ok or delivery names is cancelled by the "broker" */
  | { readonly kind: 'cancel-consumer' };

export type FaultActionKind = FaultAction['kind'];

export interface FaultRule {
  /** the rule's text, for notices */
  readonly source: string;
  readonly action: FaultAction;
  /** undefined: every frame the action applies to */
  readonly when: Filter | undefined;
  /** chance that a match fires (0 < p ≤ 1) */
  readonly probability: number;
  /** fires at most this often, then disarms */
  readonly times: number | undefined;
  /** the first N matches are let through */
  readonly after: number;
  /** armed this long from when it is armed (the start of the session for --fault) */
  readonly durationMs: number | undefined;
}

/** `cut`, `cut=mid-frame`; the `after-bytes=` option is set on it once the options are read. */
function cutAction(kind: 'cut' | 'reset'): (value: string | undefined) => FaultAction {
  return (value) => {
    if (value !== undefined && value !== 'mid-frame') throw new Error(`takes no value or =mid-frame (got "=${value}")`);
    return { kind, midFrame: value === 'mid-frame', afterBytes: undefined };
  };
}

interface ActionSpec {
  readonly kind: FaultActionKind;
  /** what the `=VALUE` is: absent when the action takes none */
  readonly value?: string;
  readonly example: string;
  readonly help: string;
  readonly parse: (value: string | undefined) => FaultAction;
}

/** Channel-level (soft) reply codes RabbitMQ closes a channel with. */
const CHANNEL_CODES: readonly number[] = [ReplyCode.ACCESS_REFUSED, ReplyCode.NOT_FOUND, ReplyCode.RESOURCE_LOCKED, ReplyCode.PRECONDITION_FAILED];
/** Connection-level (hard) reply codes. */
const CONNECTION_CODES: readonly number[] = Object.values(ReplyCode).filter(isHardReplyCode);

export const FAULT_ACTIONS: readonly ActionSpec[] = [
  {
    kind: 'close-channel',
    value: CHANNEL_CODES.join('|'),
    example: 'close-channel=404 when method:basic.publish exchange:orders',
    help: 'answer a matching client method with channel.close worded as RabbitMQ words it; the channel is closed upstream too',
    parse: (value) => ({ kind: 'close-channel', code: replyCode(value, CHANNEL_CODES, 'close-channel') }),
  },
  {
    kind: 'close-connection',
    value: CONNECTION_CODES.join('|'),
    example: 'close-connection=320 when method:basic.consume',
    help: 'connection.close to the client at a matching frame; the connection is closed upstream too',
    parse: (value) => ({ kind: 'close-connection', code: replyCode(value, CONNECTION_CODES, 'close-connection') }),
  },
  {
    kind: 'nack',
    example: 'nack when method:basic.publish rk:orders.* probability=0.1',
    help: "the client gets basic.nack for a matching publish (confirm mode) instead of the broker's ack",
    parse: noValue('nack'),
  },
  {
    kind: 'delay',
    value: 'DURATION[±DURATION]',
    example: 'delay=200ms±50ms when dir:s2c method:basic.deliver',
    help: 'hold matching frames, and what follows them in that direction of that connection, this long',
    parse: (value) => {
      if (value === undefined) throw new Error('needs a duration, e.g. delay=200ms or delay=200ms±50ms');
      const [base, jitter, extra] = value.split(/±|\+-/);
      if (extra !== undefined || base === undefined) throw new Error(`"${value}" is not DURATION[±DURATION]`);
      const ms = parseDuration(base);
      const jitterMs = jitter === undefined ? 0 : parseDuration(jitter);
      if (jitterMs > ms) throw new Error(`the jitter (${jitter}) is larger than the delay (${base})`);
      return { kind: 'delay', ms, jitterMs };
    },
  },
  {
    kind: 'rate',
    value: 'SIZE/s',
    example: 'rate=64KB/s when dir:s2c',
    help: 'bandwidth of matching frames (a message: all its frames) per connection and direction; what follows waits behind them',
    parse: (value) => {
      const match = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|KiB|MiB)\/s$/i.exec(value ?? '');
      if (!match) throw new Error(`needs a rate like 64KB/s or 1MB/s${value === undefined ? '' : `, got "${value}"`}`);
      const unit = match[2]!.toLowerCase();
      const scale = unit === 'b' ? 1 : unit === 'kb' ? 1000 : unit === 'kib' ? 1024 : unit === 'mb' ? 1_000_000 : 1024 * 1024;
      const bytesPerSecond = Number(match[1]) * scale;
      if (bytesPerSecond < 1) throw new Error('must be at least 1 B/s');
      return { kind: 'rate', bytesPerSecond };
    },
  },
  {
    kind: 'drop-heartbeats',
    example: 'drop-heartbeats when dir:c2s',
    help: "heartbeat frames (of the side `dir:` names, or both) are not forwarded: the peer's heartbeat timeout fires",
    parse: noValue('drop-heartbeats'),
  },
  {
    kind: 'block',
    value: 'DURATION',
    example: 'block=5s when method:basic.publish exchange:orders times=1',
    help: "the connection is blocked as by RabbitMQ's memory alarm (connection.blocked to a client that announced the capability): from its next publish on, the client is not read; for DURATION, or until an unblock rule fires",
    parse: (value) => ({ kind: 'block', ms: value === undefined ? undefined : parseDuration(value) }),
  },
  {
    kind: 'unblock',
    example: 'unblock when dir:s2c method:basic.deliver',
    help: 'a connection a block rule blocked is unblocked (connection.unblocked), its held publishes go on',
    parse: noValue('unblock'),
  },
  {
    kind: 'cancel-consumer',
    example: 'cancel-consumer when method:basic.consume queue:jobs',
    help: 'the consumer a matching basic.consume, consume-ok or basic.deliver names is cancelled as when its queue is deleted: basic.cancel to the client (consumer_cancel_notify), the consumer cancelled upstream',
    parse: noValue('cancel-consumer'),
  },
  {
    kind: 'cut',
    value: 'mid-frame',
    example: 'cut=mid-frame when method:basic.deliver rk:jobs',
    help: 'end both sockets with a FIN before a matching frame, in its middle (=mid-frame), or after-bytes=N after its start (mid-frame where that falls)',
    parse: cutAction('cut'),
  },
  {
    kind: 'reset',
    value: 'mid-frame',
    example: 'reset after-bytes=1000 when method:basic.deliver',
    help: 'the same as cut, with a reset (RST) instead of a FIN',
    parse: cutAction('reset'),
  },
];

export interface FaultOption {
  readonly key: 'probability' | 'times' | 'after' | 'duration' | 'after-bytes';
  readonly example: string;
  readonly help: string;
}

export const FAULT_OPTIONS: readonly FaultOption[] = [
  { key: 'probability', example: 'probability=0.1', help: 'chance that a match fires (default 1)' },
  { key: 'times', example: 'times=1', help: 'fire at most N times over the session, then disarm' },
  { key: 'after', example: 'after=10', help: 'let the first N matches through' },
  { key: 'duration', example: 'duration=30s', help: 'armed this long from when it is armed (the start of the session for --fault), then disarmed' },
  { key: 'after-bytes', example: 'after-bytes=1000', help: 'cut and reset only: this many bytes after the start of the matching frame, in its direction' },
];

const ACTIONS = new Map(FAULT_ACTIONS.map((a) => [a.kind, a]));
const OPTIONS = new Set<string>(FAULT_OPTIONS.map((o) => o.key));

/** Parses one rule; throws FaultRuleError naming it and the problem. */
export function parseFaultRule(source: string, origin?: string): FaultRule {
  const fail = (reason: string): never => {
    throw new FaultRuleError(source, reason, origin);
  };
  const words = splitWords(source);
  const when = words.indexOf('when');
  const first = words[0];
  if (first === undefined || first === 'when') return fail(`no action; a rule is ACTION [OPTION=VALUE ...] [when FILTER], e.g. ${FAULT_ACTIONS[0]!.example}`);
  const eq = first.indexOf('=');
  const name = eq < 0 ? first : first.slice(0, eq);
  const spec = ACTIONS.get(name as FaultActionKind);
  if (spec === undefined) return fail(`unknown action "${name}" (actions: ${FAULT_ACTIONS.map((a) => a.kind).join(', ')})`);
  const value = eq < 0 ? undefined : first.slice(eq + 1);
  let action: FaultAction;
  try {
    action = spec.parse(value);
  } catch (error) {
    return fail(`${name}: ${(error as Error).message}`);
  }
  // options may also follow the filter (`... when method:basic.publish times=1`): an
  // unquoted KEY=VALUE word with an option's key is an option wherever it stands
  const options = new Map<string, string>();
  const filterWords: string[] = [];
  words.forEach((word, i) => {
    if (i === 0 || i === when) return;
    const at = word.indexOf('=');
    const key = at < 0 ? word : word.slice(0, at);
    if (OPTIONS.has(key) && at > 0) {
      if (at === word.length - 1) fail(`"${key}=" needs a value, e.g. ${FAULT_OPTIONS.find((o) => o.key === key)!.example}`);
      if (options.has(key)) fail(`"${key}=" is given twice`);
      options.set(key, word.slice(at + 1));
    } else if (when < 0 || i < when) {
      fail(
        `unknown option "${word}" (options: ${FAULT_OPTIONS.map((o) => `${o.key}=`).join(' ')}; a filter comes after "when", e.g. when method:basic.publish)`,
      );
    } else filterWords.push(word);
  });
  let filter: Filter | undefined;
  if (when >= 0) {
    if (filterWords.length === 0) return fail('"when" needs a filter, e.g. when method:basic.publish exchange:orders');
    try {
      filter = parseFilter(filterWords.join(' '));
    } catch (error) {
      if (error instanceof FilterSyntaxError) return fail(error.message);
      throw error;
    }
  }
  const probability = optionNumber(options.get('probability'), 'probability', fail, (n) => n > 0 && n <= 1, 'a number in (0, 1]') ?? 1;
  const times = optionNumber(options.get('times'), 'times', fail, (n) => Number.isInteger(n) && n >= 1, 'a whole number from 1');
  const after = optionNumber(options.get('after'), 'after', fail, (n) => Number.isInteger(n) && n >= 0, 'a whole number from 0') ?? 0;
  const durationText = options.get('duration');
  let durationMs: number | undefined;
  if (durationText !== undefined) {
    try {
      durationMs = parseDuration(durationText);
    } catch (error) {
      return fail(`duration: ${(error as Error).message}`);
    }
    if (durationMs === 0) return fail('duration: must be longer than 0');
  }
  const afterBytesText = options.get('after-bytes');
  if (afterBytesText !== undefined) {
    if (action.kind !== 'cut' && action.kind !== 'reset') return fail('after-bytes= applies to cut and reset only');
    if (action.midFrame) return fail(`${action.kind}=mid-frame and after-bytes= exclude each other: give one`);
    const afterBytes = optionNumber(afterBytesText, 'after-bytes', fail, (n) => Number.isInteger(n) && n >= 1, 'a whole number of bytes from 1');
    action = { ...action, afterBytes };
  }
  return { source: source.trim(), action, when: filter, probability, times, after, durationMs };
}

/** Words split at blanks; a quoted part keeps its blanks and its quotes (the filter reads them). */
function splitWords(source: string): string[] {
  const words: string[] = [];
  let word = '';
  let quoted = false;
  for (const ch of source.trim()) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && (ch === ' ' || ch === '\t')) {
      if (word !== '') words.push(word);
      word = '';
    } else word += ch;
  }
  if (word !== '') words.push(word);
  return words;
}

function optionNumber(text: string | undefined, key: string, fail: (reason: string) => never, valid: (n: number) => boolean, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || !valid(n)) return fail(`${key}= takes ${what}, got "${text}"`);
  return n;
}

function noValue(kind: FaultActionKind): (value: string | undefined) => FaultAction {
  return (value) => {
    if (value !== undefined) throw new Error(`takes no value (got "=${value}")`);
    return { kind } as FaultAction;
  };
}

function replyCode(value: string | undefined, allowed: readonly number[], action: string): number {
  const code = Number(value);
  if (value === undefined || !allowed.includes(code)) {
    throw new Error(`needs a reply code: ${allowed.join(', ')}${value === undefined ? `, e.g. ${action}=${allowed[0]}` : ` (got "${value}")`}`);
  }
  return code;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/** `200ms`, `1.5s`, `2m` → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration like 200ms, 5s or 2m`);
  return Number(match[1]) * DURATION_UNITS[match[2]!]!;
}
