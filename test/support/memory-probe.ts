// A child node process (with --expose-gc) running a piece of the built CLI (dist/), whose
// memory a test measures after full collections: what it really holds, not what it reports.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './fixtures.js';

export interface MemorySample {
  readonly heapUsed: number;
  /** ArrayBuffer backing stores (Buffers, Uint8Arrays): off the V8 heap */
  readonly arrayBuffers: number;
  readonly rss: number;
  /** whatever the child's `extra()` reports */
  readonly extra: Record<string, unknown>;
}

export interface MemoryProbe<Ready> {
  /** what the child's setup gave as `ready` (e.g. the port it listens on) */
  readonly ready: Ready;
  /** full collections in the child, then its memory */
  measure(): Promise<MemorySample>;
  /** true while the child runs */
  alive(): boolean;
  stop(): Promise<void>;
}

/**
 * Starts the child. `setup` is the body of an ES module that may `await import(dist('x.js'))`
 * and must assign `ready` (JSON) and may assign `extra` (a function returning JSON).
 */
export async function startMemoryProbe<Ready>(setup: string): Promise<MemoryProbe<Ready>> {
  const dist = pathToFileURL(path.join(REPO_ROOT, 'dist')).href;
  const code = `
    const dist = (file) => ${JSON.stringify(dist)} + '/' + file;
    let ready;
    let extra = () => ({});
    ${setup}
    process.stdout.write(JSON.stringify({ ready }) + '\\n');
    let input = '';
    process.stdin.setEncoding('utf8').on('data', (d) => {
      input += d;
      for (let at = input.indexOf('\\n'); at >= 0; at = input.indexOf('\\n')) {
        input = input.slice(at + 1);
        globalThis.gc(); globalThis.gc();
        const m = process.memoryUsage();
        process.stdout.write(JSON.stringify({ sample: { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, rss: m.rss, extra: extra() } }) + '\\n');
      }
    });
    process.stdin.on('end', () => process.exit(0));
  `;
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
      lines.push(buffered.slice(0, at));
      buffered = buffered.slice(at + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      for (const w of waiters.splice(0)) w();
      resolve();
    }),
  );
  const nextLine = async (what: string): Promise<Record<string, unknown>> => {
    while (lines.length === 0) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`the probe exited (${child.exitCode ?? child.signalCode}) while waiting for ${what}: ${stderr}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
    return JSON.parse(lines.shift()!) as Record<string, unknown>;
  };
  const ready = (await nextLine('it to start'))['ready'] as Ready;
  return {
    ready,
    async measure() {
      child.stdin.write('measure\n');
      return (await nextLine('a measurement'))['sample'] as MemorySample;
    },
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        await exited;
      }
    },
  };
}

/** Heap and ArrayBuffers held beyond a baseline. */
export function heldSince(base: MemorySample, now: MemorySample): number {
  return now.heapUsed + now.arrayBuffers - (base.heapUsed + base.arrayBuffers);
}
