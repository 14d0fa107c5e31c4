/*
 * The verdict as rules: dwctl's order, each rule reading only the facts it declares, and a rule
 * list that callers can narrow (validateApiKeyModelAccess uses the first four).
 */
import type { DenialFacts } from '@control-layer/db';
import { Decimal } from 'decimal.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DENIAL_CODES, DENIAL_RULES, diagnoseDenial } from '../src/index.ts';
import { randomSource } from './random-world.ts';

const test = suite('rules');

function randomFacts(r: ReturnType<typeof randomSource>): DenialFacts {
  const capped = r.chance(0.6);
  return {
    keyId: 'k',
    userId: 'u',
    purpose: r.pick(['realtime', 'batch', 'playground', 'platform', 'evaluation', '']),
    isSystemKey: r.chance(0.1),
    hasModelAccess: r.pick([true, false, null]),
    deniedPurpose: r.pick([null, null, 'batch']),
    balance: new Decimal(r.pick(['-1', '0', '5'])),
    balanceExempt: r.chance(0.2),
    modelIsFree: r.pick([true, false, null]),
    spendCap: capped
      ? {
          rootKeyId: 'r',
          limit: new Decimal(10),
          interval: r.pick([null, 'daily', 'weekly', 'monthly'] as const),
          windowSpend: new Decimal(r.pick(['0', '9.99', '10', '12'])),
          windowCurrent: r.chance(0.5),
          resetsAt: r.pick([null, '2026-11-28T00:00:00Z']),
        }
      : null,
    keyName: r.pick(['', 'ci key']),
    expired: r.chance(0.1),
    expiresAt: r.pick([null, '2026-11-28T00:00:00Z']),
  };
}

/** The facts, recording every property read. */
function watched(facts: DenialFacts, reads: Set<string>): DenialFacts {
  return new Proxy(facts, {
    get(target, property, receiver) {
      reads.add(String(property));
      return Reflect.get(target, property, receiver);
    },
  });
}

test('list one rule per denial code, in the order of the codes', () => {
  assert.equal(
    DENIAL_RULES.map((rule) => rule.code),
    [...DENIAL_CODES],
  );
});

test('read only the facts each rule declares, and answer with its own code', () => {
  const r = randomSource(42);
  const fired = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const facts = randomFacts(r);
    const model = r.pick(['m', null]);
    for (const rule of DENIAL_RULES) {
      const reads = new Set<string>();
      const holds = rule.holds(watched(facts, reads), model);
      if (holds) {
        const denial = rule.denial(watched(facts, reads), model);
        assert.is(denial.code, rule.code);
        fired.add(rule.code);
      }
      for (const read of reads) assert.ok(rule.reads.includes(read as keyof DenialFacts), `${rule.code} read ${read}`);
    }
  }
  assert.equal([...fired].sort(), [...DENIAL_CODES].sort());
});

test('answer with the first rule that holds', () => {
  const r = randomSource(7);
  for (let i = 0; i < 500; i++) {
    const facts = randomFacts(r);
    const first = DENIAL_RULES.find((rule) => rule.holds(facts, 'm'));
    assert.is(diagnoseDenial(facts, 'm')?.code ?? null, first?.code ?? null);
  }
  assert.is(diagnoseDenial(randomFacts(r), 'm', []), null);
});

test.run();
