#!/usr/bin/env node
// The flood the TUI benchmark opens the UI on: CONNS connections, each publishing MSGS messages
// of 16 B to 64 KB to its own queue and consuming them back (acks, prefetch 100). Prints one
// JSON line: { seconds, messages, bytes }.
//   node bench/flood-load.mjs PORT [CONNS=300] [MSGS=200]
import amqplib from 'amqplib';

const port = Number(process.argv[2]);
const CONNS = Number(process.argv[3] ?? 300);
const MSGS = Number(process.argv[4] ?? 200);
// sizes spread evenly over 16 B..64 KB, different for every connection
const sizeOf = (conn, k) => 16 + Math.floor((((k * 7919 + conn * 104729) % 1000) / 1000) * 65520);

const started = performance.now();
let bytes = 0;
await Promise.all(
  Array.from({ length: CONNS }, async (_, i) => {
    const conn = await amqplib.connect({ hostname: '127.0.0.1', port, username: 'guest', password: 'guest' });
    const ch = await conn.createChannel();
    await ch.prefetch(100);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    let got = 0;
    const done = new Promise((resolve) =>
      ch.consume(queue, (m) => {
        ch.ack(m);
        if (++got === MSGS) resolve();
      }),
    );
    for (let k = 0; k < MSGS; k++) {
      const size = sizeOf(i, k);
      bytes += size;
      if (!ch.sendToQueue(queue, Buffer.alloc(size, 97))) await new Promise((r) => ch.once('drain', r));
    }
    await done;
    await conn.close();
  }),
);
console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, messages: CONNS * MSGS, bytes }));
