/*
 * The upstream latency histogram renders what prom-client's Histogram renders for the same
 * observations, alone and summed over cluster workers.
 */
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LatencyHistogram } from '../src/latency-histogram.ts';
import { UPSTREAM_LATENCY_BUCKETS } from '../src/metrics.ts';

const test = suite('latency histogram');

const NAME = 'gateway_upstream_response_seconds';
const HELP = 'Time from sending a request upstream to its response headers.';
// Every bucket edge, values between them, past the last bound, zero, and a second label value.
const OBSERVATIONS: [string, number][] = [
  ...UPSTREAM_LATENCY_BUCKETS.flatMap((bound): [string, number][] => [
    ['2xx', bound],
    ['2xx', bound * 0.9],
    ['4xx', bound * 1.1],
  ]),
  ['2xx', 0],
  ['error', 1000],
  ['4xx', 0.0001],
];

function both(): { ours: Registry; theirs: Registry; observe: (label: string, value: number) => void } {
  const ours = new Registry();
  const theirs = new Registry();
  const fast = new LatencyHistogram(NAME, HELP, 'status_class', UPSTREAM_LATENCY_BUCKETS, ours);
  const reference = new Histogram({
    name: NAME,
    help: HELP,
    labelNames: ['status_class'],
    buckets: [...UPSTREAM_LATENCY_BUCKETS],
    registers: [theirs],
  });
  return {
    ours,
    theirs,
    observe: (label, value) => {
      fast.observe({ status_class: label }, value);
      reference.observe({ status_class: label }, value);
    },
  };
}

test('renders the same text as prom-client for the same observations', async () => {
  const { ours, theirs, observe } = both();
  assert.is(await ours.metrics(), await theirs.metrics(), 'nothing observed yet');
  for (const [label, value] of OBSERVATIONS) observe(label, value);
  const text = await ours.metrics();
  assert.is(text, await theirs.metrics());
  assert.match(text, /^gateway_upstream_response_seconds_bucket\{le="\+Inf",status_class="2xx"\} \d+$/m);
  assert.match(text, /^gateway_upstream_response_seconds_count\{status_class="error"\} 1$/m);
});

test('sums over cluster workers as prom-client does', async () => {
  const workers = [both(), both()];
  for (const [i, [label, value]] of OBSERVATIONS.entries()) workers[i % 2]?.observe(label, value);
  const ours = AggregatorRegistry.aggregate(await Promise.all(workers.map((w) => w.ours.getMetricsAsJSON())));
  const theirs = AggregatorRegistry.aggregate(await Promise.all(workers.map((w) => w.theirs.getMetricsAsJSON())));
  assert.is(await ours.metrics(), await theirs.metrics());
});

test.run();
