// The filter language shared by the TUI, replay and headless output:
//   method:basic.publish  method:basic.*   conn:3   ch:1   dir:c2s | dir:s2c
//   exchange:orders   queue:jobs   rk:order.*  (rk uses AMQP topic patterns: * one word, # any)
//   error   blocked   free text (matched case-insensitively against the event's text line)
// Terms separated by spaces must all match (AND); `-term` negates; quote values with spaces.
// The grammar is data (FILTER_KEYS) so help screens and docs are generated from it.

import { compileTopicPattern } from './topic-pattern.js';
import type { ArgumentValue } from '../decoder/types.js';
import type { SpyEvent } from '../events.js';
import { formatEventLine, isBlockedEvent, needsAttention } from './format.js';

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
  { key: 'error', example: 'error', help: 'errors only: error closes (reply code 300 and up), returns, nacks, decode errors; and connection.blocked/unblocked' },
  { key: 'blocked', example: 'blocked', help: 'connection.blocked, connection.unblocked and the publishes sent while blocked' },
  { key: 'text', example: 'timeout', help: 'free text anywhere in the line (case-insensitive)' },
];

export class FilterSyntaxError extends Error {
  constructor(readonly input: string, readonly position: number, reason: string) {
    super(`filter "${input}": ${reason}`);
    this.name = 'FilterSyntaxError';
  }
}

type Predicate = (event: SpyEvent, text: () => string) => boolean;

export interface Filter {
  readonly source: string;
  readonly empty: boolean;
  matches(event: SpyEvent): boolean;
}

const KEYS = new Set(FILTER_KEYS.map((k) => k.key));

/** Parses a filter; throws FilterSyntaxError (one line) on bad input. */
export function parseFilter(source: string): Filter {
  const predicates: Predicate[] = [];
  for (const { token, at } of tokenize(source)) {
    let negate = false;
    let term = token;
    if (term.startsWith('-') && term.length > 1) {
      negate = true;
      term = term.slice(1);
    }
    const predicate = compileTerm(source, term, at);
    predicates.push(negate ? (e, t) => !predicate(e, t) : predicate);
  }
  return {
    source,
    empty: predicates.length === 0,
    matches(event: SpyEvent): boolean {
      let line: string | undefined;
      const text = () => (line ??= formatEventLine(event).toLowerCase());
      for (const p of predicates) if (!p(event, text)) return false;
      return true;
    },
  };
}

function tokenize(source: string): { token: string; at: number }[] {
  const tokens: { token: string; at: number }[] = [];
  let i = 0;
  while (i < source.length) {
    while (source[i] === ' ' || source[i] === '\t') i++;
    if (i >= source.length) break;
    const start = i;
    let token = '';
    while (i < source.length && source[i] !== ' ' && source[i] !== '\t') {
      if (source[i] === '"') {
        const close = source.indexOf('"', i + 1);
        if (close < 0) throw new FilterSyntaxError(source, i, `unclosed quote at column ${i + 1}`);
        token += source.slice(i + 1, close);
        i = close + 1;
      } else token += source[i++];
    }
    tokens.push({ token, at: start });
  }
  return tokens;
}

function compileTerm(source: string, term: string, at: number): Predicate {
  const colon = term.indexOf(':');
  if (colon < 0) {
    if (term === 'error') return (e) => needsAttention(e);
    if (term === 'blocked') return (e) => isBlockedEvent(e);
    const needle = term.toLowerCase();
    return (_e, text) => text().includes(needle);
  }
  const key = term.slice(0, colon);
  const value = term.slice(colon + 1);
  if (!KEYS.has(key)) {
    throw new FilterSyntaxError(source, at, `unknown key "${key}:" (keys: ${FILTER_KEYS.filter((k) => k.key !== 'text' && k.key !== 'error' && k.key !== 'blocked').map((k) => `${k.key}:`).join(' ')})`);
  }
  if (value === '') throw new FilterSyntaxError(source, at, `"${key}:" needs a value, e.g. ${FILTER_KEYS.find((k) => k.key === key)!.example}`);
  switch (key) {
    case 'method': {
      const match = globMatcher(value);
      return (e) => {
        const name = methodName(e);
        return name !== undefined && match(name);
      };
    }
    case 'conn':
    case 'ch': {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new FilterSyntaxError(source, at, `"${key}:" takes a number, got "${value}"`);
      return key === 'conn' ? (e) => e.conn === n : (e) => channelOf(e) === n;
    }
    case 'dir': {
      const dir = value === 'c2s' || value === 'cs' || value === 'in' ? 'c2s' : value === 's2c' || value === 'sc' || value === 'out' ? 's2c' : undefined;
      if (!dir) throw new FilterSyntaxError(source, at, `"dir:" takes c2s or s2c, got "${value}"`);
      return (e) => 'dir' in e && e.dir === dir;
    }
    case 'exchange':
    case 'queue': {
      const match = globMatcher(value);
      return (e) => {
        const arg = argumentOf(e, key);
        return arg !== undefined && match(arg);
      };
    }
    case 'rk': {
      const pattern = compileTopicPattern(value);
      return (e) => {
        const arg = argumentOf(e, 'routing-key');
        return arg !== undefined && pattern(arg);
      };
    }
    case 'text': {
      const needle = value.toLowerCase();
      return (_e, text) => text().includes(needle);
    }
    case 'blocked':
      return (e) => isBlockedEvent(e);
    default:
      return (e) => needsAttention(e);
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
