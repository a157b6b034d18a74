// Publisher confirms for `replay --to`. Brokers batch them as each pleases (multiple=true), so
// they are not matched frame by frame: each side's outcome of every publish is kept, and the
// two are compared per publish, as ranges of publishes.

import type { DecodedMethod } from '../../decoder/types.js';

export const CONFIRM_NONE = 0;
export const CONFIRM_ACK = 1;
export const CONFIRM_NACK = 2;
export type ConfirmOutcome = typeof CONFIRM_NONE | typeof CONFIRM_ACK | typeof CONFIRM_NACK;

const CONFIRM_WORDS = ['none', 'ack', 'nack'] as const;
/** at most this many ranges of differing confirms are reported per channel */
export const MAX_CONFIRM_RANGES = 20;

/** The server methods that carry publisher confirms. */
export const CONFIRM_METHODS: ReadonlySet<string> = new Set(['basic.ack', 'basic.nack']);

/** One side's publisher confirms on a channel: the outcome of each publish by sequence number. */
export class ConfirmLog {
  /** index = publish sequence number (from 1): CONFIRM_NONE, CONFIRM_ACK or CONFIRM_NACK */
  private outcomes = new Uint8Array(64);
  /** every publish below this has an outcome */
  private floor = 1;
  /** publishes with an outcome */
  resolved = 0;

  /**
   * A basic.ack / basic.nack: `tag` 0 with `multiple` means every publish so far. A tag past
   * the publishes made is cut to them (no memory for a bogus 2^60).
   */
  settle(tag: number, multiple: boolean, outcome: ConfirmOutcome, published: number): void {
    const upTo = multiple && tag === 0 ? published : Math.min(tag, published);
    if (upTo >= this.outcomes.length) {
      const grown = new Uint8Array(Math.max(upTo + 1, this.outcomes.length * 2));
      grown.set(this.outcomes);
      this.outcomes = grown;
    }
    const o = this.outcomes;
    for (let seq = multiple ? this.floor : upTo; seq <= upTo; seq++) {
      if (seq < 1 || o[seq] !== CONFIRM_NONE) continue;
      o[seq] = outcome;
      this.resolved++;
    }
    while (this.floor < o.length && o[this.floor] !== CONFIRM_NONE) this.floor++;
  }

  outcome(seq: number): ConfirmOutcome {
    return (this.outcomes[seq] ?? CONFIRM_NONE) as ConfirmOutcome;
  }
}

/** What the final comparison must know of the channel and its connection. */
export interface ConfirmEnding {
  /** the channel diverged: the confirms it still awaited never came, which was reported already */
  readonly channelDead: boolean;
  /** the recording has the connection's close: a publish it has no confirm for got none */
  readonly recordingClosed: boolean;
}

/** Both sides' confirms on one channel, with the publishes numbered as the client sent them. */
export class ChannelConfirms {
  /** confirm.select was sent: publishes are numbered and their confirms compared */
  selected = false;
  /** publishes sent since confirm.select (the same for both sides: the recorded ones, in order) */
  published = 0;
  readonly recorded = new ConfirmLog();
  readonly fresh = new ConfirmLog();
  /** gave up waiting for the new server's confirms (the final comparison names the publishes) */
  overdue = false;

  /** A client method as it is sent: confirm.select turns numbering on, a publish takes the next number. */
  clientSent(method: DecodedMethod): void {
    if (method.name === 'confirm.select') this.selected = true;
    else if (method.name === 'basic.publish' && this.selected) this.published++;
  }

  /** A basic.ack / basic.nack from one side; false when confirms are off and it says nothing. */
  settle(side: 'recorded' | 'fresh', method: DecodedMethod): boolean {
    if (!this.selected) return false;
    const { args } = method;
    const log = side === 'recorded' ? this.recorded : this.fresh;
    log.settle(Number(args['delivery-tag']), args['multiple'] === true, method.name === 'basic.ack' ? CONFIRM_ACK : CONFIRM_NACK, this.published);
    return true;
  }

  /** The new server confirmed as many publishes as the recording had by this point. */
  caughtUp(): boolean {
    return this.overdue || this.fresh.resolved >= this.recorded.resolved;
  }

  /** Publishes whose confirms the final comparison covers. */
  comparable(): number {
    return this.selected ? this.published : 0;
  }

  /**
   * Each range of publishes whose confirms differ, one line each (`publisher confirm of
   * publishes 3-5 of 5: recorded ack, now nack`), then a count of the ranges past
   * MAX_CONFIRM_RANGES. Publishes the recording has no confirm for are compared only when the
   * recording closed the connection (a cut recording just ends), and none on a diverged channel.
   */
  differences(ending: ConfirmEnding): string[] {
    if (!this.selected || this.published === 0) return [];
    const published = this.published;
    const comparable = (r: ConfirmOutcome, f: ConfirmOutcome) =>
      r !== f && !(ending.channelDead && (r === CONFIRM_NONE || f === CONFIRM_NONE)) && !(r === CONFIRM_NONE && !ending.recordingClosed);
    const lines: string[] = [];
    let extra = 0;
    for (let seq = 1; seq <= published; seq++) {
      const r = this.recorded.outcome(seq);
      const f = this.fresh.outcome(seq);
      if (!comparable(r, f)) continue;
      let last = seq;
      while (last < published && this.recorded.outcome(last + 1) === r && this.fresh.outcome(last + 1) === f) last++;
      if (lines.length < MAX_CONFIRM_RANGES) {
        const which = last === seq ? `publish ${seq}` : `publishes ${seq}-${last}`;
        lines.push(`publisher confirm of ${which} of ${published}: recorded ${CONFIRM_WORDS[r]}, now ${CONFIRM_WORDS[f]}`);
      } else extra++;
      seq = last;
    }
    if (extra > 0) lines.push(`publisher confirms: ${extra} more ranges of publishes differ`);
    return lines;
  }
}
