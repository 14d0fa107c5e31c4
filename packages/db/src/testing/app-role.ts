import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { appRoleGrants } from '../app-role.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

/** A migrated test database, and a login role on it holding exactly the application's grants. */
export interface AppRoleDatabase {
  /** The database as its owner (the role that ran the migrations). */
  owner: TestDatabase;
  /** The application's role: no superuser, no ownership, the README's `GRANT` block only. */
  role: string;
  /** `owner.url` logging in as `role`. */
  url: string;
  /** Drop the database, then the role. */
  close: () => Promise<void>;
}

async function ownerQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/**
 * A fresh database with a fresh role granted `appRoleGrants` (a name of its own, since roles are
 * shared by every database of the server and tests run side by side), as the README tells an
 * operator to set one up.
 *
 * @example
 * const app = await createAppRoleDatabase();
 * try { const { db } = await openDatabase(app.url); … } finally { await app.close(); }
 */
export async function createAppRoleDatabase(
  grants: (role: string) => string = appRoleGrants,
): Promise<AppRoleDatabase> {
  const owner = await createTestDatabase();
  const role = `cl_app_${randomBytes(5).toString('hex')}`;
  try {
    await ownerQuery(owner.url, `create role ${role} login nosuperuser nocreatedb nocreaterole noreplication`);
    await ownerQuery(owner.url, grants(role));
  } catch (error) {
    await owner.close();
    throw error;
  }
  const url = new URL(owner.url);
  url.username = role;
  url.password = '';
  return {
    owner,
    role,
    url: url.toString(),
    close: async () => {
      await ownerQuery(owner.url, `drop owned by ${role}`).catch(() => {});
      await owner.close();
      const maintenance = new URL(owner.url);
      maintenance.pathname = '/postgres';
      await ownerQuery(maintenance.toString(), `drop role if exists ${role}`);
    },
  };
}
