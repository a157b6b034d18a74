// Writes a classic pcap file holding one TCP connection's two byte streams, so Wireshark's
// tshark can dissect a captured session that was saved as raw bytes.

const MSS = 1400;

interface Endpoint {
  readonly ip: readonly [number, number, number, number];
  readonly port: number;
}

/** Segments of both directions alternate (client first) so each side's replies follow its requests. */
export function tcpSessionPcap(c2s: Uint8Array, s2c: Uint8Array, serverPort = 5672): Buffer {
  const client: Endpoint = { ip: [127, 0, 0, 1], port: 40000 };
  const server: Endpoint = { ip: [127, 0, 0, 2], port: serverPort };
  const packets: Buffer[] = [];
  let clientSeq = 1000;
  let serverSeq = 5000;
  let ts = 0;
  const push = (from: Endpoint, to: Endpoint, seq: number, ack: number, flags: number, data: Uint8Array) => {
    packets.push(record(ts++, ipv4Tcp(from, to, seq, ack, flags, data)));
  };
  const SYN = 0x02,
    ACK = 0x10,
    PSH = 0x08;
  push(client, server, clientSeq - 1, 0, SYN, new Uint8Array(0));
  push(server, client, serverSeq - 1, clientSeq, SYN | ACK, new Uint8Array(0));
  push(client, server, clientSeq, serverSeq, ACK, new Uint8Array(0));
  let ci = 0;
  let si = 0;
  // The protocol header goes alone, as clients send it: Wireshark detects the version from it.
  if (c2s.length >= 8 && c2s[0] === 0x41 && c2s[1] === 0x4d && c2s[2] === 0x51 && c2s[3] === 0x50) {
    push(client, server, clientSeq, serverSeq, ACK | PSH, c2s.subarray(0, 8));
    clientSeq += 8;
    ci = 8;
  }
  while (ci < c2s.length || si < s2c.length) {
    if (ci < c2s.length) {
      const piece = c2s.subarray(ci, ci + MSS);
      push(client, server, clientSeq, serverSeq, ACK | PSH, piece);
      clientSeq += piece.length;
      ci += piece.length;
    }
    if (si < s2c.length) {
      const piece = s2c.subarray(si, si + MSS);
      push(server, client, serverSeq, clientSeq, ACK | PSH, piece);
      serverSeq += piece.length;
      si += piece.length;
    }
  }
  const globalHeader = Buffer.alloc(24);
  globalHeader.writeUInt32LE(0xa1b2c3d4, 0);
  globalHeader.writeUInt16LE(2, 4);
  globalHeader.writeUInt16LE(4, 6);
  globalHeader.writeUInt32LE(65535, 16);
  globalHeader.writeUInt32LE(101, 20); // LINKTYPE_RAW: packets start at the IP header
  return Buffer.concat([globalHeader, ...packets]);
}

function record(index: number, packet: Buffer): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32LE(1_700_000_000 + Math.floor(index / 1000), 0);
  header.writeUInt32LE((index % 1000) * 1000, 4);
  header.writeUInt32LE(packet.length, 8);
  header.writeUInt32LE(packet.length, 12);
  return Buffer.concat([header, packet]);
}

function ipv4Tcp(from: Endpoint, to: Endpoint, seq: number, ack: number, flags: number, data: Uint8Array): Buffer {
  const ip = Buffer.alloc(20);
  const tcp = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(40 + data.length, 2);
  ip[8] = 64;
  ip[9] = 6; // TCP
  ip.set(from.ip, 12);
  ip.set(to.ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  tcp.writeUInt16BE(from.port, 0);
  tcp.writeUInt16BE(to.port, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(ack >>> 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  tcp.writeUInt16BE(65535, 14);
  return Buffer.concat([ip, tcp, data]);
}

function checksum(bytes: Buffer): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
