// exchange.* on a channel: declare, delete, and exchange-to-exchange bind and unbind.

import type { MethodArgs } from '../decoder/spec.js';
import type { DecodedMethod } from '../decoder/types.js';
import { text, unimplemented, type ChannelContext } from './channel-context.js';

export function exchangeMethod(ch: ChannelContext, m: DecodedMethod): void {
  const a = m.args;
  switch (m.name) {
    case 'exchange.declare': {
      const d = a as MethodArgs<'exchange.declare'>;
      ch.vhost().declareExchange({
        name: text(d.exchange),
        type: text(d.type),
        passive: d.passive,
        durable: d.durable,
        autoDelete: d['auto-delete'],
        internal: d.internal,
        arguments: d.arguments,
      });
      if (!d.nowait) ch.send('exchange.declare-ok', {});
      return;
    }
    case 'exchange.delete': {
      const d = a as MethodArgs<'exchange.delete'>;
      ch.vhost().deleteExchange(text(d.exchange), d['if-unused']);
      if (!d.nowait) ch.send('exchange.delete-ok', {});
      return;
    }
    case 'exchange.bind': {
      const d = a as MethodArgs<'exchange.bind'>;
      ch.vhost().bindExchange(text(d.destination), text(d.source), text(d['routing-key']), d.arguments);
      if (!d.nowait) ch.send('exchange.bind-ok', {});
      return;
    }
    case 'exchange.unbind': {
      const d = a as MethodArgs<'exchange.unbind'>;
      ch.vhost().unbindExchange(text(d.destination), text(d.source), text(d['routing-key']), d.arguments);
      if (!d.nowait) ch.send('exchange.unbind-ok', {});
      return;
    }
    default:
      throw unimplemented();
  }
}
