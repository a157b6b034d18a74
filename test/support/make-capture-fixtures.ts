// Writes the small capture fixtures (fixtures/captures/) from the recorded fixture session:
// `npx tsx test/support/make-capture-fixtures.ts`. Committed, so a reader change that breaks
// reading them shows in the tests.
import fs from 'node:fs';
import path from 'node:path';
import { captureFile, conversation } from './capture-builder.js';
import { capturedSession, FIXTURES } from './fixtures.js';

/** The stream up to the last frame that ends within `limit` bytes (the fixtures stay small). */
function upTo(bytes: Buffer, start: number, limit: number): Buffer {
  let at = start;
  while (at + 7 <= bytes.length) {
    const end = at + 8 + bytes.readUInt32BE(at + 3);
    if (end > limit) break;
    at = end;
  }
  return bytes.subarray(0, at);
}

const session = capturedSession();
const c2s = upTo(session.c2s, 8, 6000);
const s2c = upTo(session.s2c, 0, 6000);
const packets = conversation(c2s, s2c, { mss: 200, start: 1_764_765_000_000_000 });
// one pair of server segments out of order, one client segment retransmitted
const serverData = packets.flatMap((p, i) => (!p.fromClient && p.data.length > 0 ? [i] : []));
const [a, b] = [serverData[2]!, serverData[3]!];
[packets[a], packets[b]] = [packets[b]!, packets[a]!];
const retransmitted = packets.find((p, i) => i > 4 && p.fromClient && p.data.length > 0)!;
packets.splice(packets.indexOf(retransmitted) + 2, 0, { ...retransmitted, ts: retransmitted.ts + 200_000 });
const dir = path.join(FIXTURES, 'captures');
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'amqplib-session.pcap'), captureFile(packets, { format: 'pcap', link: 'ethernet', ip: 4 }));
fs.writeFileSync(path.join(dir, 'amqplib-session.pcapng'), captureFile(packets, { format: 'pcapng', link: 'sll2', ip: 6 }));
