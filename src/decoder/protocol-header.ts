// The 8-byte protocol header that opens an AMQP connection: "AMQP" and four version octets.
// 0-9-1 is decoded further, and so is 0-9, which RabbitMQ accepts and speaks as 0-9-1 (same
// framing and methods); other versions are named so the user sees what the peer spoke.

import type { ProtocolHeader, ProtocolName } from './types.js';

export const PROTOCOL_HEADER_SIZE = 8;

/** 'A' 'M' 'Q' 'P' */
export const PROTOCOL_HEADER_MAGIC: readonly number[] = [0x41, 0x4d, 0x51, 0x50];

export type ProtocolVersion = readonly [number, number, number, number];

/** The four octets after `AMQP` that a 0-9-1 client sends. */
export const AMQP_0_9_1_VERSION: ProtocolVersion = [0, 0, 9, 1];

interface KnownHeader {
  readonly version: ProtocolVersion;
  readonly protocol: ProtocolName;
}

// Forms seen on the wire (RabbitMQ's rabbit_reader accepts the first four 0-x forms).
// Before 0-9-1 the octets were class, instance, major, minor.
const KNOWN_HEADERS: readonly KnownHeader[] = [
  { version: [0, 0, 9, 1], protocol: 'AMQP 0-9-1' },
  { version: [1, 1, 0, 9], protocol: 'AMQP 0-9' },
  // What most 0-8 clients send: the 0-8 spec numbers itself major 8, minor 0.
  { version: [1, 1, 8, 0], protocol: 'AMQP 0-8' },
  // The 0-8 spec as published on the web gives this header; py-amqplib sends it for 0-8.
  { version: [1, 1, 9, 1], protocol: 'AMQP 0-8' },
  // Tolerated spelling of 0-8 in the 0-9 style (major 0, minor 8); no known client sends it.
  { version: [1, 1, 0, 8], protocol: 'AMQP 0-8' },
  // AMQP 1.0: protocol id, major, minor, revision.
  { version: [0, 1, 0, 0], protocol: 'AMQP 1.0' },
  { version: [3, 1, 0, 0], protocol: 'AMQP 1.0 SASL' },
  { version: [2, 1, 0, 0], protocol: 'AMQP 1.0 TLS' },
];

/** True when `bytes` holds the complete "AMQP" magic at `at` (at least 4 bytes). */
export function startsWithProtocolMagic(bytes: Uint8Array, at = 0): boolean {
  return bytes.length - at >= 4 && bytes[at] === 0x41 && bytes[at + 1] === 0x4d && bytes[at + 2] === 0x51 && bytes[at + 3] === 0x50;
}

/** Names the protocol a version quadruple stands for ('unknown AMQP' when none matches). */
export function protocolNameOf(version: ProtocolVersion): ProtocolName {
  for (const known of KNOWN_HEADERS) {
    const v = known.version;
    if (v[0] === version[0] && v[1] === version[1] && v[2] === version[2] && v[3] === version[3]) {
      return known.protocol;
    }
  }
  return 'unknown AMQP';
}

/**
 * Reads a protocol header from 8 bytes at `at`. Returns undefined when fewer than 8 bytes are
 * there or they do not start with "AMQP". `raw` is a copy, so it outlives the caller's buffer.
 */
export function parseProtocolHeader(bytes: Uint8Array, at = 0, streamOffset = at): ProtocolHeader | undefined {
  if (bytes.length - at < PROTOCOL_HEADER_SIZE || !startsWithProtocolMagic(bytes, at)) return undefined;
  const version: ProtocolVersion = [bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!, bytes[at + 7]!];
  const protocol = protocolNameOf(version);
  return {
    protocol,
    version,
    decoded: isDecodedAs091(protocol),
    raw: bytes.slice(at, at + PROTOCOL_HEADER_SIZE),
    offset: streamOffset,
  };
}

/**
 * Whether a stream opened with this protocol is decoded: 0-9-1, and 0-9, which RabbitMQ's
 * reader runs with its 0-9-1 framing (a client opening with `AMQP 1 1 0 9` gets a 0-9-1
 * session, credentials and all, so it must be decoded and its secrets masked like one).
 */
export function isDecodedAs091(protocol: ProtocolName): boolean {
  return protocol === 'AMQP 0-9-1' || protocol === 'AMQP 0-9';
}

/** The header a 0-9-1 client sends: `AMQP 0 0 9 1`. */
export function encodeProtocolHeader(): Uint8Array {
  return Uint8Array.of(0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1);
}

/** e.g. `AMQP 0-9-1 (AMQP 0 0 9 1)` or `AMQP 1.0 SASL (AMQP 3 1 0 0), not decoded`. */
export function describeProtocolHeader(header: Pick<ProtocolHeader, 'protocol' | 'version' | 'decoded'>): string {
  const v = header.version;
  const octets = `AMQP ${v[0]} ${v[1]} ${v[2]} ${v[3]}`;
  let name: string = header.protocol;
  if (header.protocol === 'unknown AMQP') {
    // Qpid's 0-10 is the one other version seen in practice; ProtocolName has no member for it.
    name = v[0] === 1 && v[1] === 1 && v[2] === 0 && v[3] === 10 ? 'AMQP 0-10' : 'unknown AMQP version';
  }
  if (!header.decoded) return `${name} (${octets}), not decoded`;
  return header.protocol === 'AMQP 0-9-1' ? `${name} (${octets})` : `${name} (${octets}), decoded as 0-9-1`;
}
