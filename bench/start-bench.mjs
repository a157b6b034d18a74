#!/usr/bin/env node
// How fast a test gets a broker: startBroker() to a connected amqplib channel, alone and 50
// brokers at once in one process (each on its own ephemeral port), against RabbitMQ's start
// measured in the same run (a second node on free ports, its own data directory and no
// plugins, timed from launch until an AMQP connection succeeds) when rabbitmq-server is
// installed.
//
//   npm run bench:start
//
// Target (issue 16): ≤ 50 ms per broker. Numbers only, no assertions. BENCH_ROUNDS (default
// 20) sets the sequential rounds; BENCH_BROKERS (default 50) the brokers started at once;
// BENCH_RABBITMQ=0 skips RabbitMQ.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqp from 'amqplib';
import { freePort } from './processes.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const BROKERS = Number(process.env.BENCH_BROKERS ?? 50);

const ms = (from) => performance.now() - from;
const fmt = (x) => `${x.toFixed(1)} ms`;
function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] };
}
const rssMiB = () => process.memoryUsage().rss / 1024 / 1024;

/** startBroker() → amqplib connected with a channel open; the phases timed apart. */
async function brokerToChannel(startBroker, socketOptions = {}) {
  const t0 = performance.now();
  const broker = await startBroker();
  const started = ms(t0);
  const connection = await amqp.connect(broker.url, socketOptions);
  const channel = await connection.createChannel();
  const ready = ms(t0);
  return { broker, connection, channel, started, ready };
}

async function closeAll(opened) {
  const t0 = performance.now();
  await Promise.all(opened.map((o) => o.connection.close()));
  await Promise.all(opened.map((o) => o.broker.close()));
  return ms(t0);
}

async function benchBuiltIn() {
  const importStart = performance.now();
  const { startBroker } = await import('../dist/index.js');
  const imported = ms(importStart);
  console.log(`import('amqp-spy'): ${fmt(imported)}`);

  // the first one in a fresh process pays for loading the broker's modules and amqplib's first connect
  const first = await brokerToChannel(startBroker);
  const firstClose = await closeAll([first]);
  console.log(`first startBroker() → channel (cold process): ${fmt(first.ready)} (listening after ${fmt(first.started)}); close ${fmt(firstClose)}`);

  // amqplib leaves Nagle's algorithm on unless asked (noDelay): two of its handshake frames go
  // out in separate writes, and the second waits for the ACK the peer delays (~40 ms on Linux),
  // whatever the broker; RabbitMQ's figure below has the same wait
  const inTurn = {};
  for (const [label, socketOptions] of [
    ['amqplib defaults', {}],
    ['amqplib { noDelay: true }', { noDelay: true }],
  ]) {
    const started = [];
    const ready = [];
    const closed = [];
    for (let i = 0; i < ROUNDS; i++) {
      const o = await brokerToChannel(startBroker, socketOptions);
      started.push(o.started);
      ready.push(o.ready);
      closed.push(await closeAll([o]));
    }
    const r = stats(ready);
    const s = stats(started);
    const c = stats(closed);
    inTurn[label] = r.median;
    console.log(
      `startBroker() → channel, ${ROUNDS} in turn, ${label}: median ${fmt(r.median)}, p95 ${fmt(r.p95)}, max ${fmt(r.max)} (listening: median ${fmt(s.median)}); close(): median ${fmt(c.median)}`,
    );
  }

  const rssBefore = rssMiB();
  const t0 = performance.now();
  const many = await Promise.all(Array.from({ length: BROKERS }, () => brokerToChannel(startBroker)));
  const all = ms(t0);
  const ports = new Set(many.map((o) => o.broker.port));
  const rssAfter = rssMiB();
  const each = stats(many.map((o) => o.ready));
  const closeMany = await closeAll(many);
  console.log(
    `${BROKERS} brokers at once in one process, amqplib defaults: all ${BROKERS} with a channel in ${fmt(all)} (${fmt(all / BROKERS)} per broker; ` +
      `each from its call: median ${fmt(each.median)}, max ${fmt(each.max)}); ${ports.size} distinct ports; ` +
      `RSS +${(rssAfter - rssBefore).toFixed(0)} MiB; close() of all: ${fmt(closeMany)}`,
  );
  return { perBroker: inTurn['amqplib defaults'], concurrentPerBroker: all / BROKERS };
}

/** A second RabbitMQ node, on free ports with its own data and no plugins; timed until a client connects. */
async function benchRabbitMQ() {
  if (process.env.BENCH_RABBITMQ === '0') return undefined;
  if (spawnSync('sh', ['-c', 'command -v rabbitmq-server']).status !== 0) {
    console.log('RabbitMQ: rabbitmq-server is not installed; skipped');
    return undefined;
  }
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-bench-rabbit-'));
  // run as root, Debian's rabbitmq-server switches to the rabbitmq user: it must write here
  for (const dir of [base, path.join(base, 'mnesia'), path.join(base, 'log')]) {
    fs.mkdirSync(dir, { recursive: true });
    fs.chmodSync(dir, 0o777);
  }
  fs.writeFileSync(path.join(base, 'enabled_plugins'), '[].\n', { mode: 0o666 });
  const port = await freePort();
  const node = `amqpspybench${process.pid}@localhost`;
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(await freePort()),
    RABBITMQ_MNESIA_BASE: path.join(base, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(base, 'log'),
    RABBITMQ_PID_FILE: path.join(base, 'node.pid'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(base, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: path.join(base, 'rabbitmq'),
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(base, 'advanced.config'),
    ERL_CRASH_DUMP: path.join(base, 'erl_crash.dump'),
  };
  const t0 = performance.now();
  const server = spawn('rabbitmq-server', [], { env, stdio: ['ignore', 'ignore', 'pipe'], detached: false });
  let exited = false;
  let stderr = '';
  server.stderr.on('data', (d) => {
    stderr += d;
  });
  server.once('exit', () => {
    exited = true;
  });
  let startMs;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !exited) {
    try {
      const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
      await connection.createChannel();
      startMs = ms(t0);
      await connection.close();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  // the same client's connect to a running RabbitMQ: Nagle's wait is the client's, not the broker's
  const connects = {};
  if (startMs !== undefined) {
    for (const [label, socketOptions] of [
      ['amqplib defaults', {}],
      ['amqplib { noDelay: true }', { noDelay: true }],
    ]) {
      const samples = [];
      for (let i = 0; i < ROUNDS; i++) {
        const t = performance.now();
        const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`, socketOptions);
        await connection.createChannel();
        samples.push(ms(t));
        await connection.close();
      }
      connects[label] = stats(samples).median;
    }
  }
  // stop this node only, by its name; then the process we started, by its id
  spawnSync('rabbitmqctl', ['-n', node, 'stop'], { env, stdio: 'ignore', timeout: 60_000 });
  if (!exited) {
    await Promise.race([new Promise((r) => server.once('exit', r)), new Promise((r) => setTimeout(r, 10_000))]);
    if (!exited) server.kill('SIGKILL');
  }
  fs.rmSync(base, { recursive: true, force: true });
  if (startMs === undefined) {
    console.log(`RabbitMQ: no connection within 120 s (${exited ? 'it exited' : 'timed out'}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return undefined;
  }
  console.log(`RabbitMQ (second node ${node}, port ${port}): launch → channel ${fmt(startMs)}`);
  console.log(
    `RabbitMQ running, connect → channel, ${ROUNDS} in turn: amqplib defaults median ${fmt(connects['amqplib defaults'])}, { noDelay: true } median ${fmt(connects['amqplib { noDelay: true }'])}`,
  );
  return startMs;
}

console.log(`bench:start — Node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}`);
const builtIn = await benchBuiltIn();
const rabbit = await benchRabbitMQ();
if (rabbit !== undefined) {
  console.log(
    `ratio: RabbitMQ's start is ${(rabbit / builtIn.perBroker).toFixed(0)}x startBroker() → channel in turn (amqplib defaults), ` +
      `${(rabbit / builtIn.concurrentPerBroker).toFixed(0)}x per broker with ${BROKERS} at once`,
  );
}
