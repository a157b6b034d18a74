// The rules armed on the built-in broker, with ids so a live control (--control, the TUI's
// fault panel, the package API's `session.faults`) can list, add, disarm and remove them while
// traffic runs. Connections read `rules`; counting (times=, after=, probability=) is per rule
// over every connection, as in the proxy's fault engine.

import { ArmedRule, checkRoom, MAX_RULES } from './armed-rule.js';
import type { FaultRuleInfo } from './fault-control.js';
import type { FaultAction, FaultRule } from './fault-rule.js';

/** How often each rule matched and fired, for the summary at exit. */
export interface FaultStats {
  stats(): { readonly rule: string; readonly matches: number; readonly fired: number }[];
}

export class FaultSet implements FaultStats {
  /** replaced, never changed in place: a connection iterating it is not disturbed */
  #rules: readonly ArmedRule[] = [];
  /** rules removed since the start, still counted in the summary (the last MAX_RULES) */
  readonly #removed: ArmedRule[] = [];
  #nextId = 1;
  readonly #now: () => number;
  /** told when the set goes from empty to holding rules (connections then start watching) */
  onArmed: (() => void) | undefined = undefined;
  /** told when a rule is removed or disarmed: what it holds on a connection is let go */
  onReleased: ((rule: ArmedRule) => void) | undefined = undefined;

  constructor(rules: readonly FaultRule[] = [], now: () => number = Date.now) {
    this.#now = now;
    // as the proxy's engine: rules given at the start (--fault, --faults) are not bounded here
    const at = now();
    this.#rules = rules.map((rule) => new ArmedRule(this.#nextId++, rule, at));
  }

  get rules(): readonly ArmedRule[] {
    return this.#rules;
  }

  /** Whether any rule is in the set (armed, disarmed or used up). */
  get active(): boolean {
    return this.#rules.length > 0;
  }

  list(): FaultRuleInfo[] {
    const now = this.#now();
    return this.#rules.map((r) => r.info(now));
  }

  /** Arms every rule or none (more than MAX_RULES throws FaultInputError). */
  add(rules: readonly FaultRule[]): FaultRuleInfo[] {
    checkRoom(this.#rules.length, rules.length);
    const now = this.#now();
    const armed = rules.map((rule) => new ArmedRule(this.#nextId++, rule, now));
    const was = this.#rules.length;
    this.#rules = [...this.#rules, ...armed];
    if (was === 0 && armed.length > 0) this.onArmed?.();
    return armed.map((r) => r.info(now));
  }

  remove(id: number): boolean {
    const rule = this.#rules.find((r) => r.id === id);
    if (rule === undefined) return false;
    this.#rules = this.#rules.filter((r) => r !== rule);
    this.#keepRemoved([rule]);
    this.onReleased?.(rule);
    return true;
  }

  removeAll(): number {
    const rules = this.#rules;
    this.#rules = [];
    this.#keepRemoved(rules);
    for (const rule of rules) this.onReleased?.(rule);
    return rules.length;
  }

  setArmed(id: number, armed: boolean): FaultRuleInfo | undefined {
    const rule = this.#rules.find((r) => r.id === id);
    if (rule === undefined) return undefined;
    if (armed && rule.disarmed) {
      rule.disarmed = false;
      rule.armedAt = this.#now(); // its duration counts from now
    } else if (!armed && !rule.disarmed) {
      rule.disarmed = true;
      this.onReleased?.(rule);
    }
    return rule.info(this.#now());
  }

  /** Whether a rule of this kind is in the set. */
  has(kind: FaultAction['kind']): boolean {
    return this.#rules.some((r) => r.action.kind === kind);
  }

  /** Each rule's matches and firings so far (removed ones too), for the summary at exit. */
  stats(): { readonly rule: string; readonly matches: number; readonly fired: number }[] {
    return [...this.#removed, ...this.#rules].sort((a, b) => a.id - b.id).map((r) => ({ rule: r.rule.source, matches: r.matches, fired: r.fired }));
  }

  #keepRemoved(rules: readonly ArmedRule[]): void {
    this.#removed.push(...rules);
    if (this.#removed.length > MAX_RULES) this.#removed.splice(0, this.#removed.length - MAX_RULES);
  }
}
