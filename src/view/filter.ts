// The filter language shared by the TUI, replay and headless output:
//   method:basic.publish  method:basic.*   conn:3   ch:1   dir:c2s | dir:s2c
//   exchange:orders   queue:jobs   rk:order.*  (rk uses AMQP topic patterns: * one word, # any)
//   error   blocked   free text (case-insensitive: the event's text line, then its arguments,
//   properties, headers and the first 64 KiB of a UTF-8 body; see search-fields.ts)
// Terms separated by spaces must all match (AND); `-term` negates; quote values with spaces;
// a bare OR is refused (it would silently be matched as text).
// The grammar is data (FILTER_KEYS, FILTER_SYNTAX) so help screens and docs are generated from it.

import { compileTopicPattern } from './topic-pattern.js';
import type { ArgumentValue } from '../decoder/types.js';
import type { SpyEvent } from '../events.js';
import { formatEventLine, isBlockedEvent, needsAttention } from './format.js';
import { bodyOf, bodyTextIncludes, findInFields } from './search-fields.js';
import { AmqpSpyError } from '../errors.js';

export interface FilterKey {
  readonly key: string;
  readonly example: string;
  readonly help: string;
}

export const FILTER_KEYS: readonly FilterKey[] = [
  { key: 'method', example: 'method:basic.publish', help: 'method name; * matches any part (basic.*, *.close)' },
  { key: 'conn', example: 'conn:3', help: 'connection id' },
  { key: 'ch', example: 'ch:1', help: 'channel number' },
  { key: 'dir', example: 'dir:c2s', help: 'direction: c2s (client to server) or s2c' },
  { key: 'exchange', example: 'exchange:orders', help: 'exchange argument; * matches any characters' },
  { key: 'queue', example: 'queue:jobs', help: 'queue argument; * matches any characters' },
  { key: 'rk', example: 'rk:order.*', help: 'routing key, as a topic pattern (* one word, # any words)' },
  {
    key: 'error',
    example: 'error',
    help: 'errors only: error closes (reply code 300 and up), returns, nacks, decode errors; and connection.blocked/unblocked',
  },
  { key: 'blocked', example: 'blocked', help: 'connection.blocked, connection.unblocked and the publishes sent while blocked' },
  { key: 'text', example: 'timeout', help: 'free text in the row, properties, headers or a text body' },
];

/** The prefix that negates a term. */
export const NEGATE = '-';
/** Words taken for an OR operator, which the language does not have (matched in any case). */
const OR_WORDS: readonly string[] = ['or', '||', '|'];
const OR_HINT = 'terms are ANDed; OR is not supported yet — use two filters';

/** How terms combine, for help screens: the parser below follows these same rules. */
export const FILTER_SYNTAX: readonly { readonly example: string; readonly help: string }[] = [
  { example: 'ch:1 error', help: 'terms are ANDed (all match)' },
  { example: `${NEGATE}method:basic.ack`, help: `${NEGATE}term negates a term` },
  { example: '"no route"', help: 'quotes keep spaces' },
  { example: 'OR', help: 'not supported yet: two filters' },
];

export class FilterSyntaxError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    readonly input: string,
    readonly position: number,
    reason: string,
  ) {
    super(`filter "${input}": ${reason}`);
    this.name = 'FilterSyntaxError';
  }
}

/** One event being matched: its line worked out once, and only when a text term asks. */
class MatchContext {
  private line: string | undefined;
  constructor(readonly event: SpyEvent) {}

  /** Where a needle (lower case) is: `row` (the line shows it), a field's path, `body`, or undefined. */
  find(needle: string): string | undefined {
    this.line ??= formatEventLine(this.event).toLowerCase();
    if (this.line.includes(needle)) return 'row';
    const field = findInFields(this.event, needle);
    if (field !== undefined) return field;
    // the body last: the costliest to look through
    const body = bodyOf(this.event);
    return body !== undefined && bodyTextIncludes(body, needle) ? 'body' : undefined;
  }
}

type Predicate = (context: MatchContext) => boolean;

export interface Filter {
  readonly source: string;
  readonly empty: boolean;
  matches(event: SpyEvent): boolean;
  /**
   * Where the free-text terms matched an event outside its row (`correlation-id`,
   * `headers.trace-id`, `body`): empty when the row shows every match, or there is none.
   */
  matchedIn?(event: SpyEvent): readonly string[];
  /** each term on its own (`rk:order.*`, `-error`), to tell which terms an event fails */
  readonly terms?: readonly FilterTerm[];
}

export interface FilterTerm {
  /** the term as written */
  readonly source: string;
  matches(event: SpyEvent): boolean;
}

const KEYS = new Set(FILTER_KEYS.map((k) => k.key));

/** Parses a filter; throws FilterSyntaxError (one line) on bad input. */
export function parseFilter(source: string): Filter {
  const predicates: Predicate[] = [];
  /** needles of the free-text terms that must match (not negated) */
  const needles: string[] = [];
  const terms: FilterTerm[] = [];
  for (const { token, at, end, quoted } of tokenize(source)) {
    if (!quoted && OR_WORDS.includes(token.toLowerCase())) throw new FilterSyntaxError(source, at, `"${token}": ${OR_HINT}`);
    let negate = false;
    let term = token;
    if (term.startsWith(NEGATE) && term.length > 1) {
      negate = true;
      term = term.slice(1);
    }
    const { predicate, needle } = compileTerm(source, term, at);
    if (needle !== undefined && !negate) needles.push(needle);
    const termPredicate: Predicate = negate ? (c) => !predicate(c) : predicate;
    predicates.push(termPredicate);
    terms.push({ source: source.slice(at, end), matches: (event) => termPredicate(new MatchContext(event)) });
  }
  const matchAll = (event: SpyEvent): boolean => {
    const context = new MatchContext(event);
    for (const p of predicates) if (!p(context)) return false;
    return true;
  };
  // a text term may decode a body: remember each event's answer (the list asks again on
  // every draw); events are immutable, and leave the cache when they leave the buffer
  const cache = needles.length > 0 ? new WeakMap<SpyEvent, boolean>() : undefined;
  return {
    source,
    empty: predicates.length === 0,
    terms,
    matches: cache
      ? (event) => {
          let answer = cache.get(event);
          if (answer === undefined) cache.set(event, (answer = matchAll(event)));
          return answer;
        }
      : matchAll,
    matchedIn(event: SpyEvent): readonly string[] {
      if (needles.length === 0) return [];
      const context = new MatchContext(event);
      const where = new Set<string>();
      for (const needle of needles) {
        const found = context.find(needle);
        if (found !== undefined && found !== 'row') where.add(found);
      }
      return [...where];
    },
  };
}

function tokenize(source: string): { token: string; at: number; end: number; quoted: boolean }[] {
  const tokens: { token: string; at: number; end: number; quoted: boolean }[] = [];
  let i = 0;
  while (i < source.length) {
    while (source[i] === ' ' || source[i] === '\t') i++;
    if (i >= source.length) break;
    const start = i;
    let token = '';
    let quoted = false;
    while (i < source.length && source[i] !== ' ' && source[i] !== '\t') {
      if (source[i] === '"') {
        const close = source.indexOf('"', i + 1);
        if (close < 0) throw new FilterSyntaxError(source, i, `unclosed quote at column ${i + 1}`);
        token += source.slice(i + 1, close);
        quoted = true;
        i = close + 1;
      } else token += source[i++];
    }
    tokens.push({ token, at: start, end: i, quoted });
  }
  return tokens;
}

function textTerm(value: string): { predicate: Predicate; needle: string } {
  const needle = value.toLowerCase();
  return { predicate: (c) => c.find(needle) !== undefined, needle };
}

function compileTerm(source: string, term: string, at: number): { predicate: Predicate; needle?: string } {
  const colon = term.indexOf(':');
  if (colon < 0) {
    if (term === 'error') return { predicate: (c) => needsAttention(c.event) };
    if (term === 'blocked') return { predicate: (c) => isBlockedEvent(c.event) };
    return textTerm(term);
  }
  const key = term.slice(0, colon);
  const value = term.slice(colon + 1);
  if (!KEYS.has(key)) {
    throw new FilterSyntaxError(
      source,
      at,
      `unknown key "${key}:" (keys: ${FILTER_KEYS.filter((k) => k.key !== 'text' && k.key !== 'error' && k.key !== 'blocked')
        .map((k) => `${k.key}:`)
        .join(' ')})`,
    );
  }
  if (value === '') throw new FilterSyntaxError(source, at, `"${key}:" needs a value, e.g. ${FILTER_KEYS.find((k) => k.key === key)!.example}`);
  const on = (test: (e: SpyEvent) => boolean) => ({ predicate: (c: MatchContext) => test(c.event) });
  switch (key) {
    case 'method': {
      const match = globMatcher(value);
      return on((e) => {
        const name = methodName(e);
        return name !== undefined && match(name);
      });
    }
    case 'conn':
    case 'ch': {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new FilterSyntaxError(source, at, `"${key}:" takes a number, got "${value}"`);
      return on(key === 'conn' ? (e) => e.conn === n : (e) => channelOf(e) === n);
    }
    case 'dir': {
      const dir = value === 'c2s' || value === 'cs' || value === 'in' ? 'c2s' : value === 's2c' || value === 'sc' || value === 'out' ? 's2c' : undefined;
      if (!dir) throw new FilterSyntaxError(source, at, `"dir:" takes c2s or s2c, got "${value}"`);
      return on((e) => 'dir' in e && e.dir === dir);
    }
    case 'exchange':
    case 'queue': {
      const match = globMatcher(value);
      return on((e) => {
        const arg = argumentOf(e, key);
        return arg !== undefined && match(arg);
      });
    }
    case 'rk': {
      const pattern = compileTopicPattern(value);
      return on((e) => {
        const arg = argumentOf(e, 'routing-key');
        return arg !== undefined && pattern(arg);
      });
    }
    case 'text':
      return textTerm(value);
    case 'blocked':
      return on(isBlockedEvent);
    default:
      return on(needsAttention);
  }
}

function globMatcher(pattern: string): (value: string) => boolean {
  if (!pattern.includes('*')) return (value) => value === pattern;
  const parts = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  const regex = new RegExp(`^${parts.join('.*')}$`);
  return (value) => regex.test(value);
}

function methodName(e: SpyEvent): string | undefined {
  if (e.kind === 'message') return e.method.name;
  if (e.kind === 'frame') return e.frame.type === 'method' ? e.frame.method.name : e.frame.type === 'heartbeat' ? 'heartbeat' : undefined;
  return undefined;
}

function channelOf(e: SpyEvent): number | undefined {
  if (e.kind === 'frame' || e.kind === 'message') return e.channel;
  if (e.kind === 'decode.error') return e.error.channel;
  return undefined;
}

function argumentOf(e: SpyEvent, name: string): string | undefined {
  const method = e.kind === 'message' ? e.method : e.kind === 'frame' && e.frame.type === 'method' ? e.frame.method : undefined;
  const value: ArgumentValue | undefined = method?.args[name];
  return typeof value === 'string' ? value : undefined;
}
