// openTui/draw as the CLI calls them, on stream doubles that behave like a terminal (ink needs
// a TTY stdin for keys): events given to the sink, before and while drawing, reach the screen;
// q runs onQuit once and resolves.
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openTui } from '../../src/tui/run-tui.js';
import { sampleConversation } from './conversation.js';
import { stripAnsi, until } from './helpers.js';

function terminal(columns = 100, rows = 30) {
  let output = '';
  const stdout = Object.assign(
    new Writable({
      write(chunk, _e, callback) {
        output += String(chunk);
        callback();
      },
    }),
    { columns, rows, isTTY: true },
  );
  const stdin = Object.assign(new PassThrough(), {
    isTTY: true,
    setRawMode() {
      return stdin;
    },
    ref() {
      return stdin;
    },
    unref() {
      return stdin;
    },
  });
  return { stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream & PassThrough, output: () => stripAnsi(output) };
}

describe('openTui', () => {
  it('shows every event its sink took before drawing began (the source starts first), quits on q after onQuit', async () => {
    const term = terminal();
    let quits = 0;
    const tui = openTui(1000);
    // the whole session arrives while ink is still loading: none of it may be missing
    const events = sampleConversation().events;
    for (const e of events.slice(0, -2)) tui.sink(e);
    const done = tui.draw({
      mode: 'replay session.jsonl',
      recording: () => ({ path: 'session.jsonl', bytes: 2048 }),
      stdin: term.stdin,
      stdout: term.stdout,
      onQuit: async () => {
        quits++;
      },
    });
    for (const e of events.slice(-2)) tui.sink(e);
    await until(() => term.output().includes(`of ${events.length} events`), `the header counting all ${events.length} events`);
    await until(() => term.output().includes('channel.close-ok'), 'the events drawn');
    expect(term.output()).toContain('amqp-spy  replay session.jsonl');
    expect(term.output()).toContain('rec session.jsonl 2.0 KB');
    term.stdin.write('q');
    await done;
    expect(quits).toBe(1);
  });

  it('shows notices on the status line, and closes from outside through its signal, running onQuit once', async () => {
    const term = terminal();
    const controller = new AbortController();
    let quits = 0;
    let notice: ((line: string) => void) | undefined;
    const done = openTui().draw({
      mode: 'standalone 127.0.0.1:5672',
      stdin: term.stdin,
      stdout: term.stdout,
      signal: controller.signal,
      notices: (sink) => {
        notice = sink;
        return () => {
          notice = undefined;
        };
      },
      onQuit: async () => {
        quits++;
      },
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
    const done = openTui().draw({
      mode: 'proxy',
      stdin: term.stdin,
      stdout: term.stdout,
      onQuit: async () => {
        throw new Error('flush failed');
      },
    });
    await until(() => term.output().includes('amqp-spy  proxy'), 'the header');
    term.stdin.write('q');
    await expect(done).rejects.toThrow('flush failed');
  });
});
