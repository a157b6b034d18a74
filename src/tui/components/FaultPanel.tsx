// The fault panel (F): the session's fault rules with their state, the target of the one-key
// actions (the selected event's connection and channel), and the panel's keys.

import { Box, Text } from 'ink';
import type { FaultRuleInfo } from '../../fault/fault-control.js';
import { fitText } from '../../view/event-row.js';
import { FAULT_PANEL_KEYS, keyLabel } from '../keymap.js';

export interface FaultPanelProps {
  readonly rules: readonly FaultRuleInfo[];
  readonly selected: number;
  /** the selected event's connection and channel: what C, K, b, u and X act on */
  readonly target: { readonly conn: number; readonly channel: number | undefined } | undefined;
  /** why the panel cannot act (not a proxy session), if so */
  readonly unavailable: string | undefined;
  readonly width: number;
  readonly height: number;
}

const STATE_COLORS: Record<FaultRuleInfo['state'], string> = { armed: 'magenta', disarmed: 'gray', spent: 'gray', expired: 'gray' };

export function FaultPanel({ rules, selected, target, unavailable, width, height }: FaultPanelProps) {
  const keys = FAULT_PANEL_KEYS.map((b) => `${b.keys.map(keyLabel).join('/')} ${b.action}`).join(' · ');
  const on = target
    ? `connection ${target.conn}${target.channel !== undefined && target.channel > 0 ? ` channel ${target.channel}` : ''}`
    : 'no event selected';
  const listRows = Math.max(1, height - 4);
  const first = Math.max(0, Math.min(selected - listRows + 1, rules.length - listRows));
  return (
    <Box flexDirection="column" height={height}>
      <Text bold wrap="truncate-end">
        {fitText(`Fault rules  (${rules.length}; actions act on ${on})`, width)}
      </Text>
      <Text dimColor wrap="truncate-end">
        {fitText(keys, width)}
      </Text>
      {unavailable ? (
        <Text color="yellow" wrap="truncate-end">
          {fitText(unavailable, width)}
        </Text>
      ) : rules.length === 0 ? (
        <Text dimColor wrap="truncate-end">
          {fitText('no rule armed: a arms one, e.g. close-channel=404 when method:basic.publish exchange:orders times=1', width)}
        </Text>
      ) : (
        <Text dimColor wrap="truncate-end">
          {fitText(`${'id'.padStart(4)}  ${'state'.padEnd(9)} ${'matches'.padStart(8)} ${'fired'.padStart(6)}  rule`, width)}
        </Text>
      )}
      {rules.slice(first, first + listRows).map((rule, i) => {
        const mark = first + i === selected;
        const line = `${String(rule.id).padStart(4)}  ${rule.state.padEnd(9)} ${String(rule.matches).padStart(8)} ${String(rule.fired).padStart(6)}  ${rule.rule}`;
        return (
          <Text key={rule.id} inverse={mark} color={STATE_COLORS[rule.state]} wrap="truncate-end">
            {fitText(line, width)}
          </Text>
        );
      })}
    </Box>
  );
}
