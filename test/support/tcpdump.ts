// Tests that capture with tcpdump run when it is installed and are skipped, visibly, otherwise;
// in CI (CI=true) a missing tcpdump is a failure, not a skip.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { describe, it } from 'vitest';
import { waitFor } from './cli.js';

export const hasTcpdump = spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status === 0;

/** `describe` for tests that need tcpdump (and root or CAP_NET_RAW). */
export function describeWithTcpdump(name: string, body: () => void): void {
  if (hasTcpdump) describe(name, body);
  else if (process.env['CI'] === 'true')
    describe(name, () => {
      it('needs tcpdump, which CI installs (.ci/run)', () => {
        throw new Error('tcpdump is not installed: .ci/run installs it (apt-get install tcpdump)');
      });
    });
  else describe.skip(`${name} (skipped: tcpdump not installed)`, body);
}

/** tcpdump writing loopback traffic on `port` to `file`, once it is capturing. */
export async function captureLoopback(port: number, file: string): Promise<{ stop: () => Promise<void> }> {
  const child: ChildProcess = spawn('tcpdump', ['-i', 'lo', '-U', '--immediate-mode', '-w', file, 'tcp', 'port', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await waitFor(() => stderr.includes('listening on') || child.exitCode !== null, 'tcpdump to listen');
  if (child.exitCode !== null) throw new Error(`tcpdump failed: ${stderr}`);
  return {
    stop: async () => {
      // what is in flight reaches the file before tcpdump stops
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
