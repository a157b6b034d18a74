// The format libraries, loaded on first use: together they take ~100 ms to load, which a
// session that never shows a msgpack, CBOR or protobuf body (or `--help`) must not pay.
// Synchronous require keeps decoding synchronous (cbor2 is ESM: require(esm), Node ≥ 20.19).

import { createRequire } from 'node:module';

type Msgpack = typeof import('@msgpack/msgpack');
type Cbor = typeof import('cbor2');
type Protobuf = typeof import('protobufjs');

const require = createRequire(import.meta.url);
let msgpack: Msgpack | undefined;
let cbor: Cbor | undefined;
let protobuf: Protobuf | undefined;

export function msgpackLib(): Msgpack {
  msgpack ??= require('@msgpack/msgpack') as Msgpack;
  return msgpack;
}

export function cborLib(): Cbor {
  cbor ??= require('cbor2') as Cbor;
  return cbor;
}

export function protobufLib(): Protobuf {
  protobuf ??= require('protobufjs') as Protobuf;
  return protobuf;
}
