// Whether an input file is a packet capture: decode and replay read other formats, and say so.

const PCAP_MAGICS = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a];

/** A pcap or pcapng capture (classic magic in either byte order, nanosecond variant, pcapng). */
export function isPcap(head: Buffer): boolean {
  return head.length >= 4 && PCAP_MAGICS.includes(head.readUInt32BE(0));
}
