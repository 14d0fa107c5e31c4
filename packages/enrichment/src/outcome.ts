import type { Context } from 'koa';
import type { DenialCode } from './error-codes.ts';
import type { PassThroughReason } from './options.ts';

/** What error enrichment did with a response: a closed set, safe for logs (no key, user or model). */
export type EnrichmentOutcome = { enriched: DenialCode } | { passthrough: PassThroughReason };

declare module 'koa' {
  interface DefaultState {
    /** Set by `errorEnrichment` once it decided, for access logs. */
    enrichment?: EnrichmentOutcome;
  }
}

/** Leave the outcome on `ctx.state.enrichment`, where an access log reads it. */
export function recordOutcome(ctx: Context, outcome: EnrichmentOutcome): void {
  ctx.state.enrichment = outcome;
}
