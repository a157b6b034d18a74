// Message bodies people can read (issue #18), in a real terminal (tmux) with the real CLI and
// the built-in broker: amqplib publishes a gzip'd JSON, a msgpack and a protobuf body; the
// detail shows each decoded as a folded tree, says how it was read, and b and +/- work.

import { gzipSync } from 'node:zlib';
import { encode as encodeMsgpack } from '@msgpack/msgpack';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProtoSchemas } from '../../src/body/index.js';
import { HAVE_TMUX, TmuxScreen } from '../support/tmux.js';
import { until } from './helpers.js';

const PROTO_DIR = 'fixtures/proto';

/** The detail pane: the lines from its title bar down. */
function detailOf(screen: string): string {
  return screen.slice(screen.indexOf('─ Detail'));
}

async function publishBodies(port: number): Promise<void> {
  const Order = loadProtoSchemas(new URL(`../../${PROTO_DIR}`, import.meta.url).pathname)!.root.lookupType('shop.Order');
  const order = Order.encode(Order.fromObject({ id: '77', customer: 'ann', items: [{ sku: 'p-1', qty: 3 }], status: 1 })).finish();
  const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  const ch = await conn.createConfirmChannel();
  for (const q of ['bodies-gzip', 'bodies-msgpack', 'bodies-proto']) await ch.assertQueue(q, { durable: false });
  // an id beyond 2^53: the tree must show it exact
  ch.sendToQueue('bodies-gzip', gzipSync('{"order":{"id":9007199254740993,"customer":"Ada","lines":[{"sku":"g-1"}]}}'), {
    contentType: 'application/json',
    contentEncoding: 'gzip',
  });
  ch.sendToQueue('bodies-msgpack', Buffer.from(encodeMsgpack({ order: { id: 7, sku: 'm-1' } })), { contentType: 'application/msgpack' });
  ch.sendToQueue('bodies-proto', Buffer.from(order), { contentType: 'application/x-protobuf' });
  await ch.waitForConfirms();
  await conn.close();
}

(HAVE_TMUX ? describe : describe.skip)('bodies decoded in the detail (tmux, real CLI, --proto)', () => {
  const screen = new TmuxScreen();
  beforeAll(async () => {
    screen.start(['--standalone', '--proto', PROTO_DIR, '--proto-type', 'rk:bodies-proto => shop.Order'], 120, 70);
    await screen.waitFor('amqp-spy  standalone', 'the header');
    await publishBodies(screen.port());
    await screen.waitFor('connection closed', 'the client to finish');
  });
  afterAll(() => screen.stop());

  /** Searches (one key at a time: a burst reads as one chunk), which selects the first match. */
  async function select(query: string): Promise<void> {
    screen.keys('g', 's');
    await screen.waitFor('Enter searches', 'the search prompt');
    screen.keys('C-u');
    await until(() => /^search +Enter searches/m.test(screen.capture()), `an empty prompt\n${screen.capture()}`, 15_000);
    screen.type(query);
    screen.keys('Enter');
    await screen.waitFor(`routing-key: "${query.split(' ')[0]!.slice(3)}"`, `the message ${query}`);
  }

  it('a gzip’d JSON body: inflated, a folded tree, its big id exact; b cycles to pretty text', async () => {
    await select('rk:bodies-gzip dir:c2s');
    const detail = detailOf(await screen.waitFor('read as: gzip undone', 'the read-as line'));
    expect(detail).toMatch(/Body {2}\d+ B {2}as tree {2}\(b: tree\/pretty\/text\/hex {2}\+\/- fold\)/);
    expect(detail).toMatch(/read as: gzip undone \(\d+ → 74 bytes\) · json/);
    expect(detail).toContain('order: ▾ {3}');
    expect(detail).toContain('id: 9007199254740993');
    expect(detail).toContain('lines: ▸ [1]');
    screen.keys('+');
    expect(detailOf(await screen.waitFor('[0]: ▸ {1}', 'one level more'))).toContain('lines: ▾ [1]');
    screen.keys('-', '-');
    expect(detailOf(await screen.waitFor('order: ▸ {3}', 'folded to the root'))).not.toContain('id: 9007199254740993');
    screen.keys('+', 'b');
    const pretty = detailOf(await screen.waitFor('as pretty', 'pretty text'));
    expect(pretty).toContain('"id": 9007199254740993,');
  });

  it('a msgpack body and a protobuf body with the --proto schema a --proto-type rule names', async () => {
    await select('rk:bodies-msgpack dir:c2s');
    // still in pretty mode from the test before; a msgpack body has no raw text: pretty → hex → tree
    await screen.waitFor('as pretty  (b: tree/pretty/hex', 'pretty kept, without a text mode');
    screen.keys('b', 'b');
    await screen.waitFor('as tree', 'back at the tree');
    const msgpack = detailOf(await screen.waitFor('read as: msgpack', 'msgpack read'));
    expect(msgpack).toContain('sku: "m-1"');
    await select('rk:bodies-proto dir:c2s');
    const proto = detailOf(await screen.waitFor('read as: protobuf shop.Order', 'the schema named'));
    expect(proto).toMatch(/▾ \{4\} +shop\.Order/);
    expect(proto).toMatch(/id: 77 +int64/);
    expect(proto).toMatch(/status: "PAID" +enum Status/);
    expect(proto).toMatch(/items: ▾ \[1\] +repeated Item/);
  });
});
