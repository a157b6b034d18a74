// A fault rule armed in a session, with what it did so far: one class for both sources that
// act rules out (the proxy's FaultEngine and the built-in broker's FaultSet), so that a live
// control lists, disarms and counts them the same way whichever runs them.

import type { FrameEvent } from '../events.js';
import { FaultInputError, type FaultRuleInfo, type FaultRuleState } from './fault-control.js';
import type { FaultAction, FaultRule } from './fault-rule.js';

/** Rules armed at once at most (every frame runs them), and removed rules kept for the summary. */
export const MAX_RULES = 1000;

/** A rule and what it did so far, shared by every connection. */
export class ArmedRule {
  matches = 0;
  fired = 0;
  /** switched off by hand (it may be re-armed) */
  disarmed = false;
  constructor(
    /** its id in its rule set: it stays the same for as long as the rule exists */
    readonly id: number,
    readonly rule: FaultRule,
    /** when it was armed: its duration counts from then */
    public armedAt: number,
  ) {}

  get action(): FaultAction {
    return this.rule.action;
  }

  /** Whether the rule is still armed (not disarmed, times left, within its duration). */
  armed(now: number): boolean {
    return this.state(now) === 'armed';
  }

  state(now: number): FaultRuleState {
    const { times, durationMs } = this.rule;
    if (this.disarmed) return 'disarmed';
    if (times !== undefined && this.fired >= times) return 'spent';
    if (durationMs !== undefined && now - this.armedAt >= durationMs) return 'expired';
    return 'armed';
  }

  info(now: number): FaultRuleInfo {
    const times = this.rule.times;
    return {
      id: this.id,
      rule: this.rule.source,
      state: this.state(now),
      matches: this.matches,
      fired: this.fired,
      timesLeft: times === undefined ? null : Math.max(0, times - this.fired),
    };
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

/** The check every source makes before arming more rules: their number is bounded, whoever adds them. */
export function checkRoom(armed: number, asked: number): void {
  if (armed + asked > MAX_RULES)
    throw new FaultInputError(undefined, `at most ${MAX_RULES} rules may be armed at once (${armed} are, ${asked} more asked): remove some first`);
}
