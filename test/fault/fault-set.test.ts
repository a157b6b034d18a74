// The built-in broker's rule set as a live control sees it: the same states, bound and
// all-or-nothing adds as the proxy's fault engine, and what it tells its connections (armed,
// released) when rules come and go.
import { describe, expect, it } from 'vitest';
import { MAX_RULES } from '../../src/fault/armed-rule.js';
import { FaultInputError } from '../../src/fault/fault-control.js';
import { FaultSet } from '../../src/fault/fault-set.js';
import { parseFaultRule } from '../../src/fault/fault-rule.js';

const rules = (...lines: string[]) => lines.map((line) => parseFaultRule(line));

describe('FaultSet', () => {
  it('lists rules with the engine states: armed, disarmed, spent, expired', () => {
    let now = 1000;
    const set = new FaultSet([], () => now);
    set.add(rules('nack', 'block times=1', 'delay=1s duration=5s'));
    set.rules[1]!.fired = 1;
    expect(set.setArmed(1, false)).toMatchObject({ id: 1, state: 'disarmed' });
    now += 5000;
    expect(set.list().map((r) => [r.id, r.state, r.timesLeft])).toEqual([
      [1, 'disarmed', null],
      [2, 'spent', 0],
      [3, 'expired', null],
    ]);
    // re-armed, a duration counts from then
    set.setArmed(3, false);
    expect(set.setArmed(3, true)).toMatchObject({ state: 'armed' });
    expect(set.setArmed(9, true)).toBeUndefined();
  });

  it('tells its connections: armed when the first rule comes, released when one is removed or disarmed', () => {
    const set = new FaultSet();
    const told: string[] = [];
    set.onArmed = () => told.push('armed');
    set.onReleased = (rule) => told.push(`released ${rule.id}`);
    expect(set.active).toBe(false);
    set.add(rules('nack', 'block'));
    set.add(rules('cut'));
    expect(set.active).toBe(true);
    set.setArmed(2, false);
    set.setArmed(2, false); // already disarmed: nothing more to let go
    expect(set.remove(1)).toBe(true);
    expect(set.remove(1)).toBe(false);
    expect(set.removeAll()).toBe(2);
    expect(told).toEqual(['armed', 'released 2', 'released 1', 'released 2', 'released 3']);
    expect(set.active).toBe(false);
    // removed rules still count in the summary
    expect(set.stats().map((s) => s.rule)).toEqual(['nack', 'block', 'cut']);
  });

  it(`at most MAX_RULES (${MAX_RULES}) rules: more are refused whole`, () => {
    const set = new FaultSet();
    set.add(Array.from({ length: MAX_RULES - 1 }, () => parseFaultRule('nack when rk:x')));
    expect(() => set.add(rules('nack', 'nack'))).toThrow(FaultInputError);
    expect(() => set.add(rules('nack', 'nack'))).toThrow(`at most ${MAX_RULES} rules may be armed at once (${MAX_RULES - 1} are, 2 more asked)`);
    expect(set.list().length).toBe(MAX_RULES - 1);
    set.add(rules('nack'));
    expect(set.list().length).toBe(MAX_RULES);
  });
});
