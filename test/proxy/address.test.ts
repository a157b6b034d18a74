import { describe, expect, it } from 'vitest';
import { AddressError, formatHostPort, parseListenAddress, parseUpstreamAddress } from '../../src/source/address.js';

describe('parseListenAddress', () => {
  it.each([
    ['5673', { host: '127.0.0.1', port: 5673 }],
    ['0', { host: '127.0.0.1', port: 0 }],
    ['0.0.0.0:5673', { host: '0.0.0.0', port: 5673 }],
    ['localhost:15673', { host: 'localhost', port: 15673 }],
    ['[::1]:5673', { host: '::1', port: 5673 }],
    ['[::]:5673', { host: '::', port: 5673 }],
    [':5673', { host: '127.0.0.1', port: 5673 }],
    ['0.0.0.0', { host: '0.0.0.0', port: 9999 }],
    ['[::1]', { host: '::1', port: 9999 }],
    ['::1', { host: '::1', port: 9999 }],
    [' 5673 ', { host: '127.0.0.1', port: 5673 }],
  ])('%j', (input, expected) => {
    expect(parseListenAddress(input, 9999)).toEqual(expected);
  });

  it.each([
    ['', 'expected a port, host:port or [ipv6]:port'],
    ['70000', 'port must be a number 0-65535'],
    ['host:', 'port must be a number 0-65535'],
    ['host:abc', 'port must be a number 0-65535'],
    ['host:-1', 'port must be a number 0-65535'],
    ['[::1', 'missing "]" after IPv6 address'],
    ['[::1]5673', 'expected ":port" after "]"'],
    ['[nope]:5673', '"nope" is not an IPv6 address'],
    ['a b:5673', '"a b" is not a valid host name'],
  ])('rejects %j', (input, reason) => {
    const err = catchError(() => parseListenAddress(input, 5673));
    expect(err).toBeInstanceOf(AddressError);
    expect(err.message).toBe(`--listen ${JSON.stringify(input)}: ${reason}`);
    expect(err.option).toBe('--listen');
    expect(err.input).toBe(input);
  });
});

describe('parseUpstreamAddress', () => {
  it.each([
    ['rabbit:5672', { host: 'rabbit', port: 5672, tls: false }],
    ['rabbit', { host: 'rabbit', port: 5672, tls: false }],
    ['10.0.0.5:5673', { host: '10.0.0.5', port: 5673, tls: false }],
    ['amqp://rabbit', { host: 'rabbit', port: 5672, tls: false }],
    ['amqp://rabbit:15672', { host: 'rabbit', port: 15672, tls: false }],
    ['amqps://rabbit', { host: 'rabbit', port: 5671, tls: true }],
    ['AMQPS://rabbit:443/', { host: 'rabbit', port: 443, tls: true }],
    ['amqp://guest:secret@rabbit:5672/%2F', { host: 'rabbit', port: 5672, tls: false }],
    ['amqps://[::1]:5671/vhost?heartbeat=5', { host: '::1', port: 5671, tls: true }],
    ['[fe80::1]:5672', { host: 'fe80::1', port: 5672, tls: false }],
  ])('%j', (input, expected) => {
    expect(parseUpstreamAddress(input)).toEqual(expected);
  });

  it.each([
    ['foo:bar', 'port must be a number 1-65535'],
    ['foo:0', 'port must be a number 1-65535'],
    ['foo:65536', 'port must be a number 1-65535'],
    ['foo:1e3', 'port must be a number 1-65535'],
    ['', 'missing host'],
    ['amqp://', 'missing host'],
    [':5672', 'missing host'],
    ['http://rabbit:5672', 'unsupported scheme "http://" (use amqp:// or amqps://)'],
    ['rabbit:5672:1', 'put IPv6 addresses in brackets: [::1]:5672'],
    ['amqps://rab bit', '"rab bit" is not a valid host name'],
  ])('rejects %j', (input, reason) => {
    const err = catchError(() => parseUpstreamAddress(input));
    expect(err).toBeInstanceOf(AddressError);
    expect(err.message).toBe(`--upstream ${JSON.stringify(input)}: ${reason}`);
  });

  it('gives the message from the brief for a non-numeric port', () => {
    expect(() => parseUpstreamAddress('foo:bar')).toThrow('--upstream "foo:bar": port must be a number 1-65535');
  });
});

describe('formatHostPort', () => {
  it('brackets IPv6 literals only', () => {
    expect(formatHostPort('127.0.0.1', 5672)).toBe('127.0.0.1:5672');
    expect(formatHostPort('rabbit', 5671)).toBe('rabbit:5671');
    expect(formatHostPort('::1', 5672)).toBe('[::1]:5672');
  });
});

function catchError(fn: () => unknown): AddressError {
  try {
    fn();
  } catch (err) {
    return err as AddressError;
  }
  throw new Error('expected an AddressError');
}
