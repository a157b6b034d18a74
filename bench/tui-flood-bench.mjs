#!/usr/bin/env node
// The TUI under a flood, through the real CLI in a real terminal (a 150x40 tmux pane): the
// proxy with its UI open while 300 connections push 200 messages each (16 B..64 KB bodies)
// through it. Measures what a user meets:
// - key-to-screen latency: `m` (frames/messages) is sent every ~250 ms through a tmux control-mode
//   client, timed until the UI's output reaching the pane says the other mode; p50/p95/max, idle
//   and under the flood;
// - the whole process's peak RSS (VmHWM) with the default --buffer;
// - the flood's duration with the TUI open beside the same flood through a headless proxy.
// Upstream: AMQP_SPY_RABBITMQ_URL when set, else the built-in broker in a child process.
// Options (env): FLOOD_CONNS (300), FLOOD_MSGS (200). Targets (issue #20): keys p95 <= 200 ms,
// RSS < 300 MB. Numbers only; no assertions.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, hasTmux, startBuiltInBroker, waitForPort } from './processes.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/cli.js');
const CONNS = Number(process.env.FLOOD_CONNS ?? 300);
const MSGS = Number(process.env.FLOOD_MSGS ?? 200);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (!hasTmux()) {
  console.log('tui-flood-bench: tmux is not installed; skipped');
  process.exit(0);
}
const builtIn = process.env.AMQP_SPY_RABBITMQ_URL ? undefined : await startBuiltInBroker();
const broker = new URL(process.env.AMQP_SPY_RABBITMQ_URL ?? builtIn.url);
const upstream = `${broker.hostname}:${broker.port || 5672}`;

function status(pid, field) {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
  } catch {
    return NaN;
  }
}
const pane = (session) => spawnSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' }).stdout;
const modeOf = (screen) => /rows: (frames|messages)/.exec(screen)?.[1];

function runLoad(port) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'bench/flood-load.mjs'), String(port), String(CONNS), String(MSGS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`flood-load exited ${code}`))));
  });
}

/**
 * A tmux control-mode client on the session: keys go in as commands and the pane's output comes
 * back as it arrives, so a key's answer is seen the moment the UI writes it, without polling
 * (spawning `tmux capture-pane` every few ms loaded the very cores the flood and the UI share).
 */
function controlClient(session) {
  const child = spawn('tmux', ['-C', 'attach-session', '-t', session], { stdio: ['pipe', 'pipe', 'ignore'] });
  let pending = '';
  /** the pane's recent text, escapes removed (a mode word may be split across outputs) */
  let recent = '';
  let waiter;
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (data) => {
    pending += data;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
      if (!line.startsWith('%output ')) continue;
      // %output %PANE DATA: DATA has characters below 32 and backslashes as \ooo
      const raw = line.slice(line.indexOf(' ', 8) + 1).replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8)));
      recent = (recent + raw.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')).slice(-4096);
      if (waiter?.test(recent)) {
        const done = waiter;
        waiter = undefined;
        done.resolve(performance.now());
      }
    }
  });
  return {
    /** sends `key` and resolves with the ms until the pane's output shows `expected` */
    press(key, expected, timeoutMs = 30_000) {
      recent = '';
      const started = performance.now();
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          resolve(Infinity);
        }, timeoutMs);
        waiter = {
          test: (text) => expected.test(text),
          resolve: (at) => {
            clearTimeout(timer);
            resolve(at - started);
          },
        };
        child.stdin.write(`send-keys -t ${session} ${key}\n`);
      });
    },
    close() {
      child.stdin.end();
      child.kill();
    },
  };
}

let control;
/** Presses `m` and waits until the UI writes the other mode; resolves with the ms it took. */
async function keyLatency(session) {
  const before = modeOf(pane(session));
  const other = before === 'frames' ? 'messages' : 'frames';
  const ms = await control.press('m', new RegExp(`rows: ${other}`));
  // let the pane settle so the next key starts from the mode just drawn
  for (let i = 0; i < 100 && modeOf(pane(session)) !== other; i++) await sleep(10);
  return ms;
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const ms = (x) => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : 'none');

// headless first: the flood's duration with nothing drawn
const headlessPort = await freePort();
const headless = spawn(process.execPath, [cli, '--no-tui', '--listen', String(headlessPort), '--upstream', upstream], {
  stdio: ['ignore', 'ignore', 'ignore'],
});
await waitForPort(headlessPort);
const headlessRun = await runLoad(headlessPort);
const headlessHwm = status(headless.pid, 'VmHWM');
headless.kill('SIGINT');

const port = await freePort();
const session = `amqp-spy-flood-${process.pid}`;
spawnSync('tmux', [
  'new-session',
  '-d',
  '-s',
  session,
  '-x',
  '150',
  '-y',
  '40',
  `exec ${process.execPath} ${process.env.FLOOD_NODE_FLAGS ?? ''} ${cli} --listen ${port} --upstream ${upstream}`,
]);
const pid = Number(spawnSync('tmux', ['list-panes', '-t', session, '-F', '#{pane_pid}'], { encoding: 'utf8' }).stdout.trim());
await waitForPort(port);
// the UI's thread starts drawing a little after the port opens
for (let i = 0; i < 200 && modeOf(pane(session)) === undefined; i++) await sleep(25);
await sleep(500);
control = controlClient(session);

const idle = [];
for (let i = 0; i < 10; i++) {
  idle.push(await keyLatency(session));
  await sleep(100);
}

let flooding = true;
let peakRss = 0;
const rssPoll = setInterval(() => {
  peakRss = Math.max(peakRss, status(pid, 'VmRSS'));
}, 50);
const load = runLoad(port).finally(() => {
  flooding = false;
});
const underFlood = [];
await sleep(300);
while (flooding) {
  underFlood.push(await keyLatency(session));
  await sleep(200 + Math.random() * 100);
}
const tuiRun = await load;
clearInterval(rssPoll);
// idle again, with the store as full as the flood left it
await sleep(1000);
const after = [];
for (let i = 0; i < 10; i++) {
  after.push(await keyLatency(session));
  await sleep(100);
}
const hwm = status(pid, 'VmHWM');
control.close();
const header = pane(session).split('\n').slice(0, 3).join('\n');
spawnSync('tmux', ['send-keys', '-t', session, 'q']);
await sleep(1500);
spawnSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
builtIn?.stop?.();

const mb = (x) => `${x.toFixed(0)} MB`;
console.log(`\nTUI under a flood: ${CONNS} connections x ${MSGS} messages (16 B..64 KB), upstream ${builtIn ? 'the built-in broker' : 'RabbitMQ'}`);
console.log(
  `flood duration: headless ${headlessRun.seconds.toFixed(2)} s, TUI ${tuiRun.seconds.toFixed(2)} s (headless/TUI ${(headlessRun.seconds / tuiRun.seconds).toFixed(2)}x)`,
);
console.log(`key to screen, idle (n=${idle.length}): p50 ${ms(quantile(idle, 0.5))}, p95 ${ms(quantile(idle, 0.95))}`);
console.log(
  `key to screen, flood (n=${underFlood.length}): p50 ${ms(quantile(underFlood, 0.5))}, p95 ${ms(quantile(underFlood, 0.95))}, max ${ms(Math.max(...underFlood))}  (target p95 <= 200 ms)`,
);
console.log(`key to screen, idle after the flood (n=${after.length}): p50 ${ms(quantile(after, 0.5))}, p95 ${ms(quantile(after, 0.95))}`);
console.log(`peak RSS with the TUI: ${mb(Math.max(peakRss, hwm))} (target < 300 MB); headless ${mb(headlessHwm)}`);
console.log(`header at the end:\n${header}`);
process.exit(0);
