// From a captured packet to its TCP segment: the link layers a capture of AMQP traffic meets
// (Ethernet with VLAN tags, Linux cooked SLL and SLL2, BSD loopback/NULL, raw IP), then IPv4
// or IPv6, then TCP. No copies: the payload is a view of the packet.

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
/** OpenBSD's DLT_RAW value (12) and LINKTYPE_RAW (101): the packet starts at the IP header */
export const LINKTYPE_RAW = 101;
const DLT_RAW_OPENBSD = 12;
const DLT_RAW_BSD = 14;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

const LINK_NAMES: Readonly<Record<number, string>> = {
  [LINKTYPE_NULL]: 'BSD loopback (NULL)',
  [LINKTYPE_ETHERNET]: 'Ethernet',
  [DLT_RAW_OPENBSD]: 'raw IP',
  [DLT_RAW_BSD]: 'raw IP',
  [LINKTYPE_RAW]: 'raw IP',
  [LINKTYPE_LOOP]: 'OpenBSD loopback',
  [LINKTYPE_LINUX_SLL]: 'Linux cooked (SLL)',
  [LINKTYPE_IPV4]: 'raw IPv4',
  [LINKTYPE_IPV6]: 'raw IPv6',
  [LINKTYPE_LINUX_SLL2]: 'Linux cooked v2 (SLL2)',
};

/** Whether packets of this link type can be read. */
export function isSupportedLinkType(linkType: number): boolean {
  return LINK_NAMES[linkType] !== undefined;
}

/** `Ethernet (link type 1)`; an unknown one by its number: `link type 147`. */
export function describeLinkType(linkType: number): string {
  const name = LINK_NAMES[linkType];
  return name === undefined ? `link type ${linkType}` : `${name} (link type ${linkType})`;
}

export const SUPPORTED_LINK_TYPES = 'Ethernet (with VLAN tags), Linux cooked SLL and SLL2, BSD/OpenBSD loopback, raw IP';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

/** One TCP segment. Addresses are keys (compact, comparable); `describeAddress` words them. */
export interface TcpSegment {
  /** IPv4: the address as a number; IPv6: 32 hex digits */
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly ipVersion: 4 | 6;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  /** the payload bytes captured */
  readonly payload: Uint8Array;
  /** payload bytes the segment carried on the wire (more than payload.length when the snaplen cut it) */
  readonly payloadLength: number;
}

/** Why a packet yields no segment: counted per reason by the caller. */
export type NotTcp = 'not-ip' | 'not-tcp' | 'fragment' | 'truncated-headers';

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;

/** The segment in `packet`, or why there is none. `originalLength`: the packet's length on the wire. */
export function tcpSegmentOf(linkType: number, packet: Uint8Array, originalLength: number): TcpSegment | NotTcp {
  let at: number;
  let etherType: number;
  const p = packet;
  switch (linkType) {
    case LINKTYPE_ETHERNET: {
      at = 12;
      if (p.length < 14) return 'truncated-headers';
      etherType = (p[12]! << 8) | p[13]!;
      at = 14;
      while (etherType === ETHERTYPE_VLAN || etherType === ETHERTYPE_QINQ || etherType === ETHERTYPE_QINQ_OLD) {
        if (p.length < at + 4) return 'truncated-headers';
        etherType = (p[at + 2]! << 8) | p[at + 3]!;
        at += 4;
      }
      break;
    }
    case LINKTYPE_LINUX_SLL:
      if (p.length < 16) return 'truncated-headers';
      etherType = (p[14]! << 8) | p[15]!;
      at = 16;
      break;
    case LINKTYPE_LINUX_SLL2:
      if (p.length < 20) return 'truncated-headers';
      etherType = (p[0]! << 8) | p[1]!;
      at = 20;
      break;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (p.length < 4) return 'truncated-headers';
      // the address family in the capturing host's byte order (NULL) or big-endian (LOOP)
      const family = p[0] === 0 && p[1] === 0 ? p[3]! : p[0]!;
      etherType = family === 2 ? ETHERTYPE_IPV4 : family === 24 || family === 28 || family === 30 ? ETHERTYPE_IPV6 : 0;
      at = 4;
      break;
    }
    case LINKTYPE_RAW:
    case DLT_RAW_OPENBSD:
    case DLT_RAW_BSD:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      if (p.length < 1) return 'truncated-headers';
      etherType = p[0]! >> 4 === 4 ? ETHERTYPE_IPV4 : p[0]! >> 4 === 6 ? ETHERTYPE_IPV6 : 0;
      at = 0;
      break;
    default:
      return 'not-ip';
  }
  // bytes of the packet the snaplen cut off (they are missing from the end of the payload)
  const cut = Math.max(0, originalLength - p.length);
  if (etherType === ETHERTYPE_IPV4) return ipv4(p, at, cut);
  if (etherType === ETHERTYPE_IPV6) return ipv6(p, at, cut);
  return 'not-ip';
}

function ipv4(p: Uint8Array, at: number, cut: number): TcpSegment | NotTcp {
  if (p.length < at + 20) return 'truncated-headers';
  const headerLength = (p[at]! & 0x0f) * 4;
  if (p[at + 9] !== 6) return 'not-tcp';
  // more fragments, or a fragment offset: not reassembled (AMQP over TCP is not fragmented in practice)
  if (((p[at + 6]! & 0x3f) | p[at + 7]!) !== 0) return 'fragment';
  const totalLength = (p[at + 2]! << 8) | p[at + 3]!;
  const src = String(((p[at + 12]! << 24) | (p[at + 13]! << 16) | (p[at + 14]! << 8) | p[at + 15]!) >>> 0);
  const dst = String(((p[at + 16]! << 24) | (p[at + 17]! << 16) | (p[at + 18]! << 8) | p[at + 19]!) >>> 0);
  // a total length of 0 is TCP segmentation offload seen before the NIC split it: the capture's length counts
  const end = totalLength === 0 ? p.length + cut : at + totalLength;
  return tcp(p, at + headerLength, end, src, dst, 4);
}

const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_DESTINATION = 60;

function ipv6(p: Uint8Array, at: number, cut: number): TcpSegment | NotTcp {
  if (p.length < at + 40) return 'truncated-headers';
  const payloadLength = (p[at + 4]! << 8) | p[at + 5]!;
  let next = p[at + 6]!;
  const src = hex(p, at + 8);
  const dst = hex(p, at + 24);
  const end = at + 40 + payloadLength;
  let header = at + 40;
  while (next !== 6) {
    if (next === IPV6_FRAGMENT) return 'fragment';
    if (next !== IPV6_HOP_BY_HOP && next !== IPV6_ROUTING && next !== IPV6_DESTINATION) return 'not-tcp';
    if (p.length < header + 8) return 'truncated-headers';
    next = p[header]!;
    header += (p[header + 1]! + 1) * 8;
  }
  return tcp(p, header, payloadLength === 0 ? p.length + cut : end, src, dst, 6);
}

function tcp(p: Uint8Array, at: number, ipEnd: number, src: string, dst: string, ipVersion: 4 | 6): TcpSegment | NotTcp {
  if (p.length < at + 20) return 'truncated-headers';
  const dataOffset = (p[at + 12]! >> 4) * 4;
  const payloadStart = at + dataOffset;
  if (p.length < payloadStart) return 'truncated-headers';
  // Ethernet pads short frames: the IP length, not the packet's, says where the payload ends
  const wireEnd = Math.max(payloadStart, ipEnd);
  const capturedEnd = Math.min(wireEnd, p.length);
  const payloadLength = wireEnd - payloadStart;
  return {
    src,
    dst,
    srcPort: (p[at]! << 8) | p[at + 1]!,
    dstPort: (p[at + 2]! << 8) | p[at + 3]!,
    ipVersion,
    seq: ((p[at + 4]! << 24) | (p[at + 5]! << 16) | (p[at + 6]! << 8) | p[at + 7]!) >>> 0,
    ack: ((p[at + 8]! << 24) | (p[at + 9]! << 16) | (p[at + 10]! << 8) | p[at + 11]!) >>> 0,
    flags: p[at + 13]!,
    payload: p.subarray(payloadStart, capturedEnd),
    // a snaplen cut shows as fewer bytes captured than the IP header declares
    payloadLength,
  };
}

function hex(p: Uint8Array, at: number): string {
  let s = '';
  for (let i = at; i < at + 16; i++) s += (p[i]! < 16 ? '0' : '') + p[i]!.toString(16);
  return s;
}

/** An address key as people write it: `10.0.0.1`, `::1`, `fe80::1`. */
export function describeAddress(key: string): string {
  if (key.length !== 32) {
    const n = Number(key);
    return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 32; i += 4) groups.push(Number.parseInt(key.slice(i, i + 4), 16).toString(16));
  // IPv4-mapped (::ffff:a.b.c.d)
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') {
    const v4 = Number.parseInt(key.slice(24), 16);
    return `::ffff:${describeAddress(String(v4 >>> 0))}`;
  }
  // the longest run of zero groups (two or more) becomes ::
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}
