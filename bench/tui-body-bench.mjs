#!/usr/bin/env node
// A 10 MB JSON body in the detail view, through the real CLI in a real terminal (a 150x60
// tmux pane): amqplib publishes a small message and then two 10 MB JSON bodies (the second
// gzip'd; the UI keeps 32 MiB of events, so two fit) through the built-in broker, recorded; `amqp-spy replay` shows them, and the
// detail of each is opened in turn; the
// pane is read every 5 ms until its detail shows the body decoded ("read as: ... json").
// Each message is selected with the search (s rk:big-1 Enter), timed from Enter.
// Measures key-to-screen for a body decoded for the first time (cold), for one the decoder
// keeps (warm: opened again), and for b (pretty text) and + (one more level) on it.
// Target (issue #18): opening a 10 MB JSON body does not freeze the UI. Numbers only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import { freePort, hasTmux, waitForPort } from './processes.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/cli.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (!hasTmux()) {
  console.log('tui-body-bench: tmux is not installed; skipped');
  process.exit(0);
}

/** ~10 MB of JSON: 70,000 order lines. */
function bigJson(n) {
  const lines = [];
  for (let i = 0; i < 70_000; i++) lines.push({ id: i, sku: `sku-${n}-${i}`, qty: i % 7, note: 'x'.repeat(100), tags: ['a', 'b'] });
  return Buffer.from(JSON.stringify({ order: { id: n, customer: 'Ada Lovelace', lines } }));
}

const bodies = [1, 2].map(bigJson);
const size = bodies[0].length;

// recorded headless first (the live UI may drop bytes it cannot keep up with: 30 MB at once),
// then replayed into the UI: the figure is the detail's, not the feed's
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-body-bench-'));
const recording = path.join(dir, 'bodies.jsonl');
const brokerPort = await freePort();
const recorder = spawn(process.execPath, [cli, '--standalone', '--listen', String(brokerPort), '--no-tui', '--record', recording], { stdio: 'ignore' });
await waitForPort(brokerPort);
const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${brokerPort}`);
const ch = await conn.createConfirmChannel();
ch.publish('', 'small', Buffer.from('{"hello":"world"}'), { contentType: 'application/json' });
ch.publish('', 'big-1', bodies[0], { contentType: 'application/json' });
ch.publish('', 'big-2', gzipSync(bodies[1]), { contentType: 'application/json', contentEncoding: 'gzip' });
await ch.waitForConfirms();
await conn.close();
recorder.kill('SIGINT');
await new Promise((r) => recorder.once('exit', r));

const session = `amqp-spy-body-bench-${process.pid}`;
spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '150', '-y', '60', `exec ${process.execPath} ${cli} replay ${recording}`]);
const pane = () => spawnSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' }).stdout;
const stop = () => {
  spawnSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
  fs.rmSync(dir, { recursive: true, force: true });
};
process.on('exit', stop);

async function until(check, what, ms = 60_000) {
  const started = performance.now();
  for (;;) {
    const screen = pane();
    if (check(screen)) return performance.now() - started;
    if (performance.now() - started > ms) throw new Error(`timed out waiting for ${what}\n${screen}`);
    await sleep(5);
  }
}
await until((s) => s.includes('connection closed'), 'the replay drawn');

const press = (...keys) => spawnSync('tmux', ['send-keys', '-t', session, ...keys]);
const shows = (rk) => (s) => s.includes(`routing-key: "${rk}"`) && /read as: .*json/.test(s);

/** Searches for the message with routing key `rk` (the search selects it); ms from Enter to its detail drawn. */
async function open(rk) {
  press('s');
  await until((s) => s.includes('Enter searches'), 'the search prompt');
  press('C-u');
  await until((s) => /^search +Enter searches/m.test(s), 'an empty prompt');
  spawnSync('tmux', ['send-keys', '-t', session, '-l', `rk:${rk}`]);
  await sleep(100);
  const before = performance.now();
  press('Enter');
  await until(shows(rk), rk);
  return performance.now() - before;
}

press('g');
const small = await open('small');
await sleep(300);
const cold = [];
for (const rk of ['big-1', 'big-2']) {
  cold.push({ rk, ms: await open(rk) });
  await sleep(300);
}
const warm = [];
for (const rk of ['big-1', 'big-2', 'big-1']) {
  warm.push(await open(rk));
  await sleep(200);
}
let before = performance.now();
press('b');
await until((s) => s.includes('as pretty') && s.includes('"customer": "Ada Lovelace"'), 'pretty text');
const pretty = performance.now() - before;
press('b', 'b', 'b');
await until((s) => s.includes('as tree'), 'the tree again');
await sleep(200);
before = performance.now();
press('+');
await until((s) => /\[0\]: ▸ \{5\}/.test(s), 'one more level');
const unfold = performance.now() - before;
const screen = pane();
stop();

const fmt = (x) => `${x.toFixed(0)} ms`;
console.log(`\n10 MB JSON body in the detail view (${(size / 1e6).toFixed(1)} MB each), real CLI (replay) in tmux`);
for (const c of cold)
  console.log(`  s rk:${c.rk} Enter to its detail drawn, body decoded the first time${c.rk === 'big-2' ? ' (gzip inflated first)' : ''}: ${fmt(c.ms)}`);
console.log(`  back to a body decoded before: ${warm.map(fmt).join(', ')}; a 17 B body: ${fmt(small)}`);
console.log(`  b to pretty text: ${fmt(pretty)}; + one more level of the tree: ${fmt(unfold)}`);
console.log(
  screen
    .split('\n')
    .filter((l) => l.includes('read as') || l.startsWith('Body'))
    .join('\n'),
);
