import { asc, eq } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { inferenceEndpoints } from '../schema/index.ts';
import type { InferenceEndpoint } from '../types.ts';

/** An inference endpoint by its unique name; null when none has it. */
export async function findEndpointByName(db: Database, name: string): Promise<InferenceEndpoint | null> {
  const [row] = await db.select().from(inferenceEndpoints).where(eq(inferenceEndpoints.name, name)).limit(1);
  return row ?? null;
}

export async function listEndpoints(db: Database): Promise<InferenceEndpoint[]> {
  return db.select().from(inferenceEndpoints).orderBy(asc(inferenceEndpoints.name));
}
