import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/tui/app.js';
import { EventStore } from '../../src/tui/event-store.js';
import { KEYMAP, actionForKey, bindingLabel } from '../../src/tui/keymap.js';
import { sampleConversation } from './conversation.js';
import { settle, stripAnsi, until } from './helpers.js';

const KEYS = { up: '\x1b[A', down: '\x1b[B', enter: '\r', escape: '\x1b', tab: '\t', backspace: '\x7f' };

let cleanup: (() => void) | undefined;
afterEach(() => {
  cleanup?.();
  cleanup = undefined;
});

function start(options: { rows?: number; columns?: number; events?: boolean } = {}) {
  const store = new EventStore();
  const conversation = sampleConversation();
  if (options.events !== false) for (const e of conversation.events) store.push(e);
  let quits = 0;
  const onQuit = async () => {
    quits++;
  };
  const app = render(
    <App store={store} mode="proxy 127.0.0.1:5673 → 127.0.0.1:5672" onQuit={onQuit} columns={options.columns ?? 100} rows={options.rows ?? 40} />,
  );
  cleanup = () => app.unmount();
  const screen = () => stripAnsi(app.lastFrame() ?? '');
  const press = async (...keys: string[]) => {
    for (const key of keys) {
      app.stdin.write(key);
      await settle();
    }
  };
  const type = async (text: string) => press(...text);
  const detailTitle = () =>
    screen()
      .split('\n')
      .find((l) => l.startsWith('─ Detail')) ?? '';
  const detail = () => {
    const lines = screen().split('\n');
    return lines.slice(lines.findIndex((l) => l.startsWith('─ Detail'))).join('\n');
  };
  const rows = () =>
    screen()
      .split('\n')
      .filter((l) => /^\d\d:\d\d:\d\d\.\d{3} /.test(l));
  return { app, store, conversation, screen, press, type, detail, detailTitle, rows, quits: () => quits };
}

describe('App', () => {
  it('shows the header, follows the newest row and keeps following as events arrive', async () => {
    const t = start({ events: false });
    await until(() => t.screen().includes('waiting for traffic'), 'the empty list');
    expect(t.screen()).toContain('amqp-spy  proxy 127.0.0.1:5673 → 127.0.0.1:5672');
    expect(t.screen()).toContain('● FOLLOWING');
    for (const e of t.conversation.events) t.store.push(e);
    const last = t.conversation.events[t.conversation.events.length - 1]!;
    await until(() => t.detailTitle().includes(`event ${last.seq} `), 'the newest row selected');
    expect(t.screen()).toMatch(/1 conn │ C→S \d+ frames\/s \d+ msgs\/s │ S→C/);
    expect(t.screen()).toContain('rows: messages');
  });

  it('stops following when moving up and follows again with f', async () => {
    const t = start();
    await until(() => t.screen().includes('● FOLLOWING'), 'first draw');
    const last = t.conversation.events[t.conversation.events.length - 1]!;
    await t.press('k', 'k');
    await until(() => t.screen().includes('SCROLLED'), 'scrolled state');
    expect(t.detailTitle()).not.toContain(`event ${last.seq} `);
    await t.press('f');
    await until(() => t.screen().includes('● FOLLOWING'), 'following again');
    expect(t.detailTitle()).toContain(`event ${last.seq} `);
  });

  it('toggles frames/messages with m and heartbeats with H', async () => {
    const t = start();
    await until(() => t.screen().includes('rows: messages'), 'first draw');
    expect(t.rows().some((r) => r.includes('content-header'))).toBe(false);
    await t.press('m', 'g');
    await until(() => t.screen().includes('rows: frames'), 'frame mode');
    await t.press(...'j'.repeat(20));
    await until(() => t.rows().some((r) => r.includes('content-header')), 'content frames listed');
    await t.press('G');
    await until(() => t.rows().some((r) => r.includes('heartbeat')), 'heartbeats');
    await t.press('H');
    await until(() => t.screen().includes('heartbeats hidden'), 'heartbeats hidden');
    expect(t.rows().some((r) => r.includes('heartbeat'))).toBe(false);
  });

  it('filters live with /, shows the filter in the header, reports bad input, and clears with Esc', async () => {
    const t = start();
    await until(() => t.screen().includes('rows: messages'), 'first draw');
    await t.press('/');
    await t.type('method:basic.deliver');
    await until(() => t.screen().includes('filter: method:basic.deliver'), 'filter in the header');
    await until(() => t.rows().length === 2, 'two deliveries');
    expect(t.rows().every((r) => r.includes('basic.deliver'))).toBe(true);
    await t.press(KEYS.enter);
    expect(t.screen()).toContain('2 of');
    await t.press('/', ...' nope:1');
    await until(() => t.screen().includes('✗ unknown key "nope:"'), 'syntax error shown');
    await t.press(KEYS.escape);
    await until(() => !t.screen().includes('filter:'), 'filter cleared');
    expect(t.rows().length).toBeGreaterThan(10);
  });

  it('searches with s and jumps between matches with n and N', async () => {
    const t = start();
    await until(() => t.screen().includes('rows: messages'), 'first draw');
    await t.press('g', 's');
    await t.type('rk:order.*');
    await t.press(KEYS.enter);
    await until(() => t.screen().includes('search: rk:order.*'), 'search in the header');
    const seen = [t.detailTitle()];
    await t.press('n');
    seen.push(t.detailTitle());
    await t.press('n');
    seen.push(t.detailTitle());
    expect(new Set(seen).size).toBe(3);
    for (const title of seen) expect(title).toMatch(/event \d+/);
    await t.press('N');
    expect(t.detailTitle()).toBe(seen[1]);
  });

  it('jumps from an ack to the delivery it settles with Enter, and back with Backspace', async () => {
    const t = start();
    await until(() => t.screen().includes('rows: messages'), 'first draw');
    await t.press('g', 's', ...'method:basic.ack dir:c2s', KEYS.enter);
    await until(() => t.detail().includes('delivery acked'), 'the ack selected');
    const ackTitle = t.detailTitle();
    await t.press(KEYS.enter);
    await until(() => t.detail().includes('basic.deliver message'), 'the delivery selected');
    expect(t.detail()).toContain('delivery-tag: 1');
    expect(t.screen()).toContain('jumped to delivery acked');
    await t.press(KEYS.backspace);
    await until(() => t.detailTitle() === ackTitle, 'back at the ack');
  });

  it('cycles the body with b and shows the raw frame with x', async () => {
    const t = start();
    await until(() => t.screen().includes('rows: messages'), 'first draw');
    await t.press('g', 's', ...'rk:order.created dir:c2s', KEYS.enter);
    await until(() => t.detail().includes('as tree'), 'json body as a tree');
    await t.press('b');
    await until(() => t.detail().includes('as pretty'), 'pretty json');
    await t.press('b');
    await until(() => t.detail().includes('as text'), 'text body');
    await t.press('b');
    await until(() => t.detail().includes('as hex'), 'hex body');
    await t.press('d');
    await until(() => !t.screen().includes('─ Detail'), 'detail hidden');
    await t.press('d', 'x', 'J', 'J', 'J');
    await until(() => t.detail().includes('Raw frame (event '), 'raw frames');
  });

  it('opens the help with ? listing every key of the key map, and closes it with ?', async () => {
    const t = start({ rows: 60, columns: 100 });
    await until(() => t.screen().includes('rows: messages'), 'first draw');
    await t.press('?');
    await until(() => t.screen().includes('Keys  (? or Esc closes this help'), 'help');
    for (const binding of KEYMAP) expect(t.screen()).toContain(bindingLabel(binding));
    await t.press('?');
    await until(() => t.screen().includes('─ Detail'), 'back to the list');
  });

  it('shows the connections with Tab', async () => {
    const t = start();
    await until(() => t.screen().includes('rows: messages'), 'first draw');
    await t.press(KEYS.tab);
    await until(() => t.screen().includes('Connections  1 open of 1'), 'connections view');
    expect(t.screen()).toContain('amqplib 0.10.3');
    await t.press(KEYS.tab);
    await until(() => t.screen().includes('─ Detail'), 'back to the list');
  });

  it('pauses the display with p while capture goes on, and clears with c', async () => {
    const t = start({ events: false });
    const events = t.conversation.events;
    for (const e of events.slice(0, 10)) t.store.push(e);
    await until(() => t.detailTitle().includes(`event ${events[9]!.seq} `), 'first events');
    await t.press('p');
    await until(() => t.screen().includes('PAUSED'), 'paused');
    for (const e of events.slice(10)) t.store.push(e);
    await settle(120);
    expect(t.detailTitle()).toContain(`event ${events[9]!.seq} `);
    // the header counts what arrived meanwhile
    await until(() => t.screen().includes(`PAUSED · ${events.length - 10} new`), 'arrivals counted');
    expect(t.store.size).toBe(events.length);
    await t.press('p');
    await until(() => t.detailTitle().includes(`event ${events[events.length - 1]!.seq} `), 'caught up after resume');
    await t.press('c');
    await until(() => t.screen().includes('waiting for traffic'), 'cleared');
  });

  it('quits with q: runs the session stop once and unmounts', async () => {
    const t = start();
    await until(() => t.screen().includes('rows: messages'), 'first draw');
    await t.press('q');
    await until(() => t.quits() === 1, 'onQuit called');
    await settle(50);
    expect(t.quits()).toBe(1);
  });

  it('quits with Ctrl+C even while typing a filter', async () => {
    const t = start();
    await until(() => t.screen().includes('rows: messages'), 'first draw');
    await t.press('/', 'm', '\x03');
    await until(() => t.quits() === 1, 'onQuit called');
  });

  it('draws within 80x24 without wrapping', async () => {
    const t = start({ columns: 80, rows: 24 });
    await until(() => t.screen().includes('rows: messages'), 'first draw');
    const lines = t.screen().split('\n');
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
  });
});

describe('key map', () => {
  it('resolves every key it lists to its action, and nothing else', () => {
    for (const binding of KEYMAP) {
      for (const spec of binding.keys) {
        const key = spec.special ? { [spec.special]: true } : { ctrl: spec.ctrl ?? false };
        expect(actionForKey(spec.char ?? '', key)).toBe(binding.action);
      }
    }
    expect(actionForKey('Z', {})).toBeUndefined();
    expect(actionForKey('', { delete: true })).toBe('jump-back');
  });

  it('binds every key once', () => {
    const seen = new Set<string>();
    for (const binding of KEYMAP)
      for (const spec of binding.keys) {
        const id = `${spec.ctrl ? 'ctrl+' : ''}${spec.special ?? spec.char}`;
        expect(seen.has(id), id).toBe(false);
        seen.add(id);
      }
  });
});
