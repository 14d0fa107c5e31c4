/** The role the README's `GRANT` block names: what the gateway and the admin tool run as. */
export const APP_ROLE = 'control_layer_app';

/**
 * Every right the application needs, and no other, for a role that does not own the schema. The
 * checkpoint tables are only read: the ledger's triggers write them (migration 0005). Inserting
 * into `credits_transactions`, `api_key_spend_window_resets` and `user_balance_rebuilds` is how
 * the application moves money, restarts a cap window and repairs checkpoints; each of those
 * tables is append-only. Users and keys are deleted softly, so neither takes DELETE. The README
 * prints this list for `control_layer_app`; a test checks the two agree.
 */
export const APP_ROLE_GRANTS = [
  'GRANT USAGE ON SCHEMA public, drizzle TO {role};',
  'GRANT SELECT ON drizzle.__drizzle_migrations TO {role};',
  'GRANT SELECT, INSERT, UPDATE ON users, api_keys TO {role};',
  'GRANT SELECT, INSERT, UPDATE, DELETE ON groups, user_groups, deployment_groups, inference_endpoints,',
  '  deployed_models, model_traffic_rules, model_tariffs, user_feature_flags TO {role};',
  'GRANT SELECT, INSERT ON credits_transactions, api_key_spend_window_resets, user_balance_rebuilds TO {role};',
  'GRANT SELECT ON user_balance_checkpoints, api_key_spend_checkpoints TO {role};',
  'GRANT USAGE ON SEQUENCE credits_transactions_seq_seq, api_key_spend_window_resets_id_seq,',
  '  user_balance_rebuilds_id_seq TO {role};',
  'GRANT EXECUTE ON FUNCTION lock_ledger_for_rebuild() TO {role};',
] as const;

/**
 * The `GRANT` statements for `role`, to run as the schema's owner after `pnpm db:migrate`.
 *
 * @example
 * await client.query(appRoleGrants('control_layer_app'));
 */
export function appRoleGrants(role: string = APP_ROLE): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new Error(`not a plain role name: ${JSON.stringify(role)}`);
  return APP_ROLE_GRANTS.map((line) => line.replaceAll('{role}', role)).join('\n');
}
