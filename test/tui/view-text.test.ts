import { describe, expect, it } from 'vitest';
import { bodyAsText, bodyModes, describeEventDetail, detailLineText, hexDump, nextBodyMode, renderBody } from '../../src/view/event-detail.js';
import { eventRowCells, fitText, formatPerSecond, rowColumns } from '../../src/view/event-row.js';
import type { UndecodedBytesEvent } from '../../src/events.js';
import { EventStore } from '../../src/tui/event-store.js';
import { formatEventLine } from '../../src/view/format.js';
import { applyAction, initialUiState, listView } from '../../src/tui/ui-state.js';
import { findEvent, methodNameOf, sampleConversation } from './conversation.js';

describe('withheld bytes', () => {
  const withheld: UndecodedBytesEvent = { kind: 'bytes', seq: 9, ts: 1_700_000_000_000_000, conn: 2, dir: 'c2s', offset: 8, withheld: 1536 };
  const shown: UndecodedBytesEvent = { kind: 'bytes', seq: 10, ts: 1_700_000_000_000_000, conn: 2, dir: 's2c', offset: 0, data: Buffer.from('ABCDEF') };

  it('give their size and say why they are not shown, in the row, the detail and the headless line', () => {
    expect(eventRowCells(withheld)).toMatchObject({
      name: 'not decoded',
      size: '1.5 KB',
      detail: 'bytes at offset 8, withheld: may hold credentials (--show-secrets shows them)',
    });
    const detail = describeEventDetail(withheld).lines.map(detailLineText);
    expect(detail.join('\n')).toMatch(/size\W+1\.5 KB/);
    expect(detail.join('\n')).toContain('withheld: client bytes the tap could not decode may hold credentials');
    expect(detail.join('\n')).not.toContain('0000 ');
    expect(formatEventLine(withheld)).toMatch(/ #2 C→S 1\.5 KB not decoded, withheld: may hold credentials/);
    // shown bytes keep their dump
    expect(describeEventDetail(shown).lines.map(detailLineText).join('\n')).toContain('|ABCDEF|');
    expect(formatEventLine(shown)).toMatch(/S→C 6 B not decoded$/);
  });
});

describe('row text', () => {
  it('fits text to a width with an ellipsis, or pads it', () => {
    expect(fitText('basic.publish', 5)).toBe('basi…');
    expect(fitText('ch1', 5)).toBe('ch1  ');
    expect(fitText('25 B', 8, 'right')).toBe('    25 B');
    expect(fitText('a\nb', 3)).toBe('a b');
    expect(fitText('abc', 0)).toBe('');
    expect(fitText('a\x1b[31mb\x9b', 8)).toBe('a\ufffd[31mb\ufffd');
  });

  it('gives every width the same column sum, the summary taking the rest', () => {
    for (const width of [40, 60, 80, 99, 100, 120, 200]) {
      const c = rowColumns(width);
      const shown = [c.time, c.conn, c.dir, c.channel, c.size, c.rtt].filter((w) => w > 0);
      expect(
        shown.reduce((a, b) => a + b + 1, c.summary),
        String(width),
      ).toBe(width);
      expect(c.width).toBe(width);
    }
  });

  it('columns give way by importance: size, then round trip, then the hour', () => {
    expect(rowColumns(120)).toMatchObject({ time: 12, size: 8, rtt: 8 });
    expect(rowColumns(80)).toMatchObject({ time: 12, size: 0, rtt: 8 });
    expect(rowColumns(60)).toMatchObject({ time: 9, size: 0, rtt: 0 });
    for (const width of [60, 80, 100]) {
      // ch2047 (the default channel-max) and #999 fit; the arguments keep room
      expect(rowColumns(width).channel).toBeGreaterThanOrEqual('ch2047'.length);
      expect(rowColumns(width).conn).toBeGreaterThanOrEqual('#999'.length);
      expect(rowColumns(width).summary).toBeGreaterThanOrEqual(30);
    }
  });

  it('splits a reply into name, arguments and its round trip', () => {
    const { events } = sampleConversation();
    const cells = eventRowCells(findEvent(events, (e) => methodNameOf(e) === 'basic.qos-ok'));
    expect(cells).toMatchObject({
      conn: '#1',
      dir: 's2c',
      channel: 'ch1',
      name: 'basic.qos-ok',
      detail: '← basic.qos',
      rtt: '1.5 ms',
      size: '12 B',
      tone: 'normal',
    });
    expect(eventRowCells(findEvent(events, (e) => methodNameOf(e) === 'channel.close')).tone).toBe('error');
    expect(eventRowCells(findEvent(events, (e) => e.kind === 'frame' && e.frame.type === 'heartbeat')).tone).toBe('dim');
  });

  it('formats rates compactly', () => {
    expect(formatPerSecond(0)).toBe('0');
    expect(formatPerSecond(1234)).toBe('1.2k');
    expect(formatPerSecond(52_000)).toBe('52k');
    expect(formatPerSecond(2_500_000)).toBe('2.5M');
  });
});

describe('body and dump text', () => {
  const utf8 = (s: string) => new TextEncoder().encode(s);

  it('offers a tree and pretty text only when the body parses, text when it is UTF-8, hex always', () => {
    expect(bodyModes(utf8('{"a":1}'))).toEqual(['tree', 'pretty', 'text', 'hex']);
    expect(bodyModes(utf8('plain words'))).toEqual(['text', 'hex']);
    expect(bodyModes(new Uint8Array([0xc3, 0x28]))).toEqual(['hex']);
    expect(bodyModes(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toEqual(['hex']);
    expect(nextBodyMode(['tree', 'pretty', 'text', 'hex'], 'hex')).toBe('tree');
    expect(nextBodyMode(['text', 'hex'], undefined)).toBe('text');
    expect(bodyAsText(utf8('ünïcødé ✓'))).toBe('ünïcødé ✓');
  });

  it('renders an empty body as such and falls back when the preferred mode does not apply', () => {
    expect(renderBody(new Uint8Array(), 'tree', 80).lines.map(detailLineText)).toEqual(['  (empty)']);
    expect(renderBody(utf8('not json'), 'tree', 80).mode).toBe('text');
    expect(renderBody(utf8('{"a":{"b":[1,2]},"c":"d"}'), 'tree', 80).lines.map(detailLineText)).toEqual([
      '  ▾ {2}',
      '    a: ▾ {1}',
      '      b: ▸ [2]',
      '    c: "d"',
    ]);
    expect(renderBody(utf8('{"a":{"b":[1,2]},"c":"d"}'), 'tree', 80, undefined, 3).lines.map(detailLineText)).toContain('        [1]: 2');
    expect(renderBody(utf8('{"a":{"b":[1,2]},"c":"d"}'), 'tree', 80, undefined, 1).lines.map(detailLineText)).toContain('    a: ▸ {1}');
    expect(renderBody(utf8('{"a":{"b":[1,2]}}'), 'pretty', 80).lines.map(detailLineText)).toEqual([
      '  {',
      '    "a": {',
      '      "b": [',
      '        1,',
      '        2',
      '      ]',
      '    }',
      '  }',
    ]);
  });

  it('dumps 16 bytes a line on wide panes and 8 on narrow ones', () => {
    const bytes = Uint8Array.from({ length: 20 }, (_, i) => 0x41 + i);
    expect(hexDump(bytes, 80)).toEqual([
      '0000  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|',
      '0010  51 52 53 54                                       |QRST|',
    ]);
    expect(hexDump(bytes, 60)[0]).toBe('0000  41 42 43 44 45 46 47 48  |ABCDEFGH|');
    expect(hexDump(bytes, 60)).toHaveLength(3);
    expect(hexDump(new Uint8Array(100), 80, 2).at(-1)).toBe('… 68 more bytes');
  });

  it('describes a decode error with its code, offset and bytes', () => {
    const detail = describeEventDetail({
      kind: 'decode.error',
      seq: 9,
      ts: 1,
      conn: 2,
      dir: 'c2s',
      stopped: true,
      raw: new Uint8Array([1, 0, 0]),
      error: { code: 'bad-frame-end', offset: 42, text: 'frame end octet 0x00, expected 0xce' },
    } as never);
    const text = detail.lines.map(detailLineText).join('\n');
    expect(text).toContain('code: bad-frame-end');
    expect(text).toContain('offset: 42');
    expect(text).toContain('0000  01 00 00');
  });
});

describe('paused display', () => {
  it('keeps its rows while capture goes on and the ring drops old events', () => {
    const { events } = sampleConversation();
    const store = new EventStore(30);
    for (const e of events.slice(0, 20)) store.push(e);
    const ctx = () => ({ store, liveEnd: store.endIndex, listRows: 10, detailRows: 10 });
    let state = applyAction(initialUiState(), 'pause', ctx());
    const before = listView(state, store, store.endIndex);
    for (const e of events.slice(20)) store.push(e);
    const after = listView(state, store, store.endIndex);
    expect(after.end).toBe(before.end);
    expect(after.selectedEvent?.seq).toBe(before.selectedEvent?.seq);
    expect(after.length).toBeLessThanOrEqual(before.length);
    state = applyAction(state, 'pause', ctx());
    expect(listView(state, store, store.endIndex).selectedEvent?.seq).toBe(events[events.length - 1]!.seq);
  });
});
