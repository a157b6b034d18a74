import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { DetailPane } from '../../src/tui/components/DetailPane.js';
import { EventList } from '../../src/tui/components/EventList.js';
import { HelpScreen } from '../../src/tui/components/HelpScreen.js';
import { ConnectionsView } from '../../src/tui/components/ConnectionsView.js';
import { EventStore } from '../../src/tui/event-store.js';
import { KEYMAP, bindingLabel } from '../../src/tui/keymap.js';
import { computeLayout } from '../../src/tui/layout.js';
import { FILTER_KEYS, FILTER_SYNTAX } from '../../src/view/filter.js';
import type { SpyEvent } from '../../src/events.js';
import { BINARY_BODY, JSON_BODY, TEXT_BODY, findEvent, methodNameOf, sampleConversation } from './conversation.js';
import { stripAnsi } from './helpers.js';

const WIDTH = 100;

function storeWith(events: readonly SpyEvent[]): EventStore {
  const store = new EventStore();
  for (const e of events) store.push(e);
  return store;
}

function frameLines(frame: string | undefined): string[] {
  return stripAnsi(frame ?? '').split('\n');
}

describe('EventList', () => {
  const { events } = sampleConversation();
  const layout = computeLayout(WIDTH, 30, { showDetail: true });

  it('draws one aligned row per event with time, connection, direction, channel, method, arguments, size and rtt', () => {
    const store = storeWith(events);
    const { lastFrame, unmount } = render(<EventList store={store} length={store.viewLength()} selectedPosition={0} rows={40} columns={layout.columns} />);
    const lines = frameLines(lastFrame());
    unmount();
    expect(lines[0]).toMatch(/^TIME\s+CONN\s+DIR CH\s+METHOD {2}ARGUMENTS\s+SIZE\s+RTT$/);
    const declareOk = lines.find((l) => l.includes('queue.declare-ok'))!;
    expect(declareOk).toMatch(/^\d\d:\d\d:\d\d\.\d{3} #1 {4}S→C ch1 {4}queue\.declare-ok queue=jobs message-count=0 .*… +25 B +1\.5 ms$/);
    expect(declareOk).toHaveLength(WIDTH);
    const publish = lines.find((l) => l.includes('basic.publish') && l.includes('C→S'))!;
    expect(publish).toMatch(/basic\.publish exchange=orders routing-key=order\.c.* +40 B +13\.5 ms\s*$/); // the confirm came 13.5 ms later
    // every row has the same width: the columns line up and nothing wraps
    for (const line of lines.filter(Boolean)) expect(line.length).toBeLessThanOrEqual(WIDTH);
    for (const row of lines.filter((l) => /^\d\d:/.test(l))) {
      expect(row.slice(13, 18)).toMatch(/^#1 {3}$/);
      expect(row.slice(19, 22)).toMatch(/^(C→S|S→C| {3})$/);
      expect(row.slice(23, 29)).toMatch(/^(ch\d+ +| {6})$/);
    }
  });

  it('mounts only the visible rows of a large buffer (windowing)', () => {
    const store = new EventStore(50_000);
    let seq = 0;
    for (let round = 0; round < 400; round++) for (const e of events) store.push({ ...e, seq: ++seq });
    expect(store.viewLength()).toBeGreaterThan(10_000);
    const mounted: number[] = [];
    const rows = 12;
    const selected = Math.floor(store.viewLength() / 2);
    const { lastFrame, unmount } = render(
      <EventList
        store={store}
        length={store.viewLength()}
        selectedPosition={selected}
        rows={rows}
        columns={layout.columns}
        onRowMount={(s) => mounted.push(s)}
      />,
    );
    const lines = frameLines(lastFrame()).filter((l) => /^\d\d:/.test(l));
    unmount();
    expect(mounted).toHaveLength(rows);
    expect(lines).toHaveLength(rows);
    // the selected row is among those mounted
    expect(mounted).toContain(store.at(store.viewAt(selected)!)!.seq);
  });

  it('keeps the window still while the selection moves inside it', () => {
    const store = storeWith(events);
    const props = { store, length: store.viewLength(), rows: 5, columns: layout.columns };
    const { lastFrame, rerender, unmount } = render(<EventList {...props} selectedPosition={10} />);
    const first = frameLines(lastFrame())[1];
    rerender(<EventList {...props} selectedPosition={9} />);
    const second = frameLines(lastFrame())[1];
    rerender(<EventList {...props} selectedPosition={4} />);
    const third = frameLines(lastFrame())[1];
    unmount();
    expect(second).toBe(first);
    expect(third).not.toBe(first);
  });
});

describe('DetailPane', () => {
  const { events } = sampleConversation();
  const store = storeWith(events);
  const lookup = (seq: number) => store.findBySeq(seq);
  const messageWithKey = (rk: string) => findEvent(events, (e) => e.kind === 'message' && e.method.args['routing-key'] === rk && e.dir === 'c2s');
  const draw = (event: SpyEvent, options: { bodyMode?: 'tree' | 'pretty' | 'text' | 'hex'; showRaw?: boolean; height?: number } = {}) => {
    const { lastFrame, unmount } = render(
      <DetailPane
        event={event}
        width={WIDTH}
        height={options.height ?? 80}
        bodyMode={options.bodyMode}
        showRaw={options.showRaw ?? false}
        scroll={0}
        lookup={lookup}
      />,
    );
    const text = stripAnsi(lastFrame() ?? '');
    unmount();
    return text;
  };

  it('renders a JSON body as a folded tree (pretty JSON on b), with the properties and arguments', () => {
    const text = draw(messageWithKey('order.created'));
    expect(text).toContain('Body  40 B  as tree  (b: tree/pretty/text/hex  +/- fold)');
    expect(text).toContain('read as: json');
    expect(text).toMatch(/ {4}item: "book"/);
    const pretty = draw(messageWithKey('order.created'), { bodyMode: 'pretty' });
    expect(pretty).toContain(JSON.stringify(JSON.parse(JSON_BODY), null, 2).split('\n')[1]!);
    expect(pretty).toContain('    "item": "book",');
    expect(text).toMatch(/content-type: "application\/json"/);
    expect(text).toMatch(/x-trace: "abc" {2}S longstr/);
    expect(text).toMatch(/routing-key: "order\.created" {2}shortstr/);
    expect(text).toMatch(/publish-seq: 1 \(confirm mode\)/);
  });

  it('renders a UTF-8 body as text, a binary body as a hex dump, and honours b (the body mode)', () => {
    const text = draw(messageWithKey('order.note'));
    expect(text).toContain('as text');
    expect(text).toContain(`  ${TEXT_BODY}`);
    const binary = draw(messageWithKey('order.blob'));
    expect(binary).toContain('as hex');
    expect(binary).toMatch(/0000 {2}00 01 02 03 ff fe 00 09 {2}80 81 +\|\.\.\.\.\.\.\.\.\.\.\|/);
    expect(binary).not.toContain('(b:');
    expect(BINARY_BODY.length).toBe(10);
    const jsonAsHex = draw(messageWithKey('order.created'), { bodyMode: 'hex' });
    expect(jsonAsHex).toContain('as hex');
    expect(jsonAsHex).toMatch(/0000 {2}7b 22 69 64/);
    const jsonAsText = draw(messageWithKey('order.created'), { bodyMode: 'text' });
    expect(jsonAsText).toContain(`  ${JSON_BODY}`);
  });

  it('shows nested tables and arrays as an indented tree with type tags', () => {
    const declare = findEvent(events, (e) => methodNameOf(e) === 'queue.declare');
    const lines = draw(declare).split('\n');
    const at = lines.findIndex((l) => l.includes('arguments:'));
    expect(lines[at]).toMatch(/^ {2}arguments: table \(2\)$/);
    expect(lines[at + 1]).toMatch(/^ {4}x-max-length: 100 {2}[bBsuUIil] /);
    expect(lines[at + 2]).toMatch(/^ {4}x-policy: F table \(2\)$/);
    expect(lines[at + 3]).toMatch(/^ {6}mode: "lazy" {2}S longstr/);
    expect(lines[at + 4]).toMatch(/^ {6}limits: A array \(2\)$/);
    expect(lines[at + 5]).toMatch(/^ {8}\[0\]: 1 /);
    expect(lines[at + 6]).toMatch(/^ {8}\[1\]: "two" {2}S longstr/);
  });

  it('shows the raw frame as a hex dump with x, and the frames of a message', () => {
    const publish = findEvent(events, (e) => e.kind === 'frame' && methodNameOf(e) === 'basic.publish');
    expect(draw(publish)).not.toContain('Raw frame');
    const raw = draw(publish, { showRaw: true });
    expect(raw).toMatch(/Raw frame {2}36 B/);
    expect(raw).toMatch(/0000 {2}01 00 01 00 00 00 1c 00 {2}3c 00 28/);
    const message = draw(messageWithKey('order.note'), { showRaw: true });
    expect(message.match(/Raw frame \(event \d+\)/g)).toHaveLength(3);
  });

  it('lists the links: request of a reply, publishes of a confirm, delivery of an ack, cause of an error', () => {
    const reply = draw(findEvent(events, (e) => methodNameOf(e) === 'queue.declare-ok'));
    expect(reply).toMatch(/reply to: event \d+ queue\.declare after 1\.5 ms/);
    expect(reply).toMatch(/event \d+: request queue\.declare/);
    const confirm = draw(findEvent(events, (e) => e.kind === 'frame' && methodNameOf(e) === 'basic.ack' && e.dir === 's2c'));
    expect(confirm.match(/publish confirmed/g)).toHaveLength(3);
    const ack = draw(findEvent(events, (e) => e.kind === 'frame' && methodNameOf(e) === 'basic.ack' && e.dir === 'c2s'));
    expect(ack).toMatch(/event \d+: delivery acked/);
    const close = draw(findEvent(events, (e) => methodNameOf(e) === 'channel.close'));
    expect(close).toContain("error: 404 NOT_FOUND - no exchange 'missing' in vhost '/prod'");
    expect(close).toMatch(/event \d+: cause basic\.publish/);
  });

  it('fits its height and tells how to scroll', () => {
    const text = draw(messageWithKey('order.created'), { height: 6 });
    expect(text.split('\n')).toHaveLength(6);
    expect(text).toMatch(/lines 1-5 of \d+ \(J\/K scroll\)/);
  });
});

describe('HelpScreen', () => {
  it('lists every key of the key map and the filter language', () => {
    const { lastFrame, unmount } = render(<HelpScreen keymap={KEYMAP} width={100} height={60} />);
    const text = stripAnsi(lastFrame() ?? '');
    unmount();
    for (const binding of KEYMAP) {
      expect(text).toContain(bindingLabel(binding));
      expect(text).toContain(binding.description);
    }
    for (const key of FILTER_KEYS) expect(text).toContain(key.example);
    // how terms combine comes from the grammar's data too
    for (const rule of FILTER_SYNTAX) expect(text).toContain(rule.help);
  });

  it('scrolls when the terminal is too small for every key', () => {
    const { lastFrame, unmount } = render(<HelpScreen keymap={KEYMAP} width={80} height={20} scroll={100} />);
    const text = stripAnsi(lastFrame() ?? '');
    unmount();
    expect(text).toMatch(/↑↓ scroll/);
    expect(text).toContain(FILTER_KEYS[FILTER_KEYS.length - 1]!.example);
  });
});

describe('ConnectionsView', () => {
  it('shows addresses, client library, user, vhost, negotiated limits and channel state', () => {
    const store = storeWith(sampleConversation(5).events.slice(0, 40));
    const { lastFrame, unmount } = render(
      <ConnectionsView store={store} width={WIDTH} height={20} scroll={0} foldClosedChannels={false} version={store.version} />,
    );
    const text = stripAnsi(lastFrame() ?? '');
    unmount();
    expect(text).toContain('#5  open  127.0.0.1:40005 → 127.0.0.1:5672');
    expect(text).toContain('amqplib 0.10.3 (Node.JS v20)');
    expect(text).toContain('user guest · vhost /prod · frame-max 131072 · heartbeat 30s');
    expect(text).toMatch(/CH\s+STATE\s+CONSUMERS\s+PREFETCH\s+UNACKED\s+UNCONFIRMED/);
    expect(text).toMatch(/ {4}1 +open +1 +10 +1 +0/);
  });
});
