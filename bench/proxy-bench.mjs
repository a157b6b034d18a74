#!/usr/bin/env node
// npm run bench:proxy — amqplib through three paths to the same broker, interleaved in one
// run: directly, through socat (the no-decode relay), and through amqp-spy (decoding on,
// headless output written to a file). Prints msgs/s, MB/s, round-trip p50/p99, amqp-spy's
// peak RSS, and ratios to socat.
//
// Broker: AMQP_SPY_RABBITMQ_URL (e.g. amqp://guest:guest@127.0.0.1:5672) when set, else the
// built-in broker in a child process (without a tap of its own, so only the proxy decodes).
// Besides throughput, each relay's CPU time per message is read from /proc: it is what the
// throughput ratio comes from on a machine whose cores the broker and client share, and it
// is steadier than throughput when the machine is noisy.
// Before the measured rounds every target gets a short unmeasured warm-up (BENCH_WARMUP
// messages of each size), so that amqp-spy's JIT compilation is not counted against it.
// With tmux installed, amqp-spy also runs with its terminal UI open (a 150x40 tmux pane), so
// the cost of drawing is measured beside headless; BENCH_TUI_BASE=/path/to/other/dist/cli.js
// adds that build's TUI too, and BENCH_BASE=/path/to/other/dist/cli.js that build headless, for
// same-run A/Bs.
// TLS on both legs (with the openssl command): clients connect with amqps:// to socat
// (OPENSSL-LISTEN → OPENSSL) and to amqp-spy (--listen-tls → an amqps:// upstream), which reach
// a broker over TLS: RabbitMQ's listener at AMQP_SPY_RABBITMQ_TLS_URL (with the client
// certificate in AMQP_SPY_RABBITMQ_TLS_DIR, as CI sets up), else the built-in broker's
// --listen-tls with certificates from `amqp-spy certs`. BENCH_TLS=0 leaves them out.
// BENCH_NO_TUI=1 leaves the TUI targets out (a quicker headless A/B), as in bench:broker.
// Options (env): BENCH_MESSAGES (100000), BENCH_RPC (5000), BENCH_ROUNDS (3), BENCH_WARMUP (20000).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import { cpuSeconds, freePort, mainThreadCpuSeconds, hasTmux, startBuiltInBroker, startCliInTmux, waitForPort } from './processes.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const RPC = Number(process.env.BENCH_RPC ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3); // an odd count: the median is a measured round
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20_000);
const builtIn = process.env.AMQP_SPY_RABBITMQ_URL ? undefined : await startBuiltInBroker();
const broker = new URL(process.env.AMQP_SPY_RABBITMQ_URL ?? builtIn.url);
const brokerName = builtIn ? 'the built-in broker' : 'RabbitMQ';
const brokerHost = broker.hostname;
const brokerPort = Number(broker.port || 5672);
const user = decodeURIComponent(broker.username || 'guest');
const pass = decodeURIComponent(broker.password || 'guest');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function peakRssMb(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

const HAVE_OPENSSL = process.env.BENCH_TLS !== '0' && spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
/** Where the TLS targets' certificates and broker come from (see the header); undefined without openssl. */
const tlsSetup = HAVE_OPENSSL ? await setUpTls() : undefined;

async function setUpTls() {
  if (process.env.AMQP_SPY_RABBITMQ_TLS_URL && process.env.AMQP_SPY_RABBITMQ_TLS_DIR) {
    const url = new URL(process.env.AMQP_SPY_RABBITMQ_TLS_URL);
    const dir = process.env.AMQP_SPY_RABBITMQ_TLS_DIR;
    return { dir, host: url.hostname, port: Number(url.port || 5671), name: 'RabbitMQ', clientCert: true };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-bench-tls-'));
  const made = spawnSync(process.execPath, [path.join(root, 'dist/cli.js'), 'certs', dir], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`amqp-spy certs failed: ${made.stderr}`);
  const tlsBroker = await startBuiltInBroker({ tls: { cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server-key.pem') } });
  const url = new URL(tlsBroker.tlsUrl);
  return { dir, host: url.hostname, port: Number(url.port), name: 'the built-in broker', clientCert: false, broker: tlsBroker };
}

/** A target's connection: plain to 127.0.0.1, or amqps:// to localhost (the certificate's name) trusting the test CA. */
const connect = (t) =>
  t.tls
    ? amqplib.connect(
        { protocol: 'amqps', hostname: 'localhost', port: t.port, username: user, password: pass, frameMax: 131072 },
        {
          ca: [fs.readFileSync(path.join(tlsSetup.dir, 'ca.pem'))],
          // straight to a broker that requires a client certificate, the client shows one
          ...(t.name === 'direct TLS' && tlsSetup.clientCert
            ? { cert: fs.readFileSync(path.join(tlsSetup.dir, 'client.pem')), key: fs.readFileSync(path.join(tlsSetup.dir, 'client-key.pem')) }
            : {}),
        },
      )
    : amqplib.connect({ hostname: '127.0.0.1', port: t.port, username: user, password: pass, frameMax: 131072 });

/**
 * Publish and consume MESSAGES messages of `size` bytes; separate connections; prefetch 1000.
 * `atEnd` runs once every message arrived, before the connections close.
 */
async function throughput(target, size, atEnd = () => {}, messages = MESSAGES) {
  const queue = `bench.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const pubConn = await connect(target);
  const subConn = await connect(target);
  try {
    const pub = await pubConn.createChannel();
    const sub = await subConn.createChannel();
    await sub.assertQueue(queue, { exclusive: false, autoDelete: true, durable: false });
    await sub.prefetch(1000);
    const body = Buffer.alloc(size, 0x61);
    let received = 0;
    let done;
    const finished = new Promise((r) => {
      done = r;
    });
    await sub.consume(queue, (msg) => {
      received++;
      if (received % 100 === 0 || received === messages) sub.ack(msg, true);
      if (received === messages) done();
    });
    const start = process.hrtime.bigint();
    for (let i = 0; i < messages; i++) {
      if (!pub.sendToQueue(queue, body)) await new Promise((r) => pub.once('drain', r));
    }
    await finished;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    atEnd();
    await sub.deleteQueue(queue).catch(() => {});
    return { msgsPerSec: messages / seconds, mbPerSec: (messages * size) / seconds / 1e6 };
  } finally {
    await pubConn.close().catch(() => {});
    await subConn.close().catch(() => {});
  }
}

/** RPC round trips: request to a responder on another connection, reply on a reply queue. */
async function latency(target) {
  const reqQueue = `bench.rpc.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const clientConn = await connect(target);
  const serverConn = await connect(target);
  try {
    const server = await serverConn.createChannel();
    const client = await clientConn.createChannel();
    await server.assertQueue(reqQueue, { autoDelete: true, durable: false });
    const { queue: replyQueue } = await client.assertQueue('', { exclusive: true });
    await server.consume(
      reqQueue,
      (msg) => {
        server.sendToQueue(msg.properties.replyTo, msg.content);
      },
      { noAck: true },
    );
    let resolveReply;
    await client.consume(replyQueue, () => resolveReply(), { noAck: true });
    const samples = [];
    const body = Buffer.alloc(16, 0x62);
    for (let i = 0; i < RPC; i++) {
      const replied = new Promise((r) => {
        resolveReply = r;
      });
      const t0 = process.hrtime.bigint();
      client.sendToQueue(reqQueue, body, { replyTo: replyQueue });
      await replied;
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    samples.sort((a, b) => a - b);
    return { p50: samples[Math.floor(samples.length * 0.5)], p99: samples[Math.floor(samples.length * 0.99)] };
  } finally {
    await clientConn.close().catch(() => {});
    await serverConn.close().catch(() => {});
  }
}

async function startTargets() {
  const targets = [{ name: 'direct', port: brokerPort, stop: async () => {} }];
  if (spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0) {
    const port = await freePort();
    const child = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `TCP:${brokerHost}:${brokerPort}`], { stdio: 'ignore' });
    await waitForPort(port);
    targets.push({
      name: 'socat',
      port,
      child,
      stop: async () => {
        child.kill('SIGTERM');
      },
    });
  } else {
    console.log('socat not installed (apt-get install socat): ratios to socat are not available');
  }
  const port = await freePort();
  const outFile = path.join(os.tmpdir(), `amqp-spy-bench-${process.pid}.log`);
  const out = fs.openSync(outFile, 'w');
  const child = spawn(process.execPath, [path.join(root, 'dist/cli.js'), '--listen', String(port), '--upstream', `${brokerHost}:${brokerPort}`], {
    stdio: ['ignore', out, 'ignore'],
  });
  await waitForPort(port);
  targets.push({
    name: 'amqp-spy',
    port,
    child,
    outFile,
    stop: async () => {
      child.kill('SIGINT');
      await new Promise((r) => child.on('exit', r));
      fs.closeSync(out);
    },
  });
  if (process.env.BENCH_BASE) {
    // another build, headless, for a same-run A/B of the forwarding path
    const basePort = await freePort();
    // its headless output goes to a file too: writing it is part of what is compared
    const baseOutFile = path.join(os.tmpdir(), `amqp-spy-bench-${process.pid}.base.log`);
    const baseOut = fs.openSync(baseOutFile, 'w');
    const baseChild = spawn(
      process.execPath,
      [path.resolve(process.env.BENCH_BASE), '--listen', String(basePort), '--upstream', `${brokerHost}:${brokerPort}`],
      {
        stdio: ['ignore', baseOut, 'ignore'],
      },
    );
    await waitForPort(basePort);
    targets.push({
      name: 'amqp-spy base',
      port: basePort,
      child: baseChild,
      stop: async () => {
        baseChild.kill('SIGINT');
        await new Promise((r) => baseChild.on('exit', r));
        fs.closeSync(baseOut);
        fs.rmSync(baseOutFile, { force: true });
      },
    });
  }
  // the same with --record to a file on disk (targets: ≥ 0.7x amqp-spy's throughput, ≥ 100 MB/s written)
  const recordPort = await freePort();
  const recordFile = path.join(os.tmpdir(), `amqp-spy-bench-${process.pid}.jsonl`);
  const recordOutFile = path.join(os.tmpdir(), `amqp-spy-bench-${process.pid}.record.log`);
  const recordOut = fs.openSync(recordOutFile, 'w');
  const recordChild = spawn(
    process.execPath,
    [path.join(root, 'dist/cli.js'), '--listen', String(recordPort), '--upstream', `${brokerHost}:${brokerPort}`, '--record', recordFile],
    { stdio: ['ignore', recordOut, 'ignore'] },
  );
  await waitForPort(recordPort);
  targets.push({
    name: 'amqp-spy --record',
    port: recordPort,
    child: recordChild,
    outFile: recordOutFile,
    recordFile,
    stop: async () => {
      recordChild.kill('SIGINT');
      await new Promise((r) => recordChild.on('exit', r));
      fs.closeSync(recordOut);
    },
  });
  if (tlsSetup) targets.push(...(await startTlsTargets()));
  if (process.env.BENCH_NO_TUI !== undefined) {
    console.log('BENCH_NO_TUI: the TUI is not measured');
  } else if (hasTmux()) {
    targets.push(await startTuiTarget('amqp-spy TUI', path.join(root, 'dist/cli.js')));
    if (process.env.BENCH_TUI_BASE) targets.push(await startTuiTarget('amqp-spy TUI base', path.resolve(process.env.BENCH_TUI_BASE)));
  } else {
    console.log('tmux not installed: the TUI is not measured');
  }
  return targets;
}

/** direct, socat and amqp-spy with TLS on both legs (see the header). */
async function startTlsTargets() {
  const pem = (name) => path.join(tlsSetup.dir, name);
  const { host, port: brokerTlsPort } = tlsSetup;
  const targets = [{ name: 'direct TLS', port: brokerTlsPort, tls: true, stop: async () => {} }];
  if (spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0) {
    const port = await freePort();
    const clientCert = tlsSetup.clientCert ? `,cert=${pem('client.pem')},key=${pem('client-key.pem')}` : '';
    const child = spawn(
      'socat',
      [
        `OPENSSL-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,cert=${pem('server.pem')},key=${pem('server-key.pem')},verify=0`,
        `OPENSSL:${host}:${brokerTlsPort},cafile=${pem('ca.pem')}${clientCert}`,
      ],
      { stdio: 'ignore' },
    );
    await waitForPort(port);
    targets.push({ name: 'socat TLS', port, tls: true, child, stop: async () => child.kill('SIGTERM') });
  }
  const port = await freePort();
  const outFile = path.join(os.tmpdir(), `amqp-spy-bench-${process.pid}.tls.log`);
  const out = fs.openSync(outFile, 'w');
  const clientCert = tlsSetup.clientCert ? ['--upstream-cert', pem('client.pem'), '--upstream-key', pem('client-key.pem')] : [];
  const args = ['--listen', String(await freePort()), '--listen-tls', String(port), '--cert', pem('server.pem'), '--key', pem('server-key.pem')];
  args.push('--upstream', `amqps://${host}:${brokerTlsPort}`, '--upstream-ca', pem('ca.pem'), ...clientCert);
  const child = spawn(process.execPath, [path.join(root, 'dist/cli.js'), ...args], { stdio: ['ignore', out, 'ignore'] });
  await waitForPort(port);
  targets.push({
    name: 'amqp-spy TLS',
    port,
    tls: true,
    child,
    outFile,
    stop: async () => {
      child.kill('SIGINT');
      await new Promise((r) => child.on('exit', r));
      fs.closeSync(out);
      fs.rmSync(outFile, { force: true });
    },
  });
  return targets;
}

/** amqp-spy with its TUI open in a 150x40 terminal (a detached tmux session). */
async function startTuiTarget(name, cli) {
  const port = await freePort();
  const { pid, stop } = await startCliInTmux(cli, ['--listen', String(port), '--upstream', `${brokerHost}:${brokerPort}`], port);
  return { name, port, child: { pid }, stop };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const targets = await startTargets();
const results = new Map(targets.map((t) => [t.name, { small: [], large: [], p50: [], p99: [] }]));
let spyPeakRss = 0;
const tuiPeakRss = new Map();
const recordWriteMbPerSec = [];
console.log(
  `bench:proxy — ${MESSAGES} messages per run, ${RPC} round trips, ${ROUNDS} interleaved rounds after a ${WARMUP}-message warm-up, ${brokerName} at ${brokerHost}:${brokerPort}, ${os.cpus().length} cores shared by broker, client and relay`,
);
if (WARMUP > 0) {
  for (const t of targets) for (const size of [16, 4096]) await throughput(t, size, () => {}, WARMUP);
}
for (let round = 1; round <= ROUNDS; round++) {
  for (const t of targets) {
    const r = results.get(t.name);
    const sizeBefore = t.recordFile ? fs.statSync(t.recordFile).size : 0;
    const measured = async (size) => {
      const before = t.child ? cpuSeconds(t.child.pid, { children: true }) : NaN;
      const mainBefore = t.child ? mainThreadCpuSeconds(t.child.pid) : NaN;
      let after = NaN;
      let mainAfter = NaN;
      const result = await throughput(t, size, () => {
        if (t.child) after = cpuSeconds(t.child.pid, { children: true });
        if (t.child) mainAfter = mainThreadCpuSeconds(t.child.pid);
      });
      await sleep(100); // socat's per-connection children exit and are reaped
      return { ...result, cpuMicrosPerMsg: ((after - before) * 1e6) / MESSAGES, mainCpuMicrosPerMsg: ((mainAfter - mainBefore) * 1e6) / MESSAGES };
    };
    const small = await measured(16);
    const large = await measured(4096);
    if (t.recordFile) {
      // bytes the recorder wrote while the two throughput runs lasted
      const seconds = MESSAGES / small.msgsPerSec + MESSAGES / large.msgsPerSec;
      recordWriteMbPerSec.push((fs.statSync(t.recordFile).size - sizeBefore) / seconds / 1e6);
    }
    const lat = await latency(t);
    r.small.push(small);
    r.large.push(large);
    r.p50.push(lat.p50);
    r.p99.push(lat.p99);
    if (t.name === 'amqp-spy') spyPeakRss = Math.max(spyPeakRss, peakRssMb(t.child.pid));
    if (t.name.includes('TUI')) tuiPeakRss.set(t.name, Math.max(tuiPeakRss.get(t.name) ?? 0, peakRssMb(t.child.pid)));
    const cpu = t.child ? `  cpu ${small.cpuMicrosPerMsg.toFixed(1)} / ${large.cpuMicrosPerMsg.toFixed(1)} µs/msg` : '';
    console.log(
      `round ${round} ${t.name.padEnd(17)} 16 B ${Math.round(small.msgsPerSec)} msg/s  4 KB ${Math.round(large.msgsPerSec)} msg/s (${large.mbPerSec.toFixed(1)} MB/s)  rtt p50 ${lat.p50.toFixed(3)} ms p99 ${lat.p99.toFixed(3)} ms${cpu}`,
    );
  }
}
const spyTarget = targets.find((t) => t.name === 'amqp-spy');
const recordTarget = targets.find((t) => t.name === 'amqp-spy --record');
for (const t of targets) await t.stop();

console.log('\nmedians:');
const summary = {};
for (const [name, r] of results) {
  summary[name] = {
    small: median(r.small.map((x) => x.msgsPerSec)),
    large: median(r.large.map((x) => x.msgsPerSec)),
    largeMb: median(r.large.map((x) => x.mbPerSec)),
    p50: median(r.p50),
    p99: median(r.p99),
    cpuSmall: median(r.small.map((x) => x.cpuMicrosPerMsg)),
    cpuLarge: median(r.large.map((x) => x.cpuMicrosPerMsg)),
    mainCpuSmall: median(r.small.map((x) => x.mainCpuMicrosPerMsg)),
    mainCpuLarge: median(r.large.map((x) => x.mainCpuMicrosPerMsg)),
  };
  const s = summary[name];
  const cpu = Number.isNaN(s.cpuSmall) ? '' : ` | relay cpu ${s.cpuSmall.toFixed(1)} / ${s.cpuLarge.toFixed(1)} µs/msg`;
  console.log(
    `${name.padEnd(17)} 16 B ${Math.round(s.small)} msg/s | 4 KB ${Math.round(s.large)} msg/s ${s.largeMb.toFixed(1)} MB/s | p50 ${s.p50.toFixed(3)} ms p99 ${s.p99.toFixed(3)} ms${cpu}`,
  );
}
const base = summary.socat;
const spy = summary['amqp-spy'];
if (base && spy) {
  console.log('\namqp-spy vs socat (targets: throughput ≥ 0.95x, p50 within +0.05 ms, RSS < 200 MB):');
  console.log(`throughput 16 B: ${(spy.small / base.small).toFixed(3)}x   4 KB: ${(spy.large / base.large).toFixed(3)}x`);
  console.log(
    `latency p50: ${spy.p50.toFixed(3)} ms vs ${base.p50.toFixed(3)} ms (${spy.p50 - base.p50 >= 0 ? '+' : ''}${(spy.p50 - base.p50).toFixed(3)} ms)   p99: ${spy.p99.toFixed(3)} vs ${base.p99.toFixed(3)} ms`,
  );
  console.log(
    `relay CPU per message (what limits throughput when the cores are shared): 16 B ${spy.cpuSmall.toFixed(1)} µs vs socat ${base.cpuSmall.toFixed(1)} µs, 4 KB ${spy.cpuLarge.toFixed(1)} µs vs ${base.cpuLarge.toFixed(1)} µs`,
  );
}
console.log(`amqp-spy peak RSS: ${spyPeakRss.toFixed(1)} MB; its headless output: ${fs.statSync(spyTarget.outFile).size} bytes in ${spyTarget.outFile}`);
fs.rmSync(spyTarget.outFile, { force: true });
const recorded = summary['amqp-spy --record'];
if (spy && recorded) {
  console.log('\namqp-spy --record vs amqp-spy (targets: throughput ≥ 0.7x, recording written ≥ 100 MB/s):');
  console.log(
    `throughput 16 B: ${(recorded.small / spy.small).toFixed(3)}x   4 KB: ${(recorded.large / spy.large).toFixed(3)}x   (relay CPU ${recorded.cpuSmall.toFixed(1)} / ${recorded.cpuLarge.toFixed(1)} µs/msg)   file written at ${median(recordWriteMbPerSec).toFixed(1)} MB/s (median), ${fs.statSync(recordTarget.recordFile).size} bytes in all`,
  );
}
const headlessBase = summary['amqp-spy base'];
if (spy && headlessBase) {
  console.log('\namqp-spy vs amqp-spy base, both headless (same-run A/B of the forwarding path):');
  console.log(
    `throughput 16 B: ${(spy.small / headlessBase.small).toFixed(3)}x   4 KB: ${(spy.large / headlessBase.large).toFixed(3)}x   relay CPU ${spy.cpuSmall.toFixed(1)} / ${spy.cpuLarge.toFixed(1)} vs ${headlessBase.cpuSmall.toFixed(1)} / ${headlessBase.cpuLarge.toFixed(1)} µs/msg   p99 ${spy.p99.toFixed(3)} vs ${headlessBase.p99.toFixed(3)} ms`,
  );
}
for (const name of ['amqp-spy TUI', 'amqp-spy TUI base']) {
  const tui = summary[name];
  if (!tui || !spy) continue;
  console.log(`\n${name} vs amqp-spy headless (targets: throughput ≥ 0.9x, RTT p99 within 2 ms of socat's):`);
  console.log(
    `throughput 16 B: ${(tui.small / spy.small).toFixed(3)}x   4 KB: ${(tui.large / spy.large).toFixed(3)}x   p99 ${tui.p99.toFixed(3)} ms vs socat ${base ? base.p99.toFixed(3) : '?'} ms (${base ? `${tui.p99 - base.p99 >= 0 ? '+' : ''}${(tui.p99 - base.p99).toFixed(3)} ms` : 'no socat'})   CPU ${tui.cpuSmall.toFixed(1)} / ${tui.cpuLarge.toFixed(1)} µs/msg in all, forwarding thread ${tui.mainCpuSmall.toFixed(1)} / ${tui.mainCpuLarge.toFixed(1)} (headless ${spy.mainCpuSmall.toFixed(1)} / ${spy.mainCpuLarge.toFixed(1)})   peak RSS ${tuiPeakRss.get(name).toFixed(1)} MB`,
  );
}
const tlsSpy = summary['amqp-spy TLS'];
const tlsSocat = summary['socat TLS'];
if (tlsSpy && tlsSocat) {
  const direct = summary['direct TLS'];
  console.log(
    `\namqp-spy TLS vs socat TLS, both legs encrypted, to ${tlsSetup.name} over amqps:// (targets as plain: throughput ≥ 0.95x, p50 within +0.05 ms):`,
  );
  console.log(
    `throughput 16 B: ${(tlsSpy.small / tlsSocat.small).toFixed(3)}x   4 KB: ${(tlsSpy.large / tlsSocat.large).toFixed(3)}x   p50 ${tlsSpy.p50.toFixed(3)} vs ${tlsSocat.p50.toFixed(3)} ms (${tlsSpy.p50 - tlsSocat.p50 >= 0 ? '+' : ''}${(tlsSpy.p50 - tlsSocat.p50).toFixed(3)} ms)   p99 ${tlsSpy.p99.toFixed(3)} vs ${tlsSocat.p99.toFixed(3)} ms   relay CPU ${tlsSpy.cpuSmall.toFixed(1)} / ${tlsSpy.cpuLarge.toFixed(1)} vs ${tlsSocat.cpuSmall.toFixed(1)} / ${tlsSocat.cpuLarge.toFixed(1)} µs/msg`,
  );
  if (direct)
    console.log(
      `direct TLS: 16 B ${Math.round(direct.small)} msg/s, 4 KB ${Math.round(direct.large)} msg/s; amqp-spy TLS vs plain amqp-spy: ${spy ? `${(tlsSpy.small / spy.small).toFixed(3)}x / ${(tlsSpy.large / spy.large).toFixed(3)}x` : '?'}`,
    );
}
fs.rmSync(recordTarget.recordFile, { force: true });
fs.rmSync(recordTarget.outFile, { force: true });
await builtIn?.stop();
await tlsSetup?.broker?.stop();
if (tlsSetup?.broker) fs.rmSync(tlsSetup.dir, { recursive: true, force: true });
