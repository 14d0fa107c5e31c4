import type { TestPostgres } from './test-postgres.ts';

/**
 * Postgres in a container through testcontainers, or null when no container runtime answers
 * (it says so within milliseconds) or the package is not installed.
 */
export async function startContainerPostgres(): Promise<TestPostgres | null> {
  let module: typeof import('@testcontainers/postgresql');
  try {
    module = await import('@testcontainers/postgresql');
  } catch {
    return null;
  }
  try {
    const container = await new module.PostgreSqlContainer(process.env.TEST_PG_IMAGE ?? 'postgres:16-alpine')
      .withCommand(['postgres', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'max_connections=300'])
      .start();
    return {
      url: container.getConnectionUri(),
      via: 'testcontainers',
      stop: async () => {
        await container.stop();
      },
    };
  } catch (error) {
    if (error instanceof Error && /container runtime strategy/i.test(error.message)) return null;
    throw error;
  }
}
