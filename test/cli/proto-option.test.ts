// --proto and --proto-type through the real CLI: bad ones are one line and exit 2; good ones
// decode protobuf bodies in live --json output, and again (or not) when the recording is replayed.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqplib from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProtoSchemas } from '../../src/body/index.js';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';

const PROTO = 'fixtures/proto';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-proto-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('--proto and --proto-type', () => {
  it('say what is wrong in one line, exit 2, on live, replay and read', () => {
    for (const [args, line] of [
      [['replay', 'x.jsonl', '--proto', '/nonexistent'], '--proto /nonexistent: no such directory'],
      [['replay', 'x.jsonl', '--proto', 'fixtures/proto-bad'], "--proto fixtures/proto-bad: broken.proto: illegal token '}', ';' expected (line 2)"],
      [['--standalone', '--proto-type', 'rk:x => a.B'], '--proto-type "rk:x => a.B": needs --proto DIR for its message types'],
      [
        ['read', 'x.pcap', '--proto', PROTO, '--proto-type', 'exchange:o => shop.Nope'],
        '--proto-type "exchange:o => shop.Nope": no message type shop.Nope in the --proto files',
      ],
      [
        ['--standalone', '--proto', PROTO, '--proto-type', 'queue:o => shop.Order'],
        '--proto-type "queue:o => shop.Order": unknown term "queue:o" (exchange:NAME, rk:PATTERN, type:NAME)',
      ],
    ] as const) {
      const result = runCli([...args]);
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.stderr).toBe(`amqp-spy: ${line}\n`);
    }
  });

  it('decode protobuf bodies in live --json; replay decodes them again with the schema, or without one', async () => {
    const Order = loadProtoSchemas(PROTO)!.root.lookupType('shop.Order');
    const body = Buffer.from(Order.encode(Order.fromObject({ id: '9007199254740993', customer: 'ann', status: 1 })).finish());
    const port = await freePort();
    const recording = path.join(dir, 'proto.jsonl');
    const rule = 'exchange:amq.topic rk:order.# => shop.Order';
    const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--json', '--record', recording, '--proto', PROTO, '--proto-type', rule]);
    try {
      await waitFor(() => cli.stderr().includes('listening'), 'the broker to listen');
      const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${port}`);
      const ch = await conn.createConfirmChannel();
      ch.publish('amq.topic', 'order.created.eu', body, { contentType: 'application/x-protobuf' });
      await ch.waitForConfirms();
      await conn.close();
      await waitFor(() => cli.stdout().includes('"kind":"message"'), 'the message line');
    } finally {
      cli.child.kill('SIGINT');
      await cli.exited;
    }
    const decodedOf = (out: string) => {
      const line = out.split('\n').find((l) => l.includes('"kind":"message"'))!;
      return line.slice(line.indexOf('"decoded":'));
    };
    const live = decodedOf(cli.stdout());
    expect(live).toBe(
      '"decoded":{"format":"protobuf","value":{"id":9007199254740993,"customer":"ann","status":"PAID"},"schema":"shop.Order","sniffed":false,"note":"protobuf shop.Order"}}',
    );
    const replayed = runCli(['replay', recording, '--json', '--proto', PROTO, '--proto-type', rule]);
    expect(decodedOf(replayed.stdout)).toBe(live);
    // without the schema: the wire, field by field
    expect(decodedOf(runCli(['replay', recording, '--json']).stdout)).toBe(
      '"decoded":{"format":"protobuf","value":{"#1":9007199254740993,"#2":"ann","#5":1},"sniffed":false,"note":"protobuf without a schema"}}',
    );
    // and the text line's preview
    expect(runCli(['replay', recording, '--proto', PROTO, '--proto-type', rule]).stdout).toMatch(
      /application\/x-protobuf {2}\[publish-seq 1\] {2}\{"id": 9007199254740993, "customer": "ann", "status": "PAID"\}\n/,
    );
  });
});
