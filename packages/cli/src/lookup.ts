import {
  type Database,
  findApiKeyWithSpend,
  findDeployedModelByAlias,
  findEndpointByName,
  findGroupByName,
  findUserByUsername,
} from '@control-layer/db';
import { CliError } from './cli-error.ts';

/** The user with this username; deleted users only when `allowDeleted`. */
export async function requireUser(db: Database, username: string, { allowDeleted = false } = {}) {
  const user = await findUserByUsername(db, username);
  if (!user) throw new CliError(`unknown user ${JSON.stringify(username)}`);
  if (user.isDeleted && !allowDeleted) {
    throw new CliError(`user ${JSON.stringify(username)} is deleted (\`users restore\` brings it back)`);
  }
  return user;
}

/** The live deployed model with this alias. */
export async function requireModel(db: Database, alias: string) {
  const model = await findDeployedModelByAlias(db, alias);
  if (!model || model.deleted) throw new CliError(`unknown model ${JSON.stringify(alias)}`);
  return model;
}

export async function requireGroup(db: Database, name: string) {
  const group = await findGroupByName(db, name);
  if (!group) throw new CliError(`unknown group ${JSON.stringify(name)}`);
  return group;
}

export async function requireEndpoint(db: Database, name: string) {
  const endpoint = await findEndpointByName(db, name);
  if (!endpoint) throw new CliError(`unknown endpoint ${JSON.stringify(name)}`);
  return endpoint;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A key id as `keys list` shows it (a uuid); anything else is refused before a query. */
export function requireKeyId(keyId: string): string {
  if (!UUID.test(keyId)) throw new CliError(`bad key id ${JSON.stringify(keyId)}: expected the id \`keys list\` shows`);
  return keyId;
}

/** The key with this id (live or revoked), with its scope's cap and spend. */
export async function requireKey(db: Database, keyId: string) {
  const key = await findApiKeyWithSpend(db, requireKeyId(keyId));
  if (!key) throw new CliError(`unknown key ${keyId}`);
  return key;
}
