// What the TUI's fault panel asks of the session, and how the session answers: the UI's thread
// sends requests over the worker's port, the session's thread applies them to its FaultControl
// and answers with the new list. No ink here: the session's side imports it.

import {
  ConnectionActionError,
  FaultInputError,
  parseConnectionAction,
  parseRuleEntries,
  type FaultControl,
  type FaultRuleInfo,
} from '../fault/fault-control.js';

export type FaultRequest =
  | { readonly op: 'list' }
  | { readonly op: 'add'; readonly rule: string }
  | { readonly op: 'remove'; readonly id: number }
  | { readonly op: 'arm'; readonly id: number; readonly armed: boolean }
  | { readonly op: 'act'; readonly connection: number; readonly action: string; readonly channel?: number };

export interface FaultReply {
  readonly faults: readonly FaultRuleInfo[];
  /** the request could not be done: one line saying why */
  readonly error?: string;
  /** what was done, in one line */
  readonly done?: string;
}

/** The panel's way to the session's fault rules. */
export interface FaultClient {
  request(request: FaultRequest): Promise<FaultReply>;
}

/** Applies a panel's request to the session's rules (the session's side). */
export function applyFaultRequest(control: FaultControl, request: FaultRequest, notice: (line: string) => void = () => {}): FaultReply {
  const answer = (extra: { error?: string; done?: string } = {}): FaultReply => ({ faults: control.list(), ...extra });
  try {
    switch (request.op) {
      case 'list':
        return answer();
      case 'add': {
        const added = control.add(parseRuleEntries(request.rule.trim()));
        for (const rule of added) notice(`fault rule ${rule.id} armed (TUI): ${rule.rule}`);
        return answer({ done: `rule ${added.map((r) => r.id).join(', ')} armed` });
      }
      case 'remove':
        if (!control.remove(request.id)) return answer({ error: `no fault rule ${request.id}` });
        notice(`fault rule ${request.id} removed (TUI)`);
        return answer({ done: `rule ${request.id} deleted` });
      case 'arm': {
        const info = control.setArmed(request.id, request.armed);
        if (info === undefined) return answer({ error: `no fault rule ${request.id}` });
        return answer({ done: `rule ${request.id} ${request.armed ? 're-armed' : 'disarmed'}` });
      }
      case 'act': {
        const done = control.act(request.connection, parseConnectionAction(request.action, request.channel));
        notice(`TUI: ${done}`);
        return answer({ done });
      }
    }
  } catch (error) {
    if (error instanceof FaultInputError || error instanceof ConnectionActionError) return answer({ error: error.message });
    throw error;
  }
}
