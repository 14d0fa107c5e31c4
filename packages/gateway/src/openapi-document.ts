import {
  anthropicErrorType,
  DENIAL_CODES,
  ERROR_CODES,
  ERROR_SPECS,
  type ErrorSpec,
  INVALID_API_KEY_MESSAGE,
  MISSING_API_KEY_MESSAGE,
} from '@control-layer/enrichment';

type Schema = Record<string, unknown>;

/** Every code the document describes, with its OpenAI status and type. */
function describedSpecs(): Record<string, ErrorSpec> {
  const specs: Record<string, ErrorSpec> = {};
  for (const code of ERROR_CODES) specs[code] = ERROR_SPECS[code];
  return specs;
}

const decimal: Schema = { type: 'string', pattern: '^-?\\d+\\.\\d+$', description: 'An exact decimal, never rounded.' };
const rfc3339: Schema = { type: 'string', format: 'date-time' };

/** The fields beside `code` that each code carries, all required. */
const EXTRAS: Record<string, Record<string, Schema>> = {
  non_inference_key: { purpose: { type: 'string', description: "The key's purpose." } },
  model_access_denied: {
    model: { type: 'string', maxLength: 257, description: 'The model asked for (first 256 characters, then …).' },
  },
  modality_blocked: { model: { type: 'string', maxLength: 257 }, purpose: { type: 'string' } },
  insufficient_credits: { balance: { ...decimal, description: "The balance of the key's owner." } },
  spend_cap_exceeded: {
    spend_limit: decimal,
    window_spend: decimal,
    resets_at: { type: ['string', 'null'], format: 'date-time', description: 'Null for a one-off cap.' },
  },
  api_key_expired: { expired_at: { ...rfc3339, description: 'When the key expired (whole seconds, UTC).' } },
  request_too_large: { limit_bytes: { type: 'integer', minimum: 0 } },
};

/** Codes that explain a denial: an operator may give each a help URL (`help_url` and a `link` header). */
const HELPED = new Set<string>(DENIAL_CODES);

const helpUrl: Schema = {
  type: 'string',
  format: 'uri',
  description: 'The page the operator set for this code (ENRICHMENT_HELP_URLS); absent when none is set.',
};

/** Codes whose message is always the same words, in either dialect. */
const FIXED_MESSAGES: Record<string, string> = {
  missing_authorization: MISSING_API_KEY_MESSAGE,
  invalid_api_key: INVALID_API_KEY_MESSAGE,
};

function errorFields(code: string): { properties: Record<string, Schema>; required: string[] } {
  const extras = EXTRAS[code] ?? {};
  const fixed = FIXED_MESSAGES[code];
  return {
    properties: {
      message: fixed === undefined ? { type: 'string' } : { const: fixed },
      code: { const: code },
      ...extras,
      ...(HELPED.has(code) && { help_url: helpUrl }),
    },
    required: ['message', 'code', ...Object.keys(extras)],
  };
}

/** `{"error":{"message","type","code","param",…extras,"request_id"}}` for one code. */
function openAiSchema(code: string, spec: ErrorSpec): Schema {
  const { properties, required } = errorFields(code);
  const param = code === 'invalid_query_parameter' ? { type: 'string' } : { const: spec.param };
  return {
    type: 'object',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: [...required, 'type', 'param', 'request_id'],
        additionalProperties: false,
        properties: {
          ...properties,
          type: { const: spec.type },
          param,
          request_id: { type: ['string', 'null'] },
        },
      },
    },
  };
}

/**
 * `{"type":"error","error":{"type","message","code",…extras},"request_id"}` for one code. The
 * query parameter at fault travels as `param` here too: it is an extra of that code.
 */
function anthropicSchema(code: string, spec: ErrorSpec): Schema {
  const fields = errorFields(code);
  const { properties, required } =
    code === 'invalid_query_parameter'
      ? { properties: { ...fields.properties, param: { type: 'string' } }, required: [...fields.required, 'param'] }
      : fields;
  return {
    type: 'object',
    required: ['type', 'error', 'request_id'],
    additionalProperties: false,
    properties: {
      type: { const: 'error' },
      error: {
        type: 'object',
        required: [...required, 'type'],
        additionalProperties: false,
        properties: { ...properties, type: { const: anthropicErrorType(spec.status) } },
      },
      request_id: { type: ['string', 'null'] },
    },
  };
}

const schemaName = (dialect: 'OpenAI' | 'Anthropic', code: string) =>
  `${dialect}Error_${code.replace(/(^|_)(\w)/g, (_m, _s, c: string) => c.toUpperCase())}`;

const header = (description: string, schema: Schema): Schema => ({ description, schema });

const HEADERS: Record<string, Schema> = {
  XRequestId: {
    ...header("The request's id: the client's `x-request-id` when it is sane, else a new one.", {
      type: 'string',
      pattern: '^[\\w.:@/+=-]{1,128}$',
    }),
    required: true,
  },
  RequestId: header('The same id, under the name the Anthropic SDK reads (Anthropic dialect only).', {
    type: 'string',
  }),
  XShouldRetry: header(
    '`false` on every 4xx but 408 (the SDKs do not retry), `true` on `spend_cap_reset_pending`; absent on 5xx and 408.',
    { type: 'string', enum: ['true', 'false'] },
  ),
  RetryAfter: header('Seconds before the retry (`spend_cap_reset_pending`: 5).', { type: 'string', pattern: '^\\d+$' }),
  Link: header('`<help_url>; rel="help"` when the operator set a help URL for the code.', {
    type: 'string',
    pattern: '^<[^>\\r\\n]+>; rel="help"$',
  }),
};

const PASSED_THROUGH =
  " Any other body with this status is the router's own answer, passed through untouched (a 403 the gateway cannot explain, an unknown key's included).";

/** The error responses of a status: each code's body in both dialects, and the headers. */
function errorResponse(codes: string[], proxied: boolean): Schema {
  const headers: Record<string, Schema> = {
    'x-request-id': { $ref: '#/components/headers/XRequestId' },
    'request-id': { $ref: '#/components/headers/RequestId' },
    'x-should-retry': { $ref: '#/components/headers/XShouldRetry' },
  };
  if (codes.includes('spend_cap_reset_pending')) headers['retry-after'] = { $ref: '#/components/headers/RetryAfter' };
  if (codes.some((code) => HELPED.has(code))) headers.link = { $ref: '#/components/headers/Link' };
  return {
    description: `${codes.map((code) => `\`${code}\``).join(', ')}. OpenAI dialect by default; Anthropic when the path ends in \`/messages\` or the request has \`anthropic-version\`.${proxied ? PASSED_THROUGH : ''}`,
    headers,
    content: {
      'application/json': {
        schema: {
          oneOf: codes.flatMap((code) => [
            { $ref: `#/components/schemas/${schemaName('OpenAI', code)}` },
            { $ref: `#/components/schemas/${schemaName('Anthropic', code)}` },
          ]),
        },
      },
    },
  };
}

/** Which codes each kind of route can answer, by status. */
function codesByStatus(codes: string[]): Record<string, string[]> {
  const specs = describedSpecs();
  const byStatus: Record<string, string[]> = {};
  for (const code of codes) {
    const status = String(specs[code]?.status);
    byStatus[status] = [...(byStatus[status] ?? []), code];
  }
  return byStatus;
}

// Node's own refusals (unparseable request, slow or oversized headers) and the gateway's 404 and 500.
const EVERY_ROUTE = ['not_found', 'request_timeout', 'headers_too_large', 'bad_request', 'internal_error'];
const PROXIED = [...DENIAL_CODES, 'request_too_large', 'upstream_unavailable', 'upstream_timeout', ...EVERY_ROUTE];
const MODELS = [
  'missing_authorization',
  'invalid_api_key',
  'api_key_expired',
  'invalid_query_parameter',
  ...EVERY_ROUTE,
];

const ROUTE_CODES = { Proxied: PROXIED, Models: MODELS } as const;
type RouteKind = keyof typeof ROUTE_CODES;

function responsesFor(kind: RouteKind): Record<string, Schema> {
  const responses: Record<string, Schema> = {};
  for (const status of Object.keys(codesByStatus(ROUTE_CODES[kind]))) {
    responses[status] = { $ref: `#/components/responses/Error${status}_${kind}` };
  }
  return responses;
}

const PROXIED_ROUTES: Record<string, string> = {
  '/ai/v1/chat/completions': 'OpenAI chat completions',
  '/ai/v1/completions': 'OpenAI completions',
  '/ai/v1/embeddings': 'OpenAI embeddings',
  '/ai/v1/responses': 'OpenAI Responses API',
  '/ai/v1/messages': 'Anthropic Messages API (always the Anthropic dialect)',
};

function proxiedOperation(path: string, summary: string): Schema {
  const id = path.replace('/ai/v1/', '').replace(/\W+(\w)/g, (_m, c: string) => c.toUpperCase());
  return {
    operationId: `post_${id}`,
    summary,
    description: `Proxied to \`\${UPSTREAM_URL}${path.replace('/ai', '')}\`, body streamed as it arrives. A \`403\` from the router is explained (first rule that holds); anything not explained passes through byte for byte.`,
    security: [{ bearer: [] }, { apiKey: [] }],
    parameters: [{ $ref: '#/components/parameters/AnthropicVersion' }],
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: { model: { type: 'string' }, stream: { type: 'boolean' } },
            additionalProperties: true,
          },
        },
      },
    },
    responses: {
      '200': {
        description:
          'The router\'s answer, passed through: JSON, or server-sent events with `"stream": true` (an error after the stream started is the router\'s).',
        content: { 'application/json': { schema: {} }, 'text/event-stream': { schema: { type: 'string' } } },
      },
      ...responsesFor('Proxied'),
      default: {
        description: "Any other answer of the router, passed through untouched (the router's own 403 included).",
      },
    },
  };
}

const availability: Schema = {
  description: "What a request with this key to this model would get, by the denial's ordered rules.",
  oneOf: [
    {
      type: 'object',
      required: ['status'],
      additionalProperties: false,
      properties: { status: { const: 'available' } },
    },
    {
      type: 'object',
      required: ['status', 'code', 'message'],
      additionalProperties: false,
      properties: {
        status: { const: 'denied' },
        code: { enum: ['modality_blocked', 'insufficient_credits', 'spend_cap_exceeded', 'spend_cap_reset_pending'] },
        message: { type: 'string' },
      },
    },
  ],
};

/** The gateway's `/ai/v1` surface as an OpenAPI 3.1 document. */
export function openApiDocument(version: string): Schema {
  const specs = describedSpecs();
  const schemas: Record<string, Schema> = {};
  for (const [code, spec] of Object.entries(specs).sort(([a], [b]) => a.localeCompare(b))) {
    schemas[schemaName('OpenAI', code)] = openAiSchema(code, spec);
    schemas[schemaName('Anthropic', code)] = anthropicSchema(code, spec);
  }
  schemas.Availability = availability;
  schemas.OpenAIModelList = {
    type: 'object',
    required: ['object', 'data'],
    additionalProperties: false,
    properties: {
      object: { const: 'list' },
      data: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'object', 'created', 'owned_by'],
          additionalProperties: false,
          properties: {
            id: { type: 'string' },
            object: { const: 'model' },
            created: { type: 'integer', description: 'Unix seconds.' },
            owned_by: { type: 'string' },
            availability: { $ref: '#/components/schemas/Availability' },
          },
        },
      },
    },
  };
  schemas.AnthropicModelList = {
    type: 'object',
    required: ['data', 'has_more', 'first_id', 'last_id'],
    additionalProperties: false,
    properties: {
      data: {
        type: 'array',
        items: {
          type: 'object',
          required: ['type', 'id', 'display_name', 'created_at'],
          additionalProperties: false,
          properties: {
            type: { const: 'model' },
            id: { type: 'string' },
            display_name: { type: 'string' },
            created_at: rfc3339,
            availability: { $ref: '#/components/schemas/Availability' },
          },
        },
      },
      has_more: { const: false },
      first_id: { type: ['string', 'null'] },
      last_id: { type: ['string', 'null'] },
    },
  };

  const responses: Record<string, Schema> = {};
  for (const [kind, codes] of Object.entries(ROUTE_CODES)) {
    for (const [status, list] of Object.entries(codesByStatus(codes))) {
      responses[`Error${status}_${kind}`] = errorResponse(list, kind === 'Proxied');
    }
  }

  const paths: Record<string, Schema> = {};
  for (const [path, summary] of Object.entries(PROXIED_ROUTES)) paths[path] = { post: proxiedOperation(path, summary) };
  paths['/ai/v1/models'] = {
    get: {
      operationId: 'listModels',
      summary: 'The models the key reaches, answered from the database (not proxied)',
      description:
        "OpenAI's list shape, or Anthropic's with `anthropic-version`. Live and active models the key's owner reaches through their groups or Everyone, sorted by alias.",
      security: [{ bearer: [] }, { apiKey: [] }],
      parameters: [
        { $ref: '#/components/parameters/AnthropicVersion' },
        {
          name: 'available_for_realtime',
          in: 'query',
          required: false,
          description: '`true` hides models with a `realtime` deny rule, `false` lists only those.',
          schema: { enum: ['true', 'false'] },
        },
      ],
      responses: {
        '200': {
          description: 'The list.',
          headers: { 'x-request-id': { $ref: '#/components/headers/XRequestId' } },
          content: {
            'application/json': {
              schema: {
                oneOf: [
                  { $ref: '#/components/schemas/OpenAIModelList' },
                  { $ref: '#/components/schemas/AnthropicModelList' },
                ],
              },
            },
          },
        },
        ...responsesFor('Models'),
      },
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Control Layer gateway',
      version,
      description:
        "The `/ai/v1` surface of `@control-layer/gateway`: an OpenAI- and Anthropic-compatible proxy that explains a router's bare 403s. Every error is written in the request's dialect: Anthropic when the path ends in `/messages` or the request carries `anthropic-version`, else OpenAI.",
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: 'http://127.0.0.1:3000' }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Wins when both headers are sent.' },
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-api-key',
          description: 'Read when `Authorization` is absent.',
        },
      },
      parameters: {
        AnthropicVersion: {
          name: 'anthropic-version',
          in: 'header',
          required: false,
          description: 'Present: errors (and the model list) in the Anthropic dialect.',
          schema: { type: 'string' },
        },
      },
      headers: HEADERS,
      schemas,
      responses,
    },
  };
}
