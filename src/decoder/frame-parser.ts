// Incremental AMQP 0-9-1 frame cutter: bytes in, in whatever pieces the socket delivers,
// frames out. Pure (no I/O). Frames inside one chunk are views of it; a frame that spans
// chunks is copied once into a buffer of its exact size.

import { DecodeError } from './errors.js';
import { describeProtocolHeader, parseProtocolHeader, PROTOCOL_HEADER_MAGIC, PROTOCOL_HEADER_SIZE } from './protocol-header.js';
import { FRAME_END, FRAME_HEADER_SIZE, FRAME_METHOD, FRAME_OVERHEAD } from './types.js';
import type { ProtocolHeader, RawFrame } from './types.js';

export interface ProtocolHeaderItem {
  readonly kind: 'protocol-header';
  readonly header: ProtocolHeader;
}

export interface FrameItem {
  readonly kind: 'frame';
  readonly frame: RawFrame;
}

/** Always the last item of its push; the parser stops after it. */
export interface ErrorItem {
  readonly kind: 'error';
  readonly error: DecodeError;
  /**
   * Stream offset of the first byte no item holds: the start of the frame (or protocol
   * header) that failed, at or before the error's offset. From here on the stream is
   * undecoded, so a caller that must account for every byte takes them from here.
   */
  readonly undecodedFrom: number;
  /**
   * The undecoded bytes that came in earlier pushes (a frame or header that began in one),
   * copied; empty when the failing unit began in this push. The rest are in the chunk.
   */
  readonly held: Uint8Array;
}

export type FrameParserOutput = ProtocolHeaderItem | FrameItem | ErrorItem;

export interface FrameParserOptions {
  /** Largest frame accepted, header and end byte included; 0 (the default) means no limit. */
  readonly frameMax?: number;
  /**
   * Whether the stream opens with an 8-byte protocol header: `true` for client→server,
   * `false` for server→client, `'auto'` (default) for either — a stream starting with
   * `A` is read as a header, one starting with a frame type as frames.
   */
  readonly expectProtocolHeader?: boolean | 'auto';
  /**
   * Called with the frame-max of each connection.tune-ok cut from this stream; returns the
   * limit (as `frameMax`) for the frames after it. Applied before the next frame header is
   * read, in the same push too, as a broker reading the stream applies it: a client may send
   * tune-ok and larger frames in one write.
   */
  readonly onTuneOk?: (frameMax: number) => number;
}

/**
 * A frame as cut from the stream. It is also its own output item (`item.frame === item`), so
 * a frame costs one object, not two, on the decode hot path.
 */
export class ParsedFrame implements RawFrame, FrameItem {
  readonly kind = 'frame' as const;
  #payload: Uint8Array | undefined;
  constructor(
    readonly type: number,
    readonly channel: number,
    readonly raw: Uint8Array,
    readonly offset: number,
  ) {}

  /**
   * Made on first use: method and header frames are decoded in place from `raw`, so most
   * frames never need this view (a typed array is costly to create).
   */
  get payload(): Uint8Array {
    return (this.#payload ??= new Uint8Array(this.raw.buffer, this.raw.byteOffset + FRAME_HEADER_SIZE, this.raw.length - FRAME_OVERHEAD));
  }

  get frame(): RawFrame {
    return this;
  }
}

const PHASE_START = 0;
const PHASE_PROTOCOL_HEADER = 1;
const PHASE_FRAMES = 2;
const PHASE_STOPPED = 3;

/**
 * A spanning frame larger than this gets a buffer that grows as its bytes arrive instead of
 * one of its declared size, so a lying size field (up to 4 GiB) cannot allocate memory the
 * peer never sends. Below it, the buffer has the frame's exact size from the start.
 */
const EAGER_ALLOCATION_LIMIT = 16 * 1024 * 1024;

const EMPTY = new Uint8Array(0);

function isFrameType(type: number): boolean {
  return type === 1 || type === 2 || type === 3 || type === 8;
}

function checkFrameMax(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${what} must be an integer from 0 (no limit) to 2^32-1, got ${value}`);
  }
  return value;
}

export class FrameParser {
  private frameMaxValue: number;
  private readonly onTuneOk: ((frameMax: number) => number) | undefined;
  private readonly expectHeader: boolean | 'auto';
  private phase = PHASE_START;
  /** stream offset of the next byte to read */
  private position = 0;
  private failure: DecodeError | undefined = undefined;
  private header: ProtocolHeader | undefined = undefined;
  /** stream offset of the current push's first byte (what came before it is held, if anything) */
  private chunkBase = 0;

  // Protocol header bytes collected so far.
  private readonly headerBytes = new Uint8Array(PROTOCOL_HEADER_SIZE);
  private headerFill = 0;

  // A frame header (7 bytes) split across chunks.
  private readonly frameHead = new Uint8Array(FRAME_HEADER_SIZE);
  private frameHeadFill = 0;
  private frameHeadStart = 0;

  // A frame spanning chunks: `partial` holds its first `partialFill` bytes of `partialSize`.
  private partial: Uint8Array | null = null;
  private partialFill = 0;
  private partialSize = 0;
  private partialType = 0;
  private partialChannel = 0;
  private partialStart = 0;

  constructor(options: FrameParserOptions = {}) {
    this.frameMaxValue = checkFrameMax(options.frameMax ?? 0, 'frameMax');
    this.expectHeader = options.expectProtocolHeader ?? 'auto';
    this.onTuneOk = options.onTuneOk;
  }

  /** Bytes taken from the stream so far (after an error: the error's offset). */
  get offset(): number {
    return this.position;
  }

  /** True after an error (see `error`) or `end()`; later pushes return nothing. */
  get stopped(): boolean {
    return this.phase === PHASE_STOPPED;
  }

  /** Why the parser stopped, if it stopped on a fault. */
  get error(): DecodeError | undefined {
    return this.failure;
  }

  /** The protocol header the stream opened with, if any. */
  get protocolHeader(): ProtocolHeader | undefined {
    return this.header;
  }

  get frameMax(): number {
    return this.frameMaxValue;
  }

  /** Bytes held for an incomplete protocol header or frame. */
  get buffered(): number {
    if (this.phase === PHASE_PROTOCOL_HEADER) return this.headerFill;
    return this.partial !== null ? this.partialFill : this.frameHeadFill;
  }

  /** A copy of the bytes held for an incomplete protocol header or frame (at `offset` in the stream). */
  heldBytes(): Uint8Array {
    if (this.phase === PHASE_PROTOCOL_HEADER) return this.headerBytes.slice(0, this.headerFill);
    if (this.partial !== null) return this.partial.slice(0, this.partialFill);
    return this.frameHead.slice(0, this.frameHeadFill);
  }

  /** Stream offset of the first held byte. */
  get heldOffset(): number {
    if (this.phase === PHASE_PROTOCOL_HEADER) return 0;
    return this.partial !== null ? this.partialStart : this.frameHeadStart;
  }

  /**
   * The next `length` bytes of the stream are not given (a source dropped whole frames for a
   * slow observer): the stream goes on after them. Only at a frame boundary (nothing held);
   * returns false, and skips nothing, otherwise or when stopped.
   */
  skip(length: number): boolean {
    if (this.phase === PHASE_STOPPED || this.phase === PHASE_PROTOCOL_HEADER || this.buffered !== 0) return false;
    this.position += length;
    // what was dropped at the start was the protocol header (or the first frames): frames follow
    if (this.phase === PHASE_START && length > 0) this.phase = PHASE_FRAMES;
    return true;
  }

  /** Applies a negotiated frame-max (0 = no limit) to frames whose header is read from now on. */
  setFrameMax(frameMax: number): void {
    this.frameMaxValue = checkFrameMax(frameMax, 'frameMax');
  }

  /**
   * Feeds the next bytes of the stream. Returns, in stream order, the protocol header (if the
   * stream opens with one), the frames completed by these bytes, and at most one error, last.
   * Never throws. The chunk must not be modified afterwards: frames may be views of it.
   */
  push(chunk: Uint8Array): FrameParserOutput[] {
    const out: FrameParserOutput[] = [];
    if (this.phase === PHASE_STOPPED || chunk.length === 0) return out;
    this.chunkBase = this.position;
    let i = 0;
    if (this.phase !== PHASE_FRAMES) {
      i = this.readStart(chunk, out);
      if (this.phase !== PHASE_FRAMES) return out;
    }
    this.readFrames(chunk, i, out);
    return out;
  }

  /**
   * Tells the parser the stream has ended. Returns a 'truncated' error when it ends inside
   * a protocol header or frame, nothing otherwise; the parser is stopped either way.
   */
  end(): FrameParserOutput[] {
    const out: FrameParserOutput[] = [];
    if (this.phase === PHASE_STOPPED) return out;
    const held = this.buffered;
    if (held > 0) {
      // every held byte came in an earlier push
      this.chunkBase = this.heldOffset + held;
      if (this.phase === PHASE_PROTOCOL_HEADER) {
        this.fail(out, new DecodeError('truncated', `stream ended inside the protocol header after ${held} of 8 bytes`, 0), 0, this.headerBytes);
      } else if (this.partial !== null) {
        this.fail(
          out,
          new DecodeError(
            'truncated',
            `stream ended inside a frame (type ${this.partialType}, channel ${this.partialChannel}) at offset ${this.partialStart}: ` +
              `${this.partialFill} of ${this.partialSize} bytes`,
            this.partialStart,
            { channel: this.partialChannel },
          ),
          this.partialStart,
          this.partial,
        );
      } else {
        this.fail(
          out,
          new DecodeError('truncated', `stream ended inside a frame header at offset ${this.frameHeadStart}: ${held} of 7 bytes`, this.frameHeadStart),
          this.frameHeadStart,
          this.frameHead,
        );
      }
      return out;
    }
    this.phase = PHASE_STOPPED;
    return out;
  }

  /** The stream's first bytes: decides header or frames, collects the header. Returns bytes used. */
  private readStart(c: Uint8Array, out: FrameParserOutput[]): number {
    const base = this.position;
    if (this.phase === PHASE_START) {
      const first = c[0]!;
      if (first === 0x41 && this.expectHeader !== false) {
        this.phase = PHASE_PROTOCOL_HEADER;
      } else if (isFrameType(first) && this.expectHeader !== true) {
        this.phase = PHASE_FRAMES;
        return 0;
      } else {
        const expected =
          this.expectHeader === true
            ? 'an AMQP protocol header'
            : this.expectHeader === false
              ? 'an AMQP frame (a protocol header opens only the client-to-server stream)'
              : 'an AMQP protocol header or frame';
        this.fail(out, notAmqpError(c, 0, base, expected), base);
        return 0;
      }
    }
    const n = c.length;
    let i = 0;
    while (i < n && this.headerFill < PROTOCOL_HEADER_SIZE) {
      const b = c[i]!;
      if (this.headerFill < 4 && b !== PROTOCOL_HEADER_MAGIC[this.headerFill]) {
        // the header's bytes so far are undecoded too
        this.fail(out, notAmqpError(c, i, base + i, 'the "AMQP" protocol header'), 0, this.headerBytes);
        return i;
      }
      this.headerBytes[this.headerFill++] = b;
      i++;
    }
    this.position = base + i;
    if (this.headerFill < PROTOCOL_HEADER_SIZE) return i;
    const headerOffset = this.position - PROTOCOL_HEADER_SIZE;
    const header = parseProtocolHeader(this.headerBytes, 0, headerOffset)!;
    this.header = header;
    out.push({ kind: 'protocol-header', header });
    if (!header.decoded) {
      this.fail(
        out,
        new DecodeError(
          'not-decoded',
          `${describeProtocolHeader(header)}: this tool decodes AMQP 0-9-1 only; the rest of the stream is passed through`,
          this.position,
        ),
        this.position,
      );
      return i;
    }
    this.phase = PHASE_FRAMES;
    return i;
  }

  /** Cuts frames from `c` starting at index `i`. The hot path. */
  private readFrames(c: Uint8Array, i: number, out: FrameParserOutput[]): void {
    const n = c.length;
    const base = this.position - i; // stream offset of c[0]

    if (this.frameHeadFill !== 0) {
      // Finish a frame header begun in an earlier chunk.
      const head = this.frameHead;
      while (this.frameHeadFill < FRAME_HEADER_SIZE && i < n) head[this.frameHeadFill++] = c[i++]!;
      if (this.frameHeadFill < FRAME_HEADER_SIZE) {
        this.position = base + n;
        return;
      }
      this.frameHeadFill = 0;
      const type = head[0]!;
      const channel = (head[1]! << 8) | head[2]!;
      const size = head[3]! * 0x1000000 + ((head[4]! << 16) | (head[5]! << 8) | head[6]!);
      if (!this.beginPartial(type, channel, size, this.frameHeadStart, out, head)) return;
      this.partial!.set(head, 0);
      this.partialFill = FRAME_HEADER_SIZE;
    }

    if (this.partial !== null) {
      i = this.fillPartial(c, i, out);
      if (this.partial !== null || this.phase === PHASE_STOPPED) {
        if (this.phase !== PHASE_STOPPED) this.position = base + n;
        return;
      }
    }

    let frameMax = this.frameMaxValue;
    const arrayBuffer = c.buffer;
    const byteOffset = c.byteOffset;
    while (i < n) {
      const type = c[i]!;
      if (type !== 1 && type !== 2 && type !== 3 && type !== 8) {
        this.fail(out, unknownFrameTypeError(c, i, base + i), base + i);
        return;
      }
      if (n - i < FRAME_HEADER_SIZE) {
        this.frameHeadStart = base + i;
        while (i < n) this.frameHead[this.frameHeadFill++] = c[i++]!;
        break;
      }
      const channel = (c[i + 1]! << 8) | c[i + 2]!;
      const size = c[i + 3]! * 0x1000000 + ((c[i + 4]! << 16) | (c[i + 5]! << 8) | c[i + 6]!);
      const end = i + size + FRAME_OVERHEAD;
      if (end <= n && (frameMax === 0 || size + FRAME_OVERHEAD <= frameMax)) {
        if (c[end - 1] !== FRAME_END) {
          this.fail(out, frameEndError(c[end - 1]!, base + end - 1, type, channel, size, base + i), base + i);
          return;
        }
        // Zero-copy views of the chunk's memory. The constructor is cheaper than subarray (no
        // species lookup), and a Buffer chunk yields plain Uint8Array views.
        const at = byteOffset + i;
        out.push(new ParsedFrame(type, channel, new Uint8Array(arrayBuffer, at, size + FRAME_OVERHEAD), base + i));
        if (channel === 0 && type === FRAME_METHOD && this.onTuneOk !== undefined) frameMax = this.checkTuneOk(c, i, size);
        i = end;
        continue;
      }
      // Too large, or runs past this chunk.
      if (!this.beginPartial(type, channel, size, base + i, out)) return;
      i = this.fillPartial(c, i, out);
      frameMax = this.frameMaxValue; // a tune-ok may have completed in the buffer
      // fillPartial took the rest of the chunk: the frame cannot be complete here.
    }
    this.position = base + n;
  }

  /**
   * Checks a frame header and sets up the buffer of a frame that spans chunks. `head` holds
   * the header when it was put together from earlier pushes.
   */
  private beginPartial(type: number, channel: number, size: number, start: number, out: FrameParserOutput[], head?: Uint8Array): boolean {
    const total = size + FRAME_OVERHEAD;
    if (this.frameMaxValue !== 0 && total > this.frameMaxValue) {
      this.fail(
        out,
        new DecodeError(
          'frame-too-large',
          `frame of ${total} bytes (type ${type}, channel ${channel}, payload ${size}) at offset ${start} exceeds frame-max ${this.frameMaxValue}`,
          start,
          { channel },
        ),
        start,
        head,
      );
      return false;
    }
    let buffer: Uint8Array;
    try {
      buffer = new Uint8Array(Math.min(total, EAGER_ALLOCATION_LIMIT));
    } catch {
      this.fail(out, cannotAllocateError(total, start, channel), start, head);
      return false;
    }
    this.partial = buffer;
    this.partialFill = 0;
    this.partialSize = total;
    this.partialType = type;
    this.partialChannel = channel;
    this.partialStart = start;
    return true;
  }

  /** Copies bytes of the spanning frame from `c`; emits it when complete. Returns the new index. */
  private fillPartial(c: Uint8Array, i: number, out: FrameParserOutput[]): number {
    const n = c.length;
    const take = Math.min(this.partialSize - this.partialFill, n - i);
    const needed = this.partialFill + take;
    let buffer = this.partial!;
    if (needed > buffer.length) {
      // Growing buffer of a frame above EAGER_ALLOCATION_LIMIT: double, at most to its size.
      let grown: Uint8Array;
      try {
        grown = new Uint8Array(Math.min(this.partialSize, Math.max(needed, buffer.length * 2)));
      } catch {
        this.fail(out, cannotAllocateError(this.partialSize, this.partialStart, this.partialChannel), this.partialStart, buffer);
        return n;
      }
      grown.set(buffer.subarray(0, this.partialFill), 0);
      this.partial = buffer = grown;
    }
    buffer.set(i === 0 && take === n ? c : c.subarray(i, i + take), this.partialFill);
    this.partialFill = needed;
    i += take;
    if (needed < this.partialSize) return i;

    const size = this.partialSize;
    const start = this.partialStart;
    this.partial = null;
    const endByte = buffer[size - 1]!;
    if (endByte !== FRAME_END) {
      this.fail(out, frameEndError(endByte, start + size - 1, this.partialType, this.partialChannel, size - FRAME_OVERHEAD, start), start, buffer);
      return i;
    }
    out.push(new ParsedFrame(this.partialType, this.partialChannel, buffer, start));
    if (this.partialChannel === 0 && this.partialType === FRAME_METHOD && this.onTuneOk !== undefined) this.checkTuneOk(buffer, 0, size - FRAME_OVERHEAD);
    return i;
  }

  /** After a method frame on channel 0 at `at`: applies a tune-ok's frame-max. Returns the limit now. */
  private checkTuneOk(c: Uint8Array, at: number, size: number): number {
    const p = at + FRAME_HEADER_SIZE;
    // class 10 method 31, then channel-max (short) and frame-max (long)
    if (size >= 10 && c[p] === 0 && c[p + 1] === 10 && c[p + 2] === 0 && c[p + 3] === 31) {
      const frameMax = c[p + 6]! * 0x1000000 + ((c[p + 7]! << 16) | (c[p + 8]! << 8) | c[p + 9]!);
      this.frameMaxValue = checkFrameMax(this.onTuneOk!(frameMax), 'the frame limit after tune-ok');
    }
    return this.frameMaxValue;
  }

  /**
   * Stops on `error`. The failing unit (frame or protocol header) began at `unitStart`; `unit`
   * holds its first bytes when some of them came in earlier pushes, so they are handed back.
   */
  private fail(out: FrameParserOutput[], error: DecodeError, unitStart: number, unit?: Uint8Array): void {
    const heldLength = this.chunkBase - unitStart;
    const held = heldLength > 0 && unit !== undefined ? unit.slice(0, heldLength) : EMPTY;
    this.phase = PHASE_STOPPED;
    this.failure = error;
    this.position = error.offset;
    this.partial = null;
    this.frameHeadFill = 0;
    out.push({ kind: 'error', error, undecodedFrom: unitStart, held });
  }
}

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, '0')}`;
}

function frameEndError(endByte: number, offset: number, type: number, channel: number, size: number, start: number): DecodeError {
  return new DecodeError(
    'frame-end',
    `frame end byte is ${hex(endByte)}, expected 0xce (frame at offset ${start}: type ${type}, channel ${channel}, payload ${size} bytes)`,
    offset,
    { channel },
  );
}

function unknownFrameTypeError(c: Uint8Array, i: number, offset: number): DecodeError {
  return new DecodeError(
    'unknown-frame-type',
    `unknown frame type ${hex(c[i]!)} at offset ${offset} (expected 1 method, 2 header, 3 body or 8 heartbeat): ${sniff(c, i)}`,
    offset,
  );
}

function cannotAllocateError(total: number, start: number, channel: number): DecodeError {
  return new DecodeError('frame-too-large', `frame of ${total} bytes at offset ${start} is too large to buffer`, start, { channel });
}

function notAmqpError(c: Uint8Array, i: number, offset: number, expected: string): DecodeError {
  return new DecodeError('not-amqp', `not AMQP: expected ${expected} at offset ${offset}, got ${sniff(c, i)}`, offset);
}

const HTTP_STARTS = ['GET ', 'POST', 'PUT ', 'HEAD', 'DELE', 'OPTI', 'PATC', 'CONN', 'TRAC', 'HTTP'];

/** What the bytes at `i` look like, for error messages: a protocol guess and the first bytes. */
function sniff(c: Uint8Array, i: number): string {
  const bytes = c.subarray(i, i + 16);
  const dump = Array.from(bytes, hex).join(' ') + (c.length - i > 16 ? ' ...' : '');
  const text = String.fromCharCode(...bytes.subarray(0, 4));
  let guess = '';
  if (bytes[0] === 0x16 && (bytes.length < 2 || bytes[1] === 0x03)) {
    guess = 'a TLS handshake (is this a TLS port, or should the client use amqps?) ';
  } else if (HTTP_STARTS.includes(text)) {
    guess = 'HTTP ';
  } else if (text === 'PRI ') {
    guess = 'HTTP/2 ';
  } else if (text === 'SSH-') {
    guess = 'SSH ';
  }
  return `${guess}[${dump}]`;
}
