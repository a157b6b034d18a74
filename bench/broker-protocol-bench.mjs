#!/usr/bin/env node
// Built-in broker end to end, with amqplib as the client, against RabbitMQ in the same run.
//
//   npm run build && node bench/broker-protocol-bench.mjs
//   AMQP_SPY_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672 node bench/broker-protocol-bench.mjs
//
// Workloads (numbers only, no assertions):
//   1p/1c      one producer and one consumer (prefetch 1000, ack per message), 16 B and 4 KB
//   10p/10c    ten producers and ten consumers on ten queues, 16 B and 4 KB
//   queued     1,000,000 messages of 16 B published to a queue nobody consumes: broker RSS
// The built-in broker runs in its own process (like RabbitMQ), so RSS is the broker's alone.
// With tmux installed, the throughput workloads also run against the real CLI's --standalone,
// headless (output to a file) and with its terminal UI open (150x40), to show what drawing
// costs the broker's clients (target: with the TUI ≥ 0.9x headless).
// BENCH_MESSAGES (default 100000) and BENCH_QUEUED (default 1000000) scale the runs.
// BENCH_NO_TUI=1 skips the runs with the terminal UI.
// BENCH_FAULT='delay=1s when queue:nothing' arms a fault rule on the built-in broker (one that
// never fires costs what watching every frame costs).

import { execFileSync, spawn } from 'node:child_process';
import fs, { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { cpuSeconds, freePort, mainThreadCpuSeconds, hasTmux, startBuiltInBroker, startCliInTmux, waitForPort } from './processes.mjs';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli.js');

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const QUEUED = Number(process.env.BENCH_QUEUED ?? 1_000_000);
const RABBIT_URL = process.env.AMQP_SPY_RABBITMQ_URL;
const PREFETCH = 1000;
/** BENCH_ONLY=10p/10c runs only the workloads whose label contains it (and skips the queued test) */
const ONLY = process.env.BENCH_ONLY;

// ---- processes and memory ----

function rssOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every 50 ms; stop() returns the peak. */
function rssSampler(pid) {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    const r = rssOf(pid);
    if (r > peak) peak = r;
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      const r = rssOf(pid);
      return Math.max(r, peak);
    },
  };
}

function rabbitPid() {
  try {
    return Number(execFileSync('pgrep', ['-o', 'beam.smp'], { encoding: 'utf8' }).trim()) || undefined;
  } catch {
    return undefined;
  }
}

// ---- workloads ----

const unique = (name) => `bench.${name}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`;

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Publishes `count` messages, honouring the socket's backpressure. */
async function produce(ch, queue, count, size) {
  for (let i = 0; i < count; i++) {
    const body = Buffer.allocUnsafe(size);
    body.writeDoubleLE(performance.now(), 0);
    if (!ch.publish('', queue, body)) await new Promise((r) => ch.once('drain', r));
  }
}

/** Consumes until `count` messages arrived; returns their latencies (ms). */
async function consume(ch, queue, count) {
  const latencies = new Float64Array(count);
  let n = 0;
  await ch.prefetch(PREFETCH);
  await new Promise((resolve) => {
    ch.consume(queue, (m) => {
      if (m === null) return; // cancelled: the queue is deleted after the run
      latencies[n++] = performance.now() - m.content.readDoubleLE(0);
      ch.ack(m);
      if (n === count) resolve();
    });
  });
  return latencies;
}

async function pipeline(url, pairs, total, size) {
  const perPair = Math.floor(total / pairs);
  const conns = [];
  const setups = [];
  for (let i = 0; i < pairs; i++) {
    const pc = await amqp.connect(url);
    const cc = await amqp.connect(url);
    conns.push(pc, cc);
    const pch = await pc.createChannel();
    const cch = await cc.createChannel();
    const q = unique(`q${i}`);
    await cch.assertQueue(q, { autoDelete: false, durable: false });
    setups.push({ pch, cch, q });
  }
  const t0 = performance.now();
  const results = await Promise.all(
    setups.map(async ({ pch, cch, q }) => {
      const consumed = consume(cch, q, perPair);
      await produce(pch, q, perPair, size);
      return consumed;
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  for (const { cch, q } of setups) await cch.deleteQueue(q);
  for (const c of conns) await c.close();
  const all = new Float64Array(perPair * pairs);
  results.forEach((l, i) => {
    all.set(l, i * perPair);
  });
  all.sort();
  return { rate: (perPair * pairs) / seconds, p50: percentile(all, 50), p99: percentile(all, 99) };
}

async function queued(url, pid, count) {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  const q = unique('queued');
  await ch.assertQueue(q, { durable: false });
  const sampler = rssSampler(pid);
  const before = rssOf(pid);
  const body = Buffer.alloc(16, 1);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    if (!ch.publish('', q, body)) await new Promise((r) => ch.once('drain', r));
    if (i % 10_000 === 9_999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  const seconds = (performance.now() - t0) / 1000;
  const { messageCount } = await ch.checkQueue(q);
  const peak = sampler.stop();
  await ch.deleteQueue(q);
  await conn.close();
  return { rate: count / seconds, messageCount, before, peak };
}

// ---- report ----

const mb = (b) => `${(b / 1024 / 1024).toFixed(0)} MB`;
const fmt = (n) => Math.round(n).toLocaleString('en-US');

async function runAll(target, { queuedTest = true } = {}) {
  const results = {};
  // the memory test first, so a fresh broker process shows what queued messages cost
  if (queuedTest && target.pid && QUEUED > 0 && ONLY === undefined) {
    const q = await queued(target.url, target.pid, QUEUED);
    results.queued = q;
    console.log(
      `${target.name.padEnd(9)} ${fmt(QUEUED)} queued 16 B: ${fmt(q.rate)} msg/s publish (confirmed), RSS ${mb(q.before)} → peak ${mb(q.peak)}, queue holds ${fmt(q.messageCount)}`,
    );
  }
  const sampler = target.pid ? rssSampler(target.pid) : undefined;
  for (const [label, pairs, size] of [
    ['1p/1c 16 B', 1, 16],
    ['1p/1c 4 KB', 1, 4096],
    ['10p/10c 16 B', 10, 16],
    ['10p/10c 4 KB', 10, 4096],
  ]) {
    if (ONLY !== undefined && !label.includes(ONLY)) continue;
    await pipeline(target.url, pairs, Math.min(MESSAGES, 10_000), size); // warm-up
    // NaN without a pid or /proc
    const cpu0 = cpuSeconds(target.pid);
    const mainCpu0 = mainThreadCpuSeconds(target.pid);
    results[label] = await pipeline(target.url, pairs, MESSAGES, size);
    const r = results[label];
    r.cpuPerMsg = ((cpuSeconds(target.pid) - cpu0) * 1e6) / MESSAGES;
    r.mainCpuPerMsg = ((mainThreadCpuSeconds(target.pid) - mainCpu0) * 1e6) / MESSAGES;
    console.log(
      `${target.name.padEnd(9)} ${label.padEnd(14)} ${fmt(r.rate).padStart(9)} msg/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   broker CPU ${r.cpuPerMsg.toFixed(1)} µs/msg`,
    );
  }
  results.peakRss = sampler ? sampler.stop() : 0;
  console.log(`${target.name.padEnd(9)} peak RSS during the throughput runs: ${mb(results.peakRss)}`);
  return results;
}

console.log(`broker end-to-end with amqplib: ${fmt(MESSAGES)} messages per run, prefetch ${PREFETCH}, node ${process.version}`);
const builtIn = { name: 'amqp-spy', ...(await startBuiltInBroker()) };
let ours;
try {
  ours = await runAll(builtIn);
} finally {
  await builtIn.stop();
}

if (!RABBIT_URL) {
  console.log('RabbitMQ: skipped (set AMQP_SPY_RABBITMQ_URL to compare in the same run)');
} else {
  const rabbit = await runAll({ name: 'RabbitMQ', url: RABBIT_URL, pid: rabbitPid() });
  console.log('\nratio amqp-spy / RabbitMQ (throughput: higher is better; memory: lower is better)');
  for (const label of Object.keys(ours)) {
    if (typeof ours[label] !== 'object' || ours[label] === null || !('p99' in ours[label]) || rabbit[label] === undefined) continue;
    console.log(
      `  ${label.padEnd(14)} throughput ×${(ours[label].rate / rabbit[label].rate).toFixed(2)}   broker CPU per message ×${(ours[label].cpuPerMsg / rabbit[label].cpuPerMsg).toFixed(2)}   p99 ${ours[label].p99.toFixed(2)} vs ${rabbit[label].p99.toFixed(2)} ms`,
    );
  }
  console.log(`  peak RSS during the throughput runs: ${mb(ours.peakRss)} vs ${mb(rabbit.peakRss)} (×${(ours.peakRss / rabbit.peakRss).toFixed(2)})`);
  if (ours.queued && rabbit.queued) {
    console.log(
      `  ${fmt(QUEUED)} queued: peak RSS ${mb(ours.queued.peak)} vs ${mb(rabbit.queued.peak)} (×${(ours.queued.peak / rabbit.queued.peak).toFixed(2)})`,
    );
  }
}

if (hasTmux() && process.env.BENCH_NO_TUI === undefined) {
  // the real CLI: headless (its output to a file), then with the TUI open
  const headlessPort = await freePort();
  const outFile = path.join(os.tmpdir(), `amqp-spy-broker-bench-${process.pid}.log`);
  const out = fs.openSync(outFile, 'w');
  const child = spawn(process.execPath, [cli, '--standalone', '--listen', String(headlessPort)], { stdio: ['ignore', out, 'ignore'] });
  await waitForPort(headlessPort);
  let headless;
  try {
    headless = await runAll({ name: 'headless', url: `amqp://guest:guest@127.0.0.1:${headlessPort}`, pid: child.pid }, { queuedTest: false });
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    fs.closeSync(out);
    fs.rmSync(outFile, { force: true });
  }
  const tuiPort = await freePort();
  const tui = await startCliInTmux(cli, ['--standalone', '--listen', String(tuiPort)], tuiPort);
  let withTui;
  try {
    withTui = await runAll({ name: 'TUI', url: `amqp://guest:guest@127.0.0.1:${tuiPort}`, pid: tui.pid }, { queuedTest: false });
  } finally {
    await tui.stop();
  }
  console.log('\n--standalone with the TUI / headless (target: throughput ≥ 0.9x)');
  for (const label of Object.keys(withTui)) {
    if (typeof withTui[label] !== 'object' || withTui[label] === null || headless[label] === undefined) continue;
    console.log(
      `  ${label.padEnd(14)} throughput ×${(withTui[label].rate / headless[label].rate).toFixed(2)}   p99 ${withTui[label].p99.toFixed(2)} vs ${headless[label].p99.toFixed(2)} ms   CPU ${withTui[label].cpuPerMsg.toFixed(1)} vs ${headless[label].cpuPerMsg.toFixed(1)} µs/msg in all, the broker's thread ${withTui[label].mainCpuPerMsg.toFixed(1)} vs ${headless[label].mainCpuPerMsg.toFixed(1)}`,
    );
  }
} else if (process.env.BENCH_NO_TUI === undefined) {
  console.log('tmux not installed: --standalone with the TUI is not measured');
}
