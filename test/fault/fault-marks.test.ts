// Frames a fault rule made or swallowed, as every view and the recording show them: marked,
// in their place, and with the insight of the client's side of the conversation.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeContentHeaderFrame, encodeFrame, encodeHeartbeatFrame, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { EventBus, type FaultMark, type FrameEvent, type MessageEvent, type SpyEvent } from '../../src/events.js';
import { stringifyEvent } from '../../src/output/event-json.js';
import { LineBuffers } from '../../src/output/line-buffers.js';
import { makeRecordingHeader, recordingLine, writeFrameLine } from '../../src/record/recording-format.js';
import { replayRecording } from '../../src/record/replay.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';
import { eventRowCells } from '../../src/view/event-row.js';
import { formatEventLine } from '../../src/view/format.js';
import { createHeadlessPrinter } from '../../src/view/headless-printer.js';

type Fed = readonly ['c2s' | 's2c', Uint8Array, FaultMark?];

/** A close-channel=404 on a publish, as the proxy reports it to the tap. */
const conversation: readonly Fed[] = [
  ['c2s', encodeMethodFrame(1, 'channel.open')],
  ['s2c', encodeMethodFrame(1, 'channel.open-ok')],
  ['c2s', encodeMethodFrame(1, 'basic.publish', { exchange: 'orders', 'routing-key': 'k' }), 'suppressed'],
  ['c2s', encodeContentHeaderFrame(1, { classId: 60, bodySize: 4, properties: {} }), 'suppressed'],
  ['c2s', encodeFrame(3, 1, Buffer.from('lost')), 'suppressed'],
  [
    's2c',
    encodeMethodFrame(1, 'channel.close', {
      'reply-code': 404,
      'reply-text': "NOT_FOUND - no exchange 'orders' in vhost '/'",
      'class-id': 60,
      'method-id': 40,
    }),
    'injected',
  ],
  ['c2s', encodeMethodFrame(1, 'channel.close', { 'reply-code': 200, 'reply-text': 'amqp-spy', 'class-id': 0, 'method-id': 0 }), 'injected'],
  ['s2c', encodeMethodFrame(1, 'channel.close-ok'), 'suppressed'],
  ['c2s', encodeMethodFrame(1, 'channel.close-ok'), 'suppressed'],
  ['s2c', encodeHeartbeatFrame()],
];

function tapEvents(fed: readonly Fed[]): SpyEvent[] {
  const events: SpyEvent[] = [];
  const bus = new EventBus([(e) => events.push(e)], (f) => {
    throw f.error;
  });
  const tap = new ConnectionTap(1, bus, { keepUndecoded: true });
  let ts = 1_700_000_000_000_000;
  bus.emit({ kind: 'conn.open', seq: bus.nextSeq(), ts, conn: 1, client: { address: '127.0.0.1', port: 1 }, server: { address: '127.0.0.1', port: 2 } });
  for (const [dir, bytes, mark] of fed) tap.feed(dir, bytes, (ts += 1000), mark);
  tap.close({ by: 'client', how: 'closed' }, (ts += 1000));
  return events;
}

const frameOf = (events: readonly SpyEvent[], name: string, dir: 'c2s' | 's2c'): FrameEvent | undefined =>
  events.find((e): e is FrameEvent => e.kind === 'frame' && e.dir === dir && e.frame.type === 'method' && e.frame.method.name === name);

describe('marked frames in the tap', () => {
  const events = tapEvents(conversation);

  it('carry their mark, and so does the message of a marked method', () => {
    const marked = events.filter((e) => e.kind === 'frame').map((e) => (e.kind === 'frame' ? (e.fault ?? '-') : ''));
    expect(marked).toEqual(['-', '-', 'suppressed', 'suppressed', 'suppressed', 'injected', 'injected', 'suppressed', 'suppressed', '-']);
    const message = events.find((e): e is MessageEvent => e.kind === 'message');
    expect([message?.fault, Buffer.from(message?.body ?? []).toString(), message?.incomplete]).toEqual(['suppressed', 'lost', undefined]);
  });

  it('give insight from the client’s side: the error it got and its cause, its answer to it', () => {
    expect(frameOf(events, 'channel.close', 's2c')?.insight?.error).toMatchObject({ replyCode: 404, causeName: 'basic.publish' });
    expect(frameOf(events, 'channel.close-ok', 'c2s')?.insight?.request?.name).toBe('channel.close');
    // only the broker saw these: shown, not paired with what the client did
    expect(frameOf(events, 'channel.close', 'c2s')?.insight).toBeUndefined();
    expect(frameOf(events, 'channel.close-ok', 's2c')?.insight).toBeUndefined();
    const close = events.at(-1);
    expect(close?.kind === 'conn.close' && close.unanswered).toEqual([]);
  });
});

describe('marked frames in the outputs', () => {
  const events = tapEvents(conversation);
  const injected = frameOf(events, 'channel.close', 's2c')!;

  it('say so at the end of a text line, and in a colour and tag of their own in the TUI row', () => {
    expect(formatEventLine(injected)).toMatch(/ch1 channel\.close reply-code=404 .* {2}\[injected\]$/);
    expect(formatEventLine(frameOf(events, 'basic.publish', 'c2s')!)).toMatch(/basic\.publish .* {2}\[suppressed\]$/);
    const message = events.find((e) => e.kind === 'message')!;
    expect(formatEventLine(message)).toMatch(/basic\.publish .*\[suppressed\]$/);
    const row = eventRowCells(injected);
    expect([row.tone, row.detail.startsWith('[injected] ')]).toEqual(['fault', true]);
    expect(eventRowCells(events[1]!).tone).not.toBe('fault');
  });

  it('print the mark in headless text and in --json', () => {
    const printed: string[] = [];
    for (const json of [false, true]) {
      const printer = createHeadlessPrinter({ write: (chunk) => printed.push(Buffer.from(chunk).toString()), json, mode: 'frames' });
      printer(injected);
      printer.flush();
    }
    const [text, json] = printed.join('').trim().split('\n');
    expect(text).toMatch(/\[injected\]$/);
    expect(JSON.parse(json!).fault).toBe('injected');
  });

  it('are written to a recording by the fast path exactly as the general JSON path writes them', () => {
    const frames = events.filter((e): e is FrameEvent => e.kind === 'frame');
    const out = new LineBuffers(1 << 16);
    for (const e of frames) writeFrameLine(out, e, false);
    out.seal();
    const fast = Buffer.concat(out.takeSealed().buffers).toString('utf8');
    expect(fast).toBe(frames.map((e) => `${stringifyEvent(e)}\n`).join(''));
    expect(frames.map((e) => recordingLine(e, false))).toEqual(frames.map(stringifyEvent));
    expect(fast).toContain('"fault":"injected"');
  });

  it('come back marked when the recording is replayed, with the same insight', async () => {
    const file = path.join(os.tmpdir(), `marks-${process.pid}.jsonl`);
    const header = makeRecordingHeader({ tool: 'test', startedMicros: 1_700_000_000_000_000, mode: 'proxy', listen: '127.0.0.1:5673', secrets: 'masked' });
    const lines = [JSON.stringify(header), ...events.map((e) => recordingLine(e, false)).filter((l) => l !== undefined)];
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const replayed: SpyEvent[] = [];
    await replayRecording({ path: file, sinks: [(e) => replayed.push(e)] });
    fs.rmSync(file);
    const strip = (list: readonly SpyEvent[]) =>
      list
        .filter((e) => e.kind === 'frame' || e.kind === 'message')
        .map((e) => [e.kind, 'fault' in e ? e.fault : undefined, 'insight' in e ? e.insight : undefined]);
    expect(strip(replayed)).toEqual(strip(events));
  });
});
