// Synthetic captures for the tests, written independently of src/capture: a TCP conversation
// as packets (which a test may reorder, duplicate, drop or cut), then a pcap or pcapng file
// with any of the link layers the reader supports.

export interface TcpPacket {
  ts: number;
  fromClient: boolean;
  seq: number;
  ack: number;
  flags: number;
  data: Uint8Array;
}

export const SYN = 0x02;
export const ACK = 0x10;
export const PSH = 0x08;
export const FIN = 0x01;
export const RST = 0x04;

export interface ConversationOptions {
  readonly mss?: number;
  /** µs of the first packet */
  readonly start?: number;
  readonly clientIsn?: number;
  readonly serverIsn?: number;
  /** leave out the SYN handshake (a capture that starts mid-stream) */
  readonly handshake?: boolean;
  readonly fin?: boolean;
}

/**
 * A connection: handshake, the client's bytes then the server's in alternating segments of at
 * most `mss` bytes, each acknowledged by the next segment of the other side, then FINs.
 */
export function conversation(c2s: Uint8Array, s2c: Uint8Array, options: ConversationOptions = {}): TcpPacket[] {
  const mss = options.mss ?? 1400;
  let ts = options.start ?? 1_700_000_000_000_000;
  let cseq = options.clientIsn ?? 1000;
  let sseq = options.serverIsn ?? 900_000;
  const out: TcpPacket[] = [];
  const push = (fromClient: boolean, flags: number, data: Uint8Array = new Uint8Array(0)) => {
    out.push({ ts: ts++, fromClient, seq: fromClient ? cseq : sseq, ack: fromClient ? sseq : cseq, flags, data });
    if (fromClient) cseq = (cseq + data.length + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
    else sseq = (sseq + data.length + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
  };
  if (options.handshake !== false) {
    out.push({ ts: ts++, fromClient: true, seq: cseq, ack: 0, flags: SYN, data: new Uint8Array(0) });
    cseq = (cseq + 1) >>> 0;
    push(false, SYN | ACK);
    push(true, ACK);
  }
  let ci = 0;
  let si = 0;
  while (ci < c2s.length || si < s2c.length) {
    if (ci < c2s.length) {
      const piece = c2s.subarray(ci, ci + mss);
      push(true, ACK | PSH, piece);
      ci += piece.length;
    }
    if (si < s2c.length) {
      const piece = s2c.subarray(si, si + mss);
      push(false, ACK | PSH, piece);
      si += piece.length;
    }
  }
  if (options.fin !== false) {
    push(true, FIN | ACK);
    push(false, FIN | ACK);
    push(true, ACK);
  }
  return out;
}

export type LinkLayer = 'ethernet' | 'vlan' | 'qinq' | 'sll' | 'sll2' | 'null' | 'raw';
export type FileFormat = 'pcap' | 'pcap-be' | 'pcap-ns' | 'pcapng' | 'pcapng-be';

export interface CaptureFileOptions {
  readonly format?: FileFormat;
  readonly link?: LinkLayer;
  readonly ip?: 4 | 6;
  /** bytes of each packet kept (the rest is cut, as tcpdump -s does) */
  readonly snaplen?: number;
  readonly clientPort?: number;
  readonly serverPort?: number;
}

const LINKTYPES: Record<LinkLayer, number> = { ethernet: 1, vlan: 1, qinq: 1, sll: 113, sll2: 276, null: 0, raw: 101 };

export function captureFile(packets: readonly TcpPacket[], options: CaptureFileOptions = {}): Buffer {
  const format = options.format ?? 'pcap';
  const link = options.link ?? 'ethernet';
  const ip = options.ip ?? 4;
  const snaplen = options.snaplen ?? 262144;
  const frames = packets.map((p) => ({ ts: p.ts, bytes: linkFrame(link, ip, ipPacket(ip, p, options.clientPort ?? 40000, options.serverPort ?? 5672)) }));
  const parts: Buffer[] = [];
  if (format.startsWith('pcapng')) {
    const le = format === 'pcapng';
    parts.push(block(le, 0x0a0d0d0a, u32(le, 0x1a2b3c4d), u16(le, 1), u16(le, 0), Buffer.alloc(8, 0xff)));
    // a second interface of another link type first, so packets name interface 1
    parts.push(block(le, 1, u16(le, 147), u16(le, 0), u32(le, 0)));
    parts.push(block(le, 1, u16(le, LINKTYPES[link]), u16(le, 0), u32(le, snaplen), Buffer.from([9, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0])));
    for (const f of frames) {
      const cut = f.bytes.subarray(0, snaplen);
      const padded = Buffer.concat([cut, Buffer.alloc((4 - (cut.length % 4)) % 4)]);
      const high = Math.floor(f.ts / 2 ** 32);
      const low = f.ts % 2 ** 32;
      parts.push(block(le, 6, u32(le, 1), u32(le, high), u32(le, low), u32(le, cut.length), u32(le, f.bytes.length), padded));
    }
    return Buffer.concat(parts);
  }
  const le = format !== 'pcap-be';
  const header = Buffer.alloc(24);
  const w32 = (v: number, at: number, b: Buffer) => (le ? b.writeUInt32LE(v >>> 0, at) : b.writeUInt32BE(v >>> 0, at));
  const w16 = (v: number, at: number, b: Buffer) => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  w32(format === 'pcap-ns' ? 0xa1b23c4d : 0xa1b2c3d4, 0, header);
  w16(2, 4, header);
  w16(4, 6, header);
  w32(snaplen, 16, header);
  w32(LINKTYPES[link], 20, header);
  parts.push(header);
  for (const f of frames) {
    const cut = f.bytes.subarray(0, snaplen);
    const h = Buffer.alloc(16);
    w32(Math.floor(f.ts / 1e6), 0, h);
    w32(format === 'pcap-ns' ? (f.ts % 1e6) * 1000 : f.ts % 1e6, 4, h);
    w32(cut.length, 8, h);
    w32(f.bytes.length, 12, h);
    parts.push(h, cut);
  }
  return Buffer.concat(parts);
}

function u32(le: boolean, v: number): Buffer {
  const b = Buffer.alloc(4);
  le ? b.writeUInt32LE(v >>> 0) : b.writeUInt32BE(v >>> 0);
  return b;
}
function u16(le: boolean, v: number): Buffer {
  const b = Buffer.alloc(2);
  le ? b.writeUInt16LE(v) : b.writeUInt16BE(v);
  return b;
}
function block(le: boolean, type: number, ...body: Buffer[]): Buffer {
  const content = Buffer.concat(body);
  const length = 12 + content.length;
  return Buffer.concat([u32(le, type), u32(le, length), content, u32(le, length)]);
}

function linkFrame(link: LinkLayer, ip: 4 | 6, packet: Buffer): Buffer {
  const etherType = ip === 4 ? 0x0800 : 0x86dd;
  const et = Buffer.alloc(2);
  et.writeUInt16BE(etherType);
  switch (link) {
    case 'ethernet':
      return Buffer.concat([Buffer.alloc(12, 0x02), et, packet]);
    case 'vlan':
      return Buffer.concat([Buffer.alloc(12, 0x02), Buffer.from([0x81, 0x00, 0x00, 0x2a]), et, packet]);
    case 'qinq':
      return Buffer.concat([Buffer.alloc(12, 0x02), Buffer.from([0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x2a]), et, packet]);
    case 'sll': {
      const h = Buffer.alloc(16);
      h.writeUInt16BE(0, 0);
      h.writeUInt16BE(772, 2);
      h.writeUInt16BE(6, 4);
      h.writeUInt16BE(etherType, 14);
      return Buffer.concat([h, packet]);
    }
    case 'sll2': {
      const h = Buffer.alloc(20);
      h.writeUInt16BE(etherType, 0);
      h.writeUInt32BE(1, 4);
      h.writeUInt16BE(772, 8);
      h[11] = 6;
      return Buffer.concat([h, packet]);
    }
    case 'null': {
      const h = Buffer.alloc(4);
      h.writeUInt32LE(ip === 4 ? 2 : 30);
      return Buffer.concat([h, packet]);
    }
    case 'raw':
      return packet;
  }
}

function ipPacket(ip: 4 | 6, p: TcpPacket, clientPort: number, serverPort: number): Buffer {
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(p.fromClient ? clientPort : serverPort, 0);
  tcp.writeUInt16BE(p.fromClient ? serverPort : clientPort, 2);
  tcp.writeUInt32BE(p.seq >>> 0, 4);
  tcp.writeUInt32BE(p.ack >>> 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = p.flags;
  tcp.writeUInt16BE(65535, 14);
  const segment = Buffer.concat([tcp, p.data]);
  if (ip === 4) {
    const h = Buffer.alloc(20);
    h[0] = 0x45;
    h.writeUInt16BE(20 + segment.length, 2);
    h[6] = 0x40; // don't fragment
    h[8] = 64;
    h[9] = 6;
    h.set(p.fromClient ? [10, 0, 0, 1] : [10, 0, 0, 2], 12);
    h.set(p.fromClient ? [10, 0, 0, 2] : [10, 0, 0, 1], 16);
    return Buffer.concat([h, segment]);
  }
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(segment.length, 4);
  h[6] = 6;
  h[7] = 64;
  const client = Buffer.from('20010db8000000000000000000000001', 'hex');
  const server = Buffer.from('20010db8000000000000000000000002', 'hex');
  h.set(p.fromClient ? client : server, 8);
  h.set(p.fromClient ? server : client, 24);
  return Buffer.concat([h, segment]);
}
