// The fault rule language: what parses, what each rule means, and the one line a bad rule gets.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FaultFileError, parseFaultFile, readFaultFile } from '../../src/fault/fault-file.js';
import { FAULT_ACTIONS, FAULT_OPTIONS, FaultRuleError, parseDuration, parseFaultRule } from '../../src/fault/fault-rule.js';

const frame = (name: string, args: Record<string, unknown> = {}) =>
  ({
    kind: 'frame',
    seq: 1,
    ts: 0,
    conn: 1,
    dir: 'c2s',
    channel: 1,
    frame: { type: 'method', channel: 1, method: { name, classId: 60, methodId: 40, args } },
    raw: new Uint8Array(0),
    offset: 0,
  }) as never;

describe('fault rules', () => {
  it('read an action, its options anywhere, and a filter after "when"', () => {
    const rule = parseFaultRule('close-channel=404 when method:basic.publish exchange:orders times=1');
    expect(rule.action).toEqual({ kind: 'close-channel', code: 404 });
    expect([rule.times, rule.after, rule.probability, rule.durationMs]).toEqual([1, 0, 1, undefined]);
    expect(rule.when?.matches(frame('basic.publish', { exchange: 'orders' }))).toBe(true);
    expect(rule.when?.matches(frame('basic.publish', { exchange: 'other' }))).toBe(false);
    const options = parseFaultRule('nack probability=0.25 after=3 duration=1.5s when rk:orders.*');
    expect([options.probability, options.after, options.durationMs, options.times]).toEqual([0.25, 3, 1500, undefined]);
    expect(parseFaultRule('drop-heartbeats').when).toBeUndefined();
  });

  it('read each action’s value', () => {
    expect(parseFaultRule('close-connection=320').action).toEqual({ kind: 'close-connection', code: 320 });
    expect(parseFaultRule('delay=200ms').action).toEqual({ kind: 'delay', ms: 200, jitterMs: 0 });
    expect(parseFaultRule('delay=1s±50ms').action).toEqual({ kind: 'delay', ms: 1000, jitterMs: 50 });
    expect(parseFaultRule('delay=1s+-50ms').action).toEqual({ kind: 'delay', ms: 1000, jitterMs: 50 });
    expect(parseFaultRule('rate=64KB/s').action).toEqual({ kind: 'rate', bytesPerSecond: 64_000 });
    expect(parseFaultRule('rate=1MiB/s').action).toEqual({ kind: 'rate', bytesPerSecond: 1024 * 1024 });
    expect(parseFaultRule('cut').action).toEqual({ kind: 'cut', midFrame: false, afterBytes: undefined });
    expect(parseFaultRule('reset=mid-frame').action).toEqual({ kind: 'reset', midFrame: true, afterBytes: undefined });
    expect(parseFaultRule('cut after-bytes=100 when dir:s2c').action).toEqual({ kind: 'cut', midFrame: false, afterBytes: 100 });
    expect(parseFaultRule('block=5s').action).toEqual({ kind: 'block', ms: 5000 });
    expect(parseFaultRule('block').action).toEqual({ kind: 'block', ms: undefined });
    expect(parseFaultRule('unblock').action).toEqual({ kind: 'unblock' });
    expect([parseDuration('2m'), parseDuration('5s'), parseDuration('20ms')]).toEqual([120_000, 5000, 20]);
  });

  it('keep a quoted filter term whole, and a quoted option-like word as text', () => {
    const rule = parseFaultRule('close-channel=406 when "no route" "times=1"');
    expect(rule.times).toBeUndefined();
    expect(rule.when?.source).toBe('"no route" "times=1"');
  });

  it.each([
    ['', 'no action'],
    [
      'explode',
      'unknown action "explode" (actions: close-channel, close-connection, nack, delay, rate, drop-heartbeats, block, unblock, cancel-consumer, cut, reset)',
    ],
    ['close-channel', 'close-channel: needs a reply code: 403, 404, 405, 406, e.g. close-channel=403'],
    ['close-channel=320', 'close-channel: needs a reply code: 403, 404, 405, 406 (got "320")'],
    ['close-connection=404', 'close-connection: needs a reply code: 320, 402, 501, 502, 503, 504, 505, 506, 530, 540, 541 (got "404")'],
    ['nack=1', 'nack: takes no value (got "=1")'],
    ['delay=fast', 'delay: "fast" is not a duration like 200ms, 5s or 2m'],
    ['delay=10ms±50ms', 'delay: the jitter (50ms) is larger than the delay (10ms)'],
    ['rate=fast', 'rate: needs a rate like 64KB/s or 1MB/s, got "fast"'],
    ['nack times=0', 'times= takes a whole number from 1, got "0"'],
    ['nack probability=2', 'probability= takes a number in (0, 1], got "2"'],
    ['nack after=-1', 'after= takes a whole number from 0, got "-1"'],
    ['nack duration=0s', 'duration: must be longer than 0'],
    ['nack times=1 times=2', '"times=" is given twice'],
    ['nack times=', '"times=" needs a value, e.g. times=1'],
    [
      'nack method:basic.publish',
      'unknown option "method:basic.publish" (options: probability= times= after= duration= after-bytes=; a filter comes after "when", e.g. when method:basic.publish)',
    ],
    ['block=soon', 'block: "soon" is not a duration like 200ms, 5s or 2m'],
    ['cut=later', 'cut: takes no value or =mid-frame (got "=later")'],
    ['nack after-bytes=5', 'after-bytes= applies to cut and reset only'],
    ['cut=mid-frame after-bytes=5', 'cut=mid-frame and after-bytes= exclude each other: give one'],
    ['reset after-bytes=0', 'after-bytes= takes a whole number of bytes from 1, got "0"'],
    ['nack when', '"when" needs a filter, e.g. when method:basic.publish exchange:orders'],
    [
      'nack when colour:red',
      'filter "colour:red": unknown key "colour:" (keys: method: conn: ch: dir: exchange: queue: rk: body: content-type: type: app-id: prop.NAME: header.NAME: json.PATH= size> rtt>) at column 1',
    ],
  ])('refuse %j in one line naming it', (rule, reason) => {
    const error = (() => {
      try {
        parseFaultRule(rule);
      } catch (e) {
        return e as FaultRuleError;
      }
      throw new Error('accepted');
    })();
    expect(error).toBeInstanceOf(FaultRuleError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(rule === '' ? `--fault '': ${error.reason}` : `--fault '${rule}': ${reason}`);
    if (rule === '') expect(error.reason).toMatch(/^no action; a rule is ACTION/);
    expect(error.message).not.toContain('\n');
  });

  it('grammar is data: every action and option has an example that parses, and docs/faults.md shows each', () => {
    const docs = fs.readFileSync(path.join(import.meta.dirname, '../../docs/faults.md'), 'utf8');
    for (const action of FAULT_ACTIONS) {
      expect(parseFaultRule(action.example).action.kind).toBe(action.kind);
      expect(docs).toContain(`| \`${action.example}\` | ${action.help} |`);
    }
    for (const option of FAULT_OPTIONS) {
      expect(() => parseFaultRule(`${option.key === 'after-bytes' ? 'cut' : 'nack'} ${option.example}`)).not.toThrow();
      expect(docs).toContain(`| \`${option.key}\` | \`${option.example}\` | ${option.help} |`);
    }
  });
});

describe('fault rule files', () => {
  it('read YAML: strings and objects, in a list or under "faults"', () => {
    const rules = parseFaultFile(
      ['faults:', '  - close-channel=404 when method:basic.publish', '  - action: delay=200ms', '    when: dir:s2c', '    times: 3', '    duration: 10s'].join(
        '\n',
      ),
      'f.yaml',
    );
    expect(rules.map((r) => [r.action.kind, r.when?.source, r.times, r.durationMs])).toEqual([
      ['close-channel', 'method:basic.publish', undefined, undefined],
      ['delay', 'dir:s2c', 3, 10_000],
    ]);
  });

  it('read JSON', () => {
    const rules = parseFaultFile(JSON.stringify([{ action: 'nack', when: 'rk:a.*', probability: 0.5 }, 'drop-heartbeats when dir:c2s']), 'f.json');
    expect(rules.map((r) => [r.action.kind, r.probability])).toEqual([
      ['nack', 0.5],
      ['drop-heartbeats', 1],
    ]);
  });

  it.each([
    ['faults: [', /^--faults f\.yaml: not JSON or YAML: /],
    ['42', '--faults f.yaml: expected a list of rules, or an object with a "faults" list'],
    ['- {when: "dir:c2s"}', '--faults f.yaml: rule 1: "action" is missing (e.g. action: close-channel=404)'],
    ['- {action: nack, colour: red}', '--faults f.yaml: rule 1: unknown key "colour" (keys: action, when, probability, times, after, duration, after-bytes)'],
    ['- {action: "nack times=1"}', '--faults f.yaml: rule 1: "action" is one word (e.g. delay=200ms); options and "when" are keys of their own'],
    ['- nack\n- delay=soon', `--faults f.yaml rule 2 'delay=soon': delay: "soon" is not a duration like 200ms, 5s or 2m`],
  ])('refuse a bad file in one line: %j', (text, message) => {
    expect(() => parseFaultFile(text, 'f.yaml')).toThrow(message);
  });

  it('name a file that cannot be read', () => {
    const missing = path.join(os.tmpdir(), `no-such-${process.pid}.yaml`);
    expect(() => readFaultFile(missing)).toThrow(FaultFileError);
    const file = path.join(os.tmpdir(), `faults-${process.pid}.yaml`);
    fs.writeFileSync(file, '- nack\n');
    expect(readFaultFile(file).length).toBe(1);
    fs.rmSync(file);
  });
});
