// JSON with exact big integers. JSON.parse rounds 9007199254740993 to ...992, and an order id
// that changes on screen is worse than none; Node 20 has no reviver source text to recover
// it. So text holding a run of 16+ digits goes through this parser (integers beyond 2^53
// become bigint); other text through JSON.parse, which is native and (like this) iterative.

export class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    what: string,
  ) {
    super(`${what} at offset ${offset}`);
    this.name = 'JsonSyntaxError';
  }
}

const LONG_DIGITS = /\d{16}/;

/** The value of a JSON text, integers beyond 2^53 as bigint. Throws JsonSyntaxError. */
export function parseJsonLossless(text: string): unknown {
  if (!LONG_DIGITS.test(text)) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new JsonSyntaxError(0, error instanceof Error ? error.message : 'invalid JSON');
    }
  }
  return new LosslessParser(text).parse();
}

interface Frame {
  readonly container: unknown[] | Record<string, unknown>;
  readonly array: boolean;
  key: string;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

class LosslessParser {
  private at = 0;
  constructor(private readonly text: string) {}

  parse(): unknown {
    const stack: Frame[] = [];
    this.ws();
    for (;;) {
      let value: unknown;
      const c = this.text.charCodeAt(this.at);
      if (c === 0x7b /* { */) {
        this.at++;
        this.ws();
        const container: Record<string, unknown> = {};
        if (this.text.charCodeAt(this.at) === 0x7d) {
          this.at++;
          value = container;
        } else {
          stack.push({ container, array: false, key: this.key() });
          continue;
        }
      } else if (c === 0x5b /* [ */) {
        this.at++;
        this.ws();
        if (this.text.charCodeAt(this.at) === 0x5d) {
          this.at++;
          value = [];
        } else {
          stack.push({ container: [], array: true, key: '' });
          continue;
        }
      } else value = this.scalar(c);
      // attach the value, closing every container it completes
      for (;;) {
        const top = stack[stack.length - 1];
        if (top === undefined) {
          this.ws();
          if (this.at < this.text.length) throw new JsonSyntaxError(this.at, 'unexpected text after the value');
          return value;
        }
        if (top.array) (top.container as unknown[]).push(value);
        else define(top.container as Record<string, unknown>, top.key, value);
        this.ws();
        const next = this.text.charCodeAt(this.at);
        if (next === 0x2c /* , */) {
          this.at++;
          this.ws();
          if (!top.array) top.key = this.key();
          break;
        }
        if (next === (top.array ? 0x5d : 0x7d)) {
          this.at++;
          stack.pop();
          value = top.container;
          continue;
        }
        throw new JsonSyntaxError(this.at, top.array ? "expected ',' or ']'" : "expected ',' or '}'");
      }
    }
  }

  /** An object key and its colon; leaves `at` on the value. */
  private key(): string {
    if (this.text.charCodeAt(this.at) !== 0x22) throw new JsonSyntaxError(this.at, 'expected a string key');
    const key = this.string();
    this.ws();
    if (this.text.charCodeAt(this.at) !== 0x3a) throw new JsonSyntaxError(this.at, "expected ':'");
    this.at++;
    this.ws();
    return key;
  }

  private scalar(c: number): unknown {
    if (c === 0x22) return this.string();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    for (const [word, value] of WORDS) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    }
    throw new JsonSyntaxError(this.at, Number.isNaN(c) ? 'unexpected end' : 'unexpected character');
  }

  private number(): number | bigint {
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (!match) throw new JsonSyntaxError(this.at, 'invalid number');
    this.at += match[0].length;
    const n = Number(match[0]);
    if (match[1] === undefined && match[2] === undefined && !Number.isSafeInteger(n)) return BigInt(match[0]);
    return n;
  }

  private string(): string {
    const start = this.at;
    let i = start + 1;
    let escaped = false;
    for (;;) {
      const c = this.text.charCodeAt(i);
      if (Number.isNaN(c)) throw new JsonSyntaxError(start, 'unterminated string');
      if (c === 0x22) break;
      if (c < 0x20) throw new JsonSyntaxError(i, 'control character in a string');
      if (c === 0x5c) {
        escaped = true;
        i++;
      }
      i++;
    }
    this.at = i + 1;
    if (!escaped) return this.text.slice(start + 1, i);
    // escapes are JSON.parse's to undo: the string alone is small and flat
    try {
      return JSON.parse(this.text.slice(start, i + 1)) as string;
    } catch {
      throw new JsonSyntaxError(start, 'invalid escape in a string');
    }
  }

  private ws(): void {
    for (;;) {
      const c = this.text.charCodeAt(this.at);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.at++;
      else return;
    }
  }
}

const WORDS: ReadonlyArray<readonly [string, unknown]> = [
  ['true', true],
  ['false', false],
  ['null', null],
];

/** A key like `__proto__` is data, not the prototype. */
function define(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}
