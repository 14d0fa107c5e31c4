import type { AddressInfo } from 'node:net';
import { withTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chat, createApp, denyPurpose, forbidding, keyHolder } from './helpers.ts';

const test = suite('concurrency');

test('explains hundreds of simultaneous denials, each with its own reason', () =>
  withTestDatabase(
    async (db) => {
      const modality = await keyHolder(db, { purpose: 'batch', alias: 'm-modality' });
      await denyPurpose(db, modality.deploymentId, 'batch');
      const broke = await keyHolder(db, { credits: null, alias: 'm-broke' });
      const fine = await keyHolder(db, { alias: 'm-fine' });
      const kinds = [
        { secret: fine.secret, model: 'm-elsewhere', status: 403, code: 'model_access_denied' },
        { secret: modality.secret, model: 'm-modality', status: 403, code: 'modality_blocked' },
        { secret: broke.secret, model: 'm-broke', status: 402, code: 'insufficient_credits' },
        { secret: fine.secret, model: 'm-fine', status: 403, code: null },
        { secret: 'sk-unknown', model: 'm-fine', status: 403, code: null },
      ];
      const server = createApp({ db, timeoutMs: 10_000 }, forbidding().downstream).listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      const { port } = server.address() as AddressInfo;
      try {
        const requests = Array.from({ length: 400 }, (_, i) => {
          const kind = kinds[i % kinds.length];
          if (!kind) throw new Error('unreachable');
          return fetch(`http://127.0.0.1:${port}/ai/v1/chat/completions`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${kind.secret}`,
              'content-type': 'application/json',
              'x-request-id': `r${i}`,
            },
            body: JSON.stringify(chat(kind.model)),
          }).then(async (res) => ({ kind, i, status: res.status, text: await res.text() }));
        });
        const results = await Promise.all(requests);
        for (const { kind, i, status, text } of results) {
          assert.is(status, kind.status, `request ${i}`);
          if (kind.code === null) {
            assert.is(text, 'Forbidden', `request ${i}`);
          } else {
            const { error } = JSON.parse(text);
            assert.is(error.code, kind.code, `request ${i}`);
            assert.is(error.request_id, `r${i}`);
          }
        }
      } finally {
        server.close();
        server.closeAllConnections();
      }
    },
    { poolSize: 10 },
  ));

test.run();
