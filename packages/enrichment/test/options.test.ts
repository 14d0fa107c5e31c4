import { withTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EnrichmentOptionsError, type ErrorEnrichmentOptions, errorEnrichment } from '../src/index.ts';

const test = suite('options');

test('refuses unusable options at construction with a named error', () =>
  withTestDatabase(async (db) => {
    const bad: [string, unknown][] = [
      ['no options', undefined],
      ['no db', {}],
      ['db without execute', { db: {} }],
      ['zero body limit', { db, maxBodyBytes: 0 }],
      ['fractional body limit', { db, maxBodyBytes: 1.5 }],
      ['negative timeout', { db, timeoutMs: -1 }],
      ['infinite timeout', { db, timeoutMs: Number.POSITIVE_INFINITY }],
      ['timer overflow', { db, timeoutMs: 2 ** 31 }],
      ['logger without warn', { db, logger: {} }],
      ['hook not a function', { db, onEnriched: 'yes' }],
      ['read database without run', { db, readDb: db }],
      ['coalesce not a boolean', { db, coalesce: 'on' }],
      ['negative coalescing window', { db, coalesceWindowMs: -1 }],
    ];
    for (const [name, options] of bad) {
      let error: unknown;
      try {
        errorEnrichment(options as ErrorEnrichmentOptions);
      } catch (e) {
        error = e;
      }
      assert.instance(error, EnrichmentOptionsError, name);
    }
  }));

test('builds a named middleware from valid options without changing them', () =>
  withTestDatabase(async (db) => {
    const options = Object.freeze({ db, maxBodyBytes: 1024, timeoutMs: 50 });
    const middleware = errorEnrichment(options);
    assert.is(middleware.name, 'errorEnrichment');
    assert.equal(Object.keys(options), ['db', 'maxBodyBytes', 'timeoutMs']);
  }));

test.run();
