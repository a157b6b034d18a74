// Passive capture through tcpdump: `tcpdump -w - -U` writes a pcap stream to its stdout, read
// by the same reader as a file. tcpdump needs root or CAP_NET_RAW; when it is missing or may
// not capture, the reason is one line, read from its own words.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { AmqpSpyError } from '../errors.js';

/** tcpdump cannot run, or stopped with an error before capturing. */
export class SniffError extends AmqpSpyError {
  override readonly exitCode = 1;
  constructor(
    readonly iface: string,
    message: string,
  ) {
    super(message);
    this.name = 'SniffError';
  }
}

export interface TcpdumpCapture {
  /** the pcap stream; ends when tcpdump exits */
  readonly output: AsyncIterable<Buffer>;
  /** asks tcpdump to stop (it writes what it holds, then exits) */
  stop(): void;
  /** resolves when tcpdump has exited: its exit code and its last lines of stderr */
  readonly exited: Promise<{ code: number | null; stderr: string[] }>;
}

const SETCAP_HINT = 'it needs root or CAP_NET_RAW (sudo setcap cap_net_raw,cap_net_admin=eip "$(command -v tcpdump)")';

/**
 * Starts `tcpdump -w - -U --immediate-mode -i IFACE tcp port PORT`. Resolves once it is
 * capturing (its pcap header came), rejects with a SniffError when it cannot start.
 */
export async function startTcpdump(iface: string, port: number, command = 'tcpdump'): Promise<TcpdumpCapture> {
  const args = ['-w', '-', '-U', '--immediate-mode', '-s', '262144', '-i', iface, 'tcp', 'port', String(port)];
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    throw new SniffError(iface, `cannot run tcpdump: ${(error as Error).message}`);
  }
  child.stdin.end();
  const stderr: string[] = [];
  // a line can come in several pieces: only whole lines are kept
  let partial = '';
  const keep = (line: string) => {
    if (line.trim() !== '') stderr.push(line.trim());
    // only the last lines say why it stopped
    if (stderr.length > 20) stderr.splice(0, stderr.length - 20);
  };
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) keep(line);
  });
  const exited = new Promise<{ code: number | null; stderr: string[] }>((resolve) => {
    child.once('close', (code) => {
      keep(partial);
      partial = '';
      resolve({ code, stderr });
    });
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new SniffError(
          iface,
          error.code === 'ENOENT'
            ? `--sniff runs tcpdump, which is not installed (Debian/Ubuntu: apt-get install tcpdump); ${SETCAP_HINT.replace('it needs', 'capturing needs')}`
            : `cannot run tcpdump: ${error.message}`,
        ),
      );
    });
  });
  await spawned;
  // the first bytes (the pcap header) say it is capturing; an exit before them is a failure
  const first = await new Promise<Buffer | undefined>((resolve) => {
    const onData = (chunk: Buffer) => {
      child.stdout.pause();
      child.stdout.off('data', onData);
      resolve(chunk);
    };
    child.stdout.on('data', onData);
    void exited.then(() => resolve(undefined));
  });
  if (first === undefined) {
    const { code, stderr: lines } = await exited;
    throw new SniffError(iface, describeTcpdumpFailure(iface, code, lines));
  }
  async function* output(): AsyncGenerator<Buffer> {
    yield first!;
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) yield chunk;
  }
  return {
    output: output(),
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
    exited,
  };
}

/** tcpdump's reason in one line: permission, no such interface, or its last words. */
export function describeTcpdumpFailure(iface: string, code: number | null, stderr: readonly string[]): string {
  const reason = [...stderr].reverse().find((l) => l.startsWith('tcpdump:')) ?? stderr.at(-1) ?? `exit code ${code}`;
  if (/permission|not permitted/i.test(reason)) return `tcpdump may not capture on ${iface}: ${SETCAP_HINT} (${reason})`;
  if (/no such device|doesn't exist|no suitable device/i.test(reason)) return `tcpdump found no interface ${iface} (${reason}); list them with tcpdump -D`;
  return `tcpdump stopped before capturing on ${iface}: ${reason}`;
}

/** `N packets dropped by kernel` when tcpdump says so at its exit, else undefined. */
export function droppedByKernel(stderr: readonly string[]): number | undefined {
  for (const line of stderr) {
    const m = /^(\d+) packets? dropped by kernel/.exec(line);
    if (m && m[1] !== '0') return Number(m[1]);
  }
  return undefined;
}
