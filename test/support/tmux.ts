// A real terminal for the real CLI: tmux runs dist/cli.js, keys go in with send-keys, and the
// screen is read with capture-pane.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './fixtures.js';
import { until } from '../tui/helpers.js';

const shellQuote = (arg: string): string => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`);

export const HAVE_TMUX = spawnSync('tmux', ['-V']).status === 0;
const CLI = path.join(REPO_ROOT, 'dist/cli.js');

/**
 * `tmux new-session -d …`. When another test kills the last session, the tmux server exits;
 * a new-session that reaches it meanwhile fails with "server exited unexpectedly". That race
 * is the harness's, not the CLI's: start again (a new server) a few times.
 */
export function newTmuxSession(args: readonly string[], options: { cwd?: string } = {}): void {
  for (let attempt = 1; ; attempt++) {
    const result = spawnSync('tmux', ['new-session', '-d', ...args], { encoding: 'utf8', ...options });
    if (result.status === 0) return;
    if (attempt >= 5 || !/server exited unexpectedly|lost server|no server running/.test(result.stderr ?? '')) {
      throw new Error(`tmux new-session failed: ${(result.stderr ?? '').trim() || `status ${result.status}`}`);
    }
    spawnSync('sleep', ['0.2']);
  }
}

function freePortSync(): number {
  const script = "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})";
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim());
}

export class TmuxScreen {
  readonly name = `amqp-spy-tui-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  readonly readyFile = path.join(os.tmpdir(), `${this.name}.ready`);

  private listenPort = 0;

  /** Runs the CLI with `args` (in `cwd`, the repository unless given); live modes (not `replay`) get `--listen` on a free port. */
  start(args: readonly string[], width = 120, height = 30, cwd = REPO_ROOT): void {
    const live = args[0] !== 'replay';
    if (live) this.listenPort = freePortSync();
    const argv = [...(live ? ['--listen', String(this.listenPort)] : []), ...args].map(shellQuote).join(' ');
    // the exit status lands in readyFile once the CLI has quit
    const command = `${process.execPath} ${CLI} ${argv}; echo "quit done, exit $?" > ${this.readyFile}; sleep 5`;
    newTmuxSession(['-s', this.name, '-x', String(width), '-y', String(height), command], { cwd });
  }

  capture(): string {
    const result = spawnSync('tmux', ['capture-pane', '-p', '-t', this.name], { encoding: 'utf8' });
    return result.status === 0 ? result.stdout : '';
  }

  keys(...keys: string[]): void {
    for (const key of keys) execFileSync('tmux', ['send-keys', '-t', this.name, key]);
  }

  type(text: string): void {
    execFileSync('tmux', ['send-keys', '-t', this.name, '-l', text]);
  }

  ready(): string {
    return fs.existsSync(this.readyFile) ? fs.readFileSync(this.readyFile, 'utf8') : '';
  }

  port(): number {
    return this.listenPort;
  }

  async waitFor(text: string | RegExp, what = String(text)): Promise<string> {
    const seen = () => (typeof text === 'string' ? this.capture().includes(text) : text.test(this.capture()));
    await until(seen, `${what} on the screen\n${this.capture()}`, 15_000);
    return this.capture();
  }

  stop(): void {
    spawnSync('tmux', ['kill-session', '-t', this.name]);
    fs.rmSync(this.readyFile, { force: true });
  }
}
