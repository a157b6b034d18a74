// Byte cursor and writer shared by the payload codecs. Reads check bounds and throw
// PayloadError('truncated') with the offset of the item that runs past the end; big-endian
// as AMQP is. Internal to the decoder folder.

import { decodeAmqpString, decodeKey } from './amqp-string.js';
import { PayloadError } from './errors.js';
import type { AmqpString } from './types.js';

// 8 scratch bytes for 64-bit and float reads/writes: copying 8 bytes is much cheaper than a
// DataView over each payload.
const scratch = new Uint8Array(8);
const scratchView = new DataView(scratch.buffer);

function toScratch(b: Uint8Array, p: number, size: number): DataView {
  for (let i = 0; i < size; i++) scratch[i] = b[p + i]!;
  return scratchView;
}

function fromScratch(b: Uint8Array, p: number, size: number): void {
  for (let i = 0; i < size; i++) b[p + i] = scratch[i]!;
}

export class WireReader {
  constructor(
    public bytes: Uint8Array,
    /** next byte to read */
    public pos: number,
    /** end of the region being read (a table's end, or the payload's) */
    public end: number,
  ) {}

  /** Points the reader at another buffer (decoders reuse one reader; none of them re-enters). */
  reset(bytes: Uint8Array, pos: number, end: number): this {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
    return this;
  }

  truncated(what: string, at: number, size: number): PayloadError {
    return new PayloadError('truncated', `${what} at offset ${at} needs ${size} bytes but only ${Math.max(0, this.end - at)} remain`, at);
  }

  need(size: number, what: string): void {
    if (this.pos + size > this.end) throw this.truncated(what, this.pos, size);
  }

  u8(what: string): number {
    if (this.pos + 1 > this.end) throw this.truncated(what, this.pos, 1);
    return this.bytes[this.pos++]!;
  }

  u16(what: string): number {
    const p = this.pos;
    if (p + 2 > this.end) throw this.truncated(what, p, 2);
    const b = this.bytes;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  u32(what: string): number {
    const p = this.pos;
    if (p + 4 > this.end) throw this.truncated(what, p, 4);
    const b = this.bytes;
    this.pos = p + 4;
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  u64(what: string): bigint {
    const p = this.pos;
    if (p + 8 > this.end) throw this.truncated(what, p, 8);
    this.pos = p + 8;
    const b = this.bytes;
    // Delivery tags and body sizes are small: one BigInt from a number when the top half is 0.
    if ((b[p]! | b[p + 1]! | b[p + 2]! | b[p + 3]!) === 0) {
      return BigInt(b[p + 4]! * 0x1000000 + ((b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!));
    }
    return toScratch(b, p, 8).getBigUint64(0);
  }

  i64(what: string): bigint {
    const p = this.pos;
    if (p + 8 > this.end) throw this.truncated(what, p, 8);
    this.pos = p + 8;
    return toScratch(this.bytes, p, 8).getBigInt64(0);
  }

  f32(what: string): number {
    const p = this.pos;
    if (p + 4 > this.end) throw this.truncated(what, p, 4);
    this.pos = p + 4;
    return toScratch(this.bytes, p, 4).getFloat32(0);
  }

  f64(what: string): number {
    const p = this.pos;
    if (p + 8 > this.end) throw this.truncated(what, p, 8);
    this.pos = p + 8;
    return toScratch(this.bytes, p, 8).getFloat64(0);
  }

  shortstr(what: string): AmqpString {
    const p = this.pos;
    if (p + 1 > this.end) throw this.truncated(what, p, 1);
    const start = p + 1;
    const end = start + this.bytes[p]!;
    if (end > this.end) throw this.truncated(what, p, end - p);
    this.pos = end;
    return decodeAmqpString(this.bytes, start, end);
  }

  longstr(what: string): AmqpString {
    const p = this.pos;
    const size = this.u32(what);
    const end = p + 4 + size;
    if (end > this.end) throw this.truncated(what, p, 4 + size);
    this.pos = end;
    return decodeAmqpString(this.bytes, p + 4, end);
  }

  /** A field-table key (shortstr, decoded losslessly to a JS string). */
  key(): string {
    const p = this.pos;
    if (p + 1 > this.end) throw this.truncated('field-table key', p, 1);
    const start = p + 1;
    const end = start + this.bytes[p]!;
    if (end > this.end) throw this.truncated('field-table key', p, end - p);
    this.pos = end;
    return decodeKey(this.bytes, start, end);
  }

  /** A copy of the next `size` bytes (copied so values do not pin the frame's buffer). */
  copy(size: number, what: string, at: number): Uint8Array {
    const p = this.pos;
    if (p + size > this.end) throw this.truncated(what, at, p - at + size);
    this.pos = p + size;
    return this.bytes.slice(p, p + size);
  }
}

/** Writes into a buffer sized beforehand; big-endian. */
export class WireWriter {
  constructor(
    readonly bytes: Uint8Array,
    public pos = 0,
  ) {}

  u8(v: number): void {
    this.bytes[this.pos++] = v;
  }

  u16(v: number): void {
    const b = this.bytes;
    const p = this.pos;
    b[p] = v >>> 8;
    b[p + 1] = v;
    this.pos = p + 2;
  }

  u32(v: number): void {
    const b = this.bytes;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  u64(v: bigint): void {
    scratchView.setBigUint64(0, v);
    fromScratch(this.bytes, this.pos, 8);
    this.pos += 8;
  }

  i64(v: bigint): void {
    scratchView.setBigInt64(0, v);
    fromScratch(this.bytes, this.pos, 8);
    this.pos += 8;
  }

  f32(v: number): void {
    scratchView.setFloat32(0, v);
    fromScratch(this.bytes, this.pos, 4);
    this.pos += 4;
  }

  f64(v: number): void {
    scratchView.setFloat64(0, v);
    fromScratch(this.bytes, this.pos, 8);
    this.pos += 8;
  }
}
