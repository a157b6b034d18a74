// The filter language shared by the TUI (`/`, `s`), replay, read, live `--filter`,
// `--record-filter`, fault rules and the package API's waitFor. docs/filters.md is its manual.
//   method:basic.publish  conn:3  ch:1  dir:c2s  exchange:orders  queue:jobs  rk:order.*
//   prop.correlation-id:abc  header.x-trace-id:t-1  content-type:application/json  type:  app-id:
//   body:"text"  json.order.id=42  size>10KB  rtt>100ms  error  blocked  redelivered  unacked
//   free text;  a b (AND)  a or b  (a or b)  -term  -(…)  not (…)  "quoted \"value\""
// The grammar is data (FILTER_KEYS, FILTER_SYNTAX) so help screens and docs are generated from
// it. A filter compiles once into closures; matching an event walks them once (linear in the
// expression) and allocates nothing for terms that only compare fields.

import { BASIC_PROPERTIES } from '../decoder/spec.js';
import { isFieldTable } from '../decoder/field-table.js';
import type { ArgumentValue, FieldTable, FieldValue } from '../decoder/types.js';
import { undecodedSize, type SpyEvent } from '../events.js';
import { AmqpSpyError } from '../errors.js';
import type { BodyNode } from '../body/index.js';
import { bodyTree, decodedBody, nodeAt, NOT_STRUCTURED } from './filter-body.js';
import { formatEventLine, formatValue, isBlockedEvent, needsAttention } from './format.js';
import type { LaterFacts } from './later-facts.js';
import { bodyOf, bodyTextIncludes, findInFields } from './search-fields.js';
import { compileTopicPattern } from './topic-pattern.js';

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
  { key: 'prop', example: 'prop.message-id:m-1', help: 'a content property by its name; * matches any characters' },
  { key: 'header', example: 'header.x-trace:t-*', help: 'a header (headers table entry; nested tables and arrays by dots)' },
  { key: 'content-type', example: 'content-type:*json', help: 'the content-type property; type: and app-id: likewise' },
  { key: 'body', example: 'body:"ada lovelace"', help: 'the body contains these bytes (UTF-8; gzip/deflate/br undone first)' },
  { key: 'json', example: 'json.order.id=42', help: 'a value in a JSON body by path (arrays by index): = != < <= > >=' },
  { key: 'size', example: 'size>10KB', help: 'body size (a frame: its size): < <= = != >= >, units B KB MB GB KiB MiB GiB' },
  { key: 'rtt', example: 'rtt>100ms', help: 'round trip: a reply from its request; a publish to its confirm, a delivery to its ack (us ms s)' },
  {
    key: 'error',
    example: 'error',
    help: 'errors only: error closes (reply code 300 and up), returns, nacks, decode errors; and connection.blocked/unblocked',
  },
  { key: 'blocked', example: 'blocked', help: 'connection.blocked, connection.unblocked and the publishes sent while blocked' },
  { key: 'redelivered', example: 'redelivered unacked', help: 'deliveries redelivered; deliveries not settled (yet) when the filter looked' },
  { key: 'text', example: 'timeout', help: 'free text in the row, properties, headers or a text body' },
];

/** The prefix that negates a term or a group. */
export const NEGATE = '-';

/** How terms combine, for help screens: the parser below follows these same rules. */
export const FILTER_SYNTAX: readonly { readonly example: string; readonly help: string }[] = [
  { example: 'ch:1 error', help: 'terms are ANDed (all match); and is optional' },
  { example: 'a or (b c)', help: 'or: either matches; and binds tighter; ( ) group' },
  { example: `${NEGATE}method:basic.ack`, help: `${NEGATE}term negates a term; ${NEGATE}(a or b) and not (…) a group` },
  { example: '"no route"', help: 'quotes keep spaces; \\" and \\\\ inside' },
];

export class FilterSyntaxError extends AmqpSpyError {
  override readonly exitCode = 2;
  /** 1-based column of the offending character */
  readonly column: number;
  constructor(
    readonly input: string,
    /** 0-based offset of the offending character */
    readonly position: number,
    readonly reason: string,
  ) {
    super(`filter "${input}": ${reason} at column ${position + 1}`);
    this.name = 'FilterSyntaxError';
    this.column = position + 1;
  }

  /** The filter and a `^` under the column, two lines for a terminal. */
  get pointer(): string {
    return `${this.input}\n${' '.repeat(this.position)}^`;
  }
}

/** What a sink knows of an event after it happened (the TUI's later facts): rtt and unacked ask. */
export interface MatchFacts {
  of(event: SpyEvent): LaterFacts | undefined;
}

export interface Filter {
  readonly source: string;
  readonly empty: boolean;
  /**
   * A term asks what became of an event later (`rtt` of a publish or delivery, `unacked`): its
   * answer can change as facts arrive, so it is not cached.
   */
  readonly usesFacts?: boolean;
  matches(event: SpyEvent, facts?: MatchFacts): boolean;
  /**
   * Where the terms matched an event outside its row (`correlation-id`, `headers.trace-id`,
   * `body`): empty when the row shows every match, or there is none.
   */
  matchedIn?(event: SpyEvent): readonly string[];
  /** the terms ANDed at the top (`rk:order.*`, `-error`, `(a or b)`), to tell which an event fails */
  readonly terms?: readonly FilterTerm[];
}

export interface FilterTerm {
  /** the term as written */
  readonly source: string;
  matches(event: SpyEvent): boolean;
}

/** One event being matched: reused for every event (nothing allocated per event for it). */
class MatchContext {
  event!: SpyEvent;
  facts: MatchFacts | undefined;
  #line: string | undefined;
  #body: Uint8Array | undefined | null = null;
  #tree: BodyNode | typeof NOT_STRUCTURED = NOT_STRUCTURED;
  #treeDone = false;

  reset(event: SpyEvent, facts: MatchFacts | undefined): this {
    this.event = event;
    this.facts = facts;
    this.#line = undefined;
    this.#body = null;
    this.#treeDone = false;
    return this;
  }

  /** Where a needle (lower case) is: `row` (the line shows it), a field's path, `body`, or undefined. */
  find(needle: string): string | undefined {
    this.#line ??= formatEventLine(this.event).toLowerCase();
    if (this.#line.includes(needle)) return 'row';
    const field = findInFields(this.event, needle);
    if (field !== undefined) return field;
    // the body last: the costliest to look through
    const body = bodyOf(this.event);
    return body !== undefined && bodyTextIncludes(body, needle) ? 'body' : undefined;
  }

  /** The message body with its content-encoding undone, once per event. */
  body(): Uint8Array | undefined {
    if (this.#body === null) this.#body = decodedBody(this.event);
    return this.#body;
  }

  /** The body decoded as its content-type says, as a tree (NOT_STRUCTURED for text or binary), once per event. */
  tree(): BodyNode | typeof NOT_STRUCTURED {
    if (!this.#treeDone) {
      this.#treeDone = true;
      this.#tree = bodyTree(this.event);
    }
    return this.#tree;
  }
}

type Predicate = (c: MatchContext) => boolean;

/** A compiled piece of the expression and what it needs. */
interface Node {
  readonly test: Predicate;
  readonly at: number;
  readonly end: number;
  /** asks later facts */
  readonly facts: boolean;
  /** may decode or search a body, or format a row: worth caching per event */
  readonly costly: boolean;
}

/** Where a positive term is shown in the detail, for matchedIn. */
interface Highlight {
  readonly needle?: string;
  readonly path?: string;
  readonly test?: Predicate;
}

const PROPERTY_NAMES: readonly string[] = BASIC_PROPERTIES.map((p) => p.name);
/** Keys written `key:value`. */
const COLON_KEYS = new Set(['method', 'conn', 'ch', 'dir', 'exchange', 'queue', 'rk', 'text', 'body', 'content-type', 'type', 'app-id']);
const FLAGS = new Set(['error', 'blocked', 'redelivered', 'unacked']);
/** Nesting of parentheses and nots a filter may have (a hostile one must not blow the stack). */
const MAX_DEPTH = 64;
/** Characters a filter may have. */
const MAX_LENGTH = 16 * 1024;

function unknownKey(source: string, at: number, key: string): FilterSyntaxError {
  const keys = [...COLON_KEYS].filter((k) => k !== 'text').map((k) => `${k}:`);
  return new FilterSyntaxError(source, at, `unknown key "${key}:" (keys: ${keys.join(' ')} prop.NAME: header.NAME: json.PATH= size> rtt>)`);
}

// --- tokens -------------------------------------------------------------------------------

interface Token {
  readonly kind: 'word' | '(' | ')' | '-(';
  /** the word with quotes taken away and escapes undone */
  readonly text: string;
  readonly at: number;
  readonly end: number;
  /** where in `text` the first quoted part starts; -1 when nothing was quoted */
  readonly quotedAt: number;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      tokens.push({ kind: c, text: c, at: i, end: i + 1, quotedAt: -1 });
      i++;
      continue;
    }
    if (c === NEGATE && source[i + 1] === '(') {
      tokens.push({ kind: '-(', text: NEGATE, at: i, end: i + 1, quotedAt: -1 });
      i++;
      continue;
    }
    const start = i;
    let text = '';
    let quotedAt = -1;
    // a word ends at a space or a `)` outside quotes; a `(` inside a word is its own character
    while (i < n && source[i] !== ' ' && source[i] !== '\t' && source[i] !== ')') {
      if (source[i] === '"') {
        const open = i;
        if (quotedAt < 0) quotedAt = text.length;
        i++;
        let closed = false;
        while (i < n) {
          const q = source[i]!;
          if (q === '\\' && (source[i + 1] === '"' || source[i + 1] === '\\')) {
            text += source[i + 1];
            i += 2;
          } else if (q === '"') {
            closed = true;
            i++;
            break;
          } else {
            text += q;
            i++;
          }
        }
        if (!closed) throw new FilterSyntaxError(source, open, 'unclosed quote');
      } else text += source[i++];
    }
    tokens.push({ kind: 'word', text, at: start, end: i, quotedAt });
  }
  return tokens;
}

/** An operator word (unquoted, any case): `or`, `and`, `not`. */
function operatorOf(token: Token | undefined): 'or' | 'and' | 'not' | undefined {
  if (token?.kind !== 'word' || token.quotedAt >= 0) return undefined;
  switch (token.text.toLowerCase()) {
    case 'or':
    case '||':
    case '|':
      return 'or';
    case 'and':
    case '&&':
      return 'and';
    case 'not':
    case '!':
      return 'not';
    default:
      return undefined;
  }
}

// --- parser -------------------------------------------------------------------------------

class Parser {
  #pos = 0;
  #depth = 0;
  readonly highlights: Highlight[] = [];

  constructor(
    readonly source: string,
    readonly tokens: readonly Token[],
  ) {}

  #peek(): Token | undefined {
    return this.tokens[this.#pos];
  }

  #fail(at: number, reason: string): never {
    throw new FilterSyntaxError(this.source, at, reason);
  }

  /** Where the expression ends: the end of the input or a `)`. */
  #atEnd(): boolean {
    const t = this.#peek();
    return t === undefined || t.kind === ')';
  }

  /** The whole filter: undefined when it has no terms. */
  parse(): Node | undefined {
    if (this.tokens.length === 0) return undefined;
    const node = this.#or(true);
    const rest = this.#peek();
    if (rest !== undefined) this.#fail(rest.at, 'a ")" without its "("');
    return node;
  }

  #or(positive: boolean): Node {
    const first = this.#and(positive);
    const parts = [first];
    while (operatorOf(this.#peek()) === 'or') {
      const op = this.#peek()!;
      this.#pos++;
      if (this.#atEnd() || operatorOf(this.#peek()) === 'or') this.#fail(op.at, `"${op.text}" needs a term after it`);
      parts.push(this.#and(positive));
    }
    if (parts.length === 1) return first;
    return combine(parts, 'or');
  }

  #and(positive: boolean): Node {
    const parts: Node[] = [];
    for (;;) {
      const t = this.#peek();
      const op = operatorOf(t);
      if (t === undefined || t.kind === ')' || op === 'or') break;
      if (op === 'and') {
        this.#pos++;
        if (parts.length === 0) this.#fail(t.at, `"${t.text}" needs a term before it`);
        if (this.#atEnd() || operatorOf(this.#peek()) === 'or' || operatorOf(this.#peek()) === 'and') this.#fail(t.at, `"${t.text}" needs a term after it`);
        continue;
      }
      parts.push(this.#unary(positive));
    }
    if (parts.length === 0) {
      const t = this.#peek();
      if (t !== undefined && operatorOf(t) === 'or') this.#fail(t.at, `"${t.text}" needs a term before it`);
      this.#fail(t?.at ?? this.source.length, 'a term is missing');
    }
    return parts.length === 1 ? parts[0]! : combine(parts, 'and');
  }

  #unary(positive: boolean): Node {
    const t = this.#peek()!;
    if (t.kind === '-(' || operatorOf(t) === 'not') {
      this.#pos++;
      const next = this.#peek();
      if (next === undefined || next.kind === ')' || operatorOf(next) === 'or' || operatorOf(next) === 'and')
        this.#fail(t.at, `"${t.text}" needs a term after it`);
      this.#enter(t.at);
      const inner = this.#unary(!positive);
      this.#depth--;
      return negate(inner, t.at);
    }
    return this.#primary(positive);
  }

  #enter(at: number): void {
    if (++this.#depth > MAX_DEPTH) this.#fail(at, `nested more than ${MAX_DEPTH} deep`);
  }

  #primary(positive: boolean): Node {
    const t = this.#peek()!;
    if (t.kind === ')') this.#fail(t.at, 'a ")" without its "("');
    this.#pos++;
    if (t.kind === '(') {
      this.#enter(t.at);
      if (this.#peek()?.kind === ')') this.#fail(t.at, 'empty parentheses');
      if (this.#peek() === undefined) this.#fail(t.at, 'a "(" without its ")"');
      const inner = this.#or(positive);
      const close = this.#peek();
      if (close?.kind !== ')') this.#fail(t.at, 'a "(" without its ")"');
      this.#pos++;
      this.#depth--;
      return { ...inner, at: t.at, end: close.end };
    }
    return this.#word(t, positive);
  }

  #word(t: Token, positive: boolean): Node {
    // `-term` negates one term (a lone `-` is text)
    if (t.text.startsWith(NEGATE) && t.text.length > 1 && t.quotedAt !== 0) {
      const inner = this.#term(t.text.slice(1), t.quotedAt < 0 ? -1 : t.quotedAt - 1, t.at + 1, !positive);
      return negate({ ...inner, at: t.at, end: t.end }, t.at);
    }
    return { ...this.#term(t.text, t.quotedAt, t.at, positive), at: t.at, end: t.end };
  }

  /** One term: a flag, `key:value`, `key<op>value`, or free text. */
  #term(text: string, quotedAt: number, at: number, positive: boolean): Omit<Node, 'end'> & { end: number } {
    const end = at + text.length;
    const plain = (test: Predicate, facts = false, costly = false) => ({ test, at, end, facts, costly });
    // a term that starts quoted is free text, whatever it holds
    if (quotedAt === 0) return this.#text(text, at, end, positive);
    const prefixEnd = quotedAt < 0 ? text.length : quotedAt;
    let i = 0;
    while (i < prefixEnd) {
      const c = text.charCodeAt(i);
      if (c === 0x3a || c === 0x3c || c === 0x3e || c === 0x3d || (c === 0x21 && text.charCodeAt(i + 1) === 0x3d)) break;
      i++;
    }
    if (i === prefixEnd) {
      if (quotedAt < 0 && FLAGS.has(text)) return plain(flagTest(text), text === 'unacked');
      return this.#text(text, at, end, positive);
    }
    const c = text[i]!;
    const op: Op = c === ':' ? ':' : c === '=' ? '=' : c === '!' ? '!=' : text[i + 1] === '=' ? (`${c}=` as Op) : (c as Op);
    const key = text.slice(0, i);
    const valueAt = i + op.length;
    const value = text.slice(valueAt);
    const valueQuoted = quotedAt === valueAt;
    const lower = key.toLowerCase();
    const comparable = lower === 'size' || lower === 'rtt' || lower.startsWith('json.');
    if (op !== ':' && !comparable) {
      // `a=b` was free text before comparisons came, and stays so for keys that compare nothing
      if (!COLON_KEYS.has(lower) && !lower.startsWith('prop.') && !lower.startsWith('header.') && !FLAGS.has(lower)) return this.#text(text, at, end, positive);
      this.#fail(at + i, `"${key}" takes ":" (${key}:value), not "${op}"`);
    }
    if (value === '' && !valueQuoted) this.#fail(at + valueAt, `"${key}${op}" needs a value, e.g. ${exampleFor(lower)}`);
    const valueCol = at + valueAt;
    if (lower === 'size' || lower === 'rtt') {
      if (op === ':') this.#fail(at + i, `"${key}" takes a comparison, e.g. ${exampleFor(lower)}`);
      const limit = lower === 'size' ? parseSize(value) : parseDuration(value);
      if (limit === undefined) {
        this.#fail(
          valueCol,
          lower === 'size'
            ? `"size" takes a number of bytes with an optional unit (B KB MB GB KiB MiB GiB), got "${value}"`
            : `"rtt" takes a duration with a unit (us ms s), got "${value}"`,
        );
      }
      const cmp = comparator(op);
      if (lower === 'size')
        return plain((ctx) => {
          const size = sizeOf(ctx.event);
          return size !== undefined && cmp(size, limit);
        });
      return plain((ctx) => {
        const rtt = rttOf(ctx);
        return rtt !== undefined && cmp(rtt, limit);
      }, true);
    }
    if (lower.startsWith('json.') || lower === 'json') {
      const path = key.slice(5);
      if (lower === 'json' || path === '' || path.split('.').includes('')) this.#fail(at + i, `"json." needs a path, e.g. json.order.id=42`);
      const test = jsonTest(path.split('.'), op === ':' ? '=' : op, value, valueQuoted, () =>
        this.#fail(valueCol, `"${op}" compares numbers: give one, got "${value}"`),
      );
      if (positive) this.highlights.push({ path: 'body', test });
      return { ...plain(test), costly: true };
    }
    if (lower.startsWith('prop.') || lower === 'content-type' || lower === 'type' || lower === 'app-id') {
      const name = lower.startsWith('prop.') ? lower.slice(5) : lower;
      if (!PROPERTY_NAMES.includes(name)) this.#fail(at + 5, `unknown property "${key.slice(5)}" (properties: ${PROPERTY_NAMES.join(' ')})`);
      if (name === 'headers') this.#fail(at, 'headers are matched one by one: header.NAME:value');
      const match = valueMatcher(value);
      const test: Predicate = (ctx) => {
        const props = propertiesOf(ctx.event);
        const v = props?.[name];
        return v !== undefined && match(v);
      };
      if (positive) this.highlights.push({ path: name, test });
      return plain(test);
    }
    if (lower.startsWith('header.')) {
      const path = key.slice(7);
      if (path === '') this.#fail(at + i, 'header. needs a name, e.g. header.x-trace-id:t-1');
      const match = valueMatcher(value);
      const test: Predicate = (ctx) => {
        const headers = propertiesOf(ctx.event)?.['headers'];
        if (headers === undefined || !isFieldTable(headers)) return false;
        const found = lookUp(headers, path, 0);
        return found !== undefined && match(found.type === 'A' || found.type === 'F' ? found : found.value);
      };
      if (positive) this.highlights.push({ path: `headers.${path}`, test });
      return plain(test);
    }
    if (FLAGS.has(lower) && (lower === 'redelivered' || lower === 'unacked')) this.#fail(at + i, `"${key}" takes no value`);
    if (!COLON_KEYS.has(key) && !FLAGS.has(key)) throw unknownKey(this.source, at, key);
    return this.#keyed(key, value, at, end, valueCol, positive);
  }

  #text(value: string, at: number, end: number, positive: boolean): Node {
    const needle = value.toLowerCase();
    if (positive) this.highlights.push({ needle });
    return { test: (c) => c.find(needle) !== undefined, at, end, facts: false, costly: true };
  }

  #keyed(key: string, value: string, at: number, end: number, valueCol: number, positive: boolean): Node {
    const on = (test: Predicate, costly = false): Node => ({ test, at, end, facts: false, costly });
    switch (key) {
      case 'method': {
        const match = globMatcher(value);
        return on((c) => {
          const name = methodName(c.event);
          return name !== undefined && match(name);
        });
      }
      case 'conn':
      case 'ch': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0 || value.trim() === '') this.#fail(valueCol, `"${key}:" takes a number, got "${value}"`);
        return on(key === 'conn' ? (c) => c.event.conn === n : (c) => channelOf(c.event) === n);
      }
      case 'dir': {
        const dir = value === 'c2s' || value === 'cs' || value === 'in' ? 'c2s' : value === 's2c' || value === 'sc' || value === 'out' ? 's2c' : undefined;
        if (!dir) this.#fail(valueCol, `"dir:" takes c2s or s2c, got "${value}"`);
        return on((c) => 'dir' in c.event && c.event.dir === dir);
      }
      case 'exchange':
      case 'queue': {
        const match = globMatcher(value);
        return on((c) => {
          const arg = argumentOf(c.event, key);
          return arg !== undefined && match(arg);
        });
      }
      case 'rk': {
        const pattern = compileTopicPattern(value);
        return on((c) => {
          const arg = argumentOf(c.event, 'routing-key');
          return arg !== undefined && pattern(arg);
        });
      }
      case 'text':
        return this.#text(value, at, end, positive);
      case 'body': {
        if (value === '') this.#fail(valueCol, '"body:" needs text to look for, e.g. body:"ada lovelace"');
        const needle = Buffer.from(value, 'utf8');
        const test: Predicate = (c) => {
          const body = c.body();
          return body !== undefined && body.length >= needle.length && Buffer.from(body.buffer, body.byteOffset, body.length).indexOf(needle) >= 0;
        };
        if (positive) this.highlights.push({ path: 'body', test });
        return on(test, true);
      }
      case 'blocked':
        return on((c) => isBlockedEvent(c.event));
      default:
        // error:… (the value was never looked at, and still is not)
        return on((c) => needsAttention(c.event));
    }
  }
}

function exampleFor(key: string): string {
  if (key.startsWith('prop.')) return 'prop.correlation-id:abc';
  if (key.startsWith('header.')) return 'header.x-trace-id:t-1';
  if (key.startsWith('json.')) return 'json.order.id=42';
  return FILTER_KEYS.find((k) => k.key === key)?.example ?? `${key}:value`;
}

function combine(parts: readonly Node[], how: 'and' | 'or'): Node {
  const tests = parts.map((p) => p.test);
  const n = tests.length;
  const test: Predicate =
    how === 'and'
      ? (c) => {
          for (let i = 0; i < n; i++) if (!tests[i]!(c)) return false;
          return true;
        }
      : (c) => {
          for (let i = 0; i < n; i++) if (tests[i]!(c)) return true;
          return false;
        };
  return {
    test,
    at: parts[0]!.at,
    end: parts[n - 1]!.end,
    facts: parts.some((p) => p.facts),
    costly: parts.some((p) => p.costly),
  };
}

function negate(node: Node, at: number): Node {
  const inner = node.test;
  return { ...node, at, test: (c) => !inner(c) };
}

// --- terms --------------------------------------------------------------------------------

type Op = ':' | '=' | '!=' | '<' | '<=' | '>' | '>=';

function comparator(op: Op): (a: number, b: number) => boolean {
  switch (op) {
    case '<':
      return (a, b) => a < b;
    case '<=':
      return (a, b) => a <= b;
    case '>':
      return (a, b) => a > b;
    case '>=':
      return (a, b) => a >= b;
    case '!=':
      return (a, b) => a !== b;
    default:
      return (a, b) => a === b;
  }
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `10KB` → 10000, `1.5MiB` → 1572864 (bytes); undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Number(m[1]) * unit : undefined;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { us: 1, µs: 1, ms: 1000, s: 1_000_000 };

/** `100ms` → 100000 (µs); undefined when it is not a duration with a unit. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(us|µs|ms|s)$/.exec(text);
  return m ? Number(m[1]) * DURATION_UNITS[m[2]!]! : undefined;
}

function flagTest(flag: string): Predicate {
  switch (flag) {
    case 'error':
      return (c) => needsAttention(c.event);
    case 'blocked':
      return (c) => isBlockedEvent(c.event);
    case 'redelivered':
      return (c) => {
        const method = methodOf(c.event);
        return method !== undefined && method.args['redelivered'] === true;
      };
    default:
      // unacked: a delivery the client must settle, not settled as far as the facts tell
      return (c) => {
        const e = c.event;
        if ((e.kind !== 'message' && e.kind !== 'frame') || e.insight?.needsAck !== true) return false;
        const outcome = c.facts?.of(e)?.outcome;
        return outcome === undefined || outcome.kind === 'closed';
      };
  }
}

/** A message's body size (as its header declares it); a frame's or undecoded bytes' own size. */
function sizeOf(e: SpyEvent): number | undefined {
  switch (e.kind) {
    case 'message':
      return e.header !== undefined ? Number(e.header.bodySize) : e.body.length;
    case 'frame':
      return e.raw.length;
    case 'bytes':
      return undecodedSize(e);
    default:
      return undefined;
  }
}

/** A reply's round trip from its request; a publish's to its confirm, a delivery's to its settlement, an RPC's request to reply. */
function rttOf(c: MatchContext): number | undefined {
  const e = c.event;
  if (e.kind !== 'frame' && e.kind !== 'message') return undefined;
  const request = e.insight?.request;
  if (request !== undefined) return request.rttMicros;
  const facts = c.facts?.of(e);
  if (facts === undefined) return undefined;
  if (facts.rpc !== undefined) return facts.rpc.rttMicros;
  const outcome = facts.outcome;
  return outcome !== undefined && outcome.kind !== 'closed' ? outcome.afterMicros : undefined;
}

/** Matches a property or header value: its text against a glob; `*` alone: any value. */
function valueMatcher(pattern: string): (value: ArgumentValue | FieldValue | FieldValue['value']) => boolean {
  if (pattern === '*') return () => true;
  const match = globMatcher(pattern);
  return (value) => {
    if (typeof value === 'string') return match(value);
    if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return match(String(value));
    if (value === null || value instanceof Uint8Array || isFieldTable(value) || (typeof value === 'object' && 'type' in value)) return false;
    return match(formatValue(value));
  };
}

/**
 * A header by path in a table: `a.b` is the entry `a.b`, or entry `b` of table `a`; a number
 * indexes an array. Tried without slicing the path (no allocation per event).
 */
function lookUp(table: FieldTable, path: string, from: number): FieldValue | undefined {
  const rest = path.length - from;
  for (const [key, value] of table.entries) {
    if (!path.startsWith(key, from)) continue;
    if (key.length === rest) return value;
    if (key.length < rest && path.charCodeAt(from + key.length) === 0x2e) {
      const found = descend(value, path, from + key.length + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function descend(value: FieldValue, path: string, from: number): FieldValue | undefined {
  if (value.type === 'F') return lookUp(value.value, path, from);
  if (value.type !== 'A') return undefined;
  let index = 0;
  let i = from;
  for (; i < path.length && path.charCodeAt(i) !== 0x2e; i++) {
    const d = path.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return undefined;
    index = index * 10 + d;
  }
  if (i === from) return undefined;
  const item = value.value[index];
  if (item === undefined) return undefined;
  return i === path.length ? item : descend(item, path, i + 1);
}

/** A literal as written: quoted: a string; true, false, null, a number (an integer past 2^53 exactly, as a bigint); else a string. */
function jsonLiteral(value: string, quoted: boolean): string | number | bigint | boolean | null {
  if (quoted) return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (value === 'null') return null;
  if (/^-?\d+$/.test(value) && !Number.isSafeInteger(Number(value))) return BigInt(value);
  if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value)) return Number(value);
  return value;
}

function jsonTest(path: readonly string[], op: Exclude<Op, ':'>, value: string, quoted: boolean, notNumber: () => never): Predicate {
  const want = jsonLiteral(value, quoted);
  if (op !== '=' && op !== '!=' && typeof want !== 'number' && typeof want !== 'bigint') notNumber();
  const cmp = typeof want === 'number' || typeof want === 'bigint' ? comparator(op) : undefined;
  const limit = Number(want);
  return (c) => {
    const root = c.tree();
    if (root === NOT_STRUCTURED) return false;
    const node = nodeAt(root, path);
    if (node === undefined || node.children !== undefined) return false;
    if (cmp !== undefined && op !== '=' && op !== '!=') return node.kind === 'number' && cmp(Number(node.value), limit);
    const equal = sameValue(node, want);
    return op === '=' ? equal : !equal;
  };
}

/** A decoded scalar equals a literal: numbers by value (a bigint exactly), strings, booleans, null. */
function sameValue(node: BodyNode, want: string | number | bigint | boolean | null): boolean {
  const v = node.value;
  switch (node.kind) {
    case 'number':
      if (typeof want === 'bigint') return typeof v === 'bigint' ? v === want : typeof v === 'number' && Number.isInteger(v) && BigInt(v) === want;
      if (typeof want !== 'number') return false;
      return typeof v === 'bigint' ? Number.isInteger(want) && v === BigInt(want) : v === want;
    case 'string':
      return typeof want === 'string' && v === want;
    case 'boolean':
      return v === want;
    case 'null':
      return want === null;
    default:
      return false;
  }
}

function globMatcher(pattern: string): (value: string) => boolean {
  if (!pattern.includes('*')) return (value) => value === pattern;
  const parts = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  const regex = new RegExp(`^${parts.join('.*')}$`, 's');
  return (value) => regex.test(value);
}

function methodOf(e: SpyEvent) {
  if (e.kind === 'message') return e.method;
  return e.kind === 'frame' && e.frame.type === 'method' ? e.frame.method : undefined;
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
  const value: ArgumentValue | undefined = methodOf(e)?.args[name];
  return typeof value === 'string' ? value : undefined;
}

/** The content properties of a message or a content header frame. */
function propertiesOf(e: SpyEvent): Readonly<Record<string, ArgumentValue>> | undefined {
  if (e.kind === 'message') return e.properties;
  return e.kind === 'frame' && e.frame.type === 'header' ? e.frame.header.properties : undefined;
}

// --- the filter ---------------------------------------------------------------------------

/** Parses a filter; throws FilterSyntaxError (one line, with the column) on bad input. */
export function parseFilter(source: string): Filter {
  if (source.length > MAX_LENGTH) throw new FilterSyntaxError(source.slice(0, 40), 40, `longer than ${MAX_LENGTH} characters`);
  const parser = new Parser(source, tokenize(source));
  const root = parser.parse();
  const context = new MatchContext();
  if (root === undefined) {
    return { source, empty: true, usesFacts: false, terms: [], matches: () => true, matchedIn: () => [] };
  }
  const test = root.test;
  const matchNow = (event: SpyEvent, facts: MatchFacts | undefined): boolean => test(context.reset(event, facts));
  // a costly term may decode a body: remember each event's answer (the list asks again on
  // every draw); events are immutable, and leave the cache when they leave the buffer. An
  // answer that depends on later facts may change, so it is never cached.
  const cache = root.costly && !root.facts ? new WeakMap<SpyEvent, boolean>() : undefined;
  const highlights = parser.highlights;
  return {
    source,
    empty: false,
    usesFacts: root.facts,
    terms: topTerms(source, root, parser.tokens).map((node) => ({
      source: source.slice(node.at, node.end),
      matches: (event) => node.test(context.reset(event, undefined)),
    })),
    matches: cache
      ? (event) => {
          let answer = cache.get(event);
          if (answer === undefined) cache.set(event, (answer = matchNow(event, undefined)));
          return answer;
        }
      : matchNow,
    matchedIn(event: SpyEvent): readonly string[] {
      if (highlights.length === 0) return [];
      const where = new Set<string>();
      for (const h of highlights) {
        context.reset(event, undefined);
        if (h.needle !== undefined) {
          const found = context.find(h.needle);
          if (found !== undefined && found !== 'row') where.add(found);
        } else if (h.path !== undefined && h.test?.(context)) where.add(h.path);
      }
      return [...where];
    },
  };
}

/** The nodes ANDed at the top of the expression (the whole of it when an OR is at the top). */
function topTerms(source: string, root: Node, tokens: readonly Token[]): Node[] {
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === '(') depth++;
    else if (t.kind === ')') depth--;
    else if (depth === 0 && operatorOf(t) === 'or') return [root];
  }
  const pieces = splitTopLevel(tokens);
  if (pieces.length <= 1) return [root];
  // each piece parses on its own: it is a whole term, group or negation
  return pieces.map((piece) => new Parser(source, piece).parse()).filter((node) => node !== undefined);
}

/** The token runs of the top-level AND: a `-(`/`not` prefix stays with what it negates. */
function splitTopLevel(tokens: readonly Token[]): Token[][] {
  const pieces: Token[][] = [];
  let current: Token[] = [];
  let depth = 0;
  for (const t of tokens) {
    if (depth === 0 && operatorOf(t) === 'and') continue;
    current.push(t);
    if (t.kind === '(') depth++;
    else if (t.kind === ')') depth--;
    if (depth === 0 && t.kind !== '-(' && operatorOf(t) !== 'not' && t.kind !== '(') {
      pieces.push(current);
      current = [];
    }
  }
  if (current.length > 0) pieces.push(current);
  return pieces;
}
