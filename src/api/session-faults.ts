// `session.faults` of startProxy's and startBroker's sessions: fault rules armed, listed and
// removed from test code while traffic flows, the package API's twin of `--control`.

import { parseConnectionAction, parseRuleEntries, type FaultControl, type FaultRuleInfo } from '../fault/fault-control.js';

/** A rule: the one-line grammar (docs/faults.md), or the rule files' object form. */
export type FaultRuleInput =
  | string
  | {
      readonly action: string;
      readonly when?: string;
      readonly probability?: number | string;
      readonly times?: number | string;
      readonly after?: number | string;
      readonly duration?: string;
      readonly 'after-bytes'?: number | string;
    };

export interface SessionFaults {
  /**
   * Arms rules: all of them, or none (a bad one throws FaultInputError naming it and why).
   * Returns them as listed, each with its id.
   */
  add(rules: FaultRuleInput | readonly FaultRuleInput[]): FaultRuleInfo[];
  /** Removes a rule; what it holds is let go (a block lifted, delayed frames sent). False: no such rule. */
  remove(id: number): boolean;
  /** Removes every rule; returns how many there were. */
  clear(): number;
  /** Every rule with its id, state (armed, disarmed, spent, expired), matches and firings. */
  list(): FaultRuleInfo[];
  /** Switches a rule off (it stays listed) or on again; undefined: no such rule. */
  disarm(id: number): FaultRuleInfo | undefined;
  arm(id: number): FaultRuleInfo | undefined;
  /**
   * Acts on an open connection (its number in the events' `conn`) now: `close-connection=320`,
   * `close-channel=406` (with `channel`), `block`, `block=5s`, `unblock`, `cut`, `reset`.
   * Returns what was done; throws ConnectionActionError when it cannot be (no such connection,
   * not open yet, not blocked, ...), FaultInputError for a bad action.
   */
  act(connection: number, action: string, options?: { readonly channel?: number }): string;
}

/** The session's faults over its control (the proxy's engine is made when first needed, see startProxy's `faults`). */
export function sessionFaults(engine: () => FaultControl): SessionFaults {
  return {
    add: (rules) => engine().add(parseRuleEntries(rules)),
    remove: (id) => engine().remove(id),
    clear: () => engine().removeAll(),
    list: () => engine().list(),
    disarm: (id) => engine().setArmed(id, false),
    arm: (id) => engine().setArmed(id, true),
    act: (connection, action, options) => engine().act(connection, parseConnectionAction(action, options?.channel)),
  };
}
