import { Worker } from 'node:worker_threads';
import { extractModel } from './extract-model.ts';

export interface ExtractJob {
  bytes: Uint8Array;
  encoding: string;
  type: string;
  maxOutputLength: number;
}

/**
 * Jobs waiting for the worker at most. Past it a body's model is not read (the diagnosis goes on
 * without it, as for an unreadable body), so a flood of bombs queues nothing and costs at most
 * one core.
 */
const MAX_PENDING = 8;

// The worker runs extractModel from its source text: plain JavaScript, whatever loaded this module.
// On Linux it lowers its own thread's priority to the least (nice 19): a stream of bombs then
// takes only the CPU the event loop and the rest of the machine leave over, and on a busy core the
// event loop always runs first. setpriority() on a thread id affects that thread alone; an
// unprivileged process may always lower a priority. Elsewhere the worker keeps the default.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) require('node:os').setPriority(tid, 19);
} catch {}
const extractModel = (${extractModel.toString()});
parentPort.on('message', (job) => {
  let model = null;
  try {
    model = extractModel(zlib, job.bytes, job.encoding, job.type, job.maxOutputLength);
  } catch {}
  parentPort.postMessage({ id: job.id, model });
});
`;

let worker: Worker | null = null;
let nextId = 0;
const pending = new Map<number, (model: string | null) => void>();

function settleAll(): void {
  for (const resolve of pending.values()) resolve(null);
  pending.clear();
}

function startWorker(): Worker {
  const started = new Worker(WORKER_SOURCE, { eval: true });
  // Idle, it keeps no process alive; it is ref'd only while jobs wait.
  started.unref();
  started.on('message', ({ id, model }: { id: number; model: string | null }) => {
    const resolve = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) started.unref();
    resolve?.(model);
  });
  // A crashed worker fails its jobs open (no model) and is replaced at the next job.
  started.on('error', () => {});
  started.once('exit', () => {
    if (worker === started) worker = null;
    settleAll();
  });
  return started;
}

/**
 * `extractModel` in a worker thread, so that decoding and parsing a large body never blocks the
 * event loop. Resolves null at once when too many jobs wait already.
 */
export function extractInWorker(job: ExtractJob): Promise<string | null> {
  if (pending.size >= MAX_PENDING) return Promise.resolve(null);
  worker ??= startWorker();
  const id = nextId++;
  const promise = new Promise<string | null>((resolve) => pending.set(id, resolve));
  worker.ref();
  worker.postMessage({ id, ...job });
  return promise;
}
