// Direct exchange: a binding matches when its key equals the routing key (one map lookup).

import type { FieldTable } from '../decoder/types.js';
import { Exchange, type Binding } from './exchange.js';

export class DirectExchange extends Exchange {
  readonly type = 'direct';
  private readonly byKey = new Map<string, Set<Binding>>();

  route(routingKey: string, _headers: FieldTable | undefined, out: Set<Binding>): void {
    const matched = this.byKey.get(routingKey);
    if (matched !== undefined) for (const b of matched) out.add(b);
  }

  protected index(binding: Binding): void {
    let set = this.byKey.get(binding.routingKey);
    if (set === undefined) {
      set = new Set();
      this.byKey.set(binding.routingKey, set);
    }
    set.add(binding);
  }

  protected unindex(binding: Binding): void {
    const set = this.byKey.get(binding.routingKey);
    if (set === undefined) return;
    set.delete(binding);
    if (set.size === 0) this.byKey.delete(binding.routingKey);
  }
}
