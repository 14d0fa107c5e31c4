import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { Decimal } from 'decimal.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bearerToken, formatBalance, formatDollars, modelOf, spendCapExceededMessage } from '../src/index.ts';

const test = suite('parsing');

test('reads bearer tokens whatever the scheme case and spacing', () => {
  const cases: [string | undefined, string | null][] = [
    ['Bearer sk-abc', 'sk-abc'],
    ['bearer sk-abc', 'sk-abc'],
    ['BEARER sk-abc', 'sk-abc'],
    ['BeArEr    sk-abc   ', 'sk-abc'],
    ['Bearer\tsk-abc', 'sk-abc'],
    ['  Bearer sk-abc', 'sk-abc'],
    ['Bearer', null],
    ['Bearer    ', null],
    ['Bearersk-abc', null],
    ['Basic dXNlcjpwYXNz', null],
    ['Token sk-abc', null],
    ['sk-abc', null],
    ['', null],
    [undefined, null],
  ];
  for (const [header, expected] of cases) assert.is(bearerToken(header), expected, String(header));
});

const source = (body: string | Buffer | null, contentType = 'application/json', contentEncoding = '') => ({
  bytes: body === null ? null : Buffer.isBuffer(body) ? body : Buffer.from(body),
  parsed: undefined,
  contentType,
  contentEncoding,
  maxDecodedBytes: 1024 * 1024,
});

test('finds the model only when it is a string in a JSON object', async () => {
  const cases: [string | null, string | null][] = [
    ['{"model":"gpt-4o","messages":[]}', 'gpt-4o'],
    ['{"model":""}', ''],
    ['{"model":"mödel-ü 🚀"}', 'mödel-ü 🚀'],
    ['{"model":42}', null],
    ['{"model":null}', null],
    ['{"model":true}', null],
    ['{"model":["a"]}', null],
    ['{"model":{"name":"a"}}', null],
    ['{"messages":[]}', null],
    ['["model","a"]', null],
    ['"model"', null],
    ['{"model":"a"', null],
    ['{model:"a"}', null],
    ['', null],
    [null, null],
  ];
  for (const [body, expected] of cases) assert.is(await modelOf(source(body)), expected, String(body));
});

test('tries JSON whatever the content type, reads forms, and never multipart', async () => {
  assert.is(await modelOf(source('{"model":"a"}', 'application/x-www-form-urlencoded')), 'a');
  assert.is(await modelOf(source('{"model":"a"}', 'text/plain')), 'a');
  assert.is(await modelOf(source('{"model":"a"}', '')), 'a');
  assert.is(await modelOf(source('model=b&x=1', 'application/x-www-form-urlencoded')), 'b');
  assert.is(await modelOf(source('model=b', 'text/plain')), null);
  assert.is(await modelOf(source('--x\r\n{"model":"a"}', 'multipart/form-data; boundary=x')), null);
});

test('decodes gzip and deflate bodies, and gives up on invalid UTF-8 or unknown encodings', async () => {
  const json = '{"model":"zipped"}';
  assert.is(await modelOf(source(gzipSync(json), 'application/json', 'gzip')), 'zipped');
  assert.is(await modelOf(source(deflateSync(json), 'application/json', 'deflate')), 'zipped');
  assert.is(await modelOf(source(Buffer.from(json), 'application/json', 'zstd')), null);
  assert.is(await modelOf(source(Buffer.from('not gzip'), 'application/json', 'gzip')), null);
  assert.is(await modelOf(source(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))), null);
  const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x20));
  assert.is(await modelOf({ ...source(bomb, 'application/json', 'gzip'), maxDecodedBytes: 1024 }), null);
});

test('decodes br and whitespace-led bodies, and stops at the output cap', async () => {
  const json = '  \n {"model":"squeezed"}';
  assert.is(await modelOf(source(brotliCompressSync(json), 'application/json', 'br')), 'squeezed');
  assert.is(await modelOf(source(gzipSync(json), 'application/json', 'x-gzip')), 'squeezed');
  assert.is(await modelOf(source(gzipSync('model=formed'), 'application/x-www-form-urlencoded', 'gzip')), 'formed');
  // 64 MiB of zeros, and 8 MiB allowed: inflating stops at the cap.
  const zeros = gzipSync(Buffer.alloc(64 * 1024 * 1024));
  assert.is(await modelOf({ ...source(zeros, 'application/json', 'gzip'), maxDecodedBytes: 8 * 1024 * 1024 }), null);
  // A valid object past the output cap is not read at all.
  const big = gzipSync(JSON.stringify({ model: 'big', pad: 'x'.repeat(2 * 1024 * 1024) }));
  assert.is(await modelOf({ ...source(big, 'application/json', 'gzip'), maxDecodedBytes: 1024 * 1024 }), null);
  assert.is(await modelOf({ ...source(big, 'application/json', 'gzip'), maxDecodedBytes: 4 * 1024 * 1024 }), 'big');
  // A large plain body is read off the event loop too, with the same result.
  const plain = Buffer.from(JSON.stringify({ pad: 'x'.repeat(1024 * 1024), model: 'plain' }));
  assert.is(await modelOf(source(plain)), 'plain');
  assert.is(await modelOf(source(Buffer.concat([plain, Buffer.from('x')]))), null);
});

test('prefers the body a parser already read', async () => {
  assert.is(await modelOf({ ...source(null), parsed: { model: 'parsed' } }), 'parsed');
  assert.is(await modelOf({ ...source('{"model":"raw"}'), parsed: { model: 7 } }), 'raw');
});

test('formats balances with at least two decimals and no rounding', () => {
  assert.is(formatBalance(new Decimal('-50.000000000000000')), '-50.00');
  assert.is(formatBalance(new Decimal('0')), '0.00');
  assert.is(formatBalance(new Decimal('0.125')), '0.125');
  assert.is(formatBalance(new Decimal('-0.000000000000001')), '-0.000000000000001');
});

test('writes dollars to the cent as dwctl does, and amounts below one cent exactly', () => {
  const cases: [string, string][] = [
    ['10', '$10.00'],
    ['0.125', '$0.12'],
    ['0.135', '$0.14'],
    ['0.01', '$0.01'],
    ['0.00999', '$0.00999'],
    ['0.00001', '$0.00001'],
    ['0.000000000000001', '$0.000000000000001'],
    ['0', '$0.00'],
    ['-0.5', '$-0.50'],
  ];
  for (const [amount, expected] of cases) assert.is(formatDollars(new Decimal(amount)), expected, amount);
  assert.is(
    spendCapExceededMessage(new Decimal('0.00001'), new Decimal('0.000012'), null),
    'API key has reached its spending cap of $0.00001 (spent $0.000012 this period). Raise or remove the cap to resume.',
  );
});

test.run();
