// runTui as the CLI calls it, on stream doubles that behave like a terminal (ink needs a TTY
// stdin for keys): events from `subscribe` reach the screen, q runs onQuit once and resolves.
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { SpyEvent } from '../../src/events.js';
import { runTui } from '../../src/tui/run-tui.js';
import { sampleConversation } from './conversation.js';
import { stripAnsi, until } from './helpers.js';

function terminal(columns = 100, rows = 30) {
  let output = '';
  const stdout = Object.assign(new Writable({ write(chunk, _e, callback) { output += String(chunk); callback(); } }), { columns, rows, isTTY: true });
  const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode() { return stdin; }, ref() { return stdin; }, unref() { return stdin; } });
  return { stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream & PassThrough, output: () => stripAnsi(output) };
}

describe('runTui', () => {
  it('draws the events it subscribes to, quits on q after onQuit, and unsubscribes', async () => {
    const term = terminal();
    const sinks = new Set<(e: SpyEvent) => void>();
    let quits = 0;
    const done = runTui({
      mode: 'replay session.jsonl',
      subscribe(sink) {
        sinks.add(sink);
        return () => sinks.delete(sink);
      },
      recording: () => ({ path: 'session.jsonl', bytes: 2048 }),
      stdin: term.stdin,
      stdout: term.stdout,
      bufferSize: 1000,
      onQuit: async () => {
        quits++;
      },
    });
    await until(() => sinks.size === 1, 'the subscription');
    for (const e of sampleConversation().events) for (const sink of sinks) sink(e);
    await until(() => term.output().includes('channel.close-ok'), 'the events drawn');
    expect(term.output()).toContain('amqp-spy  replay session.jsonl');
    expect(term.output()).toContain('rec session.jsonl 2.0 KB');
    // the alternate screen is entered, and left at the end
    term.stdin.write('q');
    await done;
    expect(quits).toBe(1);
    expect(sinks.size).toBe(0);
  });

  it('shows notices on the status line, and closes from outside through its signal, running onQuit once', async () => {
    const term = terminal();
    const controller = new AbortController();
    let quits = 0;
    let notice: ((line: string) => void) | undefined;
    const done = runTui({
      mode: 'standalone 127.0.0.1:5672', subscribe: () => () => {}, stdin: term.stdin, stdout: term.stdout, signal: controller.signal,
      notices: (sink) => { notice = sink; return () => { notice = undefined; }; },
      onQuit: async () => { quits++; },
    });
    await until(() => term.output().includes('standalone 127.0.0.1:5672'), 'the header');
    notice!('upstream 127.0.0.1:5672 refused the connection');
    await until(() => term.output().includes('upstream 127.0.0.1:5672 refused the connection'), 'the notice on the status line');
    controller.abort();
    await done;
    expect(quits).toBe(1);
  });

  it('passes on a failure of onQuit after leaving the screen', async () => {
    const term = terminal();
    const done = runTui({ mode: 'proxy', subscribe: () => () => {}, stdin: term.stdin, stdout: term.stdout, onQuit: async () => { throw new Error('flush failed'); } });
    await until(() => term.output().includes('amqp-spy  proxy'), 'the header');
    term.stdin.write('q');
    await expect(done).rejects.toThrow('flush failed');
  });
});
