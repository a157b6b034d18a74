#!/usr/bin/env node
// Relay benchmark for the proxy's socket layer: bulk throughput and ping-pong latency through
// (a) a direct connection, (b) socat, (c) our ProxyServer, in interleaved rounds.
//
//   npm run build && node bench/proxy-relay-bench.mjs [--mb 1024] [--rounds 3] [--pings 20000]
//     [--only bulk|ping] [--observer count|none] [--proxy-node-args "--cpu-prof ..."]
//     [--with-pipe yes]   (adds a naive socket.pipe() relay as a reference point)
//
// The sink/echo server, the proxy and socat each run in their own process; this process is
// the client. Upstream is a local server only (127.0.0.1); nothing leaves the machine.
// Bulk runs move `--mb` MiB as 4 KiB writes each way; "relay CPU" is the relay process's
// CPU time per MB (for socat, its reaped per-connection children), which is steadier than
// MB/s when the machine is shared. Latency: 4 KiB and 16 B request/reply round trips.

import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { cpuSeconds } from './processes.mjs';

const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

// ---------------------------------------------------------------------------------------------
// Server: 'U' + u64 n  → read n bytes, reply 'K'.   'D' + u64 n + u32 size → send n bytes in
// writes of `size`.   'P' + u32 size → echo every `size` bytes back as one write of `size`.

function runServer() {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.setNoDelay(true);
    let header = Buffer.alloc(0);
    let mode;
    let remaining = 0n;
    let size = 0;
    let pending = 0;
    let reply;
    socket.on('data', (chunk) => {
      if (mode === undefined) {
        header = Buffer.concat([header, chunk]);
        if (header.length < 13) return;
        mode = String.fromCharCode(header[0]);
        if (mode === 'U') remaining = header.readBigUInt64BE(1);
        if (mode === 'D') {
          remaining = header.readBigUInt64BE(1);
          size = header.readUInt32BE(9);
          sendDownload(socket, Number(remaining), size);
          return;
        }
        if (mode === 'P') {
          size = header.readUInt32BE(1);
          reply = Buffer.alloc(size, 0x5a);
        }
        chunk = header.subarray(13);
      }
      if (mode === 'U') {
        remaining -= BigInt(chunk.length);
        if (remaining === 0n) socket.write('K');
      } else if (mode === 'P') {
        pending += chunk.length;
        while (pending >= size) {
          pending -= size;
          socket.write(reply);
        }
      }
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${server.address().port}\n`));
}

function sendDownload(socket, total, size) {
  const block = Buffer.alloc(size, 0xa5);
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(size, left);
      left -= n;
      if (!socket.write(n === size ? block : block.subarray(0, n))) return void socket.once('drain', pump);
    }
  };
  pump();
}

// ---------------------------------------------------------------------------------------------

async function runProxy(upstreamPort, observerKind) {
  const { ProxyServer } = await import('../dist/proxy/proxy-server.js');
  let bytes = 0;
  const observer = observerKind === 'count' ? { onData: (_id, _dir, chunk) => void (bytes += chunk.length) } : {};
  const proxy = new ProxyServer({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host: '127.0.0.1', port: upstreamPort, tls: false },
    observer,
  });
  const { port } = await proxy.listen();
  process.stdout.write(`PORT ${port}\n`);
  process.on('SIGTERM', () => {
    void bytes;
    process.exit(0);
  });
}

/** Reference point: the naive relay (`socket.pipe()` both ways), as the brief measured it. */
function runPipeRelay(upstreamPort) {
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${server.address().port}\n`));
}

// ---------------------------------------------------------------------------------------------

function startChild(cmd, argv) {
  const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    // The child announces its port as a "PORT n" line (other output, e.g. --trace-gc, passes).
    child.stdout.on('data', (d) => {
      if (out === undefined) return void process.stderr.write(d);
      out += d;
      const m = /^PORT (\d+)$/m.exec(out);
      if (m) {
        process.stderr.write(out.replace(m[0] + '\n', ''));
        out = undefined;
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.on('exit', (code) => reject(new Error(`${cmd} exited ${code}`)));
  });
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never opened`);
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(s));
    s.on('error', reject);
  });
}

function header(mode, a, b = 0) {
  const h = Buffer.alloc(13);
  h[0] = mode.charCodeAt(0);
  if (mode === 'P') h.writeUInt32BE(a, 1);
  else {
    h.writeBigUInt64BE(BigInt(a), 1);
    h.writeUInt32BE(b, 9);
  }
  return h;
}

/** Client writes `total` bytes as `size`-byte messages; time until the server's ack. */
async function upload(port, total, size) {
  const s = await connect(port);
  const block = Buffer.alloc(size, 0x42);
  const t0 = process.hrtime.bigint();
  const done = new Promise((resolve) => s.once('data', resolve));
  s.write(header('U', total));
  let left = total;
  await new Promise((resolve) => {
    const pump = () => {
      while (left > 0) {
        const n = Math.min(size, left);
        left -= n;
        if (!s.write(n === size ? block : block.subarray(0, n))) return void s.once('drain', pump);
      }
      resolve();
    };
    pump();
  });
  await done;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  s.destroy();
  return total / 1e6 / secs;
}

/** Server writes `total` bytes as `size`-byte messages; time until all arrived. */
async function download(port, total, size) {
  const s = await connect(port);
  const t0 = process.hrtime.bigint();
  let got = 0;
  await new Promise((resolve) => {
    s.on('data', (chunk) => {
      got += chunk.length;
      if (got >= total) resolve();
    });
    s.write(header('D', total, size));
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  s.destroy();
  return total / 1e6 / secs;
}

/** `count` round trips of `size` bytes each way; returns sorted RTTs in µs. */
async function pingPong(port, size, count) {
  const s = await connect(port);
  s.write(header('P', size));
  const msg = Buffer.alloc(size, 0x33);
  const rtts = new Float64Array(count);
  let i = 0;
  let got = 0;
  let t0 = 0n;
  const t = await new Promise((resolve) => {
    const start = process.hrtime.bigint();
    s.on('data', (chunk) => {
      got += chunk.length;
      while (got >= size) {
        got -= size;
        rtts[i++] = Number(process.hrtime.bigint() - t0) / 1e3;
        if (i === count) return resolve(Number(process.hrtime.bigint() - start) / 1e9);
        t0 = process.hrtime.bigint();
        s.write(msg);
      }
    });
    t0 = process.hrtime.bigint();
    s.write(msg);
  });
  s.destroy();
  rtts.sort();
  return { rtts, perSec: count / t };
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}
function median(xs) {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

async function runDriver() {
  const mb = Number(arg('mb', '1024'));
  const rounds = Number(arg('rounds', '3'));
  const pings = Number(arg('pings', '20000'));
  const observer = arg('observer', 'count');
  const only = arg('only', 'all');
  const total = mb * 1024 * 1024;

  const server = await startChild(process.execPath, [self, '--role', 'server']);
  children.push(server.child);
  const targets = [{ name: 'direct', port: server.port, pid: undefined }];
  let socatPath;
  try {
    socatPath = execFileSync('which', ['socat']).toString().trim();
  } catch {
    console.log('socat not found: skipping the socat comparison');
  }
  if (socatPath) {
    const port = await freePort();
    const child = spawn(socatPath, [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `TCP:127.0.0.1:${server.port}`], {
      stdio: 'ignore',
    });
    children.push(child);
    await waitForPort(port);
    targets.push({ name: 'socat', port, pid: child.pid });
  }
  // e.g. --proxy-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the proxy
  const proxyNodeArgs = arg('proxy-node-args', '').split(' ').filter(Boolean);
  const proxy = await startChild(process.execPath, [...proxyNodeArgs, self, '--role', 'proxy', '--upstream-port', String(server.port), '--observer', observer]);
  children.push(proxy.child);
  targets.push({ name: 'amqp-spy', port: proxy.port, pid: proxy.child.pid });
  if (arg('with-pipe', 'no') === 'yes') {
    const pipe = await startChild(process.execPath, [self, '--role', 'pipe', '--upstream-port', String(server.port)]);
    children.push(pipe.child);
    targets.push({ name: 'node-pipe', port: pipe.port, pid: pipe.child.pid });
  }

  console.log(`relay bench: ${mb} MiB per bulk run, ${pings} ping-pongs, ${rounds} rounds, proxy observer: ${observer}`);
  const results = new Map(targets.map((t) => [t.name, { up: [], down: [], cpuUp: [], cpuDown: [], p4k: [], p16: [], r4k: [], r16: [] }]));
  for (let round = 1; round <= rounds; round++) {
    for (const t of targets) {
      const r = results.get(t.name);
      if (only === 'all' || only === 'bulk') {
        // CPU per MB relayed, for each direction; the pause lets socat reap its child.
        const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
        let cpu0 = cpuSeconds(t.pid, { children: true });
        r.up.push(await upload(t.port, total, 4096));
        await settle();
        r.cpuUp.push(((cpuSeconds(t.pid, { children: true }) - cpu0) * 1e6) / (total / 1e6));
        cpu0 = cpuSeconds(t.pid, { children: true });
        r.down.push(await download(t.port, total, 4096));
        await settle();
        r.cpuDown.push(((cpuSeconds(t.pid, { children: true }) - cpu0) * 1e6) / (total / 1e6));
      }
      if (only === 'all' || only === 'ping') {
        const p4 = await pingPong(t.port, 4096, pings);
        r.p4k.push(p4.rtts);
        r.r4k.push(p4.perSec);
        const p16 = await pingPong(t.port, 16, pings);
        r.p16.push(p16.rtts);
        r.r16.push(p16.perSec);
      }
      const last = (xs) => (xs.length ? xs[xs.length - 1].toFixed(0) : '-');
      console.log(
        `round ${round} ${t.name.padEnd(8)} up ${last(r.up)} MB/s  down ${last(r.down)} MB/s  relay CPU ${last(r.cpuUp)}/${last(r.cpuDown)} µs/MB  ` +
          `4K ${last(r.r4k)} rt/s  16B ${last(r.r16)} rt/s`,
      );
    }
  }

  const merge = (arrays) => {
    const all = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
    let o = 0;
    for (const a of arrays) {
      all.set(a, o);
      o += a.length;
    }
    return all.sort();
  };
  console.log('\nmedian of rounds (latency: all round trips pooled)');
  console.log('target     up MB/s  down MB/s  relay CPU µs/MB up/down  4K p50/p99 µs   16B p50/p99 µs');
  const summary = {};
  for (const t of targets) {
    const r = results.get(t.name);
    const p4 = r.p4k.length ? merge(r.p4k) : undefined;
    const p16 = r.p16.length ? merge(r.p16) : undefined;
    const s = {
      up: r.up.length ? median(r.up) : NaN,
      down: r.down.length ? median(r.down) : NaN,
      cpuUp: r.cpuUp.length ? median(r.cpuUp) : NaN,
      cpuDown: r.cpuDown.length ? median(r.cpuDown) : NaN,
      p4k50: p4 ? pct(p4, 50) : NaN,
      p4k99: p4 ? pct(p4, 99) : NaN,
      p16_50: p16 ? pct(p16, 50) : NaN,
      p16_99: p16 ? pct(p16, 99) : NaN,
    };
    summary[t.name] = s;
    console.log(
      `${t.name.padEnd(10)} ${s.up.toFixed(0).padStart(7)}  ${s.down.toFixed(0).padStart(9)}  ${s.cpuUp.toFixed(0).padStart(10)}/${s.cpuDown.toFixed(0).padEnd(13)}  ` +
        `${s.p4k50.toFixed(1).padStart(6)}/${s.p4k99.toFixed(1).padEnd(7)}  ${s.p16_50.toFixed(1).padStart(6)}/${s.p16_99.toFixed(1)}`,
    );
  }
  const ours = summary['amqp-spy'];
  const socat = summary.socat;
  const pipe = summary['node-pipe'];
  if (socat && pipe) {
    console.log(`node-pipe / socat: throughput up ${(pipe.up / socat.up).toFixed(2)}x, down ${(pipe.down / socat.down).toFixed(2)}x`);
  }
  if (socat) {
    const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
    console.log(
      `\namqp-spy / socat: throughput up ${f(ours.up / socat.up)}x, down ${f(ours.down / socat.down)}x; ` +
        `latency p50 4K ${f(ours.p4k50 / socat.p4k50)}x, 16B ${f(ours.p16_50 / socat.p16_50)}x ` +
        `(p99 4K ${f(ours.p4k99 / socat.p4k99)}x, 16B ${f(ours.p16_99 / socat.p16_99)}x; latency: lower is better)`,
    );
  }
  for (const c of children) c.kill('SIGTERM');
}

const children = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

// Children exit when the driver goes away (their stdin closes), even if it is killed.
function exitWithParent() {
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

const role = arg('role', 'driver');
if (role === 'server') {
  exitWithParent();
  runServer();
} else if (role === 'pipe') {
  exitWithParent();
  runPipeRelay(Number(arg('upstream-port')));
} else if (role === 'proxy') {
  exitWithParent();
  await runProxy(Number(arg('upstream-port')), arg('observer', 'none'));
} else {
  await runDriver();
}
