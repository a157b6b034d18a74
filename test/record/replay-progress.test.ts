// A timed replay (--speed) says where it is: entries done of the recording's total, and how
// long until the next one while it waits.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { EventBus } from '../../src/events.js';
import { createRecorder } from '../../src/record/recorder.js';
import { describeProgress } from '../../src/commands/replay.js';
import { makeRecordingHeader } from '../../src/record/recording-format.js';
import { replayRecording, type ReplayProgress } from '../../src/record/replay.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-replay-progress-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A recording of a protocol header and three frames, 400 ms apart. */
async function gappedRecording(): Promise<string> {
  const file = path.join(dir, 'gapped.jsonl');
  const t0 = 1_700_000_000_000_000;
  const recorder = createRecorder({
    path: file,
    header: makeRecordingHeader({ tool: 'test', startedMicros: t0, mode: 'proxy', listen: '127.0.0.1:5673', upstream: '127.0.0.1:5672', secrets: 'masked' }),
  });
  const bus = new EventBus([recorder.sink]);
  bus.emit({
    kind: 'conn.open',
    seq: bus.nextSeq(),
    ts: t0,
    conn: 1,
    client: { address: '127.0.0.1', port: 40001 },
    server: { address: '127.0.0.1', port: 5672 },
  });
  const tap = new ConnectionTap(1, bus, { keepUndecoded: true });
  tap.feed('c2s', encodeProtocolHeader(), t0 + 1);
  for (let i = 1; i <= 3; i++) tap.feed('c2s', encodeMethodFrame(i, 'channel.open', {}), t0 + i * 400_000);
  tap.close('client closed', t0 + 1_300_000);
  await recorder.close();
  return file;
}

describe('replay progress', () => {
  it('counts down to the next entry while waiting, knows the total, and ends complete', async () => {
    const file = await gappedRecording();
    const seen: ReplayProgress[] = [];
    const result = await replayRecording({ path: file, sinks: [], speed: 1, onProgress: (p) => seen.push(p) });
    const waits = seen.filter((p) => p.nextInMs !== undefined);
    // a 400 ms gap is slept in slices, each reporting the time left
    expect(waits.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...waits.map((p) => p.nextInMs!))).toBeGreaterThan(100);
    expect(waits.some((p) => p.total === result.entries)).toBe(true);
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ done: result.entries, total: result.entries, finished: true });
    expect(describeProgress(last)).toBe(`${result.entries}/${result.entries} events, complete`);
    expect(describeProgress({ done: 123, total: 553, nextInMs: 2100, finished: false })).toBe('123/553 events, next in 2.1 s');
    expect(describeProgress({ done: 1, total: undefined, nextInMs: 95_000, finished: false })).toBe('1/? events, next in 1 min 35 s');
  });

  it('says nothing for a replay at full speed', async () => {
    const seen: ReplayProgress[] = [];
    await replayRecording({ path: await gappedRecording(), sinks: [], onProgress: (p) => seen.push(p) });
    expect(seen).toEqual([]);
  });
});
