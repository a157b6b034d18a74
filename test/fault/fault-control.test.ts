// The live rule set of the fault engine, bytes in and writes out (no sockets): rules added and
// removed while a connection is open, what a removed rule held let go, one-shot actions on a
// connection, and the control API's parsing of rules and actions (all-or-nothing).
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeContentHeaderFrame, encodeFrame, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { FrameParser } from '../../src/decoder/frame-parser.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import type { Direction } from '../../src/events.js';
import { ConnectionActionError, FaultInputError, parseConnectionAction, parseRuleEntries } from '../../src/fault/fault-control.js';
import { FaultEngine, MAX_RULES } from '../../src/fault/fault-engine.js';
import { parseFaultRule } from '../../src/fault/fault-rule.js';
import type { InterposedSide, RelayControl } from '../../src/proxy/interposer.js';

function name(bytes: Uint8Array): string {
  const item = new FrameParser({ expectProtocolHeader: false }).push(bytes)[0];
  if (item?.kind !== 'frame') return `${bytes.length} B`;
  const decoded = decodeFrame(item.frame);
  return decoded.type === 'method' ? decoded.method.name : decoded.type;
}

/** A live engine with one connection past its handshake (channel 1 open); `log` says what it wrote. */
function liveConnection(capabilities = true) {
  const log: string[] = [];
  const forwarded: Record<Direction, string[]> = { c2s: [], s2c: [] };
  // what is forwarded, cut into frames as the peer would read it
  const parsers = { c2s: new FrameParser({ expectProtocolHeader: 'auto' }), s2c: new FrameParser({ expectProtocolHeader: 'auto' }) };
  const side = (dir: Direction): InterposedSide => ({
    forward: (bytes) => {
      for (const item of parsers[dir].push(bytes)) if (item.kind === 'frame') forwarded[dir].push(name(item.frame.raw));
    },
    inject: (frame) => log.push(`${dir} inject ${name(frame)}`),
    suppress: (frame) => log.push(`${dir} suppress ${name(frame)}`),
    holdSender: (held) => log.push(`${dir} hold ${held}`),
    end: () => log.push(`${dir} end`),
  });
  const control: RelayControl = { id: 7, c2s: side('c2s'), s2c: side('s2c'), cut: (how) => log.push(`cut ${how}`) };
  const notices: string[] = [];
  const engine = new FaultEngine([], { notice: (line) => notices.push(line) });
  const stage = engine.open(control);
  const data = (dir: Direction, bytes: Uint8Array) => stage.data(dir, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  const properties = capabilities
    ? { entries: [['capabilities', { type: 'F', value: { entries: [['connection.blocked', { type: 't', value: true }]] } }]] }
    : { entries: [] };
  for (const frame of [
    encodeProtocolHeader(),
    encodeMethodFrame(0, 'connection.start-ok', { 'client-properties': properties as never, mechanism: 'PLAIN', response: '\0guest\0guest', locale: 'en_US' }),
    encodeMethodFrame(0, 'connection.open', { 'virtual-host': '/' }),
    encodeMethodFrame(1, 'channel.open'),
  ])
    data('c2s', frame);
  for (const frame of [encodeMethodFrame(0, 'connection.open-ok'), encodeMethodFrame(1, 'channel.open-ok')]) data('s2c', frame);
  forwarded.c2s.length = 0;
  forwarded.s2c.length = 0;
  return { engine, stage, data, log, forwarded, notices };
}

const rules = (...texts: string[]) => texts.map((t) => parseFaultRule(t));
const publish = () => encodeMethodFrame(1, 'basic.publish', { exchange: 'orders', 'routing-key': 'k' });

describe('the fault engine’s live rule set', () => {
  it('a rule added while a connection is open acts on it; removed, it acts no more', () => {
    const c = liveConnection();
    c.data('c2s', encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 1 }));
    expect(c.forwarded.c2s).toEqual(['basic.qos']);
    const [added] = c.engine.add(rules('close-channel=406 when method:basic.qos'));
    expect(added).toEqual({ id: 1, rule: 'close-channel=406 when method:basic.qos', state: 'armed', matches: 0, fired: 0, timesLeft: null });
    c.data('c2s', encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 2 }));
    expect(c.log).toEqual(['c2s suppress basic.qos', 's2c inject channel.close', 'c2s inject channel.close']);
    expect(c.engine.list()[0]).toMatchObject({ id: 1, matches: 1, fired: 1 });
    expect(c.engine.remove(1)).toBe(true);
    expect(c.engine.remove(1)).toBe(false);
    expect(c.engine.list()).toEqual([]);
    // the summary still counts it
    expect(c.engine.stats()).toEqual([{ rule: 'close-channel=406 when method:basic.qos', matches: 1, fired: 1 }]);
  });

  it('ids stay stable; states say armed, disarmed, spent; a disarmed rule does not act and can be re-armed', () => {
    const c = liveConnection();
    c.engine.add(rules('drop-heartbeats when dir:c2s times=1', 'delay=10ms when method:basic.get'));
    c.engine.add(rules('nack'));
    expect(c.engine.list().map((r) => [r.id, r.state])).toEqual([
      [1, 'armed'],
      [2, 'armed'],
      [3, 'armed'],
    ]);
    c.data('c2s', new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0xce]));
    expect(c.engine.list()[0]).toMatchObject({ state: 'spent', fired: 1, timesLeft: 0 });
    expect(c.engine.setArmed(2, false)).toMatchObject({ id: 2, state: 'disarmed' });
    c.data('c2s', encodeMethodFrame(1, 'basic.get', { queue: 'q' }));
    expect(c.forwarded.c2s.at(-1)).toBe('basic.get'); // not delayed
    expect(c.engine.setArmed(2, true)).toMatchObject({ state: 'armed' });
    expect(c.engine.setArmed(9, true)).toBeUndefined();
    expect(c.engine.removeAll()).toBe(3);
    expect(c.engine.list()).toEqual([]);
  });

  it('a rule with duration= expires that long after it is armed; re-armed, it counts again', async () => {
    const c = liveConnection();
    c.engine.add(rules('drop-heartbeats duration=30ms'));
    expect(c.engine.list()[0]!.state).toBe('armed');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(c.engine.list()[0]!.state).toBe('expired');
    c.data('c2s', new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0xce]));
    expect(c.log).toEqual([]);
    c.engine.setArmed(1, false);
    c.engine.setArmed(1, true);
    expect(c.engine.list()[0]!.state).toBe('armed');
    c.data('c2s', new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0xce]));
    expect(c.log).toEqual(['c2s suppress heartbeat']);
  });

  it('at most MAX_RULES rules are armed at once: more are refused whole', () => {
    const c = liveConnection();
    c.engine.add(Array.from({ length: MAX_RULES - 1 }, () => parseFaultRule('nack when rk:x')));
    expect(() => c.engine.add(rules('nack', 'nack'))).toThrow(`at most ${MAX_RULES} rules may be armed at once (${MAX_RULES - 1} are, 2 more asked)`);
    expect(c.engine.list().length).toBe(MAX_RULES - 1);
    c.engine.add(rules('nack'));
    expect(c.engine.list().length).toBe(MAX_RULES);
  });

  it('removing a block rule lifts the block: connection.unblocked, and the held publishes go on', () => {
    const c = liveConnection();
    const [rule] = c.engine.add(rules('block when method:basic.qos'));
    c.data('c2s', encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 1 }));
    c.data('c2s', publish());
    expect(c.log).toEqual(['s2c inject connection.blocked', 'c2s hold true']);
    expect(c.forwarded.c2s).toEqual(['basic.qos']);
    c.engine.remove(rule!.id);
    expect(c.log.slice(2)).toEqual(['s2c inject connection.unblocked', 'c2s hold false']);
    expect(c.forwarded.c2s).toEqual(['basic.qos', 'basic.publish']);
  });

  it('removing a delay rule lets what it held go at once, in order', () => {
    const c = liveConnection();
    c.engine.add(rules('delay=10s when method:basic.qos'));
    c.data('c2s', encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 1 }));
    c.data('c2s', encodeMethodFrame(1, 'basic.recover', { requeue: true }));
    expect(c.forwarded.c2s).toEqual([]);
    c.engine.setArmed(1, false);
    expect(c.forwarded.c2s).toEqual(['basic.qos', 'basic.recover']);
  });

  it('one-shot actions: close the connection, close a channel, block and unblock, cut', () => {
    const c = liveConnection();
    expect(c.engine.act(7, { kind: 'block', ms: undefined })).toBe('connection 7: blocked (connection.blocked sent)');
    expect(() => c.engine.act(7, { kind: 'block', ms: undefined })).toThrow('connection 7 is blocked already');
    expect(c.engine.act(7, { kind: 'unblock' })).toBe('connection 7: unblocked');
    expect(c.engine.act(7, { kind: 'close-channel', code: 406, channel: 1 })).toBe(
      'connection 7: channel.close 406 PRECONDITION_FAILED sent on channel 1, the channel closed upstream',
    );
    expect(() => c.engine.act(7, { kind: 'close-channel', code: 406, channel: 1 })).toThrow('connection 7 has no open channel 1');
    expect(c.engine.act(7, { kind: 'close-connection', code: 320 })).toBe(
      'connection 7: connection.close 320 CONNECTION_FORCED sent to the client, the connection closed upstream',
    );
    expect(c.log).toEqual([
      's2c inject connection.blocked',
      's2c inject connection.unblocked',
      's2c inject channel.close',
      'c2s inject channel.close',
      's2c inject connection.close',
      'c2s inject connection.close',
    ]);
    const error = (() => {
      try {
        c.engine.act(8, { kind: 'cut' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConnectionActionError);
    expect((error as ConnectionActionError).status).toBe(404);
    const d = liveConnection();
    expect(d.engine.act(7, { kind: 'reset' })).toBe('connection 7: reset (RST to both sides)');
    expect(d.log).toEqual(['cut reset']);
    d.stage.closed();
    expect(() => d.engine.act(7, { kind: 'cut' })).toThrow('no connection 7 is open');
  });
});

describe('a live engine with no rule armed', () => {
  it('forwards each read whole and unchanged, however reads cut the frames; a rule armed mid-frame acts from the next frame on', () => {
    const frames = [
      encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 1 }),
      encodeMethodFrame(1, 'confirm.select'),
      publish(),
      encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 2 }),
      encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 3 }),
    ];
    const stream = Buffer.concat(frames);
    for (const step of [1, 5, 13, 64]) {
      const writes: Buffer[] = [];
      const c = liveConnection();
      const side = { forward: (b: Uint8Array) => writes.push(Buffer.from(b)) };
      // count the writes of the c2s side: one per read while idle
      const engine = new FaultEngine([]);
      const control: RelayControl = {
        id: 1,
        c2s: { ...side, inject: () => {}, suppress: () => {}, holdSender: () => {}, end: () => {} },
        s2c: { forward: () => {}, inject: () => {}, suppress: () => {}, holdSender: () => {}, end: () => {} },
        cut: () => {},
      };
      const stage = engine.open(control);
      let reads = 0;
      for (let at = 0; at < stream.length; at += step) {
        stage.data('c2s', stream.subarray(at, at + step));
        reads++;
      }
      expect(Buffer.concat(writes).equals(stream)).toBe(true);
      expect(writes.length).toBe(reads);
      expect(c.log).toEqual([]);
    }
    // armed while the 4th frame is half read: that frame passes, the 5th is acted on
    const c = liveConnection();
    const head = Buffer.concat(frames.slice(0, 3));
    const fourth = Buffer.from(frames[3]!);
    c.data('c2s', Buffer.concat([head, fourth.subarray(0, 6)]));
    c.engine.add(rules('close-channel=406 when method:basic.qos'));
    c.data('c2s', Buffer.concat([fourth.subarray(6), frames[4]!]));
    expect(c.forwarded.c2s).toEqual(['basic.qos', 'confirm.select', 'basic.publish', 'basic.qos']);
    expect(c.log).toEqual(['c2s suppress basic.qos', 's2c inject channel.close', 'c2s inject channel.close']);
  });

  it('follows confirm channels while idle: a nack rule armed later rewrites the right publish', () => {
    const c = liveConnection();
    c.data('c2s', encodeMethodFrame(1, 'confirm.select'));
    c.data('s2c', encodeMethodFrame(1, 'confirm.select-ok'));
    c.data('c2s', publish());
    c.data('c2s', publish());
    c.data('s2c', encodeMethodFrame(1, 'basic.ack', { 'delivery-tag': 1, multiple: false }));
    c.engine.add(rules('nack when method:basic.publish'));
    c.data('c2s', publish());
    c.data('s2c', encodeMethodFrame(1, 'basic.ack', { 'delivery-tag': 3, multiple: true }));
    expect(c.log).toEqual(['s2c suppress basic.ack', 's2c inject basic.ack', 's2c inject basic.nack']);
  });
});

describe('a live engine with no rule armed, reads cut anywhere', () => {
  it('follows confirm channels through frames split over reads: a nack rule armed later nacks the right publish', () => {
    const c2s = Buffer.concat([
      encodeMethodFrame(1, 'confirm.select'),
      ...[1, 2, 3].map(() =>
        Buffer.concat([publish(), encodeContentHeaderFrame(1, { classId: 60, bodySize: 5, properties: {} }), encodeFrame(3, 1, Buffer.alloc(5))]),
      ),
    ]);
    for (const step of [1, 3, 7, 11, 50]) {
      const c = liveConnection();
      for (let at = 0; at < c2s.length; at += step) c.data('c2s', c2s.subarray(at, at + step));
      const s2c = Buffer.concat([encodeMethodFrame(1, 'confirm.select-ok'), encodeMethodFrame(1, 'basic.ack', { 'delivery-tag': 2, multiple: true })]);
      for (let at = 0; at < s2c.length; at += step) c.data('s2c', s2c.subarray(at, at + step));
      expect(c.forwarded.c2s.filter((n) => n === 'basic.publish').length).toBe(3);
      c.engine.add(rules('nack when method:basic.publish'));
      c.data('c2s', publish());
      c.data('s2c', encodeMethodFrame(1, 'basic.ack', { 'delivery-tag': 4, multiple: true }));
      // 3 was published before the rule (acked), 4 after it (nacked)
      expect(c.log, `reads of ${step} bytes`).toEqual(['s2c suppress basic.ack', 's2c inject basic.ack', 's2c inject basic.nack']);
    }
  });

  it('bytes that are not AMQP frames pass unchanged, and no rule acts on that connection then', () => {
    const c = liveConnection();
    const writes: string[] = [];
    c.data('c2s', encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 1 }));
    c.data('c2s', Buffer.from([1, 0, 1, 0, 0, 0, 2, 9, 9, 0x00, 7, 7]));
    c.engine.add(rules('close-channel=404'));
    c.data('c2s', encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 2 }));
    expect(c.log).toEqual(writes);
    expect(c.forwarded.c2s[0]).toBe('basic.qos');
  });
});

describe('rules and actions as the control API takes them', () => {
  it('a string, the file’s object form, or a list of them', () => {
    expect(parseRuleEntries('nack when rk:a').map((r) => r.source)).toEqual(['nack when rk:a']);
    expect(parseRuleEntries([{ action: 'delay=5ms', when: 'dir:s2c', times: 2 }, 'cut']).map((r) => r.source)).toEqual([
      'delay=5ms times=2 when dir:s2c',
      'cut',
    ]);
  });

  it.each([
    [['nack', 'close-channel=200'], 'rule 2 \'close-channel=200\': close-channel: needs a reply code: 403, 404, 405, 406 (got "200")'],
    [
      'explode',
      'rule \'explode\': unknown action "explode" (actions: close-channel, close-connection, nack, delay, rate, drop-heartbeats, block, unblock, cancel-consumer, cut, reset)',
    ],
    [[{ action: 'nack', colour: 'red' }], 'rule 1: unknown key "colour" (keys: action, when, probability, times, after, duration, after-bytes)'],
    [42, 'rule: a rule is a string or an object with "action", got 42'],
    [[], 'no rule given: a rule string, an object with "action", or a list of them'],
  ])('one bad rule of %j: which and why', (input, reason) => {
    let error: unknown;
    try {
      parseRuleEntries(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FaultInputError);
    expect((error as FaultInputError).message).toBe(reason);
  });

  it('one-shot actions in the grammar’s words', () => {
    expect(parseConnectionAction('close-connection=320')).toEqual({ kind: 'close-connection', code: 320 });
    expect(parseConnectionAction('close-channel=406', 2)).toEqual({ kind: 'close-channel', code: 406, channel: 2 });
    expect(parseConnectionAction('block=5s')).toEqual({ kind: 'block', ms: 5000 });
    expect(parseConnectionAction('cut')).toEqual({ kind: 'cut' });
    expect(() => parseConnectionAction('close-channel=406')).toThrow('close-channel needs the channel: a number from 1 to 65535');
    expect(() => parseConnectionAction('nack')).toThrow('"nack" is not a one-shot action');
    expect(() => parseConnectionAction('close-connection=200')).toThrow("action 'close-connection=200': close-connection: needs a reply code");
  });
});
