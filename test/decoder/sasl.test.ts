// The credentials of connection.start-ok responses: what the broker checks and what the TUI
// and `replay --to` read the user from.
import { describe, expect, it } from 'vitest';
import { encodeFieldTableEntries, fieldTable, typed } from '../../src/decoder/field-table.js';
import { saslCredentials } from '../../src/decoder/sasl.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('SASL credentials', () => {
  it('reads the user of PLAIN and AMQPLAIN responses, masked passwords or not', () => {
    const saslUser = (mechanism: string, response: string | Uint8Array) => saslCredentials(mechanism, response)?.user;
    expect(saslUser('PLAIN', '\u0000alice\u0000*****')).toBe('alice');
    const login = new Uint8Array([5, ...utf8('LOGIN'), 0x53, 0, 0, 0, 3, ...utf8('bob')]);
    expect(saslUser('AMQPLAIN', login)).toBe('bob');
    expect(saslUser('EXTERNAL', '')).toBeUndefined();
  });

  it('reads both parts of PLAIN (with an authzid, UTF-8, bytes or text) and AMQPLAIN', () => {
    expect(saslCredentials('PLAIN', utf8('admin\u0000jürgen\u0000pa\u0000ss'))).toEqual({ user: 'jürgen', password: 'pa\u0000ss' });
    expect(saslCredentials(utf8('PLAIN'), '\u0000guest\u0000guest')).toEqual({ user: 'guest', password: 'guest' });
    const table = encodeFieldTableEntries(fieldTable({ LOGIN: 'carol', PASSWORD: 's3cret' }));
    expect(saslCredentials('AMQPLAIN', table)).toEqual({ user: 'carol', password: 's3cret' });
  });

  it('gives nothing for malformed responses', () => {
    expect(saslCredentials('PLAIN', '\u0000only-a-user')).toBeUndefined();
    expect(saslCredentials('PLAIN', 'no-nul-at-all')).toBeUndefined();
    expect(saslCredentials('AMQPLAIN', utf8('not a table'))).toBeUndefined();
    expect(saslCredentials('AMQPLAIN', encodeFieldTableEntries(fieldTable({ LOGIN: typed('I', 5) })))).toBeUndefined();
    expect(saslCredentials('PLAIN', undefined)).toBeUndefined();
  });
});
