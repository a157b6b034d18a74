// What the benchmarks share about processes: the built-in broker started on its own (like
// RabbitMQ, so its CPU and memory are its alone), and CPU time read from /proc.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { readFileSync } from 'node:fs';

/**
 * The built-in broker alone (no tap, no output) in a child process; resolves once it listens.
 * Its handshake timeout is a minute, not 10 s: a flood of 300 connections on a loaded 2-core
 * machine can take longer than 10 s to open them all, which is not what a benchmark measures.
 */
export async function startBuiltInBroker({ tls } = {}) {
  const url = new URL('../dist/broker/broker-server.js', import.meta.url).href;
  // with `tls` ({ cert, key, clientCa } PEM file paths), amqps:// on another port as well
  const tlsListen = tls
    ? `tlsListen: { listen: { host: '127.0.0.1', port: 0 }, cert: fs.readFileSync(${JSON.stringify(tls.cert)}), key: fs.readFileSync(${JSON.stringify(tls.key)})${
        tls.clientCa ? `, clientCa: fs.readFileSync(${JSON.stringify(tls.clientCa)})` : ''
      } },`
    : '';
  const ruleUrl = new URL('../dist/fault/fault-rule.js', import.meta.url).href;
  // BENCH_FAULT='RULE': the broker runs with that fault rule armed (what watching costs)
  const fault = process.env.BENCH_FAULT;
  const code = `
    import fs from 'node:fs';
    const { startBroker } = await import(${JSON.stringify(url)});
    const faults = ${fault === undefined ? '[]' : `[(await import(${JSON.stringify(ruleUrl)})).parseFaultRule(${JSON.stringify(fault)})]`};
    const b = await startBroker({ listen: { host: '127.0.0.1', port: 0 }, ${tlsListen} handshakeTimeout: 60000, ...(faults.length > 0 ? { faults } : {}) });
    process.stdout.write('PORT ' + b.address.port + (b.tlsAddress ? ' TLS ' + b.tlsAddress.port : '') + '\\n');
    process.stdin.on('end', () => b.close().then(() => process.exit(0)));
    process.stdin.resume();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [port, tlsPort] = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /PORT (\d+)(?: TLS (\d+))?\n/.exec(out);
      if (m) resolve([Number(m[1]), m[2] ? Number(m[2]) : undefined]);
    });
    child.once('exit', (c) => reject(new Error(`built-in broker exited with ${c}`)));
  });
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    ...(tlsPort ? { tlsUrl: `amqps://guest:guest@localhost:${tlsPort}` } : {}),
    pid: child.pid,
    stop: () =>
      new Promise((r) => {
        child.once('exit', r);
        child.stdin.end();
      }),
  };
}

function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // after "pid (comm) ": index 0 is the state, so stat field N is at N - 3
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU seconds a process used (user + system). With `children`, also what its reaped
 * children used and what its live children use now: socat forks one per connection.
 * NaN when the process cannot be read.
 */
export function cpuSeconds(pid, { children = false } = {}) {
  if (pid === undefined) return NaN;
  try {
    const f = statFields(pid);
    let ticks = Number(f[11]) + Number(f[12]);
    if (children) {
      ticks += Number(f[13]) + Number(f[14]);
      const live = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      for (const child of live ? live.split(' ') : []) {
        const c = statFields(child);
        ticks += Number(c[11]) + Number(c[12]);
      }
    }
    return ticks / 100; // clock ticks at 100 Hz
  } catch {
    return NaN;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Whether tmux is installed (the TUI targets run the real CLI in a detached tmux pane). */
export function hasTmux() {
  return spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;
}

/**
 * `node <cli> ...args` with its TUI open in a detached 150x40 tmux pane; resolves once `port`
 * accepts connections. `stop` quits it with q (the session closes its connections first).
 */
export async function startCliInTmux(cli, args, port) {
  const session = `amqp-spy-bench-${process.pid}-${port}`;
  const command = `exec ${process.execPath} ${cli} ${args.join(' ')}`;
  const started = spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '150', '-y', '40', command], { encoding: 'utf8' });
  if (started.status !== 0) throw new Error(`tmux: ${started.stderr}`);
  const pid = Number(spawnSync('tmux', ['list-panes', '-t', session, '-F', '#{pane_pid}'], { encoding: 'utf8' }).stdout.trim());
  await waitForPort(port);
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  return {
    pid,
    stop: async () => {
      spawnSync('tmux', ['send-keys', '-t', session, 'q']);
      for (let i = 0; i < 200 && alive(); i++) await sleep(25);
      spawnSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
    },
  };
}

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** Resolves once something accepts connections on 127.0.0.1:`port` (5 s at most). */
export async function waitForPort(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(25);
  }
  throw new Error(`nothing listens on ${port}`);
}

/** CPU seconds of a process's main thread alone (for amqp-spy: the forwarding thread); NaN when unreadable. */
export function mainThreadCpuSeconds(pid) {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}
