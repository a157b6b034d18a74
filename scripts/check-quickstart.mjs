#!/usr/bin/env node
// Runs the README's quick-start command exactly as written, in a real terminal (tmux, so the
// TUI opens as it does for a newcomer), connects a real client (amqplib) to the broker it
// starts, checks the client's traffic is on the screen, and quits with q.
// Run from a fresh clone with port 5672 free (CI runs it before starting RabbitMQ).
// Prints one line "quick start: passed" or "quick start: failed: <why>"; exit code 0 or 1.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PORT = 5672;
const START_TIMEOUT_MS = 300_000; // the command installs dependencies first

/** The first command of the first ```sh block under "## Quick start". */
export function quickStartCommand(readme) {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start'));
  if (!section) throw new Error('README.md has no "## Quick start" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('the Quick start section has no ```sh block');
  const command = block[1]
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '' && !l.startsWith('#'));
  if (!command) throw new Error('the Quick start ```sh block is empty');
  return command;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const portAccepts = (port) =>
  new Promise((resolve) => {
    const socket = net
      .connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      })
      .on('error', () => resolve(false));
  });

async function main() {
  const command = quickStartCommand(fs.readFileSync(path.join(root, 'README.md'), 'utf8'));
  if (await portAccepts(PORT))
    throw new Error(`port ${PORT} is already in use: the quick start's broker cannot listen (stop what listens there, e.g. RabbitMQ, first)`);
  const session = `amqp-spy-quickstart-${process.pid}`;
  const doneFile = path.join(os.tmpdir(), `${session}.done`);
  const logFile = path.join(os.tmpdir(), `${session}.log`);
  fs.rmSync(doneFile, { force: true });
  // the command runs in a shell, as a user would paste it; its exit status lands in doneFile
  const shell = `${command} 2>${logFile}; echo "exit $?" > ${doneFile}; sleep 30`;
  execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '30', '-c', root, shell]);
  const capture = () => spawnSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' }).stdout ?? '';
  const fail = (why) => {
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n') : '';
    throw new Error(`${why}\n--- screen ---\n${capture()}\n--- stderr (last lines) ---\n${log}`);
  };
  try {
    console.log(`quick start: running "${command}" in ${root}`);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await portAccepts(PORT))) {
      if (fs.existsSync(doneFile)) fail(`the command ended before listening on ${PORT} (${fs.readFileSync(doneFile, 'utf8').trim()})`);
      if (Date.now() > deadline) fail(`nothing listened on ${PORT} within ${START_TIMEOUT_MS / 1000} s`);
      await sleep(100);
    }
    const { default: amqp } = await import('amqplib');
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${PORT}`);
    const ch = await conn.createChannel();
    await ch.assertQueue('quickstart-check', { durable: false });
    ch.sendToQueue('quickstart-check', Buffer.from('hello from the quick start'));
    let got = false;
    for (let i = 0; i < 200 && !got; i++) {
      got = (await ch.get('quickstart-check', { noAck: true })) !== false;
      if (!got) await sleep(10);
    }
    if (!got) fail('the message published to the quick start broker never came back');
    await ch.deleteQueue('quickstart-check');
    await conn.close();
    const screenDeadline = Date.now() + 15_000;
    while (!/basic\.publish[^\n]*routing-key=quickstart-check/.test(capture())) {
      if (Date.now() > screenDeadline) fail("the client's basic.publish never appeared on the screen");
      await sleep(100);
    }
    if (!capture().includes('amqp-spy  standalone broker 127.0.0.1:5672')) fail('the header does not name the standalone broker on 127.0.0.1:5672');
    execFileSync('tmux', ['send-keys', '-t', session, 'q']);
    const quitDeadline = Date.now() + 15_000;
    while (!fs.existsSync(doneFile)) {
      if (Date.now() > quitDeadline) fail('q did not end the command');
      await sleep(100);
    }
    const status = fs.readFileSync(doneFile, 'utf8').trim();
    if (status !== 'exit 0') fail(`the command ended with ${status} after q`);
  } finally {
    spawnSync('tmux', ['kill-session', '-t', session]);
    fs.rmSync(doneFile, { force: true });
    fs.rmSync(logFile, { force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    () => {
      console.log('quick start: passed');
      process.exit(0);
    },
    (error) => {
      console.log(`quick start: failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
