// The rules armed in a session, with ids so a live control can list, add and remove them
// while traffic runs. Both the proxy's fault engine and the built-in broker read theirs from
// one of these; counting (times=, after=, probability=) is per rule over every connection.

import type { FrameEvent } from '../events.js';
import type { FaultAction, FaultRule } from './fault-rule.js';

/** A rule and what it did so far, shared by every connection. */
export class ArmedRule {
  matches = 0;
  fired = 0;
  constructor(
    readonly rule: FaultRule,
    private readonly armedAt: number,
    /** the rule's id in its FaultSet (0 outside one) */
    readonly id = 0,
  ) {}

  get action(): FaultAction {
    return this.rule.action;
  }

  /** Whether the rule is still armed (times left, within its duration). */
  armed(now: number): boolean {
    const { times, durationMs } = this.rule;
    return (times === undefined || this.fired < times) && (durationMs === undefined || now - this.armedAt < durationMs);
  }

  /** Counts a frame the action applies to; true when the rule fires on it. */
  fires(event: () => FrameEvent, random: () => number): boolean {
    const rule = this.rule;
    if (rule.when !== undefined && !rule.when.matches(event())) return false;
    this.matches++;
    if (this.matches <= rule.after) return false;
    if (rule.probability < 1 && random() >= rule.probability) return false;
    this.fired++;
    return true;
  }
}

/** One rule as a control lists it. */
export interface FaultEntry {
  readonly id: number;
  /** the rule's text */
  readonly rule: string;
  readonly matches: number;
  readonly fired: number;
  /** false once times= is used up or duration= is over */
  readonly armed: boolean;
}

/** How often each rule matched and fired, for the summary at exit. */
export interface FaultStats {
  stats(): { readonly rule: string; readonly matches: number; readonly fired: number }[];
}

/** What a live control needs of a source that acts rules out (the broker implements it). */
export interface FaultControl {
  listFaults(): FaultEntry[];
  /** Arms a checked rule (parseFaultRule); returns its id. */
  addFault(rule: FaultRule): number;
  /** Disarms a rule; false when no rule has that id. */
  removeFault(id: number): boolean;
}

export class FaultSet implements FaultControl, FaultStats {
  /** replaced, never changed in place: a connection iterating it is not disturbed */
  #rules: readonly ArmedRule[] = [];
  #nextId = 1;
  readonly #now: () => number;
  /** told when the set goes from empty to armed (connections then start watching) */
  onArmed: (() => void) | undefined = undefined;

  constructor(rules: readonly FaultRule[] = [], now: () => number = Date.now) {
    this.#now = now;
    for (const rule of rules) this.addFault(rule);
  }

  get rules(): readonly ArmedRule[] {
    return this.#rules;
  }

  /** Whether any rule is in the set (armed or used up). */
  get active(): boolean {
    return this.#rules.length > 0;
  }

  /** Whether a rule of this kind is in the set. */
  has(kind: FaultAction['kind']): boolean {
    return this.#rules.some((r) => r.action.kind === kind);
  }

  listFaults(): FaultEntry[] {
    const now = this.#now();
    return this.#rules.map((r) => ({ id: r.id, rule: r.rule.source, matches: r.matches, fired: r.fired, armed: r.armed(now) }));
  }

  addFault(rule: FaultRule): number {
    const armed = new ArmedRule(rule, this.#now(), this.#nextId++);
    const was = this.#rules.length;
    this.#rules = [...this.#rules, armed];
    if (was === 0) this.onArmed?.();
    return armed.id;
  }

  removeFault(id: number): boolean {
    const rules = this.#rules.filter((r) => r.id !== id);
    if (rules.length === this.#rules.length) return false;
    this.#rules = rules;
    return true;
  }

  /** Each rule's matches and firings so far, for the summary at exit. */
  stats(): { readonly rule: string; readonly matches: number; readonly fired: number }[] {
    return this.#rules.map((r) => ({ rule: r.rule.source, matches: r.matches, fired: r.fired }));
  }
}
