// confirm.* and tx.* on a channel: the two publishing modes, which exclude each other.

import type { MethodArgs } from '../decoder/spec.js';
import type { DecodedMethod } from '../decoder/types.js';
import { AmqpError } from './amqp-error.js';
import { unimplemented, type ChannelContext } from './channel-context.js';

export function confirmMethod(ch: ChannelContext, m: DecodedMethod): void {
  if (m.name !== 'confirm.select') throw unimplemented();
  if (ch.transactional) throw AmqpError.of('PRECONDITION_FAILED', 'cannot switch from tx to confirm mode');
  ch.selectConfirm();
  if (!(m.args as MethodArgs<'confirm.select'>).nowait) ch.send('confirm.select-ok', {});
}

export function txMethod(ch: ChannelContext, m: DecodedMethod): void {
  switch (m.name) {
    case 'tx.select':
      if (ch.confirming) throw AmqpError.of('PRECONDITION_FAILED', 'cannot switch from confirm to tx mode');
      ch.selectTx();
      ch.send('tx.select-ok', {});
      return;
    case 'tx.commit':
      if (!ch.transactional) throw AmqpError.of('PRECONDITION_FAILED', 'channel is not transactional');
      ch.commit();
      ch.send('tx.commit-ok', {});
      return;
    case 'tx.rollback':
      if (!ch.transactional) throw AmqpError.of('PRECONDITION_FAILED', 'channel is not transactional');
      ch.rollback();
      ch.send('tx.rollback-ok', {});
      return;
    default:
      throw unimplemented();
  }
}
