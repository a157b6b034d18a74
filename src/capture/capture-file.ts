// A streaming reader of packet capture files: classic pcap (either byte order, microsecond or
// nanosecond timestamps) and pcapng (sections in either byte order, several interfaces, each
// with its link type and timestamp resolution). Chunks in, packets out: a packet's bytes are a
// view of the chunk when it lies in one, so reading copies only the blocks that span chunks.

import { AmqpSpyError } from '../errors.js';

/** The file is not a capture, or its structure is broken where reading cannot go on. */
export class CaptureFormatError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    readonly source: string,
    /** byte offset in the file of what is wrong */
    readonly fileOffset: number,
    reason: string,
  ) {
    super(`${source}: ${reason}`);
    this.name = 'CaptureFormatError';
  }
}

export interface CapturedPacket {
  /** LINKTYPE_* of the interface it was captured on */
  readonly linkType: number;
  /** microseconds since the Unix epoch */
  readonly ts: number;
  /** the bytes captured (a view: valid until the callback returns unless kept by the caller) */
  readonly data: Uint8Array;
  /** the packet's length on the wire; more than data.length when the snaplen cut it */
  readonly originalLength: number;
}

export interface CaptureFileHandlers {
  readonly onPacket: (packet: CapturedPacket) => void;
  /** something skipped and counted: an unknown block, a packet on an undeclared interface */
  readonly onWarning: (line: string) => void;
}

const PCAP_MICROS = 0xa1b2c3d4;
const PCAP_NANOS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER = 0x1a2b3c4d;
const PCAP_HEADER_SIZE = 24;
const PCAP_RECORD_HEADER_SIZE = 16;
/** tcpdump's largest snaplen is 262144; a record claiming far more is a corrupt file */
const MAX_PACKET_SIZE = 16 * 1024 * 1024;
/** pcapng blocks hold one packet each (or names, statistics): beyond this one is corrupt */
const MAX_BLOCK_SIZE = MAX_PACKET_SIZE + 4096;

const BLOCK_IDB = 1;
const BLOCK_OBSOLETE_PACKET = 2;
const BLOCK_SPB = 3;
const BLOCK_EPB = 6;

interface Interface {
  readonly linkType: number;
  readonly snaplen: number;
  /** timestamp units per second, when not 10^6 (µs); undefined: µs */
  readonly unitsPerSecond: bigint | undefined;
  /** if_tsoffset: seconds added to every timestamp */
  readonly offsetSeconds: number;
}

type Format = 'unknown' | 'pcap' | 'pcapng';

export class CaptureFileReader {
  private format: Format = 'unknown';
  private littleEndian = true;
  /** classic pcap */
  private nanos = false;
  private pcapLinkType = 0;
  /** pcapng: interfaces of the current section */
  private interfaces: Interface[] = [];
  /** chunks holding a header, record or block that spans chunks (at most one block) */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** bytes the unit that did not fit needs in all (0: unknown, any more may do) */
  private need = 0;
  /** file offset of the first byte not yet consumed */
  private fileOffset = 0;
  private readonly undeclaredInterfaces = new Set<number>();
  private readonly skippedBlockTypes = new Set<number>();
  packets = 0;
  /** packets the snaplen cut short */
  truncatedPackets = 0;

  constructor(
    private readonly source: string,
    private readonly handlers: CaptureFileHandlers,
  ) {}

  /** The link type(s) of the capture so far, for messages. */
  get linkTypes(): number[] {
    return this.format === 'pcap' ? [this.pcapLinkType] : [...new Set(this.interfaces.map((i) => i.linkType))];
  }

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.pendingLength > 0) {
      // a unit spanning chunks is joined once, when all of it has come: never a copy per chunk
      this.pending.push(chunk);
      this.pendingLength += chunk.length;
      if (this.pendingLength < this.need) return;
      data = Buffer.concat(this.pending, this.pendingLength);
      this.pending = [];
      this.pendingLength = 0;
    }
    this.need = 0;
    const used = this.consume(data);
    if (used < data.length) {
      this.pending = [data.subarray(used)];
      this.pendingLength = data.length - used;
    }
  }

  /** The input ended: a partial record left is a truncated file (tcpdump stopped mid-write). */
  end(): void {
    if (this.format === 'unknown') {
      if (this.pendingLength < 4) {
        throw new CaptureFormatError(this.source, 0, 'is empty or too short to be a capture');
      }
      throw new CaptureFormatError(this.source, 0, 'ends inside the capture file header (truncated file)');
    }
    const left = this.pendingLength;
    if (left > 0)
      this.handlers.onWarning(`the capture ends inside a packet record at byte ${this.fileOffset} (truncated file): its last ${left} bytes are ignored`);
    this.pending = [];
    this.pendingLength = 0;
  }

  /** Reads whole units from `data`; returns how many bytes were used. */
  private consume(data: Buffer): number {
    let at = 0;
    if (this.format === 'unknown') {
      if (data.length < 4) return 0;
      const be = data.readUInt32BE(0);
      const le = data.readUInt32LE(0);
      if (be === PCAPNG_SHB) this.format = 'pcapng';
      else if (le === PCAP_MICROS || le === PCAP_NANOS) {
        if (data.length < PCAP_HEADER_SIZE) return 0;
        this.readPcapHeader(data, true, le === PCAP_NANOS);
        at = PCAP_HEADER_SIZE;
      } else if (be === PCAP_MICROS || be === PCAP_NANOS) {
        if (data.length < PCAP_HEADER_SIZE) return 0;
        this.readPcapHeader(data, false, be === PCAP_NANOS);
        at = PCAP_HEADER_SIZE;
      } else {
        throw new CaptureFormatError(this.source, 0, 'is not a pcap or pcapng capture (unknown magic number)');
      }
    }
    return this.format === 'pcap' ? this.consumePcap(data, at) : this.consumePcapng(data, at);
  }

  private readPcapHeader(data: Buffer, littleEndian: boolean, nanos: boolean): void {
    this.format = 'pcap';
    this.littleEndian = littleEndian;
    this.nanos = nanos;
    const major = littleEndian ? data.readUInt16LE(4) : data.readUInt16BE(4);
    if (major !== 2) throw new CaptureFormatError(this.source, 4, `pcap version ${major} is not supported (only 2.x)`);
    // the upper bits hold the FCS length flag (LINKTYPE_* are 16 bits)
    this.pcapLinkType = (littleEndian ? data.readUInt32LE(20) : data.readUInt32BE(20)) & 0xffff;
    this.fileOffset = PCAP_HEADER_SIZE;
  }

  private consumePcap(data: Buffer, start: number): number {
    let at = start;
    const le = this.littleEndian;
    const linkType = this.pcapLinkType;
    const handler = this.handlers.onPacket;
    while (data.length - at >= PCAP_RECORD_HEADER_SIZE) {
      const seconds = le ? data.readUInt32LE(at) : data.readUInt32BE(at);
      const fraction = le ? data.readUInt32LE(at + 4) : data.readUInt32BE(at + 4);
      const captured = le ? data.readUInt32LE(at + 8) : data.readUInt32BE(at + 8);
      const original = le ? data.readUInt32LE(at + 12) : data.readUInt32BE(at + 12);
      if (captured > MAX_PACKET_SIZE) {
        throw new CaptureFormatError(this.source, this.fileOffset, `corrupt packet record at byte ${this.fileOffset}: it claims ${captured} bytes`);
      }
      const end = at + PCAP_RECORD_HEADER_SIZE + captured;
      if (end > data.length) {
        this.need = end - at;
        break;
      }
      const ts = seconds * 1_000_000 + (this.nanos ? Math.floor(fraction / 1000) : fraction);
      this.packets++;
      if (captured < original) this.truncatedPackets++;
      handler({ linkType, ts, data: data.subarray(at + PCAP_RECORD_HEADER_SIZE, end), originalLength: original });
      this.fileOffset += end - at;
      at = end;
    }
    return at;
  }

  private consumePcapng(data: Buffer, start: number): number {
    let at = start;
    while (data.length - at >= 12) {
      const rawType = data.readUInt32LE(at);
      if (rawType === PCAPNG_SHB || data.readUInt32BE(at) === PCAPNG_SHB) {
        // a section header sets the byte order of everything up to the next one
        const magic = data.readUInt32LE(at + 8);
        if (magic === PCAPNG_BYTE_ORDER) this.littleEndian = true;
        else if (magic === 0x4d3c2b1a) this.littleEndian = false;
        else throw new CaptureFormatError(this.source, this.fileOffset, `corrupt pcapng section header at byte ${this.fileOffset}: bad byte-order magic`);
        this.interfaces = [];
      }
      const le = this.littleEndian;
      const type = le ? data.readUInt32LE(at) : data.readUInt32BE(at);
      const length = le ? data.readUInt32LE(at + 4) : data.readUInt32BE(at + 4);
      if (length < 12 || length % 4 !== 0 || length > MAX_BLOCK_SIZE) {
        throw new CaptureFormatError(this.source, this.fileOffset, `corrupt pcapng block at byte ${this.fileOffset}: length ${length}`);
      }
      const end = at + length;
      if (end > data.length) {
        this.need = length;
        break;
      }
      const trailer = le ? data.readUInt32LE(end - 4) : data.readUInt32BE(end - 4);
      if (trailer !== length) {
        throw new CaptureFormatError(
          this.source,
          this.fileOffset,
          `corrupt pcapng block at byte ${this.fileOffset}: its trailing length ${trailer} differs from its length ${length}`,
        );
      }
      this.readBlock(type, data, at, length);
      this.fileOffset += length;
      at = end;
    }
    return at;
  }

  private u32(data: Buffer, at: number): number {
    return this.littleEndian ? data.readUInt32LE(at) : data.readUInt32BE(at);
  }

  private readBlock(type: number, data: Buffer, at: number, length: number): void {
    switch (type) {
      case PCAPNG_SHB:
        return;
      case BLOCK_IDB: {
        if (length < 20) throw new CaptureFormatError(this.source, this.fileOffset, `corrupt interface description block at byte ${this.fileOffset}`);
        const linkType = this.littleEndian ? data.readUInt16LE(at + 8) : data.readUInt16BE(at + 8);
        const snaplen = this.u32(data, at + 12);
        this.interfaces.push({ linkType, snaplen, ...this.interfaceOptions(data, at + 16, at + length - 4) });
        return;
      }
      case BLOCK_EPB:
      case BLOCK_OBSOLETE_PACKET: {
        if (length < 32) throw new CaptureFormatError(this.source, this.fileOffset, `corrupt packet block at byte ${this.fileOffset}`);
        const id = type === BLOCK_EPB ? this.u32(data, at + 8) : this.littleEndian ? data.readUInt16LE(at + 8) : data.readUInt16BE(at + 8);
        const high = this.u32(data, at + 12);
        const low = this.u32(data, at + 16);
        const captured = this.u32(data, at + 20);
        const original = this.u32(data, at + 24);
        if (28 + captured > length - 4) {
          throw new CaptureFormatError(this.source, this.fileOffset, `corrupt packet block at byte ${this.fileOffset}: ${captured} bytes do not fit in it`);
        }
        const iface = this.interfaces[id];
        if (iface === undefined) {
          this.undeclared(id);
          return;
        }
        this.packet(iface, this.timestamp(iface, high, low), data.subarray(at + 28, at + 28 + captured), original);
        return;
      }
      case BLOCK_SPB: {
        // no interface id: interface 0; no timestamp: the previous packet's is as good as any
        const iface = this.interfaces[0];
        if (iface === undefined) {
          this.undeclared(0);
          return;
        }
        const original = this.u32(data, at + 8);
        const captured = Math.min(original, length - 16, iface.snaplen === 0 ? Number.MAX_SAFE_INTEGER : iface.snaplen);
        this.packet(iface, this.lastTs, data.subarray(at + 12, at + 12 + captured), original);
        return;
      }
      default:
        // name resolution, statistics, decryption secrets, custom blocks: nothing for us
        if (!this.skippedBlockTypes.has(type) && type !== 4 && type !== 5) {
          this.skippedBlockTypes.add(type);
          if (type !== 10 && (type & 0x80000000) === 0 && type !== 0x00000bad && type !== 0x40000bad)
            this.handlers.onWarning(`pcapng block type 0x${type.toString(16)} at byte ${this.fileOffset} is not known: skipped (and any more of its type)`);
        }
    }
  }

  private lastTs = 0;

  private packet(iface: Interface, ts: number, bytes: Uint8Array, original: number): void {
    this.lastTs = ts;
    this.packets++;
    if (bytes.length < original) this.truncatedPackets++;
    this.handlers.onPacket({ linkType: iface.linkType, ts, data: bytes, originalLength: original });
  }

  private undeclared(id: number): void {
    if (this.undeclaredInterfaces.has(id)) return;
    this.undeclaredInterfaces.add(id);
    this.handlers.onWarning(`packets on interface ${id} at byte ${this.fileOffset}, which no interface block declared: skipped`);
  }

  /** µs since the epoch; 64-bit timestamps in other units go through bigint (ns since the epoch exceed 2^53). */
  private timestamp(iface: Interface, high: number, low: number): number {
    if (iface.unitsPerSecond === undefined) return high * 4294967296 + low + iface.offsetSeconds * 1_000_000;
    const units = (BigInt(high) << 32n) | BigInt(low);
    return Number((units * 1_000_000n) / iface.unitsPerSecond) + iface.offsetSeconds * 1_000_000;
  }

  private interfaceOptions(data: Buffer, from: number, to: number): Pick<Interface, 'unitsPerSecond' | 'offsetSeconds'> {
    let unitsPerSecond: bigint | undefined;
    let offsetSeconds = 0;
    let at = from;
    while (at + 4 <= to) {
      const code = this.littleEndian ? data.readUInt16LE(at) : data.readUInt16BE(at);
      const length = this.littleEndian ? data.readUInt16LE(at + 2) : data.readUInt16BE(at + 2);
      if (code === 0) break;
      const value = at + 4;
      if (value + length > to) break;
      if (code === 9 && length >= 1) {
        // if_tsresol: a power of ten, or of two with the high bit set
        const r = data[value]!;
        const units = r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r);
        unitsPerSecond = units === 1_000_000n ? undefined : units;
      } else if (code === 14 && length >= 8) {
        offsetSeconds = Number(this.littleEndian ? data.readBigInt64LE(value) : data.readBigInt64BE(value));
      }
      at = value + ((length + 3) & ~3);
    }
    return { unitsPerSecond, offsetSeconds };
  }
}
