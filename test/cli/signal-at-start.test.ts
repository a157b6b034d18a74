// A signal sent the moment the CLI says it is up (the banner on stderr, the --ready line on
// stdout) must stop it cleanly: handled, summary printed, exit 0. Before the handlers were
// installed ahead of those lines, most such signals killed the process with the default action.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from '../support/cli.js';
import { freePort } from '../support/net.js';

interface Ended {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Starts the CLI and sends `signal` as soon as `marker` shows on `stream`. */
function signalWhenUp(args: string[], stream: 'stdout' | 'stderr', marker: string, signal: NodeJS.Signals): Promise<Ended> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const seen = { stdout: '', stderr: '' };
    let sent = false;
    for (const name of ['stdout', 'stderr'] as const)
      child[name].on('data', (chunk: Buffer) => {
        seen[name] += chunk.toString();
        if (!sent && name === stream && seen[name].includes(marker)) {
          sent = true;
          child.kill(signal);
        }
      });
    child.on('exit', (code, sig) => resolve({ code, signal: sig, stderr: seen.stderr }));
  });
}

describe('a signal as soon as the CLI is up', () => {
  it('Ctrl-C on the banner: the proxy and the built-in broker stop cleanly, every time', async () => {
    const runs: Promise<Ended>[] = [];
    for (let i = 0; i < 6; i++) {
      const port = String(await freePort());
      runs.push(
        i % 2 === 0
          ? signalWhenUp(['--upstream', 'amqps://127.0.0.1:5671', '--listen', port, '--no-tui'], 'stderr', 'proxying', 'SIGINT')
          : signalWhenUp(['--standalone', '--listen', port, '--no-tui'], 'stderr', 'built-in broker listening', 'SIGINT'),
      );
    }
    for (const ended of await Promise.all(runs)) {
      expect({ code: ended.code, signal: ended.signal }, ended.stderr).toEqual({ code: 0, signal: null });
      expect(ended.stderr).toContain('summary:');
    }
  });

  it('SIGTERM on the --ready line: the same', async () => {
    const runs: Promise<Ended>[] = [];
    for (let i = 0; i < 4; i++) runs.push(signalWhenUp(['--standalone', '--listen', String(await freePort()), '--ready'], 'stdout', '"port"', 'SIGTERM'));
    for (const ended of await Promise.all(runs)) expect({ code: ended.code, signal: ended.signal }, ended.stderr).toEqual({ code: 0, signal: null });
  });
});
