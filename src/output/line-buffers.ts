// Lines encoded straight into large buffers, for the recorder and the headless printer: a
// recording's frame line is written field by field (fixed pieces copied whole, integers as
// digits, base64 in place), so no intermediate strings are built. Sealed regions are handed
// out and never written again; values outside the fast paths go through a string.

import { writeBase64, base64Length } from './base64-write.js';

/** '00' '01' … '99' as ASCII codes, two per number */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 0x30 + (i % 2 === 0 ? Math.floor(i / 20) : (i >> 1) % 10));

export class LineBuffers {
  private buffer: Buffer;
  /**
   * Regions handed out and not yet given back, per backing buffer. A buffer whose regions
   * all came back and that is no longer being filled is reused: allocating a fresh 1 MiB
   * buffer per MiB recorded made V8 run a full collection for every ~64 MB of them.
   */
  private readonly outstanding = new Map<ArrayBuffer, { buffer: Buffer; regions: number; retired: boolean }>();
  private readonly pool: Buffer[] = [];
  /** [start, fill) is encoded and not yet sealed; a line in progress begins at lineStart */
  private start = 0;
  private lineStart = 0;
  private fill = 0;
  private sealed: Buffer[] = [];
  private sealedTotal = 0;

  /** regions are tracked for reuse (`keep` > 0) until a discard */
  private reuse: boolean;

  /**
   * `keep`: how many full-size buffers to keep for reuse; the owner then gives every region
   * back with `release` once written (the recorder). It should cover the most buffers the
   * owner ever has out at once: each one beyond it is a fresh allocation that dies old, and
   * those made V8 run a full collection every ~0.5 s while recording (and a full collection
   * throws away optimized code, recompiled at great cost on the same cores). With 0 nothing
   * is tracked and written regions are left to the garbage collector.
   */
  constructor(
    private readonly batchBytes: number,
    private readonly keep = 0,
  ) {
    this.reuse = keep > 0;
    // allocUnsafeSlow: a buffer of its own (small ones would share Node's pool, and the
    // bookkeeping below goes by backing ArrayBuffer)
    this.buffer = Buffer.allocUnsafeSlow(batchBytes);
  }

  /** Bytes encoded and not yet sealed. */
  get unsealedBytes(): number {
    return this.fill - this.start;
  }

  get sealedBytes(): number {
    return this.sealedTotal;
  }

  /** Moves the complete lines encoded so far to the sealed list. Call between lines only. */
  seal(): void {
    if (this.fill === this.start) return;
    this.handOut(this.start, this.fill);
    this.start = this.lineStart = this.fill;
  }

  /**
   * Gives back regions from `takeSealed` once nothing reads them any more (their write
   * completed), so their memory can be reused. Optional: regions never given back are simply
   * garbage collected.
   */
  release(regions: readonly Buffer[]): void {
    for (const region of regions) {
      const entry = this.outstanding.get(region.buffer as ArrayBuffer);
      if (entry === undefined || --entry.regions > 0) continue;
      if (entry.retired) this.recycle(region.buffer as ArrayBuffer, entry.buffer);
    }
  }

  private handOut(from: number, to: number): void {
    this.sealed.push(this.buffer.subarray(from, to));
    this.sealedTotal += to - from;
    if (!this.reuse) return;
    const key = this.buffer.buffer as ArrayBuffer;
    const entry = this.outstanding.get(key);
    if (entry !== undefined) entry.regions++;
    else this.outstanding.set(key, { buffer: this.buffer, regions: 1, retired: false });
  }

  /** `buffer` is no longer filled: reusable once its last region comes back (now, if none is out). */
  private retire(buffer: Buffer): void {
    const key = buffer.buffer as ArrayBuffer;
    const entry = this.outstanding.get(key);
    if (entry !== undefined && entry.regions > 0) entry.retired = true;
    else this.recycle(key, buffer);
  }

  private recycle(key: ArrayBuffer, buffer: Buffer): void {
    this.outstanding.delete(key);
    if (buffer.length === this.batchBytes && this.pool.length < this.keep) this.pool.push(buffer);
  }

  /** The sealed regions, handed over: not written again until given back with `release`. */
  takeSealed(): { buffers: Buffer[]; bytes: number } {
    const taken = { buffers: this.sealed, bytes: this.sealedTotal };
    this.sealed = [];
    this.sealedTotal = 0;
    return taken;
  }

  /** Forgets everything not yet taken. */
  discard(): void {
    // regions forgotten here are never given back, so the counts are off: stop reusing
    this.reuse = false;
    this.outstanding.clear();
    this.pool.length = 0;
    this.sealed = [];
    this.sealedTotal = 0;
    this.start = this.lineStart = this.fill;
  }

  beginLine(): void {
    this.lineStart = this.fill;
  }

  endLine(): void {
    this.ensure(1);
    this.buffer[this.fill++] = 0x0a;
    this.lineStart = this.fill;
  }

  /** Bytes encoded beforehand (fixed JSON pieces, cached keys): one copy, no per-character loop. */
  bytes(piece: Uint8Array): void {
    const n = piece.length;
    this.ensure(n);
    if (n > 16) {
      this.buffer.set(piece, this.fill);
      this.fill += n;
      return;
    }
    // a short piece: a loop costs less than set()'s fixed overhead
    const b = this.buffer;
    let at = this.fill;
    for (let i = 0; i < n; i++) b[at++] = piece[i]!;
    this.fill = at;
  }

  /**
   * Writes `text` when every character is ASCII with `allowed[code]` set, and returns true;
   * otherwise writes nothing and returns false (the caller takes a general path).
   */
  asciiIf(text: string, allowed: Uint8Array): boolean {
    const n = text.length;
    this.ensure(n);
    const b = this.buffer;
    const start = this.fill;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80 || allowed[c] !== 1) return false; // fill is unchanged: nothing was written
      b[start + i] = c;
    }
    this.fill = start + n;
    return true;
  }

  /** One ASCII character by its code. */
  byte(code: number): void {
    this.ensure(1);
    this.buffer[this.fill++] = code;
  }

  /** Text known to be ASCII, made at run time (rare: numbers outside the integer path). */
  ascii(text: string): void {
    this.ensure(text.length);
    this.fill += this.buffer.write(text, this.fill, 'latin1');
  }

  /** Any text, as UTF-8. */
  utf8(text: string): void {
    this.ensure(text.length * 3);
    this.fill += this.buffer.write(text, this.fill, 'utf8');
  }

  /** A non-negative safe integer as decimal digits; anything else as String(n) would give. */
  integer(n: number): void {
    if (n >= 0 && n < 100_000_000 && (n | 0) === n) {
      this.smallInteger(n);
      return;
    }
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER) || n % 1 !== 0) {
      this.ascii(String(n));
      return;
    }
    // e.g. a timestamp in µs: the high part, then the low eight digits zero-padded
    const high = Math.floor(n / 100_000_000);
    const low = n - high * 100_000_000;
    this.smallInteger(high);
    this.ensure(8);
    const b = this.buffer;
    let at = this.fill + 8;
    this.fill = at;
    let rest = low;
    for (let i = 0; i < 8; i++) {
      const q = (rest / 10) | 0;
      b[--at] = 0x30 + rest - q * 10;
      rest = q;
    }
  }

  /** 0 ≤ n < 10^8, an int: two digits per step from a table. */
  private smallInteger(n: number): void {
    const digits = n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10_000 ? 4 : n < 100_000 ? 5 : n < 1_000_000 ? 6 : n < 10_000_000 ? 7 : 8;
    this.ensure(digits);
    const b = this.buffer;
    let at = this.fill + digits;
    this.fill = at;
    while (n >= 100) {
      const q = (n / 100) | 0;
      const pair = (n - q * 100) * 2;
      b[--at] = DIGIT_PAIRS[pair + 1]!;
      b[--at] = DIGIT_PAIRS[pair]!;
      n = q;
    }
    if (n >= 10) {
      b[--at] = DIGIT_PAIRS[n * 2 + 1]!;
      b[--at] = DIGIT_PAIRS[n * 2]!;
    } else b[--at] = 0x30 + n;
  }

  /** A string as a JSON string literal, exactly as JSON.stringify writes it. */
  jsonString(text: string): void {
    const n = text.length;
    this.ensure(n + 2);
    const b = this.buffer;
    let at = this.fill;
    b[at++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      // escapes and non-ASCII take the general path (from the string's start: nothing is kept)
      if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) {
        this.utf8(JSON.stringify(text));
        return;
      }
      b[at++] = c;
    }
    b[at++] = 0x22;
    this.fill = at;
  }

  base64(bytes: Uint8Array): void {
    this.ensure(base64Length(bytes.length));
    this.fill = writeBase64(bytes, this.buffer, this.fill);
  }

  /** Room for `n` more bytes; a full buffer's line in progress moves to a fresh one. */
  private ensure(n: number): void {
    if (this.fill + n <= this.buffer.length) return;
    const lineBytes = this.fill - this.lineStart;
    const size = Math.max(this.batchBytes, (lineBytes + n) * 2);
    const next = size === this.batchBytes && this.pool.length > 0 ? this.pool.pop()! : Buffer.allocUnsafeSlow(size);
    this.buffer.copy(next, 0, this.lineStart, this.fill);
    if (this.lineStart > this.start) this.handOut(this.start, this.lineStart);
    if (this.reuse) this.retire(this.buffer);
    this.buffer = next;
    this.start = this.lineStart = 0;
    this.fill = lineBytes;
  }
}
