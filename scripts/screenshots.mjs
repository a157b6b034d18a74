#!/usr/bin/env node
// The README's pictures of the TUI, made by the real CLI: the built-in broker runs headless in
// one process (`--standalone --no-tui`), the proxy with its TUI in front of it in tmux, and
// amqplib drives an order service and a billing worker through the proxy. Each screen is
// captured with its colours (`tmux capture-pane -e -p`) and written as an SVG.
//
//   npm run build && node scripts/screenshots.mjs [--out docs/images]
//
// Times are shifted so the session starts at 12:00:00.000 and ports are replaced by the usual
// ones (5672, 5673, 5000n for connection #n), so a rerun differs only where the TUI changed or a
// round trip took another few microseconds; test/docs/screenshots.test.ts regenerates them and
// compares their text and colours (times and rates masked) with the committed ones.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { maskRows, parseAnsiScreen, rowText, screenToSvg } from './ansi-svg.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(root, 'dist/cli.js');
const WIDTH = 120;
const HEIGHT = 32;

/** Every picture, in the order they are taken, with what it shows (the SVG's title). */
export const SCREENS = {
  list: 'The message list: each request paired with its reply and the round trip, each publish with its confirm',
  detail: 'The detail pane of a published message: properties, the confirm it got, its JSON body',
  connections: 'The connections view (Tab): channels with their prefetch, unacked deliveries and consumers',
  'debug-1-error': 'Step 1: a channel closes with 406 PRECONDITION_FAILED, in red',
  'debug-2-reason': 'Step 2: e selects the error; the detail names the request that caused it',
  'debug-3-cause': 'Step 3: Enter jumps to that request, a queue.declare with durable=false',
  'debug-4-filter': 'Step 4: a filter shows every declaration of the queue: the first one was durable',
  help: 'The ? help: every key and the filter language, drawn from the same tables as the docs',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(check, what, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const accepts = (port) =>
  new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

function parseArgs(argv) {
  const out = { dir: path.join(root, 'docs/images') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') out.dir = path.resolve(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]} (usage: node scripts/screenshots.mjs [--out dir])`);
  }
  return out;
}

async function main() {
  const { dir } = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first');
  fs.mkdirSync(dir, { recursive: true });
  const brokerPort = await freePort();
  const proxyPort = await freePort();
  const session = `amqp-spy-shots-${process.pid}`;
  // a tmux server of its own: nothing else's sessions or options touch the pictures
  const socket = path.join(os.tmpdir(), `${session}.tmux`);
  const tmux = ['-S', socket, '-f', '/dev/null'];
  const broker = spawn(process.execPath, [CLI, '--standalone', '--no-tui', '--listen', String(brokerPort)], { stdio: 'ignore' });
  // also when something throws past the finally below (an uncaught client error)
  process.on('exit', () => {
    broker.kill();
    spawnSync('tmux', [...tmux, 'kill-server']);
    fs.rmSync(socket, { force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1));
  const connections = [];
  try {
    await until(() => accepts(brokerPort), `the broker on port ${brokerPort}`);
    const command = `${process.execPath} ${CLI} --upstream 127.0.0.1:${brokerPort} --listen ${proxyPort}; sleep 5`;
    // a clean environment for the picture: no NO_COLOR, a colour terminal
    execFileSync('tmux', [
      ...tmux,
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      String(WIDTH),
      '-y',
      String(HEIGHT),
      '-e',
      'TERM=tmux-256color',
      '-c',
      root,
      command,
    ]);
    const plain = () => spawnSync('tmux', [...tmux, 'capture-pane', '-p', '-t', session], { encoding: 'utf8' }).stdout ?? '';
    const screenHas = (text) => until(() => (typeof text === 'string' ? plain().includes(text) : text.test(plain())), `${text} on the screen\n${plain()}`);
    const keys = (...k) => {
      for (const key of k) {
        execFileSync('tmux', [...tmux, 'send-keys', '-t', session, key]);
        // a lone Esc followed at once by a key reads as Alt+key: let it arrive alone
        if (key === 'Escape') spawnSync('sleep', ['0.6']);
      }
    };
    const type = (text) => execFileSync('tmux', [...tmux, 'send-keys', '-t', session, '-l', text]);
    await screenHas('FOLLOWING');
    const start = new Date();
    const startMs = ((start.getHours() * 60 + start.getMinutes()) * 60 + start.getSeconds()) * 1000;
    const clientPorts = new Map();
    const masks = [
      [
        /\b(\d\d):(\d\d):(\d\d)\.(\d{3})\b/,
        (_m, h, mi, s, ms) => {
          const t = 12 * 3_600_000 + (((Number(h) * 60 + Number(mi)) * 60 + Number(s)) * 1000 + Number(ms) - startMs);
          const p2 = (n) => String(n).padStart(2, '0');
          return `${p2(Math.floor(t / 3_600_000) % 24)}:${p2(Math.floor(t / 60_000) % 60)}:${p2(Math.floor(t / 1000) % 60)}.${String(t % 1000).padStart(3, '0')}`;
        },
      ],
      [
        /127\.0\.0\.1:(\d+)/,
        (_m, port) => {
          const n = Number(port);
          if (n === proxyPort) return '127.0.0.1:5673';
          if (n === brokerPort) return '127.0.0.1:5672';
          if (!clientPorts.has(n)) clientPorts.set(n, 50101 + clientPorts.size);
          return `127.0.0.1:${clientPorts.get(n)}`;
        },
      ],
    ];
    const shoot = async (name, settle = 400) => {
      await sleep(settle); // let the UI draw what it has
      const ansi = spawnSync('tmux', [...tmux, 'capture-pane', '-e', '-p', '-t', session], { encoding: 'utf8' }).stdout ?? '';
      let rows = parseAnsiScreen(ansi, WIDTH, HEIGHT);
      // a client's port becomes 5000<n> for connection #n, whichever picture shows it first
      for (const row of rows) {
        const m = /#(\d+)\b.*?127\.0\.0\.1:(\d+) → /.exec(rowText(row));
        if (m && !clientPorts.has(Number(m[2]))) clientPorts.set(Number(m[2]), 50000 + Number(m[1]));
      }
      for (const [pattern, replace] of masks) rows = maskRows(rows, pattern, replace);
      fs.writeFileSync(path.join(dir, `${name}.svg`), screenToSvg(rows, { title: `amqp-spy — ${SCREENS[name]}` }));
      console.log(`${path.relative(process.cwd(), path.join(dir, `${name}.svg`))}: ${rowText(rows[0]).trim()}`);
    };

    const url = `amqp://guest:guest@127.0.0.1:${proxyPort}?heartbeat=0`;
    // the order service declares its topology and publishes three orders, one confirm each
    const orders = await amqp.connect(url, { clientProperties: { connection_name: 'order-service' } });
    connections.push(orders.on('error', () => {}));
    const pub = await orders.createConfirmChannel();
    await pub.assertExchange('orders', 'topic', { durable: true });
    await pub.assertQueue('billing', { durable: true });
    await pub.bindQueue('billing', 'orders', 'order.*');
    for (let i = 1; i <= 3; i++) {
      const order = { orderId: 1000 + i, customer: 'ada@example.com', items: [{ sku: 'BOOK-42', qty: i }], total: 20 * i };
      pub.publish('orders', 'order.created', Buffer.from(JSON.stringify(order)), {
        contentType: 'application/json',
        messageId: `order-${1000 + i}`,
        persistent: true,
      });
      await pub.waitForConfirms();
    }
    await until(() => (plain().match(/S→C ch1 +basic\.ack/g) ?? []).length === 3, `three confirms on the screen\n${plain()}`);
    await shoot('list', 1200);

    // the billing worker takes two at a time (prefetch 2) and acks only the first
    const billing = await amqp.connect(url, { clientProperties: { connection_name: 'billing-worker' } });
    connections.push(billing.on('error', () => {}));
    const work = await billing.createChannel();
    await work.prefetch(2);
    const got = [];
    await work.consume('billing', (m) => {
      if (m) got.push(m);
    });
    await until(() => got.length === 2, 'two deliveries');
    work.ack(got[0]);
    await until(() => got.length === 3, 'the third delivery');
    await screenHas(/basic\.deliver[^\n]*\n[^\n]*basic\.deliver[^\n]*\n[^\n]*basic\.ack[^\n]*\n[^\n]*basic\.deliver/);

    // the detail of the first publish: search for publishes, then from the top (g) the next match (n)
    keys('s');
    type('method:basic.publish');
    keys('Enter');
    await screenHas('search: method:basic.publish');
    keys('g');
    await screenHas(/Detail event 1 /);
    keys('n');
    await screenHas(/^ {2}publish-seq: 1 /m);
    // scroll the detail down to its end: the body, then its links
    for (let i = 0; i < 40 && !/^ {2}event \d+: its confirm/m.test(plain()); i++) {
      keys('J');
      await sleep(50);
    }
    await screenHas(/^ {2}event \d+: its confirm/m);
    await shoot('detail');
    // each key waits for the screen to show the last one took: under load a key sent too soon
    // after Esc reads as Alt+key
    keys('Escape');
    await screenHas('filter and search cleared');
    keys('f');
    await screenHas('FOLLOWING');

    keys('Tab');
    await screenHas(/^Connections/m);
    await screenHas('FULL 2/2');
    await shoot('connections');
    keys('Tab');
    await screenHas(/^TIME +CONN/m);

    // a new version of the worker declares the queue differently: the broker closes its channel
    const v2 = await amqp.connect(url, { clientProperties: { connection_name: 'billing-worker-v2' } });
    connections.push(v2.on('error', () => {}));
    const v2ch = await v2.createChannel();
    v2ch.on('error', () => {});
    await v2ch.assertQueue('billing', { durable: false }).catch(() => {});
    await screenHas('channel.close-ok');
    await shoot('debug-1-error', 1200);
    keys('e');
    await screenHas(/caused by/);
    await shoot('debug-2-reason');
    keys('Enter');
    await screenHas(/durable=false|durable: false/);
    await shoot('debug-3-cause');
    keys('/');
    type('method:queue.declare queue:billing');
    keys('Enter');
    await screenHas('filter: method:queue.declare queue:billing');
    await shoot('debug-4-filter');
    keys('Escape');
    await screenHas('filter and search cleared');
    keys('?');
    await screenHas('? or Esc closes this help');
    await shoot('help');
    keys('?');

    // the clients leave first: a proxy that quits under them would be an error on their side
    for (const c of connections.splice(0)) await c.close().catch(() => {});
    keys('q');
    await sleep(300);
  } finally {
    for (const c of connections) await c.close().catch(() => {});
    spawnSync('tmux', [...tmux, 'kill-server']);
    broker.kill();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`screenshots: ${error.message}`);
    process.exit(1);
  });
}
