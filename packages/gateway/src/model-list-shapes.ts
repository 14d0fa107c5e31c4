import type { Dialect } from '@control-layer/enrichment';

/** `owned_by` of every listed model: the deployment is this control layer's to serve, not a vendor's. */
export const MODEL_OWNER = 'control-layer';

/** A model as listed: its alias, its creation time (epoch seconds) and fields carried as they are. */
export interface ModelListEntry {
  alias: string;
  created: number;
  [field: string]: unknown;
}

/** RFC 3339 in whole seconds, as Anthropic writes `created_at`. */
function rfc3339(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Anthropic's model list (`GET /v1/models` with `anthropic-version`): one page holding every model,
 * so `has_more` is false and the SDK's pager stops there. Fields of a listed model beyond its alias
 * and creation time are carried over as they are.
 */
export function anthropicModelList(models: readonly ModelListEntry[]) {
  const data = models.map(({ alias, created, ...rest }) => ({
    type: 'model' as const,
    id: alias,
    display_name: alias,
    created_at: rfc3339(created),
    ...rest,
  }));
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

/** OpenAI's model list, which `client.models.list()` of the `openai` SDKs reads. */
export function openaiModelList(models: readonly ModelListEntry[]) {
  return {
    object: 'list',
    data: models.map(({ alias, created, ...rest }) => ({
      id: alias,
      object: 'model',
      created,
      owned_by: MODEL_OWNER,
      ...rest,
    })),
  };
}

/** Each dialect's list shape. */
export const MODEL_LIST_SHAPES: Readonly<Record<Dialect, (models: readonly ModelListEntry[]) => object>> = {
  openai: openaiModelList,
  anthropic: anthropicModelList,
};
