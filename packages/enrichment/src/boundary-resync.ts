import type { Database } from '@control-layer/db';
import { sql } from 'drizzle-orm';

/** The channel dwctl's router listens on for configuration changes. */
export const AUTH_CONFIG_CHANGED_CHANNEL = 'auth_config_changed';

export interface BoundaryResync {
  /** Ask the router to reload, unless that was done less than the interval ago. Never waits, never throws. */
  fire(): void;
}

/**
 * A spend-cap window rolled over but the router still refuses the key: tell it to reload
 * (`api_key_spend_cap_boundary:<epoch micros>` on `auth_config_changed`, as dwctl does). One reload
 * readmits every rolled scope, so at most one notification per interval: a burst of such 403s
 * while reloads are slow must not become a storm of reloads. Best effort: a failure is only
 * logged, and a router's periodic reload readmits the key anyway.
 */
export function createBoundaryResync(
  db: Database,
  intervalMs: number,
  onError: (error: unknown) => void,
  now: () => number = Date.now,
): BoundaryResync {
  let last = Number.NEGATIVE_INFINITY;
  return {
    fire() {
      const at = now();
      if (at - last < intervalMs) return;
      last = at;
      const payload = `api_key_spend_cap_boundary:${BigInt(at) * 1000n}`;
      db.execute(sql`select pg_notify(${AUTH_CONFIG_CHANGED_CHANNEL}, ${payload})`).then(() => {}, onError);
    },
  };
}
