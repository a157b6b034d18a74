// Writes AMQP connections as a pcapng capture Wireshark reads as real TCP: per connection a
// three-way handshake, then each direction's bytes in segments of at most MSS bytes with
// consistent sequence and acknowledgement numbers and checksums, then FIN (or RST) as the
// connection ended. Raw IP link type (IPv4 or IPv6 as the endpoints are); one section, one
// interface, microsecond timestamps. Blocks are batched into large writes.

import net from 'node:net';
import type { Direction, Endpoint } from '../events.js';
import { LINKTYPE_RAW } from './tcp-packet.js';

/** What Linux advertises on Ethernet; every segment written is at most this long. */
export const EXPORT_MSS = 1460;
const BATCH_BYTES = 1024 * 1024;
const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const RST = 0x04;

interface Side {
  /** IPv4 (4 bytes) or IPv6 (16 bytes) */
  readonly ip: Uint8Array;
  readonly port: number;
  /** sequence number of the next byte this side sends */
  seq: number;
}

interface WrittenConnection {
  readonly client: Side;
  readonly server: Side;
  readonly ipVersion: 4 | 6;
  closed: boolean;
}

export class PcapngWriter {
  private batch = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;
  private readonly connections = new Map<number, WrittenConnection>();
  /** endpoints that are names, not addresses, given stand-in addresses (192.0.2.x / 2001:db8::x) */
  private readonly standIns = new Map<string, Uint8Array>();
  packets = 0;

  constructor(
    private readonly write: (bytes: Buffer) => void,
    tool: string,
  ) {
    const app = Buffer.from(tool, 'utf8');
    // SHB: byte-order magic, version 1.0, section length unknown, shb_userappl
    this.block(0x0a0d0d0a, [u32(0x1a2b3c4d), u16(1), u16(0), Buffer.alloc(8, 0xff), option(4, app), option(0, Buffer.alloc(0))]);
    // IDB: raw IP, no snaplen limit, if_tsresol 6 (µs, the default, said anyway)
    this.block(1, [u16(LINKTYPE_RAW), u16(0), u32(0), option(9, Buffer.from([6])), option(0, Buffer.alloc(0))]);
  }

  /** Names this writer had to replace with stand-in addresses (for a notice). */
  get replacedNames(): string[] {
    return [...this.standIns.keys()];
  }

  /** A connection opens: SYN, SYN-ACK, ACK at `ts`. */
  open(id: number, client: Endpoint, server: Endpoint, ts: number): void {
    let clientIp = this.address(client.address);
    let serverIp = this.address(server.address);
    // one family for both ends: an IPv4 end of an IPv6 connection becomes IPv4-mapped
    if (clientIp.length !== serverIp.length) {
      clientIp = mapped(clientIp);
      serverIp = mapped(serverIp);
    }
    const isn = (n: number) => (Math.imul(id, 2654435761) + n) >>> 0;
    const conn: WrittenConnection = {
      client: { ip: clientIp, port: client.port, seq: isn(1) },
      server: { ip: serverIp, port: server.port, seq: isn(0x5eed) },
      ipVersion: clientIp.length === 4 ? 4 : 6,
      closed: false,
    };
    this.connections.set(id, conn);
    this.segment(conn, 'c2s', SYN, EMPTY, ts, true);
    this.segment(conn, 's2c', SYN | ACK, EMPTY, ts, true);
    this.segment(conn, 'c2s', ACK, EMPTY, ts);
  }

  /** Bytes one side sent, cut into segments of at most EXPORT_MSS. */
  data(id: number, dir: Direction, bytes: Uint8Array, ts: number): void {
    const conn = this.connections.get(id);
    if (conn === undefined || conn.closed) return;
    for (let at = 0; at < bytes.length; at += EXPORT_MSS) this.segment(conn, dir, ACK | PSH, bytes.subarray(at, at + EXPORT_MSS), ts);
  }

  /**
   * Bytes whose content is not known (withheld from a recording): their sequence numbers are
   * skipped, so Wireshark shows a segment not captured rather than invented bytes.
   */
  skip(id: number, dir: Direction, length: number): void {
    const conn = this.connections.get(id);
    if (conn === undefined) return;
    const side = dir === 'c2s' ? conn.client : conn.server;
    side.seq = (side.seq + length) >>> 0;
  }

  /** The connection ends: FIN from `by`, the peer's FIN, the last ACK; or a RST. */
  close(id: number, by: Direction, reset: boolean, ts: number): void {
    const conn = this.connections.get(id);
    if (conn === undefined || conn.closed) return;
    conn.closed = true;
    this.connections.delete(id);
    if (reset) {
      this.segment(conn, by, RST | ACK, EMPTY, ts);
      return;
    }
    const other: Direction = by === 'c2s' ? 's2c' : 'c2s';
    this.segment(conn, by, FIN | ACK, EMPTY, ts, true);
    this.segment(conn, other, FIN | ACK, EMPTY, ts, true);
    this.segment(conn, by, ACK, EMPTY, ts);
  }

  /** Writes what is batched. */
  flush(): void {
    if (this.used === 0) return;
    // the batch is handed over whole; a new one is started (write may keep it)
    this.write(this.batch.subarray(0, this.used));
    this.batch = Buffer.allocUnsafe(BATCH_BYTES);
    this.used = 0;
  }

  /** One TCP segment in an Enhanced Packet Block; a SYN or FIN takes one sequence number. */
  private segment(conn: WrittenConnection, dir: Direction, flags: number, payload: Uint8Array, ts: number, takesSeq = false): void {
    const from = dir === 'c2s' ? conn.client : conn.server;
    const to = dir === 'c2s' ? conn.server : conn.client;
    const ipHeader = conn.ipVersion === 4 ? 20 : 40;
    // SYNs carry the MSS option
    const tcpHeader = flags & SYN ? 24 : 20;
    const length = ipHeader + tcpHeader + payload.length;
    const padded = (length + 3) & ~3;
    const blockLength = 32 + padded;
    this.reserve(blockLength);
    const b = this.batch;
    const start = this.used;
    b.writeUInt32LE(6, start);
    b.writeUInt32LE(blockLength, start + 4);
    b.writeUInt32LE(0, start + 8);
    b.writeUInt32LE(Math.floor(ts / 4294967296), start + 12);
    b.writeUInt32LE((ts % 4294967296) >>> 0, start + 16);
    b.writeUInt32LE(length, start + 20);
    b.writeUInt32LE(length, start + 24);
    const p = start + 28;
    b.fill(0, p, p + padded);
    if (conn.ipVersion === 4) {
      b[p] = 0x45;
      b.writeUInt16BE(length, p + 2);
      b.writeUInt16BE(this.packets & 0xffff, p + 4);
      b[p + 6] = 0x40; // don't fragment
      b[p + 8] = 64;
      b[p + 9] = 6;
      b.set(from.ip, p + 12);
      b.set(to.ip, p + 16);
      b.writeUInt16BE(checksum(b, p, p + 20, 0), p + 10);
    } else {
      b[p] = 0x60;
      b.writeUInt16BE(tcpHeader + payload.length, p + 4);
      b[p + 6] = 6;
      b[p + 7] = 64;
      b.set(from.ip, p + 8);
      b.set(to.ip, p + 24);
    }
    const t = p + ipHeader;
    b.writeUInt16BE(from.port, t);
    b.writeUInt16BE(to.port, t + 2);
    b.writeUInt32BE(from.seq, t + 4);
    b.writeUInt32BE(flags & ACK ? to.seq : 0, t + 8);
    b[t + 12] = (tcpHeader / 4) << 4;
    b[t + 13] = flags;
    b.writeUInt16BE(65535, t + 14);
    if (flags & SYN) {
      b[t + 20] = 2;
      b[t + 21] = 4;
      b.writeUInt16BE(EXPORT_MSS, t + 22);
    }
    b.set(payload, t + tcpHeader);
    // the pseudo-header's sum, then the segment's
    const tcpLength = tcpHeader + payload.length;
    let pseudo = 6 + tcpLength;
    for (const ip of [from.ip, to.ip]) for (let i = 0; i < ip.length; i += 2) pseudo += (ip[i]! << 8) | ip[i + 1]!;
    b.writeUInt16BE(checksum(b, t, t + tcpLength, pseudo), t + 16);
    b.writeUInt32LE(blockLength, start + blockLength - 4);
    this.used += blockLength;
    this.packets++;
    from.seq = (from.seq + payload.length + (takesSeq ? 1 : 0)) >>> 0;
  }

  private reserve(n: number): void {
    if (this.used + n <= this.batch.length) return;
    this.flush();
    if (n > this.batch.length) this.batch = Buffer.allocUnsafe(n);
  }

  private block(type: number, body: Buffer[]): void {
    const content = Buffer.concat(body);
    const length = 12 + content.length;
    this.reserve(length);
    const b = this.batch;
    b.writeUInt32LE(type, this.used);
    b.writeUInt32LE(length, this.used + 4);
    content.copy(b, this.used + 8);
    b.writeUInt32LE(length, this.used + 8 + content.length);
    this.used += length;
  }

  private address(text: string): Uint8Array {
    const v4 = text.startsWith('::ffff:') && net.isIPv4(text.slice(7)) ? text.slice(7) : text;
    if (net.isIPv4(v4)) return Uint8Array.from(v4.split('.').map(Number));
    if (net.isIPv6(text)) return ipv6Bytes(text);
    let standIn = this.standIns.get(text);
    if (standIn === undefined) {
      // a host name (an upstream given by name): TEST-NET-1, one address per name
      standIn = Uint8Array.from([192, 0, 2, 1 + (this.standIns.size % 254)]);
      this.standIns.set(text, standIn);
    }
    return standIn;
  }
}

const EMPTY = new Uint8Array(0);

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}
function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}
/** A pcapng option: code, length, value padded to 4 bytes. */
function option(code: number, value: Buffer): Buffer {
  const padded = Buffer.alloc(4 + ((value.length + 3) & ~3));
  padded.writeUInt16LE(code, 0);
  padded.writeUInt16LE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

function mapped(ip: Uint8Array): Uint8Array {
  if (ip.length === 16) return ip;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(ip, 12);
  return out;
}

function ipv6Bytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  const zone = text.indexOf('%');
  const address = zone >= 0 ? text.slice(0, zone) : text;
  const [head = '', tail] = address.split('::');
  const groups = (s: string | undefined): number[] => {
    if (s === undefined || s === '') return [];
    const parts = s.split(':');
    const last = parts.at(-1)!;
    // a trailing dotted quad (::ffff:1.2.3.4)
    if (last.includes('.')) {
      const q = last.split('.').map(Number);
      parts.splice(-1, 1, ((q[0]! << 8) | q[1]!).toString(16), ((q[2]! << 8) | q[3]!).toString(16));
    }
    return parts.map((g) => Number.parseInt(g, 16));
  };
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** The Internet checksum of b[from..to) plus `initial` (a pseudo-header's sum). */
function checksum(b: Buffer, from: number, to: number, initial: number): number {
  let sum = initial;
  let i = from;
  for (; i + 1 < to; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < to) sum += b[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
