// Credentials never reach a sink in clear unless asked for: real clients through the proxy to
// the built-in broker (and RabbitMQ when AMQP_SPY_RABBITMQ_URL is set), with the recorder, the
// text and JSON printers and the TUI's detail pane attached; each secret is searched for in
// all of them, base64 fields decoded.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { fieldTable } from '../../src/decoder/field-table.js';
import { encodeContentFrames, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import type { SpyEvent } from '../../src/events.js';
import { createRecorder } from '../../src/record/recorder.js';
import { makeRecordingHeader } from '../../src/record/recording-format.js';
import { startProxySession } from '../../src/session/live-session.js';
import { describeEventDetail } from '../../src/view/event-detail.js';
import { createHeadlessPrinter } from '../../src/view/headless-printer.js';
import { RawClient } from '../broker/raw-client.js';
import { describeAgainstBrokers, type BrokerTarget } from '../support/brokers.js';
import { waitFor } from '../support/cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-secrets-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
let fileNo = 0;

const AMQP_0_9 = Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]);
const secret = (what: string) => `${what}-${Math.random().toString(36).slice(2, 10)}`;

interface Spy {
  readonly port: number;
  readonly file: string;
  readonly events: SpyEvent[];
  /** stops the session and returns everything every sink wrote or showed, base64 decoded too */
  finish(): Promise<string>;
  /** after finish: the same, without the recording */
  shown(): string;
}

/** The proxy in front of the broker, with every sink attached, as `--record FILE` runs it. */
async function spy(target: BrokerTarget, options: { keepSecrets?: boolean } = {}): Promise<Spy> {
  const file = path.join(dir, `${++fileNo}.jsonl`);
  const keepSecrets = options.keepSecrets ?? false;
  const recorder = createRecorder({
    path: file,
    keepSecrets,
    header: makeRecordingHeader({
      tool: 'amqp-spy test',
      startedMicros: Date.now() * 1000,
      mode: 'proxy',
      listen: '127.0.0.1:0',
      upstream: `${target.host}:${target.port}`,
      secrets: keepSecrets ? 'kept' : 'masked',
    }),
  });
  const printed: string[] = [];
  const text = createHeadlessPrinter({ write: (t) => printed.push(Buffer.from(t).toString('utf8')), mode: 'frames' });
  const json = createHeadlessPrinter({ write: (t) => printed.push(Buffer.from(t).toString('utf8')), json: true });
  const events: SpyEvent[] = [];
  const notices: string[] = [];
  const session = await startProxySession({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host: target.host, port: target.port, tls: false },
    keepSecrets,
    sinks: [recorder.sink, text, json, (e) => events.push(e)],
    recorder,
    notice: (line) => notices.push(line),
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await session.stop();
    await recorder.close();
  };
  cleanups.push(stop);
  const shown = () => {
    const detail = events.flatMap((e) => describeEventDetail(e, { showRaw: true }).lines.map((l) => `${l.label ?? ''} ${l.value}`));
    return withDecodedBase64([...printed, ...detail, ...notices].join('\n'));
  };
  return {
    port: session.address.port,
    file,
    events,
    shown,
    async finish() {
      await stop();
      text.flush();
      json.flush();
      return [withDecodedBase64(fs.readFileSync(file, 'utf8')), shown()].join('\n');
    },
  };
}

/** The text with every base64 string in it decoded and appended (raw bytes are base64). */
function withDecodedBase64(text: string): string {
  const decoded = [...text.matchAll(/"(?:raw|data|body|base64)":"([A-Za-z0-9+/=]*)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('latin1'));
  return [text, ...decoded].join('\n');
}

const startOk = (user: string, password: string) =>
  encodeMethodFrame(0, 'connection.start-ok', {
    'client-properties': fieldTable({ product: 'secrets-test', capabilities: { authentication_failure_close: true } }),
    mechanism: 'PLAIN',
    response: `\u0000${user}\u0000${password}`,
    locale: 'en_US',
  });

/** Everything up to connection.open-ok, with the target's real credentials. */
async function openClient(port: number, target: BrokerTarget): Promise<RawClient> {
  const client = await RawClient.connect(port);
  cleanups.push(() => client.destroy());
  await client.open({ user: target.username, password: target.password });
  return client;
}

describeAgainstBrokers('secrets through the proxy,', (target) => {
  it('a client opening with the AMQP 0-9 header is decoded as 0-9-1: its password is masked', async () => {
    const session = await spy(target());
    const password = secret('pw-0-9');
    const client = await RawClient.connect(session.port);
    cleanups.push(() => client.destroy());
    client.write(AMQP_0_9);
    await client.expectMethod('connection.start');
    // a wrong password, so it can be searched for: the broker refuses it, but it was sent
    client.write(startOk(target().username, password));
    await client.waitForEnd();
    await waitFor(() => session.events.some((e) => e.kind === 'conn.close'), 'the close event');
    const seen = await session.finish();
    expect(seen).toContain('AMQP 0-9 (AMQP 1 1 0 9), decoded as 0-9-1');
    expect(seen).toContain('connection.start-ok');
    expect(seen).not.toContain(password);
  });

  it('a body frame 8 bytes over frame-max, which the broker accepts, leaves the update-secret after it masked', async () => {
    const session = await spy(target());
    const token = secret('token-over');
    const client = await RawClient.connect(session.port);
    cleanups.push(() => client.destroy());
    await client.open({ user: target().username, password: target().password, frameMax: 4096 });
    await client.openChannel(1);
    client.write(
      Buffer.concat([
        encodeMethodFrame(1, 'basic.publish', { exchange: '', 'routing-key': secret('nowhere') }),
        ...encodeContentFrames(1, 60, {}, Buffer.alloc(4096, 0x2e), 4096 + 8), // a body frame of 4104 bytes
      ]),
    );
    client.send(0, 'connection.update-secret', { 'new-secret': token, reason: 'refresh' });
    // the broker took the big frame: it answers the update-secret (or refuses the secret) on the same connection
    const answer = await client.expectMethod('connection.update-secret-ok').then(
      () => 'ok',
      (error: Error) => error.message,
    );
    expect(answer).toMatch(/^ok$|connection\.close/);
    client.destroy();
    await waitFor(() => session.events.some((e) => e.kind === 'conn.close'), 'the close event');
    const seen = await session.finish();
    expect(session.events.filter((e) => e.kind === 'decode.error')).toEqual([]);
    expect(seen).toContain('connection.update-secret');
    expect(seen).not.toContain(token);
  });

  it('a protocol the tap does not decode (AMQP 0-8): the client bytes after its header are withheld', async () => {
    const session = await spy(target());
    const password = secret('pw-0-8');
    // a plain socket: what a broker answers in 0-8 is not for the 0-9-1 test client to read
    const client = net.connect({ host: '127.0.0.1', port: session.port });
    client.on('error', () => {});
    client.resume();
    cleanups.push(() => {
      client.destroy();
    });
    // header and start-ok in one write: the broker may refuse 0-8, but the tap saw them
    client.write(Buffer.concat([Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 8, 0]), startOk(target().username, password)]));
    await waitFor(() => session.events.some((e) => e.kind === 'bytes' && e.dir === 'c2s'), 'the start-ok through the tap');
    client.destroy();
    await waitFor(() => session.events.some((e) => e.kind === 'conn.close'), 'the close event');
    const seen = await session.finish();
    expect(seen).not.toContain(password);
    expect(seen).toContain('"withheld":');
    expect(seen).toContain('withheld: may hold credentials');
  });

  it('after decoding stopped client to server, an update-secret is withheld; --record-secrets records it, and only the recording', async () => {
    for (const keepSecrets of [false, true]) {
      const session = await spy(target(), { keepSecrets });
      const token = secret('token-after-garbage');
      const client = await openClient(session.port, target());
      // a frame of unknown type stops the tap (the broker closes the connection for it)
      client.write(
        Buffer.concat([Buffer.of(9, 0, 0, 0, 0, 0, 0, 0xce), encodeMethodFrame(0, 'connection.update-secret', { 'new-secret': token, reason: 'refresh' })]),
      );
      await waitFor(() => session.events.some((e) => e.kind === 'bytes' && e.dir === 'c2s'), 'the update-secret through the tap');
      client.destroy();
      await waitFor(() => session.events.some((e) => e.kind === 'conn.close'), 'the close event');
      await session.finish();
      expect(session.events.filter((e) => e.kind === 'decode.error' && e.stopped)).toMatchObject([{ dir: 'c2s', error: { code: 'unknown-frame-type' } }]);
      expect(session.shown()).not.toContain(token);
      const recording = fs.readFileSync(session.file, 'utf8');
      expect(JSON.parse(recording.split('\n')[0]!)).toMatchObject({ secrets: keepSecrets ? 'kept' : 'masked' });
      expect(withDecodedBase64(recording).includes(token), `keepSecrets ${keepSecrets}`).toBe(keepSecrets);
    }
  });
});
